"""The users guide's examples (insert, get, update, relations, makeAdmin, delete, the three
listings) replayed against the emulator over loopback HTTP."""

from __future__ import annotations

from functools import partial
from typing import Any

from emulators.google import Workspace

from .harness import DIRECTORY, Google, conforms, documented_shape, path_of, payload

USERS = f"{DIRECTORY}/users"


def create_liz(google: Google) -> None:
    """The user of the update example, as it was before the update."""
    before = payload("user-update.json")["documented"]["before"]
    google.ok(
        "POST",
        USERS,
        body={"primaryEmail": "liz@example.com", "password": "NEW_USER_PASSWORD"} | before,
    )


def test_insert_answers_200_with_the_new_user_as_sent(google: Google) -> None:
    example = payload("user-insert.json")
    documented = example["documented"]
    google.seed(example["seed"])

    reply = google.request("POST", path_of(documented["url"]), body=documented["body"])
    fetched = google.ok("GET", f"{USERS}/liz@example.com")

    assert reply.status == documented["status"], reply.text
    sent = {k: v for k, v in documented["body"].items() if k != "password"}
    for answer in (reply.body, fetched):
        conforms(example, sent, answer, "User")
        assert "password" not in answer  # write-only: never sent back
        assert isinstance(answer["id"], str) and answer["id"]


def test_get_answers_the_documented_user(google: Google) -> None:
    example = payload("user-get.json")
    google.seed({"orgUnits": example["seed"]["orgUnits"]})
    for name in example["seed"]["replay"]:  # the insert, then the update (givenName Liz)
        documented = payload(name)["documented"]
        google.ok(documented["method"], path_of(documented["url"]), body=documented["body"])
    for alias in example["seed"]["aliases"]:
        google.in_workspace(partial(Workspace.add_user_alias, key="liz@example.com", alias=alias))
    documented = example["documented"]

    reply = google.request("GET", path_of(documented["url"]))
    by_alias = google.ok("GET", f"{USERS}/lsmith@example.com")

    assert reply.status == documented["status"], reply.text
    conforms(example, documented["response"], reply.body, "User")
    assert by_alias["id"] == reply.body["id"]  # "userKey can be ... one of the user's aliases"


def test_update_changes_only_what_is_sent(google: Google) -> None:
    documented = payload("user-update.json")["documented"]
    create_liz(google)

    reply = google.request("PUT", path_of(documented["url"]), body=documented["body"])
    fetched = google.ok("GET", f"{USERS}/liz@example.com")

    assert reply.status == documented["status"], reply.text
    for user in (reply.body, fetched):
        assert user["name"] == {"givenName": "Liz", "familyName": "Smith", "fullName": "Liz Smith"}
        assert user["emails"] == documented["body"]["emails"]  # the array, replaced whole


def test_relations_are_set_replaced_and_removed_whole(google: Google) -> None:
    example = payload("user-relations.json")
    documented = example["documented"]
    create_liz(google)
    method, path = example["request"]["method"], example["request"]["path"]

    created = google.ok(method, path, body=documented["create"])
    updated = google.ok(method, path, body=documented["update"])
    removed = google.ok(method, path, body=documented["remove_all"])
    fetched = google.ok("GET", path)

    assert created["relations"] == documented["create"]["relations"]
    assert updated["relations"] == documented["update"]["relations"]
    assert "relations" not in removed and "relations" not in fetched  # empty lists left out


def test_make_admin_makes_a_super_administrator(google: Google) -> None:
    documented = payload("user-make-admin.json")["documented"]
    create_liz(google)

    reply = google.request("POST", path_of(documented["url"]), body=documented["body"])

    assert reply.status in (200, 204) and not reply.text  # 204: a difference kept (README)
    assert google.ok("GET", f"{USERS}/liz@example.com")["isAdmin"] is True


