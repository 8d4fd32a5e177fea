"""``python -m sandbox.idm --port P --state-dir DIR [...]``: run the sandbox IDM until SIGTERM/SIGINT.

Prints ``ready <url>`` on stdout once the socket listens. Secrets may come from the environment instead of argv
(so they do not show in ``ps``): ``IDM_SANDBOX_ADMIN_PASSWORD``, ``IDM_SANDBOX_BEARER_TOKENS`` (comma-separated),
``IDM_SANDBOX_NO_SCRIPT_USERS`` (comma-separated ``USER:PASS``). Readings (``--reading NAME=VALUE``, see
``sandbox/idm/readings.py``) may also come from ``IDM_SANDBOX_READINGS`` (``n=v,n=v``); argv wins.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from .readings import Readings
from .server import IdmServer


def _split_env(name):
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m sandbox.idm", description="IDM-compatible sandbox server")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--state-dir", required=True, help="directory for idm.sqlite3, keystore.json, access.log")
    parser.add_argument("--admin-user", default="openidm-admin")
    parser.add_argument("--admin-password", default=os.environ.get("IDM_SANDBOX_ADMIN_PASSWORD", "openidm-admin"))
    parser.add_argument("--bearer-token", action="append", default=[], help="static bearer token (admin rights)")
    parser.add_argument(
        "--no-script-user",
        action="append",
        default=[],
        metavar="USER:PASS",
        help="an authenticated user that may not call script?_action=eval",
    )
    parser.add_argument("--connector-start-delay", type=float, default=1.0)
    parser.add_argument(
        "--startup-delay", type=float, default=0.0, help="seconds during which the server reports STARTING / 503"
    )
    parser.add_argument("--faults", default=None, help="initial fault switches as JSON")
    parser.add_argument(
        "--reading",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="how to behave where IDM's behaviour is UNCONFIRMED (repeatable; 'alt' = every "
        "UNCONFIRMED point on its alternative); see sandbox/README.md",
    )
    parser.add_argument(
        "--connector-load-delay",
        type=float,
        default=0.0,
        help="seconds after start during which connector metadata is not loaded yet: connector "
        "config writes answer 500 'No meta-data provider available yet' (IDM while loading)",
    )
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    args.bearer_token += _split_env("IDM_SANDBOX_BEARER_TOKENS")
    args.no_script_user += _split_env("IDM_SANDBOX_NO_SCRIPT_USERS")
    try:
        args.readings = Readings.from_specs(_split_env("IDM_SANDBOX_READINGS") + args.reading)
    except ValueError as exc:
        parser.error(str(exc))
    if args.connector_load_delay < 0:
        parser.error("--connector-load-delay must be >= 0")
    if args.faults:
        try:
            args.faults = json.loads(args.faults)
        except ValueError:
            parser.error("--faults must be JSON")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = IdmServer(
        args.state_dir,
        port=args.port,
        admin_user=args.admin_user,
        admin_password=args.admin_password,
        bearer_tokens=args.bearer_token,
        no_script_users=args.no_script_user,
        connector_start_delay=args.connector_start_delay,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        startup_delay=args.startup_delay,
        faults=args.faults,
        readings=args.readings,
        connector_load_delay=args.connector_load_delay,
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.start()
    print(f"ready {server.url}", flush=True)
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
