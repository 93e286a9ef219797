"""Page tokens: opaque to clients, tied to the query that produced them.

A token carries the offset of the next page and a fingerprint of the call (method, path
parameters and query parameters other than the page size and standard ones). Replaying it with
another filter is refused, which catches clients that rebuild a listing instead of following
nextPageToken; changing the page size between pages is allowed, as Google allows it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import TypeVar

from .errors import ApiError
from .routing import ApiCall

T = TypeVar("T")

# Parameters that do not change what a listing is.
_NEUTRAL = frozenset(
    {"pageToken", "maxResults", "pageSize", "alt", "prettyPrint", "fields", "quotaUser", "key"}
)
_NEUTRAL_PREFIXES = ("$.", "access_token", "oauth_token", "callback", "upload")


def _fingerprint(call: ApiCall) -> str:
    method_id = call.method.id if call.method is not None else ""
    items = sorted(
        (k, str(v))
        for k, v in call.params.items()
        if k not in _NEUTRAL and not k.startswith(_NEUTRAL_PREFIXES)
    )
    text = json.dumps([method_id, sorted(call.path_params.items()), items])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def page(call: ApiCall, items: Sequence[T], size: int) -> tuple[Sequence[T], str | None]:
    """One page of `items` and the token for the next (None on the last page)."""
    offset = 0
    token = call.params.get("pageToken")
    if token:
        offset = _read(str(token), _fingerprint(call))
    chunk = items[offset : offset + size]
    if offset + size >= len(items):
        return chunk, None
    return chunk, _make(offset + size, _fingerprint(call))


def _make(offset: int, fingerprint: str) -> str:
    raw = json.dumps({"o": offset, "f": fingerprint}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read(token: str, fingerprint: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset = int(data["o"])
        matches = data["f"] == fingerprint and offset >= 0
    except (ValueError, KeyError, TypeError, binascii.Error):
        matches = False
    if not matches:
        raise ApiError(400, "Invalid page token.", "invalid", location="pageToken")
    return offset
