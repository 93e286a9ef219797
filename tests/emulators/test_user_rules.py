"""Microsoft's published limits on user properties over loopback HTTP (emulators/microsoft/
user_rules.py and README, "Validation rules"), and the 30 days a deleted user stays restorable.
One test drives Microsoft's msgraph-sdk."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from kiota_abstractions.authentication import AnonymousAuthenticationProvider
    from msgraph.generated.models.o_data_errors.o_data_error import ODataError
    from msgraph.generated.models.password_profile import PasswordProfile
    from msgraph.generated.models.user import User
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_service_client import GraphServiceClient

from emulators.microsoft import GraphOptions, Tenant, create_app
from emulators.runner import run_emulator

from .conftest import DOMAIN, TENANT_ID, Graph, HandClock, serve

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]
DAY = 24 * 3600.0


@pytest.fixture
def tenant(clock: HandClock) -> Tenant:
    return Tenant(tenant_id=TENANT_ID, domain=DOMAIN, clock=clock)


@pytest.fixture
async def graph(tenant: Tenant) -> AsyncIterator[Graph]:
    async with serve(create_app(tenant, auth=False)) as client:
        yield client


def new_user(name: str = "ann", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "accountEnabled": True,
        "displayName": name.title(),
        "mailNickname": name,
        "userPrincipalName": f"{name}@{DOMAIN}",
        "passwordProfile": {"password": "Xx!23456789"},
    }
    body.update(extra)
    return body


def assert_invalid(reply: Any, prop: str) -> None:
    message = f"Invalid value specified for property '{prop}' of resource 'User'."
    assert reply.status == 400, reply.body
    error = reply.body["error"]
    assert (error["code"], error["message"]) == ("Request_BadRequest", message)
    assert error["details"] == [{"code": "InvalidValue", "message": message, "target": prop}]
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("displayName", "A" * 257),
        ("givenName", "G" * 65),
        ("surname", "S" * 65),
        ("mailNickname", "n" * 65),
        ("mailNickname", "ann lee"),
        ("mailNickname", "ann,lee"),
        ("mailNickname", "ann@lee"),
        ("mailNickname", "anné"),
        ("userPrincipalName", f"ann+test@{DOMAIN}"),
        ("userPrincipalName", f"ann.@{DOMAIN}"),
        ("userPrincipalName", f"ann@lee@{DOMAIN}"),
        ("userPrincipalName", f"anné@{DOMAIN}"),
        ("userPrincipalName", f"{'a' * 65}@{DOMAIN}"),
        ("userPrincipalName", f"@{DOMAIN}"),
    ],
)
async def test_create_and_update_refuse_what_graph_refuses(
    graph: Graph, tenant: Tenant, prop: str, value: str
) -> None:
    existing = await graph.post("/users", new_user("bob"))

    created = await graph.post("/users", new_user("ann", **{prop: value}))
    updated = await graph.request("PATCH", f"/users/{existing.body['id']}", json_body={prop: value})

    assert_invalid(created, prop)
    assert_invalid(updated, prop)
    assert [u.user_principal_name for u in tenant.users.values()] == [f"bob@{DOMAIN}"]
    assert tenant.users[existing.body["id"]].display_name == "Bob"


async def test_values_at_the_limits_are_accepted(graph: Graph) -> None:
    body = new_user(
        "o'brien",
        displayName="D" * 256,
        givenName="G" * 64,
        surname="S" * 64,
        mailNickname="n" * 60 + "!#$%",
        userPrincipalName=f"{'a' * 56}.'-_!#^~@{DOMAIN}",
    )

    created = await graph.post("/users", body)
    patched = await graph.request(
        "PATCH", f"/users/{created.body['id']}", json_body={"displayName": "É" * 256}
    )

    assert created.status == 201, created.body
    assert created.body["displayName"] == "D" * 256
    assert patched.status == 204, patched.body


async def test_restore_within_30_days(graph: Graph, tenant: Tenant, clock: HandClock) -> None:
    created = await graph.post("/users", new_user())
    user_id = created.body["id"]
    await graph.request("DELETE", f"/users/{user_id}")
    clock.now += 29.9 * DAY

    listed = await graph.get("/directory/deletedItems/microsoft.graph.user")
    restored = await graph.post(f"/directory/deletedItems/{user_id}/restore", None)
    got = await graph.get(f"/users/{user_id}")

    assert [u["id"] for u in listed.body["value"]] == [user_id]
    assert restored.status == 200, restored.body
    assert (got.status, got.body["userPrincipalName"]) == (200, f"ann@{DOMAIN}")


async def test_after_30_days_a_deleted_user_is_purged(
    graph: Graph, tenant: Tenant, clock: HandClock
) -> None:
    created = await graph.post("/users", new_user())
    user_id = created.body["id"]
    await graph.request("DELETE", f"/users/{user_id}")
    clock.now += 30 * DAY + 1

    restored = await graph.post(f"/directory/deletedItems/{user_id}/restore", None)
    got = await graph.get(f"/directory/deletedItems/{user_id}")
    listed = await graph.get("/directory/deletedItems/microsoft.graph.user")

    assert (restored.status, restored.error_code) == (404, "Request_ResourceNotFound")
    assert got.status == 404
    assert listed.body["value"] == []
    assert user_id not in tenant.users and user_id not in tenant.deleted_users


async def test_users_delta_reports_a_purged_user_as_deleted(
    tenant: Tenant, clock: HandClock
) -> None:
    options = GraphOptions(delta_token_lifetime_seconds=60 * DAY)  # Graph's is 7 days
    async with serve(create_app(tenant, auth=False, options=options)) as graph:
        created = await graph.post("/users", new_user())
        user_id = created.body["id"]
        start = await graph.get("/users/delta", params={"$deltatoken": "latest"})
        await graph.request("DELETE", f"/users/{user_id}")
        clock.now += 31 * DAY

        changes = await graph.get(start.body["@odata.deltaLink"])

    removed = [u["@removed"] for u in changes.body["value"] if u["id"] == user_id]
    assert removed == [{"reason": "deleted"}]


@pytest.fixture
async def client(tenant: Tenant) -> AsyncIterator[GraphServiceClient]:
    async with run_emulator(create_app(tenant, auth=False)) as base_url:
        adapter = GraphRequestAdapter(AnonymousAuthenticationProvider())
        adapter.base_url = base_url + "/v1.0"
        yield GraphServiceClient(request_adapter=adapter)


async def test_msgraph_sdk_reads_the_refusal(client: GraphServiceClient, tenant: Tenant) -> None:
    body = User(
        account_enabled=True,
        display_name="Ann",
        mail_nickname="ann",
        user_principal_name=f"ann+test@{DOMAIN}",
        password_profile=PasswordProfile(password="Xx!23456789"),
    )

    with pytest.raises(ODataError) as raised:
        await client.users.post(body)

    error = raised.value
    assert error.response_status_code == 400
    assert error.error is not None and error.error.code == "Request_BadRequest"
    assert error.error.message == (
        "Invalid value specified for property 'userPrincipalName' of resource 'User'."
    )
    details = error.error.details or []
    assert [(d.code, d.target) for d in details] == [("InvalidValue", "userPrincipalName")]
    assert not error.error.additional_data
    assert tenant.users == {}
