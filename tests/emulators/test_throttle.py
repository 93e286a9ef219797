"""The throttling model: costs, both buckets, Retry-After, and waiting it out (scaled time)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from emulators.microsoft import Tenant, Throttle, ThrottleConfig, create_app
from emulators.microsoft.throttle import request_cost

from .conftest import DOMAIN, Graph, serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_costs_follow_the_published_rules() -> None:
    assert request_cost(1, {}) == 1
    assert request_cost(2, {}) == 2  # GET /users
    assert request_cost(2, {"$select": "id"}) == 1
    assert request_cost(3, {"$select": "id", "$top": "10"}) == 1
    assert request_cost(1, {"$select": "id", "$top": "5"}) == 1  # never under 1
    assert request_cost(5, {"$expand": "manager"}) == 6
    assert request_cost(3, {"$top": "999"}) == 3


def test_resource_units_refill_and_retry_after_is_the_wait_rounded_up() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleConfig(resource_units=10), clock=clock)  # 1 RU per second

    def charge(units: int, app: str = "app") -> Any:
        return throttle.charge("t", app, resource_units=units, writes=0, user_count=1)

    assert charge(8).allowed
    refused = charge(5)
    other_app = charge(5, app="other")
    clock.now += 2.5  # 4.5 RU now: still short of 5
    still = charge(5)
    clock.now += 0.5
    passed = charge(5)

    assert (refused.allowed, refused.retry_after, refused.reason) == (
        False,
        3,
        "ResourceUnitLimitExceeded",
    )
    assert other_app.allowed  # the buckets are per app and tenant
    assert not still.allowed and still.retry_after == 1
    assert passed.allowed


def test_write_quota_and_its_lower_bound() -> None:
    clock = FakeClock()
    config = ThrottleConfig(write_quota=3, write_window_seconds=150)
    throttle = Throttle(config, clock=clock)

    results = [
        throttle.charge("t", "a", resource_units=1, writes=1, user_count=1) for _ in range(4)
    ]

    assert [r.allowed for r in results] == [True, True, True, False]
    assert (results[3].retry_after, results[3].reason) == (50, "WriteLimitExceeded")
    assert config.min_seconds_for_writes(3) == 0
    assert config.min_seconds_for_writes(9) == 300
    assert ThrottleConfig(resource_units=None).resource_units_for(49) == 3500
    assert ThrottleConfig().resource_units_for(500) == 5000
    assert ThrottleConfig().resource_units_for(501) == 8000


@pytest.fixture
async def tight(tenant: Tenant) -> AsyncIterator[Graph]:
    """Two writes per 150 emulated seconds, time scaled 150x: one write per 0.5 s real."""
    config = ThrottleConfig(write_quota=2, time_scale=150)
    async with serve(create_app(tenant, auth=False, throttle=config)) as client:
        yield client


def invitation(i: int) -> dict[str, Any]:
    return {
        "id": str(i),
        "method": "POST",
        "url": "/invitations",
        "headers": {"Content-Type": "application/json"},
        "body": {
            "invitedUserEmailAddress": f"guest{i}@fabrikam.com",
            "inviteRedirectUrl": "https://myapps.microsoft.com",
        },
    }


async def test_write_beyond_the_quota_in_a_batch_waits_its_retry_after(tight: Graph) -> None:
    started = time.monotonic()
    reply = await tight.post("/$batch", {"requests": [invitation(i) for i in range(3)]})
    statuses = [item["status"] for item in reply.body["responses"]]
    throttled = reply.body["responses"][2]
    retry_after = int(throttled["headers"]["Retry-After"])

    await asyncio.sleep(retry_after)
    retried = await tight.post("/$batch", {"requests": [invitation(2)]})

    assert reply.status == 200
    assert statuses == [201, 201, 429]
    assert throttled["body"]["error"]["code"] == "TooManyRequests"
    assert throttled["headers"]["x-ms-throttle-information"] == "WriteLimitExceeded"
    assert retry_after == 1  # 0.5 s, rounded up
    assert retried.body["responses"][0]["status"] == 201
    assert time.monotonic() - started < 2
    stats = await tight.control("GET", "stats")
    assert stats["throttled"] == 1 and stats["by_status"]["201"] == 3


async def test_standalone_429_has_retry_after_header(tenant: Tenant) -> None:
    config = ThrottleConfig(resource_units=4)
    async with serve(create_app(tenant, auth=False, throttle=config)) as graph:
        first = await graph.get("/users")
        second = await graph.get("/users")
        third = await graph.get("/users")

        assert first.headers["x-ms-resource-unit"] == "2"
        assert second.status == 200
        assert (third.status, third.error_code) == (429, "TooManyRequests")
        assert int(third.headers["Retry-After"]) >= 1
        assert third.headers["x-ms-throttle-scope"].startswith("Tenant_Application/")


async def test_every_response_carries_its_resource_units(graph: Graph, tenant: Tenant) -> None:
    group = tenant.add_group("G", members=[tenant.add_user(f"ann@{DOMAIN}").id])

    async def units(path: str, **params: str) -> str:
        reply = await graph.get(path, params=params)
        return reply.headers["x-ms-resource-unit"]

    assert await units("/users") == "2"
    assert await units("/users", **{"$select": "id"}) == "1"
    assert await units(f"/groups/{group.id}") == "1"
    assert await units(f"/groups/{group.id}/members") == "3"
    assert await units(f"/groups/{group.id}/members", **{"$top": "10", "$select": "id"}) == "1"
    assert await units(f"/groups/{group.id}/transitiveMembers") == "5"
    delete = await graph.request("DELETE", f"/groups/{group.id}")
    assert delete.headers["x-ms-resource-unit"] == "1"
