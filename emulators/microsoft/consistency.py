"""Eventual consistency: Graph's replication lag and its advanced-query index lag, on demand.

Real Microsoft Graph is not read-your-writes consistent; with both settings at 0 (the default)
the emulator is. Two lags can be switched on (`ConsistencyConfig`, `PUT /_control/consistency`):

- `read_after_write_seconds`: an object created through the API (`POST /users`, `POST /groups`,
  a new guest from `POST /invitations`) is answered 404 `Request_ResourceNotFound` by
  `/users/{id or UPN}` (and its `checkMemberGroups`), `/groups/{id}` (and the group's
  sub-routes), `/directoryObjects/{id}` and as the target of a `members/$ref`, for that long
  (and `checkMemberGroups` leaves such a group out of its answer, as it does unknown ids): the
  request reached a replica the object has not reached yet (Microsoft Q&A 947729 and 936575,
  msgraph-sdk-java issue 2575). Standard
  list queries and the invitation API's existing-user lookup see it at once.
- `index_lag_seconds`: advanced queries (`ConsistencyLevel: eventual` with `$count=true`) read an
  index that shows every user as it was that long ago ("The Microsoft Graph query engine uses an
  index store to fulfill query requests", learn.microsoft.com/graph/aad-advanced-queries): a
  user created within it is missing, one changed within it has its old property values, one
  deleted within it is still listed.

Only writes made through the Graph API lag; `Tenant` methods (seeds, tests' set-up, a simulated
admin) are the emulator's back door and are seen everywhere at once.

Bookkeeping is kept only while a lag is on and pruned as entries age past the window: the time
each object was created, and for each user written within the index window, its state before
each write (a copy of the User, or None when it did not exist). With both lags off every hook is
one comparison and nothing is stored, so the 100,000-user benchmarks pay nothing.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from ..common import Settings
from .tenant import Group, Tenant, User


@dataclass(frozen=True)
class ConsistencyConfig(Settings):
    settings_name: ClassVar[str] = "consistency"

    read_after_write_seconds: float = 0.0  # 0: objects created through the API are found at once
    index_lag_seconds: float = 0.0  # 0: advanced queries see every write at once

    def check(self) -> None:
        if self.read_after_write_seconds < 0 or self.index_lag_seconds < 0:
            raise ValueError("lags are seconds, 0 or more")


# A user's state before one write: a copy of the User, or None when it was not in the index.
_Before = User | None


class Consistency:
    """The lags in force and what they need to remember. Handlers call `created`, `changing` and
    `restoring` around their writes, `hides` before answering for one object, and
    `indexed_users` / `indexed_members` when answering an advanced query."""

    def __init__(
        self, config: ConsistencyConfig | None = None, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.clock = clock
        self.configure(config or ConsistencyConfig())

    def configure(self, config: ConsistencyConfig) -> None:
        """New settings; what was remembered under the old ones is forgotten."""
        self.config = config
        self._created: dict[str, float] = {}  # object id -> when, in creation order
        # user id -> [(when, state before that write)], ordered by each user's latest write
        self._history: dict[str, list[tuple[float, _Before]]] = {}

    def clear(self) -> None:
        self.configure(ConsistencyConfig())

    # -- writes -----------------------------------------------------------------------------

    def created(self, obj: User | Group) -> None:
        """`obj` was just created through the API."""
        now = self.clock()
        if self.config.read_after_write_seconds > 0:
            self._prune_created(now)
            self._created[obj.id] = now
        if isinstance(obj, User):
            self._record(obj.id, None, now)

    def changing(self, user: User) -> None:
        """`user` is about to be changed or deleted through the API."""
        self._record(user.id, user, self.clock())

    def restoring(self, user: User) -> None:
        """`user` is about to come back from deletedItems (the index does not list it yet)."""
        self._record(user.id, None, self.clock())

    def _record(self, user_id: str, before: User | None, now: float) -> None:
        if self.config.index_lag_seconds <= 0:
            return
        self._prune_history(now - self.config.index_lag_seconds)
        entries = self._history.pop(user_id, [])
        entries.append((now, _frozen_copy(before) if before is not None else None))
        self._history[user_id] = entries  # re-inserted: the dict stays in order of last write

    # -- read after write -------------------------------------------------------------------

    def hides(self, object_id: str) -> bool:
        """Whether the replica that answers does not have this object yet."""
        if not self._created:
            return False
        created = self._created.get(object_id)
        if created is None:
            return False
        if self.clock() - created < self.config.read_after_write_seconds:
            return True
        del self._created[object_id]
        return False

    def _prune_created(self, now: float) -> None:
        window = self.config.read_after_write_seconds
        while self._created:
            oldest_id, when = next(iter(self._created.items()))
            if now - when < window:
                return
            del self._created[oldest_id]

    # -- the advanced-query index -------------------------------------------------------------

    def index_lags(self) -> bool:
        return self.config.index_lag_seconds > 0 and bool(self._history)

    def changed_ids(self) -> set[str]:
        """Users whose indexed state differs from their current one (ids a lookup by the
        tenant's live email index could miss)."""
        return set(self._history)

    def indexed_users(self, tenant: Tenant, only: set[str] | None = None) -> list[User]:
        """The active users as the index has them: current users as they were `index_lag_seconds`
        ago, without those created since, and with those deleted since. `only`: just these ids
        (a lookup the tenant's indexes narrowed down), in id order."""
        horizon = self._horizon()
        result: list[User] = []
        if only is not None:
            for user_id in sorted(only):
                state = self._state(user_id, horizon, tenant.users.get(user_id))
                if state is not None:
                    result.append(state)
            return result
        for user in tenant.users.values():
            state = self._state(user.id, horizon, user)
            if state is not None:
                result.append(state)
        for user_id in self._history:
            if user_id not in tenant.users:
                state = self._state(user_id, horizon, None)
                if state is not None:
                    result.append(state)
        return result

    def indexed_members(self, members: Sequence[User | Group]) -> list[User | Group]:
        """Members as the index has them: the membership is current, but each user's
        properties are as they were, and a user the index does not have yet is left out."""
        horizon = self._horizon()
        result: list[User | Group] = []
        for member in members:
            state = self._state(member.id, horizon, member) if isinstance(member, User) else member
            if state is not None:
                result.append(state)
        return result

    def _horizon(self) -> float:
        horizon = self.clock() - self.config.index_lag_seconds
        self._prune_history(horizon)
        return horizon

    def _state(self, user_id: str, horizon: float, current: User | None) -> User | None:
        """The user as it was at `horizon`: its state before the first write made after it."""
        for when, before in self._history.get(user_id, ()):
            if when > horizon:
                return before
        return current

    def _prune_history(self, horizon: float) -> None:
        """Forget users whose latest write is at or before `horizon`: the index has caught up."""
        while self._history:
            user_id, entries = next(iter(self._history.items()))
            if entries[-1][0] > horizon:
                return
            del self._history[user_id]


def _frozen_copy(user: User) -> User:
    """A copy the later writes do not reach (its lists and dict are copied too)."""
    snapshot = copy.copy(user)
    for name in ("other_mails", "business_phones", "deleted_memberships"):
        setattr(snapshot, name, list(getattr(user, name)))
    snapshot.extension_attributes = dict(user.extension_attributes)
    return snapshot
