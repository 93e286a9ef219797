"""Microsoft's documented JSON batching, throttling and error examples, replayed against the
emulator (payloads/ names each source)."""

from __future__ import annotations

from emulators.microsoft import Tenant, ThrottleConfig, create_app
from tests.emulators.conftest import serve

from .harness import emulator, load, path_of, shape_problems, values_at

ERROR_KEYS = {"code", "message", "innerError"}


async def test_batch_example_as_published() -> None:
    example = load("batch-example")
    async with emulator(example) as graph:
        reply = await graph.post("/$batch", example["request"]["body"])
        group_gone = await graph.get("/groups/0e226165-c685-41ce-8bfc-df8360ab325d")

    assert reply.status == 200
    responses = {r["id"]: r for r in reply.body["responses"]}
    assert set(responses) == {"1", "2", "3", "4", "5"}
    statuses = {key: r["status"] for key, r in responses.items()}
    assert statuses == example["replay"]["statuses"]  # why each differs: the payload's notes
    for item in reply.body["responses"]:
        assert {"id", "status", "headers"} <= set(item)
        if item["status"] >= 400:
            assert set(item["body"]["error"]) == ERROR_KEYS
    documented = {r["id"]: r for r in example["response"]["body"]["responses"]}
    five = responses["5"]
    assert shape_problems(documented["5"]["body"], five["body"]) == []
    assert five["body"]["@odata.count"] == 2  # 'city eq null': both seeded users
    assert all(set(u) == {"id", "displayName", "userPrincipalName"} for u in five["body"]["value"])
    assert five["headers"]["Content-Type"] == documented["5"]["headers"]["Content-Type"]
    assert "x-ms-resource-unit" in five["headers"]
    assert (responses["3"].get("body"), group_gone.status) == (None, 404)


async def test_batch_depends_on_failure_is_424_for_the_chain() -> None:
    example = load("batch-depends-on")
    urls = example["replay"]["urls"]
    requests = [{**r, "url": urls[r["id"]]} for r in example["request"]["body"]["requests"]]
    async with emulator(example) as graph:
        reply = await graph.post("/$batch", {"requests": requests})
        counted = await graph.control("GET", "stats")

    statuses = {r["id"]: r["status"] for r in reply.body["responses"]}
    assert statuses == {"1": 404, "2": 424, "4": 424, "3": 424}
    assert all(set(r["body"]["error"]) == ERROR_KEYS for r in reply.body["responses"])
    assert counted["batch_items_by_kind"] == {"users.get": 1}  # the dependent ones never ran


async def test_throttled_response_matches_the_documented_429() -> None:
    example = load("throttled-429")
    tenant = Tenant(tenant_id="0785ef7c-2d7a-4542-b048-95bcab406e0b")
    tenant.add_app("9a3d526c-b3c1-4479-ba74-197b5c5751ae", secret="s")
    app = create_app(tenant, auth=False, throttle=ThrottleConfig(write_quota=1))
    async with serve(app) as graph:
        body = {
            "displayName": "G",
            "mailEnabled": False,
            "mailNickname": "g",
            "securityEnabled": True,
        }
        await graph.post("/groups", body)
        throttled = await graph.post("/groups", {**body, "mailNickname": "h"})

    documented = example["response"]
    assert throttled.status == documented["status"]
    assert shape_problems(documented["body"], throttled.body) == []
    for path in example["compare"]["equal"]:
        assert values_at(throttled.body, path) == values_at(documented["body"], path)
    assert float(throttled.headers["Retry-After"]) > 0
    scope = throttled.headers["x-ms-throttle-scope"].split("/")
    assert scope[:2] == ["Tenant_Application", "ReadWrite"]
    assert scope[3] == tenant.tenant_id  # <Scope>/<Limit>/<ApplicationId>/<TenantId>
    assert (
        throttled.headers["x-ms-throttle-information"]
        in (example["headers_documented"]["x-ms-throttle-information"])
    )


async def test_error_body_shape() -> None:
    example = load("error-body")
    async with emulator() as graph:
        reply = await graph.get(path_of(example), headers={"client-request-id": "mine"})

    assert reply.status == example["replay"]["status"]
    assert shape_problems(example["response"]["body"], reply.body) == []
    assert set(reply.body["error"]) == ERROR_KEYS
    assert reply.body["error"]["innerError"]["client-request-id"] == "mine"
    assert reply.headers["request-id"] == reply.body["error"]["innerError"]["request-id"]
