"""How both SCIM providers' command lines (``python -m sandbox.scim``, ``python -m sandbox.django_scim``) serve:
a WSGI app on 127.0.0.1 with cheroot (threaded, HTTP/1.1 keep-alive, TLS with a certificate and key), one
``ready <url>`` line on stdout once bound, until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

HOST = "127.0.0.1"


def serve(app: Any, args: argparse.Namespace, name: str, banner: Callable[[], str]) -> None:
    """Serve ``app`` until SIGTERM, SIGINT or the death of the server thread, as ``args`` (the command line of either
    provider) say: ``port`` (0: a free one), ``threads``, ``tls_cert`` and ``tls_key``.

    Once bound, prints ``banner()`` to stderr and ``ready <scheme>://127.0.0.1:<port>`` to stdout; ``name`` is the
    server's name, and the prefix of its messages. The server is stopped on the way out; the app is the caller's.
    """
    server = wsgi.Server((HOST, args.port), app, numthreads=args.threads, server_name=name)
    server.expiration_interval = 0.1  # stop() waits up to one interval; keeps SIGTERM shutdown quick
    scheme = "http"
    if args.tls_cert:
        server.ssl_adapter = BuiltinSSLAdapter(args.tls_cert, args.tls_key)
        scheme = "https"
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    server.prepare()  # binds; with port 0 the real port is now in bind_addr
    serving = threading.Thread(target=server.serve, name="cheroot", daemon=True)
    serving.start()
    try:
        print(banner(), file=sys.stderr, flush=True)
        print(f"ready {scheme}://{HOST}:{server.bind_addr[1]}", flush=True)
        while not stop.wait(1.0):
            if not serving.is_alive():
                print(f"{name}: server thread died", file=sys.stderr, flush=True)
                break
    finally:
        server.stop()
