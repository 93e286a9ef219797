"""Delta queries for users and groups: `GET /users/delta` and `GET /groups/delta`.

A delta token is a position in the tenant's change log plus the round's `$select` and id scope
(Graph too encodes the first call's parameters into its tokens). A round's pages are computed
once, when the round starts, and served through opaque `$skiptoken`s; the last page carries the
`@odata.deltaLink` for the next round.

Choices where Graph leaves room:
- An unknown or expired token (7 days, or `expire_all`) answers **410 Gone** with a `Location`
  header holding a fresh initial delta URL (same `$select`/`$filter` when known) and an OData
  error whose code is `syncStateNotFound`: clients keyed on either signal start a full resync.
- `members@delta` appears when `members` is selected, when nothing is selected, or with
  `$expand=members` (as Graph's group delta and delta-query-groups pages show), and a large
  group's members are split over several entries of the same group (`delta_members_per_entry`):
  clients must merge.
- A deleted user is reported by /users/delta only; the group delta does not list its removal
  from groups (Graph does not reliably either).
- `$top`, `$orderby`, `$count`, `$search` and any `$expand` but groups' `members` are refused
  with 400; `$filter` accepts
  only `id eq '...'` clauses joined by `or`, at most 50. `Prefer: return=minimal` is ignored:
  changed objects come back with all their selected properties.
"""

from __future__ import annotations

import base64
import binascii
import math
import secrets
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .errors import GraphError
from .odata_filter import Compare, Logical, Node, parse_filter
from .resources import GROUP_TYPE, USER_TYPE, check_select, project
from .routing import GraphRequest, GraphResponse, Route, context_url, json_response, link
from .tenant import Group, ObjectKind, Tenant, User

if TYPE_CHECKING:
    from .emulator import GraphOptions

_ALLOWED = frozenset({"$select", "$filter", "$deltatoken", "$skiptoken"})
MAX_FILTER_IDS = 50
LATEST = "latest"  # $deltatoken=latest: no initial state, just a deltaLink from now on
_MAX_ROUNDS = 10_000


@dataclass
class DeltaState:
    kind: ObjectKind
    seq: int  # changes after this position are news
    select: list[str] | None
    ids: frozenset[str] | None
    issued_at: float


@dataclass
class _Round:
    next_state: DeltaState  # what the round's deltaLink will stand for
    items: list[dict[str, Any]]
    delta_token: str | None = None


class DeltaStore:
    def __init__(self) -> None:
        self.tokens: dict[str, DeltaState] = {}
        self._rounds: OrderedDict[str, _Round] = OrderedDict()

    def expire_all(self) -> None:
        """Make every delta token expired, so the next use answers 410 (tests of resync)."""
        for state in self.tokens.values():
            state.issued_at = -math.inf

    def start_round(self, round_: _Round) -> str:
        key = secrets.token_urlsafe(12)
        self._rounds[key] = round_
        while len(self._rounds) > _MAX_ROUNDS:
            self._rounds.popitem(last=False)
        return key

    def get_round(self, key: str) -> _Round | None:
        return self._rounds.get(key)

    def register(self, state: DeltaState) -> str:
        token = secrets.token_urlsafe(32)
        self.tokens[token] = state
        return token


def users_delta(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    req.emulator.tenant.purge_expired_deletions()  # 30 days on, `@removed: deleted`
    return _delta(req, "user")


def groups_delta(req: GraphRequest, params: dict[str, str]) -> GraphResponse:
    return _delta(req, "group")


def _delta(req: GraphRequest, kind: ObjectKind) -> GraphResponse:
    em = req.emulator
    store, tenant = em.delta, em.tenant
    now = tenant.clock()
    for name in req.query:
        expanding_members = kind == "group" and name == "$expand" and req.query[name] == "members"
        if name.startswith("$") and name not in _ALLOWED and not expanding_members:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                f"The query parameter '{name}' is not supported with change tracking over the "
                f"'{kind.capitalize()}s' resource.",
            )
    if "$skiptoken" in req.query:
        key, offset = _read_skiptoken(req, kind)
        round_ = store.get_round(key)
        if round_ is None:
            raise _gone(req, kind, None)
        return _page(req, kind, key, round_, offset)
    requested = req.query.get("$deltatoken")
    if requested is not None and requested != LATEST:
        state = store.tokens.get(requested)
        lifetime = em.options.delta_token_lifetime_seconds
        if state is None or state.kind != kind or now - state.issued_at > lifetime:
            raise _gone(req, kind, state)
        items = _changes(tenant, em.options, state)
        next_state = replace(state, seq=tenant.seq, issued_at=now)
        shown: list[str] | None = None
    else:
        select = shown = _read_select(req, kind)
        if select is not None and "$expand" in req.query:
            select = [*select, "members"]  # $expand=members: membership is tracked too
        ids = _read_ids(req)
        next_state = DeltaState(kind, tenant.seq, select, ids, now)
        items = [] if requested == LATEST else _initial(tenant, em.options, next_state)
    round_ = _Round(next_state, items)
    return _page(req, kind, store.start_round(round_), round_, 0, shown)


def _page(
    req: GraphRequest,
    kind: ObjectKind,
    key: str,
    round_: _Round,
    offset: int,
    select: list[str] | None = None,
) -> GraphResponse:
    """One page of a round. The first page of an initial round names its `$select` in the
    context URL; later pages do not (as in Graph's delta-query-users and -groups pages)."""
    size = req.emulator.options.delta_page_size
    items = round_.items[offset : offset + size]
    body: dict[str, Any] = {"@odata.context": context_url(req, f"{kind}s", select)}
    path = f"/{kind}s/delta"
    if offset + size < len(round_.items):
        token = _make_skiptoken(key, offset + size)
        body["@odata.nextLink"] = link(req, path, [("$skiptoken", token)])
    else:
        if round_.delta_token is None:
            round_.delta_token = req.emulator.delta.register(round_.next_state)
        body["@odata.deltaLink"] = link(req, path, [("$deltatoken", round_.delta_token)])
    body["value"] = items
    return json_response(200, body)


