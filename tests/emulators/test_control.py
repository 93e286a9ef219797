"""/_control routes: fault injection, throttle settings, counts, seeding, reset."""

from __future__ import annotations

import time

import aiohttp
import pytest

from emulators.microsoft import Tenant

from .conftest import DOMAIN, Graph


async def test_fail_next_injects_errors_with_retry_after(graph: Graph) -> None:
    await graph.control("PUT", "faults", {"fail_next": 2, "error_status": 503, "retry_after": 3})

    replies = [await graph.get("/users") for _ in range(3)]

    assert [r.status for r in replies] == [503, 503, 200]
    assert replies[0].headers["Retry-After"] == "3"
    assert replies[0].error_code == "serviceNotAvailable"
    assert (await graph.control("GET", "stats"))["injected_faults"] == 2


async def test_error_rate_applies_to_batch_items(graph: Graph) -> None:
    await graph.control("PUT", "faults", {"error_rate": 1.0, "error_status": 429, "seed": 7})
    requests = [{"id": str(i), "method": "GET", "url": "/users"} for i in range(3)]

    reply = await graph.post("/$batch", {"requests": requests})

    assert reply.status == 200
    assert [item["status"] for item in reply.body["responses"]] == [429, 429, 429]
    assert reply.body["responses"][0]["headers"]["Retry-After"] == "1"


async def test_dropped_connection_and_latency(graph: Graph) -> None:
    await graph.control("PUT", "faults", {"drop_rate": 1.0})
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await graph.get("/users")

    await graph.control("PUT", "faults", {"latency_ms": 150})
    started = time.monotonic()
    reply = await graph.get("/users")
    elapsed = time.monotonic() - started

    await graph.control("DELETE", "faults")
    assert reply.status == 200
    assert elapsed >= 0.15
    assert (await graph.control("GET", "faults"))["latency_ms"] == 0


async def test_bad_settings_are_refused(graph: Graph) -> None:
    for path, body in (("faults", {"error_status": 404}), ("throttle", {"nonsense": 1})):
        async with graph.session.put(f"{graph.base_url}/_control/{path}", json=body) as reply:
            assert reply.status == 400


async def test_throttle_settings_through_control(graph: Graph) -> None:
    config = await graph.control("PUT", "throttle", {"resource_units": 2})

    first = await graph.get("/users")
    second = await graph.get("/users")

    assert config["resource_units"] == 2 and config["write_quota"] == 3000
    assert (first.status, second.status) == (200, 429)


async def test_counts_reset_and_seed(graph: Graph, tenant: Tenant) -> None:
    await graph.get("/users")
    await graph.get("/users/delta")
    counts = await graph.control("GET", "stats")
    await graph.control("POST", "reset")
    summary = await graph.control(
        "POST",
        "seed",
        {
            "users": [{"userPrincipalName": f"ann@{DOMAIN}", "displayName": "Ann"}],
            "groups": [{"displayName": "Team", "members": [f"ann@{DOMAIN}"]}],
        },
    )

    assert counts["http_requests"] == 2
    assert counts["by_kind"] == {"users.delta": 1, "users.list": 1}
    assert (await graph.control("GET", "stats"))["http_requests"] == 0
    assert (summary["users"], summary["groups"]) == (1, 1)
    team = tenant.group_by_name("Team")
    assert team is not None and len(team.members) == 1