def test_delete_removes_the_user_who_is_then_listed_as_deleted(google: Google) -> None:
    documented = payload("user-delete.json")["documented"]
    create_liz(google)

    reply = google.request("DELETE", path_of(documented["url"]))
    after = google.request("GET", f"{USERS}/liz@example.com")
    deleted = google.ok("GET", USERS, params={"customer": "my_customer", "showDeleted": "true"})

    assert reply.status in (200, 204) and not reply.text  # 204: a difference kept (README)
    assert after.status == 404
    assert [u["primaryEmail"] for u in deleted["users"]] == ["liz@example.com"]


def seed_users(google: Google, users: list[dict[str, Any]]) -> None:
    google.seed({"users": users})


def matched(documented_users: list[dict[str, Any]], address: str, key: str) -> dict[str, Any]:
    """The documented user with this address, else the first (same shape, other values)."""
    found = [u for u in documented_users if u.get(key) == address]
    return found[0] if found else documented_users[0]


def check_listing(example: dict[str, Any], page: dict[str, Any], key: str) -> None:
    """The page's envelope against the documented one, each user against its documented twin."""
    documented = example["documented"]["response"]
    compare = example.get("compare", {})
    renamed = compare.get("renamed", {})
    envelope = {k: v for k, v in documented.items() if k != "users"}
    problems = documented_shape(envelope, {k: v for k, v in page.items() if k != "users"})
    optional = frozenset(p.removeprefix("users[].") for p in compare.get("optional", []))
    assert not problems, problems
    for user in page["users"]:
        twin = dict(matched(documented["users"], user["primaryEmail"], key))
        for old, new in renamed.items():
            twin[new] = twin.pop(old)
            assert old not in user  # not a property of the User schema
        conforms({"compare": {"optional": sorted(optional)}}, twin, user, "User")


def test_listing_a_domain_pages_in_address_order(google: Google) -> None:
    example = payload("users-list-domain.json")
    seed_users(google, example["seed"]["users"])
    documented = example["documented"]
    path = path_of(documented["url"])

    first = google.request("GET", path)
    pages = list(google.pages(USERS, {"domain": "example.com", "maxResults": "2"}, "users"))

    assert first.status == documented["status"], first.text
    check_listing(example, first.body, "primaryEmail")
    assert [u["primaryEmail"] for u in first.body["users"]] == [
        "admin2@example.com",
        "liz@example.com",
    ]
    addresses = [u["primaryEmail"] for page in pages for u in page]
    assert [len(page) for page in pages] == [2, 2]
    assert addresses == sorted(u["primaryEmail"] for u in example["seed"]["users"])
    suspended = next(u for u in first.body["users"] if u["primaryEmail"] == "admin2@example.com")
    assert suspended["suspended"] is True and suspended["suspensionReason"] == "ADMIN"


def test_listing_the_account_gives_one_user_a_page(google: Google) -> None:
    example = payload("users-list-customer.json")
    seed_users(google, example["seed"]["users"])
    expected = sorted(u["primaryEmail"] for u in example["seed"]["users"])

    for url in example["documented"]["urls"]:
        path = path_of(url)
        first = google.request("GET", path)
        assert first.status == example["documented"]["status"], first.text
        query = dict(part.split("=") for part in path.split("?", 1)[1].split("&"))
        pages = list(google.pages(USERS, query, "users"))
        assert [len(page) for page in pages] == [1] * len(expected)
        assert [page[0]["primaryEmail"] for page in pages] == expected
        for page in pages:
            check_listing(example, {**first.body, "users": page}, "username")


def test_show_deleted_lists_the_deleted_users_only(google: Google) -> None:
    example = payload("users-list-deleted.json")
    seed_users(google, example["seed"]["users"])
    for address in example["seed"]["delete"]:
        google.ok("DELETE", f"{USERS}/{address}")
    documented = example["documented"]

    reply = google.request("GET", path_of(documented["url"]))

    assert reply.status == documented["status"], reply.text
    conforms(example, documented["response"], reply.body, "Users")
    assert [u["primaryEmail"] for u in reply.body["users"]] == example["seed"]["delete"]
