"""Everything one running Microsoft emulator holds: the tenant, the throttle, faults, request
counts, delta tokens, the consistency lags, and the behaviour knobs that are not tenant data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from aiohttp import web

from .consistency import Consistency
from .delta import DeltaStore
from .faults import Faults
from .stats import RequestStats
from .tenant import Tenant
from .throttle import Throttle


@dataclass
class GraphOptions:
    page_size: int = 100  # Graph's default for directory collections
    max_page_size: int = 999  # the widely observed $top cap
    delta_page_size: int = 100  # objects per delta page
    # A group's members@delta is split over several entries of the same group beyond this many,
    # as Graph does for large groups: clients must merge repeated objects.
    delta_members_per_entry: int = 200
    delta_token_lifetime_seconds: float = 7 * 24 * 3600
    access_token_lifetime_seconds: int = 3600


class MicrosoftEmulator:
    def __init__(
        self,
        tenant: Tenant,
        *,
        auth: bool = True,
        throttle: Throttle | None = None,
        faults: Faults | None = None,
        options: GraphOptions | None = None,
        advertised_scheme: str = "https",
        consistency: Consistency | None = None,
    ) -> None:
        self.tenant = tenant
        self.auth = auth
        self.throttle = throttle or Throttle()
        self.faults = faults or Faults()
        self.options = options or GraphOptions()
        self.advertised_scheme = advertised_scheme
        self.stats = RequestStats()
        self.delta = DeltaStore()
        # Lags are measured on the tenant's clock, so tests move time instead of sleeping.
        self.consistency = consistency or Consistency(clock=lambda: tenant.clock())
        # Signs the access tokens we issue (HS256): they are JWTs a client may decode, and
        # checking them needs no server-side table.
        self.token_key = secrets.token_bytes(32)


EMULATOR = web.AppKey("microsoft_emulator", MicrosoftEmulator)


def emulator_of(app: web.Application) -> MicrosoftEmulator:
    """The emulator behind an app made by create_app, for tests that inspect or adjust it."""
    return app[EMULATOR]
