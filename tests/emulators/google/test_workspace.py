"""The Workspace API tests seed and inspect the emulator with, and seed documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulators.google import (
    AlreadyExists,
    Invalid,
    NotFound,
    SeedError,
    Workspace,
    load_seed,
    load_seed_file,
    public_key_of,
    workspace_from_seed,
)
from emulators.google.workspace import UnknownDomain, UnknownOrgUnit, rfc3339

from .conftest import KeyPair


def test_addresses_are_unique_across_users_groups_and_aliases() -> None:
    ws = Workspace(domain="example.com")
    ann = ws.add_user("Ann@example.com", aliases=["annie@example.com"])
    ws.add_group("team@example.com")

    for taken in ("ann@example.com", "ANNIE@example.com", "team@example.com"):
        with pytest.raises(AlreadyExists):
            ws.add_user(taken)
    with pytest.raises(AlreadyExists):
        ws.add_group("annie@example.com")
    assert ann.primary_email == "ann@example.com"
    assert ws.find_user("annie@EXAMPLE.com") is ann
    assert ws.find_user(ann.id) is ann
    assert ws.find_group("TEAM@example.com") is not None


def test_domains_and_org_units_are_checked() -> None:
    ws = Workspace(domain="example.com", domains=["example.org"])
    ws.add_org_unit("/Interop/Teams")

    ws.add_user("bo@example.org", org_unit_path="/Interop/Teams")
    with pytest.raises(UnknownDomain):
        ws.add_user("cy@elsewhere.com")
    with pytest.raises(UnknownOrgUnit):
        ws.add_user("di@example.com", org_unit_path="/Nowhere")
    assert set(ws.org_units) == {"/", "/Interop", "/Interop/Teams"}
    assert ws.domains == ["example.com", "example.org"]


def test_ids_look_like_googles_and_repeat_with_the_customer() -> None:
    first, second = Workspace(customer_id="C0abc"), Workspace(customer_id="C0abc")
    users = [first.add_user("a@example.com"), second.add_user("a@example.com")]
    group = first.add_group("g@example.com")

    assert users[0].id == users[1].id
    assert len(users[0].id) == 21 and users[0].id.isdigit()
    assert len(group.id) == 15 and group.id.startswith("0") and group.id.isalnum()


def test_passwords_are_kept_hashed() -> None:
    ws = Workspace()
    user = ws.add_user("a@example.com", password="correct horse")
    sha = ws.add_user(
        "b@example.com",
        password="6b4e8d5a0f8a1d3b2c5a8e7f9d0c1b2a3e4f5a6b",
        hash_function="SHA-1",
    )

    assert user.password_hash is not None and "correct horse" not in user.password_hash
    assert ws.check_password("a@example.com", "correct horse")
    assert not ws.check_password("a@example.com", "wrong")
    assert sha.hash_function == "SHA-1"
    with pytest.raises(Invalid):
        ws.add_user("c@example.com", password="x", hash_function="bcrypt")


def test_rename_keeps_the_old_address_as_an_alias() -> None:
    ws = Workspace()
    user = ws.add_user("old@example.com")

    ws.update_user(user.id, primary_email="new@example.com", suspended=True)

    assert user.primary_email == "new@example.com" and user.aliases == ["old@example.com"]
    assert ws.find_user("old@example.com") is user and user.suspended
    with pytest.raises(TypeError):
        ws.update_user(user.id, no_such_field=1)


def test_delete_frees_the_address_and_leaves_groups() -> None:
    ws = Workspace()
    user = ws.add_user("a@example.com", aliases=["alias@example.com"])
    group = ws.add_group("g@example.com", members=[user.id])

    ws.delete_user("a@example.com")

    assert user.id in ws.deleted_users and user.deletion_time is not None
    assert group.members == {}
    assert ws.add_user("alias@example.com").primary_email == "alias@example.com"
    with pytest.raises(NotFound):
        ws.get_user(user.id)


def test_transitive_members_flatten_nested_groups_once_each() -> None:
    ws = Workspace()
    ann, bob, cy = (ws.add_user(f"{n}@example.com") for n in ("ann", "bob", "cy"))
    inner = ws.add_group("inner@example.com", members=[bob.id, cy.id])
    outer = ws.add_group("outer@example.com", members=[ann.id, inner.id, cy.id])
    ws.add_member(inner.id, outer.id)  # a cycle: flattening must still end

    found = {
        m.member_id: (direct, indirect) for m, direct, indirect in ws.transitive_members(outer.id)
    }

    assert found == {
        ann.id: (True, False),
        inner.id: (True, False),
        cy.id: (True, True),
        bob.id: (False, True),
    }
    assert ws.has_member(outer.id, "bob@example.com")
    assert ws.has_member(inner.id, "ann@example.com")  # through the cycle
    assert not ws.has_member(ws.add_group("other@example.com").id, "ann@example.com")


def test_members_by_address_external_addresses_and_refusals() -> None:
    ws = Workspace()
    group = ws.add_group("g@example.com")
    ws.add_member(group.id, "friend@partner.org", "OWNER")

    member = ws.find_member(group, "FRIEND@partner.org")
    assert member is not None and member.kind == "external" and member.role == "OWNER"
    assert ws.member_email(member) == "friend@partner.org"
    with pytest.raises(NotFound):
        ws.add_member(group.id, "nobody@example.com")  # in our domain: must exist
    with pytest.raises(AlreadyExists):
        ws.add_member(group.id, "friend@partner.org")
    with pytest.raises(Invalid):
        ws.add_member(group.id, group.id)


def test_editions_decide_transitive_search() -> None:
    ws = Workspace(edition="business_standard")
    assert not ws.allows_transitive_search
    ws.set_edition("cloud_identity_premium")
    assert ws.allows_transitive_search
    with pytest.raises(ValueError, match="unknown edition"):
        Workspace(edition="gold")


def test_timestamps_have_milliseconds() -> None:
    assert rfc3339(1_700_000_000.1234) == "2023-11-14T22:13:20.123Z"


def test_seed_document(tmp_path: Path, key_pair: KeyPair) -> None:
    key = key_pair
    document = {
        "customer": {
            "id": "C0seed",
            "domains": ["seed.test", "other.test"],
            "edition": "business_plus",
        },
        "orgUnits": ["/Interop"],
        "serviceAccounts": [
            {
                "clientEmail": "sa@proj.iam.gserviceaccount.com",
                "keyId": "k1",
                "publicKeyPem": key.public_pem,
                "delegatedScopes": ["https://www.googleapis.com/auth/admin.directory.user"],
            }
        ],
        "users": [
            {
                "primaryEmail": "root@seed.test",
                "name": {"givenName": "Root", "familyName": "Admin"},
                "isAdmin": True,
                "aliases": ["boss@other.test"],
            },
            {
                "primaryEmail": "guest@seed.test",
                "orgUnitPath": "/Interop",
                "suspended": True,
                "externalIds": [{"type": "organization", "value": "E1"}],
            },
        ],
        "groups": [
            {"email": "all@seed.test", "members": ["root@seed.test", "nested@seed.test"]},
            {
                "email": "nested@seed.test",
                "security": True,
                "dynamicQuery": "user.organizations.exists(o, o.department == 'x')",
                "members": [{"email": "guest@seed.test", "role": "MANAGER"}],
            },
        ],
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))

    ws = load_seed_file(path)

    assert (ws.customer_id, ws.domains, ws.edition) == (
        "C0seed",
        ["seed.test", "other.test"],
        "business_plus",
    )
    assert ws.get_user("boss@other.test").is_admin
    guest = ws.get_user("guest@seed.test")
    assert guest.suspended and guest.org_unit_path == "/Interop"
    nested = ws.get_group("nested@seed.test")
    assert nested.is_dynamic and nested.security
    assert nested.members[guest.id].role == "MANAGER"
    assert ws.service_accounts["sa@proj.iam.gserviceaccount.com"].project_id == "proj"
    with pytest.raises(SeedError, match="AlreadyExists"):
        load_seed(ws, {"users": [{"primaryEmail": "root@seed.test"}]})


def test_seed_takes_a_service_account_key_file(key_pair: KeyPair) -> None:
    key = key_pair
    ws = workspace_from_seed(
        {
            "serviceAccounts": [
                {
                    "client_email": "sa@p.iam.gserviceaccount.com",
                    "private_key_id": "abc",
                    "private_key": key.private_pem,
                    "project_id": "p",
                }
            ]
        }
    )

    account = ws.service_accounts["sa@p.iam.gserviceaccount.com"]
    assert account.keys == {"abc": public_key_of(key.private_pem)}
    assert account.keys["abc"] == key.public_pem
