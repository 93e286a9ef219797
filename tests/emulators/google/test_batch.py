"""Batches over loopback HTTP, built by hand the way google-api-python-client builds them:
1,000 inserts in one request, 1,001 refused, one API per batch, Content-ID echoed, every part
through the same validation and quota as a standalone call."""

from __future__ import annotations

import email.message
import email.parser
import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from emulators.google import QuotaConfig, create_app

from .conftest import DIRECTORY, Api, new_workspace, serve, user_body


@dataclass
class InnerReply:
    content_id: str
    status: int
    body: Any


def batch_body(calls: list[tuple[str, str, Any]], base: str) -> tuple[bytes, str]:
    """A multipart/mixed body as googleapiclient writes it (LF line ends, `<base + n>` ids)."""
    boundary = "===============" + uuid.uuid4().hex
    chunks = []
    for n, (method, path, body) in enumerate(calls, start=1):
        inner = f"{method} {path} HTTP/1.1\nContent-Type: application/json\nMIME-Version: 1.0\n"
        if body is not None:
            payload = json.dumps(body)
            inner += f"content-length: {len(payload)}\n\n{payload}"
        else:
            inner += "\n"
        chunks.append(
            f"--{boundary}\nContent-Type: application/http\nMIME-Version: 1.0\n"
            f"Content-Transfer-Encoding: binary\nContent-ID: <{base} + {n}>\n\n{inner}\n"
        )
    text = "".join(chunks) + f"--{boundary}--\n"
    return text.encode(), f'multipart/mixed; boundary="{boundary}"'


def parse_reply(content_type: str, text: str) -> list[InnerReply]:
    """The parts of a batch reply, read as googleapiclient's BatchHttpRequest reads them."""
    parser = email.parser.FeedParser()
    parser.feed(f"content-type: {content_type}\r\n\r\n" + text)
    replies = []
    for part in parser.close().get_payload():
        assert isinstance(part, email.message.Message)
        payload = part.get_payload()
        assert isinstance(payload, str)
        status_line, rest = payload.split("\n", 1)
        body_text = rest.split("\r\n\r\n", 1)[1]
        body: Any
        try:
            body = json.loads(body_text) if body_text.strip() else None
        except ValueError:
            body = body_text
        replies.append(InnerReply(part["Content-ID"], int(status_line.split(" ")[1]), body))
    return replies


async def send_batch(
    google: Api, calls: list[tuple[str, str, Any]], path: str = "/batch", **headers: str
) -> tuple[int, list[InnerReply], Any]:
    data, content_type = batch_body(calls, "c0ffee")
    reply = await google.request(
        "POST", path, data=data, headers={"Content-Type": content_type, **headers}
    )
    if reply.status != 200:
        return reply.status, [], reply.body
    return reply.status, parse_reply(reply.headers["Content-Type"], reply.text), None


def inserts(count: int, start: int = 0) -> list[tuple[str, str, Any]]:
    return [
        ("POST", f"{DIRECTORY}/users?alt=json", user_body(f"b{n:04d}@example.com"))
        for n in range(start, start + count)
    ]


async def test_a_batch_of_1000_inserts(google: Api) -> None:
    status, replies, _ = await send_batch(google, inserts(1000))

    assert status == 200 and len(replies) == 1000
    assert {r.status for r in replies} == {200}
    assert replies[0].content_id == "<response-c0ffee + 1>"
    assert replies[-1].content_id == "<response-c0ffee + 1000>"
    assert replies[999].body["primaryEmail"] == "b0999@example.com"
    assert len(google.workspace.users) == 1001
    stats = google.emulator.stats.to_json()
    assert stats["by_kind"] == {"batch": 1}
    assert stats["batch_parts"] == 1000
    assert stats["batch_parts_by_kind"] == {"directory.users.insert": 1000}
    assert stats["by_status"] == {"200": 1000}


