"""What the Microsoft, Google and Google Chat emulators share: their settings (fault configs and
rate limits), fault injection, request counts and the /_control/ routes that read and change them.

Each emulator keeps its own specifics (which statuses it injects, what its errors look like,
which counters it reports, its other control routes) in its own package; this module holds the
code they would otherwise repeat, so their control routes answer alike.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware

CONTROL_PREFIX = "/_control/"


# --- settings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Base of a frozen settings dataclass (a FaultConfig, QuotaConfig, ThrottleConfig or
    WriteLimitConfig): its JSON form, and checked copies. A subclass names itself and checks."""

    settings_name: ClassVar[str]  # "fault", "quota"...: the error for an unknown field names it

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: Mapping[str, Any]) -> Self:
        """A copy with `changes` (field names) applied; unknown names are a ValueError."""
        unknown = set(changes) - {f.name for f in fields(self)}
        if unknown:
            raise ValueError(f"unknown {self.settings_name} settings: {sorted(unknown)}")
        result = replace(self, **dict(changes))
        result.check()
        return result

    def check(self) -> None:
        """Raise ValueError if these settings cannot be used."""


# --- fault injection ----------------------------------------------------------------------------


class CountedFaultSettings(Protocol):
    @property
    def fail_next(self) -> int: ...


class RandomFaultSettings(CountedFaultSettings, Protocol):
    @property
    def error_status(self) -> int: ...
    @property
    def error_rate(self) -> float: ...
    @property
    def drop_rate(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def seed(self) -> int | None: ...


def check_random_faults(config: RandomFaultSettings, injectable: tuple[int, ...]) -> None:
    """The checks of a config for RandomFaults: a status it may inject, rates between 0 and 1."""
    if config.error_status not in injectable:
        raise ValueError(f"error_status must be one of {injectable}")
    if not (0 <= config.error_rate <= 1 and 0 <= config.drop_rate <= 1):
        raise ValueError("rates are between 0 and 1")


CountedT = TypeVar("CountedT", bound=CountedFaultSettings)
RandomT = TypeVar("RandomT", bound=RandomFaultSettings)


class CountedFaults(Generic[CountedT]):
    """Faults that fail the next `fail_next` calls. A subclass names its config type, whose
    defaults are "no faults", and says what a failed call answers."""

    config_type: type[CountedT]

    def __init__(self, config: CountedT | None = None) -> None:
        self.configure(config or self.config_type())

    def configure(self, config: CountedT) -> None:
        self.config = config
        self._remaining = config.fail_next

    def clear(self) -> None:
        self.configure(self.config_type())

    def _fail_counted(self) -> bool:
        """Whether this call is one of the next `fail_next` (and counts it)."""
        if self._remaining <= 0:
            return False
        self._remaining -= 1
        return True


class RandomFaults(CountedFaults[RandomT]):
    """Counted faults, plus errors and dropped connections at random rates and added latency.
    The dice are seeded from the config, so a failing run can be replayed."""

    def configure(self, config: RandomT) -> None:
        super().configure(config)
        self._random = random.Random(config.seed)  # noqa: S311 - fault dice, not secrets

    def _fails(self) -> bool:
        """Whether to fail this call: one of the next `fail_next`, or by the dice."""
        if self._fail_counted():
            return True
        return bool(self.config.error_rate) and self._random.random() < self.config.error_rate

    def should_drop(self) -> bool:
        return bool(self.config.drop_rate) and self._random.random() < self.config.drop_rate

    @property
    def latency_seconds(self) -> float:
        return self.config.latency_ms / 1000


# --- request counts -----------------------------------------------------------------------------


class RequestCounts:
    """Request counts, so benchmarks can report HTTP requests per created object and tests can
    check that a client batched or paged the way it claims. A subclass names the requests inside
    batch bodies (`batch_name`) and adds its own counters to `own_json`."""

    batch_name: ClassVar[str]  # "batch_parts" or "batch_items", as the JSON calls them

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.http_requests = 0  # every HTTP request except /_control
        self.by_kind: Counter[str] = Counter()  # HTTP requests by kind
        self.in_batch = 0  # requests inside batch bodies (not HTTP requests)
        self.in_batch_by_kind: Counter[str] = Counter()
        self.by_status: Counter[int] = Counter()  # API responses, batched ones included
        self.injected_faults = 0
        # The latest HTTP requests, oldest first: when (time.time() on arrival), method, path,
        # status, and who (a digest of the bearer token: each process signs in for its own)
        self.log: deque[tuple[float, str, str, int, str]] = deque(maxlen=REQUEST_LOG_SIZE)

    def record(self, kind: str, *, in_batch: bool = False) -> None:
        if in_batch:
            self.in_batch += 1
            self.in_batch_by_kind[kind] += 1
        else:
            self.by_kind[kind] += 1

    def to_json(self) -> dict[str, Any]:
        return {
            "http_requests": self.http_requests,
            "by_kind": dict(sorted(self.by_kind.items())),
            self.batch_name: self.in_batch,
            f"{self.batch_name}_by_kind": dict(sorted(self.in_batch_by_kind.items())),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            **self.own_json(),
        }

    def own_json(self) -> dict[str, Any]:
        """The subclass's counters, injected_faults among them, in the order it reports them."""
        return {"injected_faults": self.injected_faults}


REQUEST_LOG_SIZE = 50_000


def client_of(request: web.Request) -> str:
    """Who sent the request, as far as the emulator can tell: a short digest of its bearer
    token ("" without one, e.g. a token request)."""
    auth = request.headers.get("Authorization", "")
    if not auth.lower().startswith("bearer "):
        return ""
    return hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:12]


