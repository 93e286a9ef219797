"""Control routes (stats, reset, faults, quota, seed, edition, workspace), injected faults, and
what the front end answers outside the APIs."""

from __future__ import annotations

import time

import aiohttp
import pytest

from .conftest import ADMIN, DIRECTORY, Api

USERS = DIRECTORY + "/users"


async def test_stats_count_http_requests_kinds_and_statuses(google: Api) -> None:
    await google.get(USERS, customer="my_customer")
    await google.get(f"{USERS}/{ADMIN}")
    await google.get(f"{USERS}/nobody@example.com")
    await google.get("/nowhere")
    await google.control("GET", "stats")  # control routes are not counted

    stats = await google.control("GET", "stats")

    assert stats["http_requests"] == 4
    assert stats["by_kind"] == {"directory.users.get": 2, "directory.users.list": 1, "unknown": 1}
    assert stats["by_status"] == {"200": 2, "404": 2}
    assert stats["batch_parts"] == 0


async def test_reset_zeroes_counts_and_clears_faults(google: Api) -> None:
    await google.get(USERS, customer="my_customer")
    await google.control("PUT", "faults", {"fail_next": 5})

    assert await google.control("POST", "reset") == {"reset": True}

    stats = await google.control("GET", "stats")
    faults = await google.control("GET", "faults")
    assert stats["http_requests"] == 0 and faults["fail_next"] == 0
    assert (await google.get(USERS, customer="my_customer")).status == 200


@pytest.mark.parametrize(
    ("status", "reason", "domain", "message"),
    [
        (503, "backendError", "global", "Service unavailable. Please try again"),
        (500, "backendError", "global", "Backend Error"),
        (403, "rateLimitExceeded", "usageLimits", "Rate Limit Exceeded"),
        (429, "rateLimitExceeded", "usageLimits", "Rate Limit Exceeded"),
    ],
)
async def test_injected_errors(
    google: Api, status: int, reason: str, domain: str, message: str
) -> None:
    await google.control("PUT", "faults", {"fail_next": 2, "error_status": status})

    failed = [await google.get(USERS, customer="my_customer") for _ in range(2)]
    passed = await google.get(USERS, customer="my_customer")

    for reply in failed:
        assert reply.status == status and "Retry-After" not in reply.headers
        assert reply.body["error"]["errors"][0] == {
            "message": message,
            "domain": domain,
            "reason": reason,
        }
    assert passed.status == 200
    assert (await google.control("GET", "stats"))["injected_faults"] == 2


async def test_injected_errors_in_cloud_identity_take_its_shape(google: Api) -> None:
    group = google.workspace.add_group("g@example.com")
    await google.control("PUT", "faults", {"fail_next": 1})

    reply = await google.get(f"/v1/groups/{group.id}")

    assert reply.status == 503
    assert reply.body == {
        "error": {
            "code": 503,
            "message": "Service unavailable. Please try again",
            "status": "UNAVAILABLE",
        }
    }


async def test_a_seeded_error_rate_fails_about_that_share(google: Api) -> None:
    await google.control("PUT", "faults", {"error_rate": 0.5, "seed": 7})

    statuses = [(await google.get(f"{USERS}/{ADMIN}")).status for _ in range(40)]

    assert 10 <= statuses.count(503) <= 30
    assert set(statuses) == {200, 503}


async def test_latency_and_dropped_connections(google: Api) -> None:
    await google.control("PUT", "faults", {"latency_ms": 150})
    started = time.perf_counter()
    slow = await google.get(f"{USERS}/{ADMIN}")
    elapsed = time.perf_counter() - started
    await google.control("PUT", "faults", {"drop_rate": 1.0})

    with pytest.raises(aiohttp.ClientError):
        await google.get(f"{USERS}/{ADMIN}")

    assert slow.status == 200 and elapsed >= 0.15
    await google.control("DELETE", "faults")
    assert (await google.get(f"{USERS}/{ADMIN}")).status == 200


async def test_fault_and_quota_settings_are_validated(google: Api) -> None:
    for path, body in (
        ("faults", {"error_status": 418}),
        ("faults", {"colour": "red"}),
        ("faults", {"error_rate": 2}),
        ("quota", {"queries_per_window": 0}),
        ("quota", {"time_scale": 0}),
        ("edition", {"edition": "gold"}),
    ):
        async with google.session.put(f"{google.base_url}/_control/{path}", json=body) as reply:
            assert reply.status == 400, (path, body)


async def test_quota_settings_through_the_control_route(google: Api) -> None:
    config = await google.control("PUT", "quota", {"queries_per_window": 1})

    first = await google.get(USERS, customer="my_customer")
    second = await google.get(USERS, customer="my_customer")

    assert config == {
        "enabled": True,
        "queries_per_window": 1,
        "window_seconds": 60.0,
        "time_scale": 1.0,
    }
    assert (await google.control("GET", "quota")) == config
    assert (first.status, second.status) == (200, 403)


async def test_seed_and_workspace_summary(google: Api) -> None:
    summary = await google.control(
        "POST",
        "seed",
        {
            "customer": {"domains": ["example.org"]},
            "orgUnits": ["/Interop"],
            "users": [{"primaryEmail": "ann@example.org", "orgUnitPath": "/Interop"}],
            "groups": [{"email": "g@example.org", "members": ["ann@example.org"]}],
        },
    )
    async with google.session.post(
        f"{google.base_url}/_control/seed", json={"users": [{"primaryEmail": "x@nowhere.test"}]}
    ) as refused:
        refused_status = refused.status

    assert summary == {
        "customerId": "C03az79cb",
        "domains": ["example.com", "example.org"],
        "edition": "enterprise_plus",
        "transitiveSearch": True,
        "users": 2,
        "deletedUsers": 0,
        "groups": 1,
        "orgUnits": ["/", "/Interop"],
        "serviceAccounts": [],
    }
    assert refused_status == 400
    assert (await google.get(f"{USERS}/ann@example.org")).status == 200


async def test_unknown_paths_get_googles_html_404(google: Api) -> None:
    unknown = await google.get("/admin/directory/v1/userz")
    wrong_method = await google.request("DELETE", USERS)
    token_by_get = await google.get("/token")

    for reply in (unknown, wrong_method, token_by_get):
        assert reply.status == 404
        assert reply.headers["Content-Type"].startswith("text/html")
        assert "Error 404 (Not Found)!!1" in reply.text
    assert "/admin/directory/v1/userz" in unknown.text


async def test_invalid_json_bodies_are_refused(google: Api) -> None:
    reply = await google.request(
        "POST", USERS, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    not_an_object = await google.request(
        "POST", USERS, data=b"[1, 2]", headers={"Content-Type": "application/json"}
    )

    assert reply.status == 400 and reply.body["error"]["status"] == "INVALID_ARGUMENT"
    assert not_an_object.status == 400
