"""The sandbox IDM: a WSGI app under ``/openidm`` served by cheroot on 127.0.0.1.

``IdmServer`` is the composition root: its constructor builds every service (storage, crypto, configuration,
managed objects, scripts, connectors, mappings, links, audit, reconciliation, implicit sync), connects them,
registers them on the internal router and the REST endpoints, and ``stop()`` closes them in reverse dependency
order. Nothing plugs itself in.

Request pipeline: faults (never for ``__sandbox``) -> authentication -> authorisation -> startup gate -> endpoint
handler -> JSON response (+ ``ETag`` when the body has ``_rev``) -> access log line.
"""

import base64
import binascii
import json
import logging
import os
import random
import re
import secrets
import socket
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from .config import ConfigService
from .crypto import Crypto
from .errors import IdmError
from .http import Request, Response
from .info import make_health_handler, make_info_handler
from .managed import ManagedService
from .readings import Readings
from .router import InternalRouter
from .script_endpoint import make_script_handler
from .scripts import ScriptEngine
from .store import Store
from .sync.audit import AuditService
from .sync.implicit import ImplicitSync
from .sync.links import LinkStore
from .sync.mapping import MappingRegistry
from .sync.recon import ReconService
from .sync.scripting import ScriptRunner
from .system import SystemService

log = logging.getLogger("sandbox.idm")

PUBLIC_ENDPOINTS = ("health",)
ADMIN_ROLES = ["internal/role/openidm-admin", "internal/role/openidm-authorized"]
USER_ROLES = ["internal/role/openidm-authorized"]


class _DropConnection(Exception):
    """Raised by the app to make the gateway close the socket without any answer."""


class _Gateway(wsgi.Gateway_u0):
    """Exposes the connection to the app so the ``reset_rate`` fault can drop it."""

    def get_environ(self):
        env = super().get_environ()
        env["sandbox.connection"] = self.req.conn
        return env

    def respond(self):
        try:
            super().respond()
        except _DropConnection:
            self.req.close_connection = True
            self.req.sent_headers = True   # nothing more may be written on this connection
            try:
                self.req.conn.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Faults:
    """Fault switches of ``/openidm/__sandbox/faults`` (see docs/architecture.md)."""

    KEYS = {"error_rate": float, "error_status": int, "reset_rate": float, "latency": float, "paths": str,
            "spread": str}
    # "random": each matching request is hit with the rate's probability (real-world like, but a test relying
    # on it can fail by chance). "even": exactly the rate, evenly spaced from the first matching request on
    # (0.25 = the 1st, 5th, 9th ...), so with a rate <= 0.5 no two requests in a row are hit and a test of a
    # retrying client is deterministic.
    SPREADS = ("random", "even")

    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self):
        with self._lock:
            self._state = {"error_rate": 0.0, "error_status": 503, "reset_rate": 0.0, "latency": 0.0, "paths": None,
                           "spread": "random"}
            self._pattern = None
            self._seen = 0

    def update(self, values):
        if not isinstance(values, dict):
            raise IdmError(400, "Faults must be a JSON object")
        unknown = set(values) - set(self.KEYS)
        if unknown:
            raise IdmError(400, f"Unknown fault keys: {', '.join(sorted(unknown))}")
        state = dict(self._state)
        for key, value in values.items():
            try:
                state[key] = None if value is None and key == "paths" else self.KEYS[key](value)
            except (TypeError, ValueError):
                raise IdmError(400, f"Invalid value for fault {key}") from None
        for key in ("error_rate", "reset_rate"):
            if not 0.0 <= state[key] <= 1.0:
                raise IdmError(400, f"{key} must be between 0 and 1")
        if not 100 <= state["error_status"] <= 599 or state["latency"] < 0:
            raise IdmError(400, "error_status must be an HTTP status and latency >= 0")
        if state["spread"] not in self.SPREADS:
            raise IdmError(400, f"spread must be one of: {', '.join(self.SPREADS)}")
        try:
            pattern = re.compile(state["paths"]) if state["paths"] else None
        except re.error as exc:
            raise IdmError(400, f"Invalid paths regex: {exc}") from None
        with self._lock:
            self._state, self._pattern, self._seen = state, pattern, 0
        return self.snapshot()

    def snapshot(self):
        with self._lock:
            return dict(self._state)

    def decide(self, path):
        """``(latency, action)`` for a request path; action is None, ``"reset"`` or an error status."""
        with self._lock:
            state, pattern = self._state, self._pattern
            if pattern is not None and not pattern.search(path):
                return 0.0, None
            self._seen += 1
            seen = self._seen
        action = None
        if self._hit(state["reset_rate"], state["spread"], seen):
            action = "reset"
        elif self._hit(state["error_rate"], state["spread"], seen):
            action = state["error_status"]
        return state["latency"], action

    @staticmethod
    def _hit(rate, spread, seen):
        if not rate:
            return False
        if spread == "even":
            # Hits so far = floor(seen * rate + 1 - rate): the first matching request is hit, then every 1/rate-th.
            return int(seen * rate + 1 - rate + 1e-9) > int((seen - 1) * rate + 1 - rate + 1e-9)
        return random.random() < rate


