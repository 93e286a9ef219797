"""Everything one running Google emulator holds: the workspace, the API contract (discovery
documents), issued tokens, the quota, faults, the consistency lag and request counts."""

from __future__ import annotations

from aiohttp import web

from .consistency import Consistency, ConsistencyConfig
from .discovery import Catalog, default_catalog
from .faults import Faults
from .quota import Quota
from .stats import RequestStats
from .tokens import AccessTokens
from .workspace import Workspace

ACCESS_TOKEN_LIFETIME_SECONDS = 3600


class GoogleEmulator:
    def __init__(
        self,
        workspace: Workspace,
        *,
        auth: bool = True,
        quota: Quota | None = None,
        faults: Faults | None = None,
        catalog: Catalog | None = None,
        consistency: ConsistencyConfig | None = None,
    ) -> None:
        self.workspace = workspace
        self.auth = auth
        self.quota = quota or Quota()
        self.faults = faults or Faults()
        self.catalog = catalog or default_catalog()
        # Lag is measured on the workspace's clock, so tests move time instead of sleeping.
        self.consistency = Consistency(consistency, clock=lambda: self.workspace.clock())
        self.stats = RequestStats()
        self.tokens = AccessTokens()
        self.access_token_lifetime_seconds = ACCESS_TOKEN_LIFETIME_SECONDS


EMULATOR = web.AppKey("google_emulator", GoogleEmulator)


def emulator_of(app: web.Application) -> GoogleEmulator:
    """The emulator behind an app made by create_app, for tests that inspect or adjust it."""
    return app[EMULATOR]
