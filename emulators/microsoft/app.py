"""create_app: the aiohttp application serving one emulated tenant.

URL layout (all on one loopback port):
    /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/oauth2/v2.0/token,
    /{tenant}/discovery/v2.0/keys            Microsoft identity (tenant id or domain)
    /v1.0/...                                Microsoft Graph
    /_control/...                            emulator controls (see control.py)
"""

from __future__ import annotations

from aiohttp import web

from ..common import request_counter
from .consistency import ConsistencyConfig
from .control import control_routes
from .emulator import EMULATOR, GraphOptions, MicrosoftEmulator
from .faults import FaultConfig, Faults
from .graph import graph_endpoint
from .login import login_routes
from .tenant import Tenant
from .throttle import Throttle, ThrottleConfig

count_requests = request_counter(lambda app: app[EMULATOR].stats)


def create_app(
    tenant: Tenant,
    *,
    auth: bool = True,
    throttle: ThrottleConfig | Throttle | None = None,
    faults: FaultConfig | None = None,
    options: GraphOptions | None = None,
    advertised_scheme: str = "https",
    consistency: ConsistencyConfig | None = None,
) -> web.Application:
    """The emulator as an aiohttp app. `auth=False` is the `--no-auth` mode: Graph accepts
    requests without a token. `throttle` takes limits, or a Throttle built with an injected
    clock; the default applies Graph's published limits. `consistency` switches on Graph's
    replication and advanced-query index lags (off by default; see consistency.py)."""
    if not isinstance(throttle, Throttle):
        throttle = Throttle(throttle)
    emulator = MicrosoftEmulator(
        tenant,
        auth=auth,
        throttle=throttle,
        faults=Faults(faults),
        options=options,
        advertised_scheme=advertised_scheme,
    )
    if consistency is not None:
        emulator.consistency.configure(consistency)
    app = web.Application(middlewares=[count_requests], client_max_size=16 * 1024 * 1024)
    app[EMULATOR] = emulator
    app.add_routes(login_routes())
    app.add_routes(control_routes())
    app.router.add_route("*", "/v1.0/{tail:.*}", graph_endpoint)
    return app