async def test_a_batch_of_1001_is_refused_whole(google: Api) -> None:
    status, _, body = await send_batch(google, inserts(1001))

    assert status == 400
    assert body["error"]["errors"][0]["reason"] == "badRequest"
    assert "1000" in body["error"]["message"]
    assert len(google.workspace.users) == 1  # nothing ran


async def test_parts_fail_alone_and_see_the_same_checks(google: Api) -> None:
    google.workspace.add_group("g@example.com")
    calls: list[tuple[str, str, Any]] = [
        ("POST", f"{DIRECTORY}/users", user_body("ok@example.com")),
        ("POST", f"{DIRECTORY}/users", user_body("ok@example.com")),
        ("POST", f"{DIRECTORY}/users", user_body("x@example.com", colour="red")),
        ("GET", f"{DIRECTORY}/groups/g%40example.com/members?maxResults=201", None),
        ("GET", f"{DIRECTORY}/users/nobody%40example.com", None),
        ("DELETE", f"{DIRECTORY}/users/ok%40example.com", None),
        ("GET", f"{DIRECTORY}/nothing/here", None),
    ]

    status, replies, _ = await send_batch(google, calls)

    assert status == 200
    assert [r.status for r in replies] == [200, 409, 400, 400, 404, 204, 404]
    assert replies[1].body["error"]["errors"][0]["reason"] == "duplicate"
    assert 'Unknown name "colour"' in replies[2].body["error"]["message"]
    assert replies[4].body["error"]["message"] == "Resource Not Found: userKey"
    assert replies[5].body is None


async def test_one_api_per_batch(google: Api) -> None:
    group = google.workspace.add_group("g@example.com")
    mixed = [
        ("GET", f"{DIRECTORY}/groups/{group.id}", None),
        ("GET", f"/v1/groups/{group.id}", None),
    ]
    only_cloud_identity = [("GET", f"/v1/groups/{group.id}", None)]

    status, _, body = await send_batch(google, mixed)
    legacy_status, _, _ = await send_batch(
        google, only_cloud_identity, path="/batch/admin/directory_v1"
    )
    cloud_status, replies, _ = await send_batch(google, only_cloud_identity)

    assert status == 400 and "same API" in body["error"]["message"]
    assert legacy_status == 400
    assert cloud_status == 200 and replies[0].body["name"] == f"groups/{group.id}"


async def test_the_older_per_api_path_works(google: Api) -> None:
    status, replies, _ = await send_batch(google, inserts(2), path="/batch/admin/directory_v1")
    unknown = await google.request("POST", "/batch/nothing/v9", data=b"")

    assert status == 200 and [r.status for r in replies] == [200, 200]
    assert unknown.status == 404


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        ("application/json", b"{}"),
        ('multipart/mixed; boundary="b"', b"--b\nContent-Type: text/plain\n\nhello\n--b--\n"),
        ('multipart/mixed; boundary="b"', b"--b\nContent-Type: application/http\n\n\n--b--\n"),
    ],
)
async def test_malformed_batches_get_400(google: Api, content_type: str, data: bytes) -> None:
    reply = await google.request(
        "POST", "/batch", data=data, headers={"Content-Type": content_type}
    )

    assert reply.status == 400 and reply.reason == "badRequest"


async def test_each_part_counts_against_the_quota() -> None:
    app = create_app(new_workspace(), auth=False, quota=QuotaConfig(queries_per_window=3))
    async with serve(app) as google:
        status, replies, _ = await send_batch(google, inserts(5))

    assert status == 200
    assert [r.status for r in replies] == [200, 200, 200, 403, 403]
    assert replies[3].body["error"]["errors"][0]["reason"] == "userRateLimitExceeded"


async def test_parts_use_the_envelopes_token() -> None:
    ws = new_workspace()
    async with serve(create_app(ws)) as google:
        anonymous_status, anonymous, _ = await send_batch(google, inserts(1))
        unknown = await send_batch(google, inserts(1), Authorization="Bearer ya29.unknown")

    assert anonymous_status == 200  # the envelope needs no token; its parts do
    assert anonymous[0].status == 401
    assert unknown[1][0].status == 401
