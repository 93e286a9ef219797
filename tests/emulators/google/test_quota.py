"""The per-user query quota: the bucket on its own (a hand-moved clock), then over HTTP with
scaled time, per user and per quotaUser, and without a Retry-After as Google sends none."""

from __future__ import annotations

import asyncio

from emulators.google import Quota, QuotaConfig, create_app

from .conftest import DIRECTORY, new_workspace, serve

USERS = DIRECTORY + "/users"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_bucket_refills_at_the_quota_rate() -> None:
    clock = FakeClock()
    quota = Quota(QuotaConfig(queries_per_window=4, window_seconds=60), clock=clock)

    first = [quota.charge("admin", "p", "u").allowed for _ in range(5)]
    other_user = quota.charge("admin", "p", "v").allowed
    other_service = quota.charge("cloudidentity", "p", "u").allowed
    clock.now += 10  # 10 s of a 60 s window for 4 queries: not yet one query back
    still = quota.charge("admin", "p", "u")
    clock.now += 5
    passed = quota.charge("admin", "p", "u").allowed

    assert first == [True, True, True, True, False]
    assert other_user and other_service
    assert not still.allowed and 4.9 < still.wait_seconds < 5.1
    assert passed


def test_lower_bound_and_time_scale() -> None:
    config = QuotaConfig(queries_per_window=2400, window_seconds=60, time_scale=10)

    assert config.real_window_seconds == 6
    assert config.min_seconds_for_queries(2400) == 0
    assert config.min_seconds_for_queries(4800) == 6
    assert QuotaConfig().min_seconds_for_queries(4800) == 60


async def test_a_tiny_quota_refuses_then_passes_after_the_window() -> None:
    # 3 queries per minute, a minute lasting 0.3 s.
    config = QuotaConfig(queries_per_window=3, window_seconds=60, time_scale=200)
    async with serve(create_app(new_workspace(), auth=False, quota=config)) as google:
        passed = [await google.get(USERS, customer="my_customer") for _ in range(3)]
        refused = await google.get(USERS, customer="my_customer")
        await asyncio.sleep(config.real_window_seconds)
        again = await google.get(USERS, customer="my_customer")
        stats = google.emulator.stats.to_json()

    assert [r.status for r in passed] == [200, 200, 200]
    assert refused.status == 403
    assert "Retry-After" not in refused.headers
    error = refused.body["error"]
    assert error["errors"][0]["reason"] == "userRateLimitExceeded"
    assert error["errors"][0]["domain"] == "usageLimits"
    assert "Queries per minute per user" in error["message"]
    assert again.status == 200
    assert stats["quota_exceeded"] == 1 and stats["by_status"] == {"200": 4, "403": 1}


async def test_quota_user_and_cloud_identity_have_buckets_of_their_own() -> None:
    clock = FakeClock()
    quota = Quota(QuotaConfig(queries_per_window=1), clock=clock)
    ws = new_workspace()
    group = ws.add_group("g@example.com")
    async with serve(create_app(ws, auth=False, quota=quota)) as google:
        first = await google.get(USERS, customer="my_customer")
        second = await google.get(USERS, customer="my_customer")
        as_other_user = await google.get(USERS, customer="my_customer", quotaUser="someone")
        cloud_identity = await google.get(f"/v1/groups/{group.id}")
        cloud_identity_again = await google.get(f"/v1/groups/{group.id}")
        clock.now += 60
        later = await google.get(USERS, customer="my_customer")

    assert [first.status, second.status, as_other_user.status] == [200, 403, 200]
    assert cloud_identity.status == 200
    assert cloud_identity_again.status == 429  # google.rpc.Status: RESOURCE_EXHAUSTED
    assert cloud_identity_again.body["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert later.status == 200


async def test_refused_requests_cost_no_quota() -> None:
    quota = Quota(QuotaConfig(queries_per_window=1), clock=FakeClock())
    async with serve(create_app(new_workspace(), auth=False, quota=quota)) as google:
        invalid = await google.get(USERS, customer="my_customer", colour="red")
        unknown = await google.get("/admin/directory/v1/nothing")
        valid = await google.get(USERS, customer="my_customer")

    assert (invalid.status, unknown.status, valid.status) == (400, 404, 200)


async def test_the_quota_can_be_switched_off() -> None:
    config = QuotaConfig(enabled=False, queries_per_window=1)
    async with serve(create_app(new_workspace(), auth=False, quota=config)) as google:
        statuses = [(await google.get(USERS, customer="my_customer")).status for _ in range(3)]

    assert statuses == [200, 200, 200]
