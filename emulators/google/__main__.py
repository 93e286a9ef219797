"""`python -m emulators.google`: serve a Google Workspace emulator until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path

from ..runner import serve_forever
from .app import create_app
from .quota import QuotaConfig
from .seed import load_seed, load_seed_file
from .workspace import EDITIONS, Workspace

DIRECTORY_SCOPES = (
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.group.member",
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
    "https://www.googleapis.com/auth/cloud-identity.groups.readonly",
    "https://www.googleapis.com/auth/admin.directory.orgunit.readonly",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m emulators.google", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-auth", action="store_true", help="APIs accept calls without a token")
    parser.add_argument("--seed", help="seed document (JSON) to start from")
    parser.add_argument("--domain", default="example.com")
    parser.add_argument("--edition", default="enterprise_plus", choices=sorted(EDITIONS))
    parser.add_argument("--admin", help="create this administrator (an address in --domain)")
    parser.add_argument(
        "--service-account",
        help="a service account JSON key file: its key may get tokens, with domain-wide "
        "delegation for the Directory and Cloud Identity scopes",
    )
    parser.add_argument("--queries-per-minute", type=int, default=2400, help="per user")
    parser.add_argument("--time-scale", type=float, default=1.0, help="quota window / this")
    args = parser.parse_args(argv)

    if args.seed:
        workspace = load_seed_file(args.seed)
    else:
        workspace = Workspace(domain=args.domain, edition=args.edition)
    if args.admin:
        workspace.add_user(args.admin, "Admin", "User", is_admin=True)
    if args.service_account:
        key = json.loads(Path(args.service_account).read_text(encoding="utf-8"))
        load_seed(workspace, {"serviceAccounts": [{**key, "delegatedScopes": DIRECTORY_SCOPES}]})
    quota = QuotaConfig(queries_per_window=args.queries_per_minute, time_scale=args.time_scale)
    app = create_app(workspace, auth=not args.no_auth, quota=quota)

    def ready(base_url: str) -> None:
        print(f"API endpoint: {base_url}/", flush=True)
        print(f"Token URI:    {base_url}/token", flush=True)
        print(f"Batch URI:    {base_url}/batch", flush=True)
        print(f"Customer:     {workspace.customer_id} ({', '.join(workspace.domains)})", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_forever(app, host=args.host, port=args.port, on_ready=ready))


if __name__ == "__main__":
    main()
