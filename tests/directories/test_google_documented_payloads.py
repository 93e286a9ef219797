"""The Google client on Google's own documented payloads (the examples the conformance suite
keeps in tests/conformance/google/payloads): a listing as the users guide shows it, and the
documented error bodies, each classified as the client must treat it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from core.errors import NotFound
from core.model import DirectoryKind, marker_for
from directories.google import GoogleDirectory, GoogleSettings
from directories.google_api import api_error

PAYLOADS = Path(__file__).parents[1] / "conformance" / "google" / "payloads"


def documented(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data["documented"]


class DocumentedPages:
    """Stands in for GoogleApi: every call is answered with the next documented page."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages

    async def call(self, make: Callable[[Any], Any], what: str, *, api: str = "directory") -> Any:
        return self.pages.pop(0)


async def test_a_creation_time_in_epoch_milliseconds_is_read() -> None:
    page = documented("users-list-customer.json")["response"]
    page.pop("nextPageToken")
    liz = page["users"][1]  # "creationTime": "1404802800000", as the guide shows it
    marker = marker_for(DirectoryKind.ENTRA, "e-1")
    liz["externalIds"].append({"type": "custom", "customType": "dirsync", "value": marker})
    api: Any = DocumentedPages([page])
    google = GoogleDirectory(api, GoogleSettings("example.com"))

    accounts = await google.list_managed_accounts()

    assert [(a.marker, a.created_at) for a in accounts] == [
        (marker, datetime(2014, 7, 8, 7, 0, tzinfo=UTC))
    ]


def http_error(example: str) -> HttpError:
    page = documented(example)
    body = page["body"]
    return HttpError(httplib2.Response({"status": page["status"]}), json.dumps(body).encode())


@pytest.mark.parametrize(
    ("example", "retryable", "throttled"),
    [
        ("error-503-service-unavailable.json", True, False),
        ("error-403-user-rate-limit.json", True, True),
        ("error-400-bad-request.json", False, False),
        ("error-409-duplicate.json", False, False),
        ("error-412-precondition-failed.json", False, False),
    ],
)
def test_documented_errors_are_retried_or_not(
    example: str, retryable: bool, throttled: bool
) -> None:
    failure = api_error(http_error(example))

    assert (failure.retryable, failure.throttled) == (retryable, throttled)
    assert failure.as_error("calling").permanent is not retryable


def test_documented_404_and_409_are_what_the_client_branches_on() -> None:
    missing = api_error(http_error("error-404-not-found.json")).as_error("reading")
    taken = api_error(http_error("error-409-duplicate.json")).as_error("creating")

    assert isinstance(missing, NotFound)
    assert "409" in taken.message and "duplicate" in taken.message  # create_account's test
