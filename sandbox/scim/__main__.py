"""Command line of the sandbox SCIM provider: ``python -m sandbox.scim --port P --state FILE [...]``.

Serves ``sandbox.scim.app.build_app`` with cheroot (threaded, HTTP/1.1 keep-alive, TLS with ``--tls-cert`` and
``--tls-key``) on 127.0.0.1 only, then prints exactly one line ``ready http://127.0.0.1:<port>`` (``https`` with
TLS) to stdout. ``--port 0`` picks a free port; the printed one is the real one. SIGTERM and SIGINT stop the
server and flush the state file; the exit status is then 0.

Secrets can come from the environment instead of the command line (so they do not show in ``ps``):
``SCIM_CLIENTS="id:secret,id2:secret2"``, ``SCIM_STATIC_TOKENS="t1,t2"``, ``SCIM_BASIC="user:pass"``. Values from
both places are combined. Nothing secret is ever printed.

``--quirk NAME`` (repeatable; or ``SCIM_SANDBOX_QUIRKS="a,b"``) makes the provider behave like other real SCIM
providers: ``omit_unassigned``, ``compute_name_formatted``, ``no_enterprise``, ``bare_members``, ``ignore_count``
(see ``sandbox.scim.quirks`` for what each one does and what the provider does without it).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sandbox.scim.app import ProviderApp, build_app
from sandbox.scim.auth import parse_pairs
from sandbox.scim.quirks import QUIRKS, parse_quirks, quirks_from_env
from sandbox.scim.serving import serve


def _split_env(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.scim", description="Sandbox SCIM provider (SCIM 2.0 + 1.1)"
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--state", required=True, metavar="FILE", help="JSON state file (loaded if it exists)")
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="ID:SECRET",
        help="OAuth2 client (repeatable); prefer SCIM_CLIENTS in the environment",
    )
    parser.add_argument(
        "--static-token",
        action="append",
        default=[],
        metavar="T",
        help="static bearer token (repeatable); prefer SCIM_STATIC_TOKENS",
    )
    parser.add_argument(
        "--basic",
        action="append",
        default=[],
        metavar="USER:PASS",
        help="HTTP Basic user (repeatable); prefer SCIM_BASIC",
    )
    parser.add_argument("--users", type=int, default=0, metavar="N", help="seed N users if the state file is new")
    parser.add_argument("--groups", type=int, default=0, metavar="M", help="seed M groups if the state file is new")
    parser.add_argument("--seed-salt", default="sandbox", metavar="S", help="salt of the deterministic seed")
    parser.add_argument("--token-ttl", type=float, default=3600, metavar="SECONDS", help="lifetime of OAuth tokens")
    parser.add_argument("--tls-cert", metavar="C")
    parser.add_argument("--tls-key", metavar="K")
    parser.add_argument("--lenient-members", action="store_true", help="accept group members that do not exist")
    parser.add_argument("--access-log", metavar="FILE", help="append '<iso> <method> <path> <status> <ms>' lines")
    parser.add_argument("--threads", type=int, default=16, help="cheroot worker threads")
    parser.add_argument(
        "--quirk",
        action="append",
        default=[],
        metavar="NAME",
        help=f"behave like another provider (repeatable): {', '.join(QUIRKS)}; also SCIM_SANDBOX_QUIRKS",
    )
    return parser


def build_provider_app(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[ProviderApp, frozenset[str]]:
    """The provider app from the options and the environment (``parser.error`` on bad values)."""
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.token_ttl <= 0:
        parser.error("--token-ttl must be positive")
    try:
        clients = parse_pairs([*_split_env("SCIM_CLIENTS"), *args.client], "a client")
        basic_users = parse_pairs([*_split_env("SCIM_BASIC"), *args.basic], "a basic user")
        quirks = parse_quirks([*quirks_from_env(), *args.quirk])
    except ValueError as exc:
        parser.error(str(exc))
    app = build_app(
        clients=clients,
        static_tokens=[*_split_env("SCIM_STATIC_TOKENS"), *args.static_token],
        basic_users=basic_users,
        token_ttl=args.token_ttl,
        strict_members=not args.lenient_members,
        state_path=args.state,
        seed=(args.users, args.groups, args.seed_salt),
        access_log=args.access_log,
        quirks=quirks,
    )
    return app, quirks


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    app, quirks = build_provider_app(parser, args)

    def banner() -> str:
        auth_note = (
            "open (no credentials configured)"
            if app.authenticator.open
            else ", ".join(s.name for s in app.authenticator.schemes())
        )
        return (
            f"scim provider: {app.load_outcome} state {args.state}; "
            f"{app.storage.count('User')} users, {app.storage.count('Group')} groups; auth: {auth_note}; "
            f"quirks: {', '.join(sorted(quirks)) or 'none'}"
        )

    try:
        serve(app, args, "sandbox-scim", banner)
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
