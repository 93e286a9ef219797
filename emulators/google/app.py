"""create_app: the aiohttp application serving one emulated Google Workspace.

URL layout (all on one loopback port; point a client's api_endpoint at its root):
    POST /token                              OAuth 2.0 token endpoint (JWT bearer grant)
    /admin/directory/v1/...                  Admin SDK Directory v1
    /v1/...                                  Cloud Identity v1
    POST /batch, POST /batch/admin/directory_v1, POST /batch/cloudidentity/v1   batches
    /_control/...                            emulator controls (see control.py)
Any other path gets Google's HTML 404 page.
"""

from __future__ import annotations

from aiohttp import web

from ..common import request_counter
from .api import api_endpoint
from .batch import batch_endpoint
from .consistency import ConsistencyConfig
from .control import control_routes
from .emulator import EMULATOR, GoogleEmulator
from .faults import FaultConfig, Faults
from .oauth import token
from .quota import Quota, QuotaConfig
from .workspace import Workspace

count_requests = request_counter(lambda app: app[EMULATOR].stats)


def create_app(
    workspace: Workspace,
    *,
    auth: bool = True,
    quota: QuotaConfig | Quota | None = None,
    faults: FaultConfig | None = None,
    consistency: ConsistencyConfig | None = None,
) -> web.Application:
    """The emulator as an aiohttp app. `auth=False` is the `--no-auth` mode: the APIs accept
    calls without a token. `quota` takes limits, or a Quota built with an injected clock; the
    default is Google's 2,400 queries per minute per user. `consistency` turns on eventual
    consistency's lags (consistency.py); the default has none."""
    if not isinstance(quota, Quota):
        quota = Quota(quota)
    emulator = GoogleEmulator(
        workspace, auth=auth, quota=quota, faults=Faults(faults), consistency=consistency
    )
    app = web.Application(middlewares=[count_requests], client_max_size=64 * 1024 * 1024)
    app[EMULATOR] = emulator
    app.add_routes(control_routes())
    app.router.add_post("/token", token)
    app.router.add_post("/batch", batch_endpoint)
    app.router.add_post("/batch/{tail:.+}", batch_endpoint)
    app.router.add_route("*", "/{tail:.*}", api_endpoint)
    return app
