"""The "Search for users" guide's query examples, each on a few users seeded to tell a match
from a near miss. Examples the emulator does not model must be refused plainly (400 naming what
it supports), never answered with an empty list that looks like "nobody matches"."""

from __future__ import annotations

import pytest

from .harness import Google, payload, payload_names

EXAMPLES = payload_names("users-search-")


def found(google: Google, path: str, params: dict[str, str], query: str) -> list[str]:
    pages = google.pages(path, params | {"query": query}, "users")
    return sorted(u["primaryEmail"] for page in pages for u in page)


@pytest.mark.parametrize("name", EXAMPLES)
def test_search_example(google: Google, name: str) -> None:
    example = payload(name)
    google.seed(example["seed"])
    query = example["documented"]["query"]
    path, params = example["request"]["path"], example["request"]["params"]
    expect = example["expect"]

    if expect.get("refused"):
        reply = google.request("GET", path, params=params | {"query": query})
        error = reply.body["error"]
        assert reply.status == 400 and error["errors"][0]["reason"] == "invalid", reply.text
        assert error["message"].startswith("Invalid Input") and "supports" in error["message"]
        return
    assert found(google, path, params, query) == expect["match"]
    for other, wanted in expect.get("more", {}).items():
        assert found(google, path, params, other) == wanted, other
