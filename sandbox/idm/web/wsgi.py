"""The WSGI application of the sandbox IDM (served by cheroot, see ``sandbox.idm.server``).

Request pipeline: faults (never for ``__sandbox``) -> authentication -> authorisation -> startup gate -> route
table -> JSON response (+ ``ETag`` when the body has ``_rev``, ``Set-Cookie: session-jwt`` after a credential
login unless ``X-OpenIDM-NoSession: true``) -> access log line. Bodies are ``application/json;charset=utf-8``,
``Cache-Control: no-store``; ``_prettyPrint=true`` indents them; CREST errors are ``{code, reason, message[,
detail]}``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
import urllib.parse
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from cheroot import wsgi

from ..errors import IdmError
from ..rest.http import Request, Response
from ..rest.routing import RouteTable
from .access_log import AccessLog
from .auth import Authenticator
from .faults import Faults

log = logging.getLogger("sandbox.idm")

METHODS = ("GET", "PUT", "POST", "PATCH", "DELETE", "HEAD")
# Endpoints that answer while the server is still starting (--startup-delay).
ALWAYS_READY = ("info", "health", "__sandbox")


class DropConnection(Exception):
    """Raised by the app to make the gateway close the socket without any answer."""


class Gateway(wsgi.Gateway_u0):
    """Exposes the connection to the app so the ``reset_rate`` fault can drop it."""

    def get_environ(self) -> dict[str, Any]:
        env = super().get_environ()
        env["sandbox.connection"] = self.req.conn
        return env

    def respond(self) -> None:
        try:
            super().respond()
        except DropConnection:
            self.req.close_connection = True
            self.req.sent_headers = True  # nothing more may be written on this connection
            with contextlib.suppress(OSError):  # the client may be gone already
                self.req.conn.socket.shutdown(socket.SHUT_RDWR)


def _phrase(status: int) -> str:
    if status >= 400:
        return IdmError(status).reason
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class IdmApp:
    """The WSGI callable: ``IdmApp(context_path, routes, authenticator, faults, access_log, ready)``."""

    def __init__(
        self,
        context_path: str,
        routes: RouteTable,
        authenticator: Authenticator,
        faults: Faults,
        access_log: AccessLog,
        ready: Callable[[], bool],
    ) -> None:
        self.context_path = context_path
        self.routes = routes
        self.auth = authenticator
        self.faults = faults
        self.access_log = access_log
        self.ready = ready

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        started = time.perf_counter()
        method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_uri = environ.get("REQUEST_URI") or urllib.parse.quote(environ.get("PATH_INFO", ""))
        raw_path, _, raw_query = raw_uri.partition("?")
        if not raw_query:
            raw_query = environ.get("QUERY_STRING", "")
        path = urllib.parse.unquote(raw_path)
        status: int | str = 500
        try:
            try:
                response = self._handle(environ, method, raw_path, raw_query)
            except IdmError as exc:
                response = Response(exc.code, exc.body())
            except DropConnection:
                status = "reset"
                raise
            except Exception:
                log.exception("unhandled error on %s %s", method, path)
                response = Response(500, IdmError(500, "Internal Server Error").body())
            status = response.status
            return self._respond(start_response, response, environ, raw_query)
        finally:
            self.access_log.write(method, path, status, started)

    def _respond(self, start_response: Any, response: Response, environ: dict[str, Any], raw_query: str) -> list[bytes]:
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
        start_response(f"{response.status} {_phrase(response.status)}", header_list)
        return [payload] if environ.get("REQUEST_METHOD") != "HEAD" else []

    def _inject_faults(self, segments: list[str]) -> None:
        latency, action = self.faults.decide("/" + "/".join([self.context_path, *segments]))
        if latency:
            time.sleep(latency)
        if action == "reset":
            raise DropConnection()
        if action is not None:
            raise IdmError(action, "Injected fault")

    def _handle(self, environ: dict[str, Any], method: str, raw_path: str, raw_query: str) -> Response:
        segments = [urllib.parse.unquote(s) for s in raw_path.split("/") if s != ""]
        if not segments or segments[0] != self.context_path:
            raise IdmError(404, "Not Found")
        segments = segments[1:]
        endpoint = segments[0] if segments else ""
        if endpoint != "__sandbox":
            self._inject_faults(segments)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()}
        principal, from_credentials = self.auth.authenticate(environ)
        self.auth.authorize(principal, endpoint, segments[1:])
        if not self.ready() and endpoint not in ALWAYS_READY:
            raise IdmError(503, "OpenIDM starting")
        if endpoint not in self.routes:
            raise IdmError(404, f"Resource '{'/'.join(segments)}' not found")
        if method not in METHODS:
            raise IdmError(405, f"Method {method} not allowed")
        body = self._read_body(environ)
        headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if "CONTENT_TYPE" in environ:
            headers["content-type"] = environ["CONTENT_TYPE"]
        request = Request(
            method="GET" if method == "HEAD" else method,
            endpoint=endpoint,
            path=segments[1:],
            query=query,
            headers=headers,
            body=body,
            principal=principal or "anonymous",
        )
        response = self.routes.dispatch(request)
        if (
            from_credentials
            and principal != "anonymous"
            and environ.get("HTTP_X_OPENIDM_NOSESSION", "").lower() != "true"
        ):
            response.headers.setdefault(
                "Set-Cookie", f"session-jwt={self.auth.new_session(principal)}; Path=/; HttpOnly"
            )
        return response

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> Any:
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
