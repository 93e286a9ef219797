"""The Google client's single calls (every one a read: users, members and groups listed, a
group or org unit read) are sent again after a dropped connection, as after a 503."""

from __future__ import annotations

import http.client
from dataclasses import replace
from typing import Any

import pytest

from core.errors import DirectoryError
from directories.google_api import GoogleApi
from directories.retry import GOOGLE


class Dropping:
    """A request whose first `drops` executions lose their connection without an answer."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.sent = 0

    def execute(self) -> dict[str, Any]:
        self.sent += 1
        if self.sent <= self.drops:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        return {"members": [{"id": "1", "type": "USER", "status": "ACTIVE"}]}


def api() -> GoogleApi:
    quick = replace(GOOGLE, attempts=3, backoff=0.001, jitter=0.001)
    return GoogleApi(lambda: {"directory": object()}, lambda: None, retry=quick)


async def test_a_read_whose_connection_dropped_is_sent_again() -> None:
    """Found by the simulated month (tests/reliability/test_month.py): one dropped connection
    while reading the Google group's members stopped the group for the run and posted a
    `group stopped` alert to the admins."""
    google, request = api(), Dropping(drops=1)
    page = await google.call(lambda _: request, "members of chat-primaries@example.com")
    assert page["members"] and request.sent == 2 and google.counters.retried == 1


async def test_a_connection_that_keeps_dropping_still_fails_the_read() -> None:
    google, request = api(), Dropping(drops=10)
    with pytest.raises(DirectoryError, match="HTTP 0 transport"):
        await google.call(lambda _: request, "members of chat-primaries@example.com")
    assert request.sent == 3
