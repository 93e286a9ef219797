"""GET /_control/requests: the emulators' request log, which says who sent what and when (a
digest of each caller's bearer token: each process signs in for its own), so a test can tell
which of several processes wrote after a given moment."""

from __future__ import annotations

import time

from .conftest import Graph


async def test_each_request_is_logged_with_its_time_status_and_caller(graph: Graph) -> None:
    before = time.time()
    await graph.get("/users", headers={"Authorization": "Bearer token-of-a"})
    batch = {"requests": [{"id": "1", "method": "GET", "url": "/users"}]}
    await graph.post("/$batch", batch, headers={"Authorization": "Bearer token-of-b"})
    await graph.get("/users/nobody", headers={"Authorization": "Bearer token-of-a"})
    await graph.control("GET", "stats")  # the control routes are not logged

    log = (await graph.control("GET", "requests"))["requests"]

    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("GET", "/v1.0/users", 200),
        ("POST", "/v1.0/$batch", 200),
        ("GET", "/v1.0/users/nobody", 404),
    ]
    a, b, again = (e["client"] for e in log)
    assert a == again and a != b and len(a) == 12 and "token" not in a
    assert all(before <= e["at"] <= time.time() for e in log)
    later = (await graph.control("GET", f"requests?since={log[2]['at']}"))["requests"]
    assert [e["path"] for e in later] == ["/v1.0/users/nobody"]
    await graph.control("POST", "reset")
    assert (await graph.control("GET", "requests"))["requests"] == []