def _decode_header_value(value):
    """RFC 5987 ``utf-8''...`` values as IDM accepts them in X-OpenIDM-* headers."""
    if value and value.lower().startswith("utf-8''"):
        return urllib.parse.unquote(value[7:], encoding="utf-8")
    return value


class IdmServer:
    def __init__(self, state_dir, port=0, host="127.0.0.1", admin_user="openidm-admin",
                 admin_password="openidm-admin", bearer_tokens=(), no_script_users=(), connector_start_delay=1.0,
                 tls_cert=None, tls_key=None, startup_delay=0.0, faults=None, context_path="openidm",
                 threads=32, readings=None, connector_load_delay=0.0, recon_entry_delay=None):
        self.state_dir = os.path.abspath(state_dir)
        os.makedirs(self.state_dir, exist_ok=True)
        self.host, self.port = host, port
        self.context_path = context_path.strip("/")
        self.connector_start_delay = connector_start_delay
        if not isinstance(readings, Readings):
            readings = Readings(readings)
        self.readings = readings
        self.started_at = time.monotonic()
        self.connector_load_delay = float(connector_load_delay or 0)
        self.tls = bool(tls_cert)
        self._tls_files = (tls_cert, tls_key)
        self._threads = threads
        self._users = {admin_user: (admin_password, ADMIN_ROLES)}
        self._no_script = set()
        for spec in no_script_users:
            user, _, password = spec.partition(":")
            self._users[user] = (password, USER_ROLES)
            self._no_script.add(user)
        self._tokens = {token: admin_user for token in bearer_tokens}
        self._sessions = {}
        self._ready_at = time.monotonic() + float(startup_delay or 0)
        self.faults = Faults()
        if faults:
            self.faults.update(faults)

        if recon_entry_delay is None:
            recon_entry_delay = float(os.environ.get("IDM_SANDBOX_RECON_ENTRY_DELAY") or 0)
        self._build_services(recon_entry_delay)
        self._endpoints = {
            "info": make_info_handler(self),
            "health": make_health_handler(self),
            "config": self.config.handle,
            "managed": self.managed.handle,
            "script": make_script_handler(self),
            "system": self.system.handle,
            "recon": self.recon.handle,
            "audit": self.audit.handle,
            "__sandbox": self._sandbox_handler,
        }
        self._log_lock = threading.Lock()
        self._access_log = open(os.path.join(self.state_dir, "access.log"), "a", encoding="utf-8", buffering=1)
        self._http = None
        self._thread = None

    # --- composition -----------------------------------------------------------------------------------------------
    def _build_services(self, recon_entry_delay):
        """Every service of the server, in dependency order; each one gets what it uses, nothing finds another."""
        readings = self.readings
        self.store = Store(os.path.join(self.state_dir, "idm.sqlite3"))
        self.crypto = Crypto(os.path.join(self.state_dir, "keystore.json"))
        self.router = InternalRouter()
        self.config = ConfigService(self.store, self.crypto, readings)
        self.managed = ManagedService(self.store, self.config, readings)
        self.scripts = ScriptEngine(self.router, self.crypto)
        # IDM loads connector bundles after start; until then connector metadata is missing (A1).
        self.system = SystemService(self.config, self.crypto.decrypt, self.connector_start_delay, readings,
                                    load_until=self.started_at + self.connector_load_delay)
        self.config.metadata_gate = self.system.check_metadata
        self.mappings = MappingRegistry(self.config)
        self.links = LinkStore(self.store)
        self.audit = AuditService(self.store)
        runner = ScriptRunner(self.scripts)
        self.recon = ReconService(self.store, self.router, self.mappings, self.links, self.audit, runner, readings,
                                  recon_entry_delay)
        self.implicit = ImplicitSync(self.router, runner, self.links, self.audit, self.store, self.mappings, readings)
        self.managed.sync_listener = self.implicit.notify
        for prefix, provider in (("config", self.config), ("managed", self.managed), ("system", self.system),
                                 ("recon", self.recon), ("audit", self.audit)):
            self.router.register(prefix, provider)
        # Closed by stop() in this order: runs end before the connectors they use close.
        self._closing = (self.recon.close, self.system.close)

    @property
    def ready(self):
        return time.monotonic() >= self._ready_at

    def roles_of(self, principal):
        entry = self._users.get(principal)
        return list(entry[1]) if entry else []

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    # --- lifecycle -------------------------------------------------------------------------------------------------
    def start(self):
        """Bind and serve in a background thread; returns once the socket listens."""
        self._http = wsgi.Server((self.host, self.port), self.wsgi_app, numthreads=self._threads,
                                 server_name="sandbox-idm", timeout=30)
        self._http.gateway = _Gateway
        self._http.expiration_interval = 0.05   # stop() waits for one loop tick; keep it short for tests
        if self.tls:
            self._http.ssl_adapter = BuiltinSSLAdapter(*self._tls_files)
        self._http.prepare()
        self.port = self._http.bind_addr[1]
        self._thread = threading.Thread(target=self._http.serve, name="idm-http", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._http is not None:
            self._http.stop()
            self._thread.join(timeout=10)
            self._http = None
        for close in self._closing:
            try:
                close()
            except Exception:  # pylint: disable=broad-except
                log.exception("stopping a service failed")
        with self._log_lock:
            if not self._access_log.closed:
                self._access_log.close()
        self.store.close()

    # --- __sandbox -------------------------------------------------------------------------------------------------
    def _sandbox_handler(self, request):
        if request.path == ["readings"] and request.method == "GET":
            return Response(200, self.readings.as_dict())
        if request.path != ["faults"]:
            raise IdmError(404, "Not Found")
        if request.method == "GET":
            return Response(200, self.faults.snapshot())
        if request.method in ("POST", "PUT"):
            return Response(200, self.faults.update(request.body or {}))
        if request.method == "DELETE":
            self.faults.reset()
            return Response(200, self.faults.snapshot())
        raise IdmError(405, f"Method {request.method} not allowed")

    # --- auth ------------------------------------------------------------------------------------------------------
    def _authenticate(self, environ):
        """``(principal, from_credentials)``; principal None = no credentials; raises 401 on bad ones."""
        username = _decode_header_value(environ.get("HTTP_X_OPENIDM_USERNAME"))
        password = _decode_header_value(environ.get("HTTP_X_OPENIDM_PASSWORD"))
        authorization = environ.get("HTTP_AUTHORIZATION", "")
        if username is None and authorization[:6].lower() == "basic ":
            try:
                username, _, password = base64.b64decode(authorization[6:].strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise IdmError(401, "Access Denied") from None
        if username is not None:
            if username == "anonymous" and password == "anonymous":
                return "anonymous", False
            entry = self._users.get(username)
            if entry is None or not secrets.compare_digest(entry[0].encode(), (password or "").encode()):
                raise IdmError(401, "Access Denied")
            return username, True
        if authorization[:7].lower() == "bearer ":
            principal = self._tokens.get(authorization[7:].strip())
            if principal is None:
                raise IdmError(401, "Access Denied")
            return principal, False
        cookie = environ.get("HTTP_COOKIE", "")
        for part in cookie.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "session-jwt" and value in self._sessions:
                return self._sessions[value], False
        return None, False

    # --- WSGI ------------------------------------------------------------------------------------------------------
    def wsgi_app(self, environ, start_response):
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_uri = environ.get("REQUEST_URI") or urllib.parse.quote(environ.get("PATH_INFO", ""))
        raw_path, _, raw_query = raw_uri.partition("?")
        if not raw_query:
            raw_query = environ.get("QUERY_STRING", "")
        path = urllib.parse.unquote(raw_path)
        status = 500
        try:
            try:
                response = self._handle(environ, method, raw_path, raw_query)
            except IdmError as exc:
                response = Response(exc.code, exc.body())
            except _DropConnection:
                status = "reset"
                raise
            except Exception:  # pylint: disable=broad-except
                log.exception("unhandled error on %s %s", method, path)
                response = Response(500, IdmError(500, "Internal Server Error").body())
            status = response.status
            return self._respond(start_response, response, environ, raw_query)
        finally:
            self._log_access(method, path, status, started)

    def _respond(self, start_response, response, environ, raw_query):
        body = response.body
        pretty = "_prettyprint=true" in raw_query.lower()
        if body is None and response.status == 204:
            payload = b""
        else:
            payload = json.dumps(body, indent=2 if pretty else None).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=utf-8", "Cache-Control": "no-store"}
        if isinstance(body, dict) and isinstance(body.get("_rev"), str) and 200 <= response.status < 300:
            headers["ETag"] = f'"{body["_rev"]}"'
        headers.update(response.headers)
        if response.status == 401:
            headers.pop("Set-Cookie", None)
        header_list = [(k, v) for k, v in headers.items() if k != "Set-Cookie"]
        if "Set-Cookie" in headers:
            header_list.append(("Set-Cookie", headers["Set-Cookie"]))
        header_list.append(("Content-Length", str(len(payload))))
        start_response(f"{response.status} {IdmError(response.status).reason if response.status >= 400 else _phrase(response.status)}",
                       header_list)
        return [payload] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def _handle(self, environ, method, raw_path, raw_query):
        segments = [urllib.parse.unquote(s) for s in raw_path.split("/") if s != ""]
        if not segments or segments[0] != self.context_path:
            raise IdmError(404, "Not Found")
        segments = segments[1:]
        endpoint = segments[0] if segments else ""
        if endpoint != "__sandbox":
            latency, action = self.faults.decide("/" + "/".join([self.context_path] + segments))
            if latency:
                time.sleep(latency)
            if action == "reset":
                raise _DropConnection()
            if action is not None:
                raise IdmError(action, "Injected fault")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()}
        anonymous_ping = endpoint == "info" and segments[1:] == ["ping"]
        principal, from_credentials = self._authenticate(environ)
        if endpoint not in PUBLIC_ENDPOINTS and not anonymous_ping:
            if principal is None:
                raise IdmError(401, "Access Denied")
            if principal == "anonymous":
                raise IdmError(403, "Access denied")
            if endpoint == "script" and principal in self._no_script:
                raise IdmError(403, "Access denied")
            if endpoint == "__sandbox" and principal in self._no_script:
                raise IdmError(403, "Access denied")
        if not self.ready and endpoint not in ("info", "health", "__sandbox"):
            raise IdmError(503, "OpenIDM starting")
        handler = self._endpoints.get(endpoint)
        if handler is None:
            raise IdmError(404, f"Resource '{'/'.join(segments)}' not found")
        if method not in ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD"):
            raise IdmError(405, f"Method {method} not allowed")
        body = self._read_body(environ)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = Request(method="GET" if method == "HEAD" else method, endpoint=endpoint, path=segments[1:],
                          query=query, headers=headers, body=body, principal=principal or "anonymous")
        response = handler(request)
        if from_credentials and principal != "anonymous" and \
                environ.get("HTTP_X_OPENIDM_NOSESSION", "").lower() != "true":
            token = secrets.token_urlsafe(24)
            if len(self._sessions) > 10000:
                self._sessions.clear()   # opaque sessions are a convenience; clients re-authenticate anyway
            self._sessions[token] = principal
            response.headers.setdefault("Set-Cookie", f"session-jwt={token}; Path=/; HttpOnly")
        return response

    @staticmethod
    def _read_body(environ):
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise IdmError(400, "Invalid Content-Length") from None
        raw = environ["wsgi.input"].read(length) if length > 0 else b""
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            raise IdmError(400, "The request could not be parsed: invalid JSON") from None

    def _log_access(self, method, path, status, started):
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._log_lock:
            if not self._access_log.closed:
                self._access_log.write(f"{stamp} {method} {path} {status} {elapsed_ms}\n")


def _phrase(status):
    from http import HTTPStatus  # pylint: disable=import-outside-toplevel
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
