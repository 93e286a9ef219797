"""`python -m emulators.microsoft`: serve a Microsoft tenant emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from ..runner import serve_forever
from .app import create_app
from .seed import load_seed_file
from .tenant import Tenant
from .throttle import ThrottleConfig


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.microsoft", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--no-auth", action="store_true", help="Graph accepts requests without a token"
    )
    parser.add_argument("--seed", help="seed document (JSON) to start from")
    parser.add_argument("--domain", default="contoso.onmicrosoft.com")
    parser.add_argument("--client-id", help="register an app with this id")
    parser.add_argument("--client-secret", help="the registered app's secret")
    parser.add_argument("--write-quota", type=int, default=3000, help="writes per 150 s")
    parser.add_argument("--time-scale", type=float, default=1.0, help="throttle windows / this")
    args = parser.parse_args(argv)

    tenant = load_seed_file(args.seed) if args.seed else Tenant(domain=args.domain)
    if args.client_id:
        tenant.add_app(args.client_id, secret=args.client_secret)
    throttle = ThrottleConfig(write_quota=args.write_quota, time_scale=args.time_scale)
    app = create_app(tenant, auth=not args.no_auth, throttle=throttle)

    def ready(base_url: str) -> None:
        print(f"Graph:     {base_url}/v1.0", flush=True)
        print(
            f"Authority: {base_url.replace('http://', 'https://')}/{tenant.tenant_id}", flush=True
        )
        print(f"Tenant:    {tenant.tenant_id} ({tenant.domain})", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(app, host=args.host, port=args.port, on_ready=ready))


if __name__ == "__main__":
    main()
