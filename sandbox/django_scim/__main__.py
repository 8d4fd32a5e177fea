"""``python -m sandbox.django_scim --port P --state FILE [...]``: run the second SCIM server until SIGTERM/SIGINT.

django-scim2-server's WSGI application is served by cheroot (threaded) on 127.0.0.1 only; ``--port 0`` picks a
free port. ``--state`` is the SQLite database (created and migrated on first start, then kept: the data survives a
restart). ``--users``/``--groups`` seed a new database with the sandbox's deterministic directory. Once listening,
the server prints exactly one line ``ready http://127.0.0.1:<port>`` (``https`` with ``--tls-cert``/``--tls-key``);
SCIM is under ``/scim/v2``.

Credentials come from the environment only (never argv): ``SCIM_STATIC_TOKENS="t1,t2"`` (bearer, IDM's
``authenticationMethod: TOKEN``) and ``SCIM_BASIC="user:pass"`` (``BASIC``). Without any, every request gets 401.
``--access-log FILE`` appends ``<iso> <method> <path> <status> <ms>`` lines (no query string, header or body).
"""

from __future__ import annotations

import argparse
import os
import sys
import time


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.django_scim", description="django-scim2-server (second SCIM 2.0 server) on SQLite"
    )
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1; 0 picks a free one")
    parser.add_argument("--state", required=True, metavar="FILE", help="SQLite database (created if missing)")
    parser.add_argument("--users", type=int, default=0, metavar="N", help="seed N users into a new database")
    parser.add_argument("--groups", type=int, default=0, metavar="M", help="seed M groups into a new database")
    parser.add_argument("--seed-salt", default="sandbox", metavar="S", help="salt of the deterministic seed")
    parser.add_argument("--access-log", metavar="FILE")
    parser.add_argument("--tls-cert", metavar="C")
    parser.add_argument("--tls-key", metavar="K")
    parser.add_argument("--threads", type=int, default=8, help="cheroot worker threads")
    return parser


def setup_django(database):
    """Point Django at the settings and the database, start it, and migrate. Returns True for a new database."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "sandbox.django_scim.settings"
    os.environ["DJANGO_SCIM_DB"] = os.path.abspath(database)
    is_new = not os.path.exists(database)
    if is_new:
        os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))  # it holds the directory: owner only
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)
    return is_new


def logged(app, access_log):
    """Wrap a WSGI app so every request is written to the access log once its status is known."""

    def wrapper(environ, start_response):
        started = time.perf_counter()
        status_holder = []

        def recording_start_response(status, headers, exc_info=None):
            status_holder.append(status)
            return start_response(status, headers, exc_info)

        try:
            return app(environ, recording_start_response)
        finally:
            access_log.write(
                environ.get("REQUEST_METHOD", "-"),
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
                status_holder[0] if status_holder else "500",
                (time.perf_counter() - started) * 1000,
            )

    return wrapper


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    is_new = setup_django(args.state)

    from django.core.wsgi import get_wsgi_application

    from sandbox.django_scim.seed import seed
    from sandbox.scim.serving import serve

    seeded = seed(args.users, args.groups, args.seed_salt) if is_new and (args.users or args.groups) else None
    app = get_wsgi_application()
    access_log = None
    if args.access_log:
        from sandbox.scim.app import AccessLog

        access_log = AccessLog(args.access_log)
        app = logged(app, access_log)

    def banner():
        methods = [n for n, var in (("TOKEN", "SCIM_STATIC_TOKENS"), ("BASIC", "SCIM_BASIC")) if os.environ.get(var)]
        outcome = f"seeded {seeded}" if seeded else "new" if is_new else "loaded"
        return (
            f"django-scim2-server: database {args.state} ({outcome}); "
            f"auth: {', '.join(methods) or 'none (every request gets 401)'}"
        )

    try:
        serve(app, args, "sandbox-django-scim", banner)
    finally:
        if access_log:
            access_log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