def _initial(tenant: Tenant, options: GraphOptions, state: DeltaState) -> list[dict[str, Any]]:
    if state.kind == "user":
        return [
            _user_item(u, state.select) for u in tenant.users.values() if _in_scope(u.id, state)
        ]
    items: list[dict[str, Any]] = []
    for group in tenant.groups.values():
        if _in_scope(group.id, state):
            members = [_member_entry(mid, kind, False) for mid, kind in group.members.items()]
            items += _group_items(group, state.select, members, options)
    return items


def _changes(tenant: Tenant, options: GraphOptions, state: DeltaState) -> list[dict[str, Any]]:
    """Objects changed since the token, in order of their latest change."""
    touched: dict[str, None] = {}
    member_changes: dict[str, dict[str, dict[str, Any]]] = {}
    for change in tenant.changes_since(state.seq):
        if change.kind != state.kind or not _in_scope(change.object_id, state):
            continue
        touched.pop(change.object_id, None)
        touched[change.object_id] = None
        if change.member_id is not None and change.member_kind is not None:
            per_group = member_changes.setdefault(change.object_id, {})
            per_group.pop(change.member_id, None)
            per_group[change.member_id] = _member_entry(
                change.member_id, change.member_kind, change.member_removed
            )
    items: list[dict[str, Any]] = []
    for object_id in touched:
        if state.kind == "user":
            user = tenant.users.get(object_id)
            if user is not None:
                items.append(_user_item(user, state.select))
            else:
                reason = "changed" if object_id in tenant.deleted_users else "deleted"
                items.append({"id": object_id, "@removed": {"reason": reason}})
            continue
        group = tenant.groups.get(object_id)
        if group is None:
            items.append({"id": object_id, "@removed": {"reason": "deleted"}})
            continue
        members = list(member_changes.get(object_id, {}).values())
        items += _group_items(group, state.select, members, options)
    return items


def _user_item(user: User, select: list[str] | None) -> dict[str, Any]:
    item = project(user, select)
    return item if "id" in item else {**item, "id": user.id}


def _group_items(
    group: Group,
    select: list[str] | None,
    members: list[dict[str, Any]],
    options: GraphOptions,
) -> list[dict[str, Any]]:
    """One entry for the group, or several when its members@delta is long."""
    with_members = select is None or "members" in select
    properties = None if select is None else [s for s in select if s != "members"]
    base = project(group, properties)
    base.setdefault("id", group.id)
    if not with_members or not members:
        return [base]  # a group without members carries no members@delta at all
    chunk = options.delta_members_per_entry
    slices = [members[i : i + chunk] for i in range(0, len(members), chunk)]
    return [{**base, "members@delta": part} for part in slices]


def _member_entry(member_id: str, kind: ObjectKind, removed: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"@odata.type": USER_TYPE if kind == "user" else GROUP_TYPE}
    entry["id"] = member_id
    if removed:
        entry["@removed"] = {"reason": "deleted"}
    return entry


def _in_scope(object_id: str, state: DeltaState) -> bool:
    return state.ids is None or object_id in state.ids


def _read_select(req: GraphRequest, kind: ObjectKind) -> list[str] | None:
    raw = req.query.get("$select")
    if raw is None:
        return None
    select = [s.strip() for s in raw.split(",") if s.strip()]
    check_select([s for s in select if not (kind == "group" and s == "members")], [kind])
    return select


def _read_ids(req: GraphRequest) -> frozenset[str] | None:
    raw = req.query.get("$filter")
    if raw is None:
        return None
    ids: list[str] = []

    def collect(node: Node) -> None:
        if isinstance(node, Logical) and node.op == "or":
            collect(node.left)
            collect(node.right)
        elif (
            isinstance(node, Compare)
            and node.path == ("id",)
            and node.op == "eq"
            and isinstance(node.value, str)
        ):
            ids.append(node.value.lower())
        else:
            raise GraphError(
                400,
                "Request_UnsupportedQuery",
                "Change tracking supports only filters of the form id eq '{id}', joined by 'or'.",
            )

    collect(parse_filter(raw))
    if len(ids) > MAX_FILTER_IDS:
        raise GraphError(
            400,
            "Request_UnsupportedQuery",
            f"The filter names {len(ids)} objects; at most {MAX_FILTER_IDS} are supported.",
        )
    return frozenset(ids)


def _gone(req: GraphRequest, kind: ObjectKind, state: DeltaState | None) -> GraphError:
    items: list[tuple[str, str]] = []
    if state is not None and state.select is not None:
        items.append(("$select", ",".join(state.select)))
    if state is not None and state.ids is not None:
        items.append(("$filter", " or ".join(f"id eq '{i}'" for i in sorted(state.ids))))
    location = link(req, f"/{kind}s/delta", items)
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state of this delta token is not found or has expired; start over with a "
        "full synchronization from the Location header.",
        {"Location": location},
    )


def _make_skiptoken(key: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"{key}:{offset}".encode()).decode().rstrip("=")


def _read_skiptoken(req: GraphRequest, kind: ObjectKind) -> tuple[str, int]:
    raw = req.query["$skiptoken"]
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        key, offset = text.rsplit(":", 1)
        return key, int(offset)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise _gone(req, kind, None) from exc


ROUTES = [
    Route("GET", ("users", "delta"), "users.delta", users_delta),
    Route("GET", ("groups", "delta"), "groups.delta", groups_delta),
]
