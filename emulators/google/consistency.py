"""Eventual consistency: the lag between a write and what later reads of Google Directory see,
switchable and off by default (both settings 0).

Google Directory is not read-your-writes consistent, so a client tested only against an
emulator that is will never have met what it must survive:

- Read-after-write (`read_after_write_seconds`): for that long after a `users.insert` through
  the API, the new user is not everywhere yet. In the first part of the window a `users.get`
  (by id, address or alias) and a `users.update`, `patch`, `delete` or `makeAdmin` of it answer
  404 `notFound` "Resource Not Found: userKey" and change nothing, so clients must retry them;
  in the rest (the last `missing_fields_share`, half by default) a `users.get` answers the user
  without the fields that replicate late: `name`. The address is taken at once: a second
  insert of it is a 409 `duplicate` at any time. Users made by Workspace methods (seeds, test
  set-up) do not lag. Models the Terraform provider's "Eventual consistency" fix
  (https://github.com/DeviaVir/terraform-provider-gsuite/pull/76: "When GETing a user right
  after creating it the response may not have the Name field yet. If you retry, it'll
  eventually be populated") and the 404 of a get right after an insert
  (https://github.com/hashicorp/terraform-provider-googleworkspace/issues/286).
- Search index (`index_lag_seconds`): `users.list` with a `query` reads an index that far
  behind. A user inserted more recently is missing from it, one changed more recently matches
  and is listed with its values as they were, one deleted more recently is still listed as it
  was. `users.list` without a query and `users.get` by key see the current state. Models
  Google's "Search for users" guide for the Directory API
  (https://developers.google.com/admin-sdk/directory/v1/guides/search-users): "Most user data
  updates within 1 hour, however, it may take up to 36 hours for new data to be reflected in
  all search results."

Lag is measured on the workspace's clock, so tests move time instead of sleeping. Batch parts
lag each on its own, as they are dispatched one by one. The bookkeeping is kept only while a lag
is on and only for users written through the API within the window, and it is pruned as it ages
out: with both lags off, each users call pays one attribute test and nothing is recorded.
"""

from __future__ import annotations

import copy
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from ..common import Settings
from .directory_resources import etag
from .errors import not_found
from .routing import ApiCall, ApiResponse, Handler
from .workspace import User

# User fields an insert sets that reach a reader after the user itself does.
LATE_FIELDS = ("name",)
# The users methods that write one user by key: they 404 while the user has not replicated.
WRITES = (
    "directory.users.update",
    "directory.users.patch",
    "directory.users.delete",
    "directory.users.makeAdmin",
)


@dataclass(frozen=True)
class ConsistencyConfig(Settings):
    settings_name: ClassVar[str] = "consistency"

    read_after_write_seconds: float = 0.0  # the window after an API insert; 0: no lag
    index_lag_seconds: float = 0.0  # how far behind users.list's query index is; 0: no lag
    missing_fields_share: float = 0.5  # the window's last share: found, but without its names

    def check(self) -> None:
        if self.read_after_write_seconds < 0 or self.index_lag_seconds < 0:
            raise ValueError("read_after_write_seconds and index_lag_seconds are 0 or more")
        if not 0 <= self.missing_fields_share <= 1:
            raise ValueError("missing_fields_share is between 0 and 1")


class Phase(Enum):
    """Where a user inserted through the API is in the read-after-write window."""

    MISSING = "missing"  # 404 to reads and writes by key
    PARTIAL = "partial"  # found, without LATE_FIELDS