def request_counter(stats_of: Callable[[web.Application], RequestCounts]) -> Middleware:
    """A middleware counting every HTTP request outside /_control/ in the app's stats, and
    keeping it in the request log (GET /_control/requests)."""

    @web.middleware
    async def count_requests(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path.startswith(CONTROL_PREFIX):
            return await handler(request)
        stats = stats_of(request.app)
        stats.http_requests += 1
        arrived, status = time.time(), 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as error:
            status = error.status
            raise
        finally:
            stats.log.append((arrived, request.method, request.path, status, client_of(request)))

    return count_requests


# --- control routes -----------------------------------------------------------------------------


async def json_object(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body ({} if empty); anything else is a 400."""
    raw = await request.read()
    try:
        data = json.loads(raw) if raw else {}
    except ValueError as exc:
        raise web.HTTPBadRequest(text=f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="a JSON object is expected")
    return data


class SettingsLike(Protocol):
    def to_json(self) -> dict[str, Any]: ...
    def updated(self, changes: Mapping[str, Any]) -> Self: ...


SettingsT = TypeVar("SettingsT", bound=SettingsLike)
LimitT = TypeVar("LimitT", bound=SettingsLike)


class Configurable(Protocol[SettingsT]):
    @property
    def config(self) -> SettingsT: ...
    def configure(self, config: SettingsT) -> None: ...


class Clearable(Configurable[SettingsT], Protocol[SettingsT]):
    def clear(self) -> None: ...


def stats_route(stats_of: Callable[[web.Application], RequestCounts]) -> web.RouteDef:
    """GET /_control/stats: the request counts."""

    async def stats(request: web.Request) -> web.Response:
        return web.json_response(stats_of(request.app).to_json())

    return web.get(f"{CONTROL_PREFIX}stats", stats)


def requests_route(stats_of: Callable[[web.Application], RequestCounts]) -> web.RouteDef:
    """GET /_control/requests[?since=<time.time()>]: the request log, oldest first."""

    async def requests(request: web.Request) -> web.Response:
        try:
            since = float(request.query.get("since", "0"))
        except ValueError as exc:
            raise web.HTTPBadRequest(text="since: seconds since the epoch") from exc
        entries = [
            {"at": at, "method": method, "path": path, "status": status, "client": client}
            for at, method, path, status, client in list(stats_of(request.app).log)
            if at >= since
        ]
        return web.json_response({"requests": entries})

    return web.get(f"{CONTROL_PREFIX}requests", requests)


def reset_route(reset_app: Callable[[web.Application], None]) -> web.RouteDef:
    """POST /_control/reset: `reset_app`, answered {"reset": true}."""

    async def reset(request: web.Request) -> web.Response:
        reset_app(request.app)
        return web.json_response({"reset": True})

    return web.post(f"{CONTROL_PREFIX}reset", reset)


def settings_routes(
    name: str,
    holder_of: Callable[[web.Application], Configurable[SettingsT]],
    defaults: Callable[[], SettingsT],
) -> list[web.RouteDef]:
    """GET /_control/{name}: the current settings; PUT: set them (fields not given take their
    defaults; a bad field is a 400 with the reason)."""

    async def get_settings(request: web.Request) -> web.Response:
        return web.json_response(holder_of(request.app).config.to_json())

    async def put_settings(request: web.Request) -> web.Response:
        try:
            config = defaults().updated(await json_object(request))
        except (TypeError, ValueError) as exc:
            raise web.HTTPBadRequest(text=str(exc)) from exc
        holder_of(request.app).configure(config)
        return web.json_response(config.to_json())

    path = f"{CONTROL_PREFIX}{name}"
    return [web.get(path, get_settings), web.put(path, put_settings)]


def fault_routes(
    faults_of: Callable[[web.Application], Clearable[SettingsT]],
    defaults: Callable[[], SettingsT],
) -> list[web.RouteDef]:
    """GET, PUT and DELETE /_control/faults: the current faults, set them, no faults."""

    async def clear_faults(request: web.Request) -> web.Response:
        faults_of(request.app).clear()
        return web.json_response(defaults().to_json())

    return [
        *settings_routes("faults", faults_of, defaults),
        web.delete(f"{CONTROL_PREFIX}faults", clear_faults),
    ]


class Limit(Configurable[SettingsT], Protocol[SettingsT]):
    def reset(self) -> None: ...


class CountedEmulator(Protocol[SettingsT]):
    @property
    def stats(self) -> RequestCounts: ...
    @property
    def faults(self) -> Clearable[SettingsT]: ...


def emulator_routes(
    emulator_of: Callable[[web.Application], CountedEmulator[SettingsT]],
    fault_defaults: Callable[[], SettingsT],
    limit_name: str,
    limit_of: Callable[[web.Application], Limit[LimitT]],
    limit_defaults: Callable[[], LimitT],
) -> list[web.RouteDef]:
    """The control routes an API emulator with request counts, faults and a rate limit has:
    /_control/stats, /_control/requests (the request log), /_control/reset (zero the counts
    and the log, refill the limit, clear faults),
    /_control/faults and /_control/{limit_name} (the limit's settings)."""

    def reset(app: web.Application) -> None:
        emulator = emulator_of(app)
        emulator.stats.reset()
        limit_of(app).reset()
        emulator.faults.clear()

    return [
        stats_route(lambda app: emulator_of(app).stats),
        requests_route(lambda app: emulator_of(app).stats),
        reset_route(reset),
        *fault_routes(lambda app: emulator_of(app).faults, fault_defaults),
        *settings_routes(limit_name, limit_of, limit_defaults),
    ]
