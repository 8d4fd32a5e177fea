# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real HTTP(S) server on 127.0.0.1 for the tests that need a socket (TLS checks, ansible-playbook runs)."""

from __future__ import annotations

import contextlib
import http.server
import json
import ssl
import threading


@contextlib.contextmanager
def json_server(answer, tls=None):
    """Serve GET on 127.0.0.1 with ``answer(url, headers) -> (status, body, content_type)``, ``body`` sent as JSON;
    ``tls``, a (certificate file, key file) pair, serves HTTPS. Yields the base URL (``scheme://127.0.0.1:port``)."""
    scheme = "https" if tls else "http"

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            url = "%s://%s:%d%s" % (scheme, *self.server.server_address, self.path)
            status, body, content_type = answer(url, self.headers)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "%s://127.0.0.1:%d" % (scheme, server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