class Consistency:
    """The consistency settings and what they need remembered: when users were inserted through
    the API, and the searchable states of users changed within the index's lag."""

    def __init__(
        self, config: ConsistencyConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.configure(config or ConsistencyConfig())

    def configure(self, config: ConsistencyConfig) -> None:
        """New settings; what was remembered under the old ones is dropped, so a lag starts with
        the writes made after it was turned on."""
        self.config = config
        self.on = bool(config.read_after_write_seconds or config.index_lag_seconds)
        self._insert_times: dict[str, float] = {}  # user id -> when the API inserted it
        self._inserts: deque[tuple[float, str]] = deque()  # the same, oldest first, to prune
        # User id -> (when, the user's state just before that write; None: not yet there),
        # oldest first; only writes newer than the index's lag are kept.
        self._before: dict[str, list[tuple[float, User | None]]] = {}
        self._changes: deque[tuple[float, str]] = deque()  # every write kept, oldest first

    def clear(self) -> None:
        self.configure(ConsistencyConfig())

    # -- read-after-write ----------------------------------------------------------------------

    def phase(self, user: User) -> Phase | None:
        """Where `user` is in its read-after-write window, or None once it has replicated (or
        was never inserted through the API while the lag was on)."""
        if not self._insert_times:
            return None
        now = self.clock()
        self._prune_inserts(now)
        inserted = self._insert_times.get(user.id)
        if inserted is None:
            return None
        missing_for = self.config.read_after_write_seconds * (1 - self.config.missing_fields_share)
        return Phase.MISSING if now - inserted < missing_for else Phase.PARTIAL

    def _prune_inserts(self, now: float) -> None:
        """Forget inserts whose window has passed."""
        window = self.config.read_after_write_seconds
        while self._inserts and now - self._inserts[0][0] >= window:
            _, user_id = self._inserts.popleft()
            self._insert_times.pop(user_id, None)

    # -- the search index ----------------------------------------------------------------------

    def searchable(self, users: Mapping[str, User]) -> Iterable[User]:
        """The active users as users.list's query index sees them: as they were
        `index_lag_seconds` ago (in the workspace's order; users deleted within the lag last)."""
        if not self._before:
            return users.values()
        self._prune_changes(self.clock())
        if not self._before:
            return users.values()
        indexed: list[User] = []
        for user_id, user in users.items():
            history = self._before.get(user_id)
            state = user if history is None else history[0][1]
            if state is not None:
                indexed.append(state)
        for user_id, history in self._before.items():
            state = history[0][1]
            if user_id not in users and state is not None:
                indexed.append(state)
        return indexed

    # -- recording API writes ------------------------------------------------------------------

    def inserted(self, user_id: str) -> None:
        now = self.clock()
        if self.config.read_after_write_seconds:
            self._prune_inserts(now)
            self._insert_times[user_id] = now
            self._inserts.append((now, user_id))
        self._changed(user_id, None, now)

    def before_write(self, user: User) -> User | None:
        """A copy of `user` to hand to `written` once a write succeeds; None when the index
        does not lag (nothing is copied then)."""
        return snapshot(user) if self.config.index_lag_seconds else None

    def written(self, user_id: str, before: User) -> None:
        self._changed(user_id, before, self.clock())

    def _changed(self, user_id: str, before: User | None, now: float) -> None:
        if not self.config.index_lag_seconds:
            return
        self._prune_changes(now)
        self._before.setdefault(user_id, []).append((now, before))
        self._changes.append((now, user_id))

    def _prune_changes(self, now: float) -> None:
        """Forget writes the index has caught up with."""
        cutoff = now - self.config.index_lag_seconds
        while self._changes and self._changes[0][0] <= cutoff:
            _, user_id = self._changes.popleft()
            history = self._before[user_id]
            history.pop(0)
            if not history:
                del self._before[user_id]


def snapshot(user: User) -> User:
    """A copy of the user that later writes (which replace or extend its lists) leave alone."""
    copied = copy.copy(user)
    copied.aliases = list(user.aliases)
    copied.external_ids = [dict(e) for e in user.external_ids]
    return copied


def without_late_fields(body: dict[str, object]) -> dict[str, object]:
    """A user resource as a replica that has not yet received LATE_FIELDS answers it."""
    partial = {k: v for k, v in body.items() if k not in LATE_FIELDS and k != "etag"}
    if "etag" in body:
        partial["etag"] = etag(partial)
    return partial


# -- the users handlers, wrapped -----------------------------------------------------------------


def _found(call: ApiCall) -> User | None:
    return call.workspace.find_user(call.path_params["userKey"])


def _insert(inner: Handler) -> Handler:
    def insert(call: ApiCall) -> ApiResponse:
        response = inner(call)
        lag = call.emulator.consistency
        if lag.on and response.status == 200 and isinstance(response.body, dict):
            lag.inserted(str(response.body["id"]))
        return response

    return insert


def _get(inner: Handler) -> Handler:
    def get(call: ApiCall) -> ApiResponse:
        lag = call.emulator.consistency
        user = _found(call) if lag.on else None
        phase = lag.phase(user) if user is not None else None
        if phase is Phase.MISSING:
            raise not_found("userKey")
        response = inner(call)
        if phase is Phase.PARTIAL and isinstance(response.body, dict):
            response.body = without_late_fields(response.body)
        return response

    return get


def _write(inner: Handler) -> Handler:
    def write(call: ApiCall) -> ApiResponse:
        lag = call.emulator.consistency
        user = _found(call) if lag.on else None
        if user is None:
            return inner(call)
        if lag.phase(user) is Phase.MISSING:
            raise not_found("userKey")
        before = lag.before_write(user)
        response = inner(call)
        if before is not None and response.status < 300:
            lag.written(user.id, before)
        return response

    return write


def lagging(handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    """The users handlers with the lag around them: inserts are recorded, gets and writes by key
    answer as a replica that has not caught up would. (users.list's query reads
    `Consistency.searchable` itself.) With both lags off each wrapper only tests `lag.on`."""
    wrapped = dict(handlers)
    wrapped["directory.users.insert"] = _insert(handlers["directory.users.insert"])
    wrapped["directory.users.get"] = _get(handlers["directory.users.get"])
    for method_id in WRITES:
        wrapped[method_id] = _write(handlers[method_id])
    return wrapped
