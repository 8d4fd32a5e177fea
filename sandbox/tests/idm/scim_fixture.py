"""An in-process SCIM 2.0 provider for connector/sync tests: plain scim2-server (in-memory) behind a small
OAuth2 client_credentials token endpoint, served over real HTTP by cheroot on 127.0.0.1.

Paths mirror ``sandbox.scim``: ``/oauth2/token`` and ``/scim/v2/...``. It exists so the connector can be tested
without the SCIM provider package; tests that need SCIM 1.1 use ``sandbox.scim`` itself.
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import time
from types import SimpleNamespace
from urllib.parse import parse_qs

from cheroot import wsgi
from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config


class ScimTestProvider:
    def __init__(self, client_id="idm-client", client_secret="idm-secret", static_token="static-token", token_ttl=3600):
        self.clients = {client_id: client_secret}
        self.static_token = static_token
        self.token_ttl = token_ttl
        self.tokens = {}  # token -> expiry
        self.token_requests = 0
        self.requests = []  # (method, path, query) of SCIM calls
        config = load_default_service_provider_config()
        config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
        provider = ScimProvider.from_discovery(
            load_default_schemas().values(), load_default_resource_types().values(), config=config
        )
        self.storage = InMemoryStorage()
        provider_app = BearerTokenApplication(
            self.storage, provider, ScimService(provider, secret="s"), bearer_tokens=[]
        )
        provider_app.check_auth = self._check_auth
        self._scim_app = provider_app
        self.server = wsgi.Server(("127.0.0.1", 0), self._app, numthreads=8)
        self.server.expiration_interval = 0.05  # stop() waits one loop tick
        self.server.prepare()
        self.port = self.server.bind_addr[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.endpoint = self.base + "/scim/v2"
        self.token_endpoint = self.base + "/oauth2/token"
        self._thread = threading.Thread(target=self.server.serve, daemon=True)
        self._thread.start()

    def _check_auth(self, request):
        from scim2_models import UnauthorizedException

        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and (token == self.static_token or self.tokens.get(token, 0) > time.time()):
            return
        if scheme.lower() == "basic":
            user, _, password = base64.b64decode(token).decode().partition(":")
            if self.clients.get(user) == password:
                return
        raise UnauthorizedException

    def _token(self, environ, start_response):
        self.token_requests += 1
        length = int(environ.get("CONTENT_LENGTH") or 0)
        form = {k: v[0] for k, v in parse_qs(environ["wsgi.input"].read(length).decode()).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        auth = environ.get("HTTP_AUTHORIZATION", "")
        if auth.lower().startswith("basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if form.get("grant_type") != "client_credentials":
            return self._json(start_response, "400 Bad Request", {"error": "unsupported_grant_type"})
        if self.clients.get(client_id) != client_secret:
            return self._json(start_response, "401 Unauthorized", {"error": "invalid_client"})
        token = secrets.token_urlsafe(16)
        self.tokens[token] = time.time() + self.token_ttl
        return self._json(
            start_response, "200 OK", {"access_token": token, "token_type": "Bearer", "expires_in": self.token_ttl}
        )

    @staticmethod
    def _json(start_response, status, body):
        data = json.dumps(body).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/oauth2/token" and environ["REQUEST_METHOD"] == "POST":
            return self._token(environ, start_response)
        if path.startswith("/scim/v2"):
            self.requests.append((environ["REQUEST_METHOD"], path[len("/scim/v2") :], environ.get("QUERY_STRING")))
            environ = dict(environ, PATH_INFO=path[len("/scim") :])
            return self._scim_app(environ, start_response)
        return self._json(start_response, "404 Not Found", {"detail": "not found"})

    def revoke_tokens(self):
        self.tokens.clear()

    def stop(self):
        self.server.stop()
        self._thread.join(timeout=5)


@contextlib.contextmanager
def sandbox_provider(version="v2", **build_kwargs):
    """The team's SCIM provider (``sandbox.scim``: scim2-server, OAuth, /scim/v1 facade) served in-process on
    127.0.0.1; yields ``base``, ``endpoint`` (``/scim/<version>``) and ``token_endpoint``."""
    from sandbox.scim.app import build_app

    app = build_app(state_path=None, **build_kwargs)
    server = wsgi.Server(("127.0.0.1", 0), app, numthreads=8)
    server.expiration_interval = 0.05  # stop() waits one loop tick
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.bind_addr[1]}"
    try:
        yield SimpleNamespace(base=base, endpoint=f"{base}/scim/{version}", token_endpoint=base + "/oauth2/token")
    finally:
        server.stop()
        thread.join(5)
        app.close()
