"""The tenant's Python API, seed documents, the $filter parser, and the runner helpers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest
import requests

from emulators.microsoft import (
    AlreadyExists,
    NotFound,
    SeedError,
    Tenant,
    create_app,
    load_seed_file,
    tenant_from_seed,
)
from emulators.microsoft.errors import GraphError
from emulators.microsoft.odata_filter import evaluate, lookup_in, parse_filter
from emulators.runner import EmulatorThread, serve_forever

from .conftest import DOMAIN


def test_users_groups_and_lookup_by_email(tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}", "Ann", mail="ann@contoso.com")
    bob = tenant.add_user(f"bob@{DOMAIN}", other_mails=["Bob@Home.example"])
    guest = tenant.add_guest("cat@fabrikam.com")
    inner = tenant.add_group("Inner", members=[bob.id])
    outer = tenant.add_group("Outer", members=[ann.id, inner.id])

    assert tenant.users_by_email("ANN@contoso.com") == [ann]
    assert tenant.users_by_email("bob@home.example") == [bob]
    assert tenant.users_by_email(guest.user_principal_name) == [guest]
    assert tenant.find_user(f"ANN@{DOMAIN}") is ann
    assert [m.id for m in tenant.transitive_members(outer.id)] == [ann.id, inner.id, bob.id]
    with pytest.raises(AlreadyExists):
        tenant.add_member(outer.id, ann.id)
    with pytest.raises(AlreadyExists):
        tenant.add_user(f"ann@{DOMAIN}")
    with pytest.raises(NotFound):
        tenant.remove_member(outer.id, guest.id)
    with pytest.raises(TypeError):
        tenant.add_user(f"x@{DOMAIN}", shoe_size=42)


def test_email_lookups_follow_updates_deletes_and_restores(tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}", mail="ann@old.example")

    tenant.update_user(ann.id, mail="ann@new.example", other_mails=["a@alias.example"])
    after_update = [tenant.users_by_email(e) for e in ("ann@old.example", "ANN@new.example")]
    tenant.delete_user(ann.id)
    after_delete = tenant.users_by_email("a@alias.example")
    tenant.restore_user(ann.id)

    assert after_update == [[], [ann]]
    assert after_delete == []
    assert tenant.users_by_email("a@alias.example") == [ann]
    assert tenant.find_user(f"ann@{DOMAIN}") is ann


def test_delete_and_restore_user(tenant: Tenant) -> None:
    ann = tenant.add_user(f"ann@{DOMAIN}")
    group = tenant.add_group("Team", members=[ann.id])

    tenant.delete_user(ann.id)
    assert ann.id not in group.members and ann.id in tenant.deleted_users
    assert tenant.find_user(f"ann@{DOMAIN}") is None
    replacement = tenant.add_user(f"ann@{DOMAIN}")  # the UPN is free again
    with pytest.raises(AlreadyExists):
        tenant.restore_user(ann.id)
    tenant.delete_user(replacement.id)
    tenant.restore_user(ann.id)

    assert tenant.get_user(f"ann@{DOMAIN}") is ann
    assert list(group.members) == [ann.id]


def test_change_log_positions(tenant: Tenant) -> None:
    start = tenant.seq
    ann = tenant.add_user(f"ann@{DOMAIN}")
    group = tenant.add_group("Team")
    tenant.add_member(group.id, ann.id)
    tenant.remove_member(group.id, ann.id)

    changes = tenant.changes_since(start)
    assert [(c.kind, c.member_id, c.member_removed) for c in changes] == [
        ("user", None, False),
        ("group", None, False),
        ("group", ann.id, False),
        ("group", ann.id, True),
    ]


def test_seed_document_and_file(tmp_path: Path) -> None:
    document = {
        "tenant": {"id": "99999999-0000-0000-0000-000000000000", "domain": "fabrikam.test"},
        "apps": [{"clientId": "app-1", "secret": "s"}],
        "users": [
            {"userPrincipalName": "ann@fabrikam.test", "displayName": "Ann", "mail": "ann@f.test"},
            {
                "userPrincipalName": "bob_x.com#EXT#@fabrikam.test",
                "userType": "Guest",
                "creationType": "Invitation",
                "externalUserState": "Accepted",
                "accountEnabled": False,
                "onPremisesExtensionAttributes": {"extensionAttribute15": "dirsync"},
            },
        ],
        "groups": [
            {"displayName": "Outer", "members": ["ann@fabrikam.test", "Inner"]},
            {
                "displayName": "DL",
                "mailEnabled": True,
                "securityEnabled": False,
                "mail": "dl@f.test",
            },
            {"displayName": "Inner", "members": ["bob_x.com#EXT#@fabrikam.test"]},
        ],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))

    tenant = load_seed_file(path)

    bob = tenant.get_user("bob_x.com#EXT#@fabrikam.test")
    outer = tenant.group_by_name("Outer")
    dl = tenant.group_by_name("DL")
    assert tenant.tenant_id == "99999999-0000-0000-0000-000000000000"
    assert tenant.apps["app-1"].secrets == ["s"]
    assert (bob.user_type, bob.external_user_state, bob.account_enabled) == (
        "Guest",
        "Accepted",
        False,
    )
    assert bob.extension_attributes["extensionAttribute15"] == "dirsync"
    assert outer is not None and len(tenant.transitive_members(outer.id)) == 3
    assert dl is not None and dl.mail == "dl@f.test"
    with pytest.raises(SeedError):
        tenant_from_seed({"groups": [{"displayName": "G", "members": ["nobody"]}]})
    with pytest.raises(SeedError):
        tenant_from_seed({"users": [{"userPrincipalName": "a@b.c", "accountEnabled": "no"}]})


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("mail eq 'A@B.com'", True),
        ("mail eq 'it''s@b.com'", False),
        ("mail ne 'a@b.com'", False),
        ("accountEnabled eq true and not (userType eq 'Guest')", True),
        ("id in ('x', '1')", True),
        ("otherMails/any(m:m eq 'O@b.com')", True),
        ("otherMails/any(m:startswith(m, 'o'))", True),
        ("onPremisesExtensionAttributes/extensionAttribute15 eq null", True),
        ("startswith(displayName,'an') or endswith(mail,'.org')", True),
        ("(mail eq 'x' or mail eq 'y') and id eq '1'", False),
    ],
)
def test_filter_expressions(expression: str, expected: bool) -> None:
    data = {
        "id": "1",
        "mail": "a@b.com",
        "displayName": "Ann",
        "accountEnabled": True,
        "userType": "Member",
        "otherMails": ["o@b.com"],
        "onPremisesExtensionAttributes": {"extensionAttribute15": None},
    }

    assert evaluate(parse_filter(expression), lookup_in(data)) is expected


@pytest.mark.parametrize("expression", ["mail eq", "mail eq 'x' or", "(mail eq 'x'", "eq 'x'", ""])
def test_filter_syntax_errors(expression: str) -> None:
    with pytest.raises(GraphError) as raised:
        parse_filter(expression)
    assert raised.value.status == 400


def test_emulator_thread_serves_blocking_clients_and_runs_calls(tenant: Tenant) -> None:
    with EmulatorThread(create_app(tenant, auth=False)) as thread:
        user = thread.call(lambda: tenant.add_user(f"ann@{DOMAIN}"))
        with requests.Session() as session:
            session.trust_env = False
            reply = session.get(f"{thread.base_url}/v1.0/users/{user.id}", timeout=10)

    assert reply.status_code == 200 and reply.json()["id"] == user.id
    with requests.Session() as session:
        session.trust_env = False
        with pytest.raises(requests.ConnectionError):  # stopped: nothing listens any more
            session.get(f"{thread.base_url}/v1.0/users", timeout=2)


async def test_serve_forever_reports_its_url_and_stops_when_cancelled(tenant: Tenant) -> None:
    ready: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(
        serve_forever(create_app(tenant, auth=False), on_ready=ready.put_nowait)
    )
    base_url = await asyncio.wait_for(ready.get(), timeout=5)
    async with aiohttp.ClientSession() as session, session.get(f"{base_url}/v1.0/users") as reply:
        status = reply.status
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert status == 200


def test_the_extension_attribute_index_follows_writes_deletes_and_restores() -> None:
    """A filter on an extension attribute (our marker) is answered from an index, as Graph's
    own is: it must follow every change the tenant makes."""
    tenant = Tenant()
    ann = tenant.add_user("ann@contoso.onmicrosoft.com", "Ann")
    assert tenant.users_by_extension("extensionAttribute15", "dirsync:google:1") == []
    tenant.update_user(ann.id, extension_attributes={"extensionAttribute15": "dirsync:google:1"})
    assert tenant.users_by_extension("extensionAttribute15", "DIRSYNC:google:1") == [ann]
    tenant.update_user(ann.id, extension_attributes={"extensionAttribute15": "dirsync:google:2"})
    assert tenant.users_by_extension("extensionAttribute15", "dirsync:google:1") == []
    assert tenant.users_by_extension("extensionAttribute15", "dirsync:google:2") == [ann]
    tenant.delete_user(ann.id)
    assert tenant.users_by_extension("extensionAttribute15", "dirsync:google:2") == []
    tenant.restore_user(ann.id)
    assert tenant.users_by_extension("extensionAttribute15", "dirsync:google:2") == [ann]
