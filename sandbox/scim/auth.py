"""Authentication of the sandbox SCIM provider, shaped after IDM's SCIM connector ``authenticationMethod``.

* ``OAUTH``: ``POST /oauth2/token`` with ``grant_type=client_credentials``; the client authenticates with
  ``client_secret_basic`` (HTTP Basic, RFC 6749 §2.3.1, id and secret form-urlencoded) or ``client_secret_post``
  (``client_id``/``client_secret`` in the form). The answer is an opaque random bearer token that expires after
  ``token_ttl`` seconds. Errors are RFC 6749 §5.2 JSON bodies: ``invalid_request`` (400),
  ``unsupported_grant_type`` (400), ``invalid_client`` (401, with ``WWW-Authenticate`` for Basic).
* ``TOKEN``: static bearer tokens given at start.
* ``BASIC``: user/password pairs given at start.

Every configured method is accepted on every SCIM path. Secrets are compared in constant time and never logged.
With no credential configured at all, every request is accepted (an open test server).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from scim2_models import AuthenticationScheme, External, Reference

OAUTH_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="OAuth Bearer Token",
    description="OAuth 2.0 client_credentials grant at /oauth2/token, then Authorization: Bearer <token>",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6749"),
    primary=True,
)
STATIC_TOKEN_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.oauthbearertoken,
    name="Static Bearer Token",
    description="Authorization: Bearer <token> with a token configured on the provider",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc6750"),
)
BASIC_SCHEME = AuthenticationScheme(
    type=AuthenticationScheme.Type.httpbasic,
    name="HTTP Basic",
    description="Authorization: Basic with a user and password configured on the provider",
    spec_uri=Reference[External]("https://datatracker.ietf.org/doc/html/rfc7617"),
)


def parse_pairs(values: Iterable[str], what: str) -> dict[str, str]:
    """Parse ``ID:SECRET`` items (the secret may contain ``:``)."""
    pairs = {}
    for item in values:
        name, sep, secret = item.partition(":")
        if not sep or not name or not secret:
            raise ValueError(f"{what} must look like NAME:SECRET")
        pairs[name] = secret
    return pairs


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class Subject:
    """Who made a request: the method and the client, user or token label (never the secret)."""

    method: str
    name: str


class Authenticator:
    """Checks ``Authorization`` headers against the configured clients, static tokens and basic users."""

    def __init__(
        self,
        clients: Mapping[str, str] | None = None,
        static_tokens: Iterable[str] = (),
        basic_users: Mapping[str, str] | None = None,
        token_ttl: float = 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = dict(clients or {})
        self.static_tokens = [t for t in static_tokens if t]
        self.basic_users = dict(basic_users or {})
        self.token_ttl = token_ttl
        self.clock = clock
        self._issued: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def open(self) -> bool:
        return not (self.clients or self.static_tokens or self.basic_users)

    def schemes(self) -> list[AuthenticationScheme]:
        """The schemes the ServiceProviderConfig advertises, in the order of preference."""
        schemes = []
        if self.clients:
            schemes.append(OAUTH_SCHEME)
        if self.static_tokens:
            schemes.append(STATIC_TOKEN_SCHEME)
        if self.basic_users:
            schemes.append(BASIC_SCHEME)
        return schemes

    def issue_token(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            # Forget expired tokens on the way, so a long run does not grow the table.
            for stale in [t for t, (_, expiry) in self._issued.items() if expiry <= now]:
                del self._issued[stale]
            self._issued[token] = (client_id, now + self.token_ttl)
        return token

    def check_client(self, client_id: str, client_secret: str) -> bool:
        expected = self.clients.get(client_id)
        # Compare against a dummy for unknown ids too, so timing does not reveal which ids exist.
        return _same(client_secret, expected if expected is not None else "\0unknown-client") and expected is not None

    def authenticate(self, authorization: str | None) -> Subject | None:
        """Return the subject of a valid ``Authorization`` header, else None. Open servers accept everything."""
        if self.open:
            return Subject("none", "anonymous")
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer" and credentials:
            return self._bearer(credentials)
        if scheme.lower() == "basic" and credentials and self.basic_users:
            decoded = decode_basic(credentials, form_encoded=False)
            if decoded is None:
                return None
            user, password = decoded
            expected = self.basic_users.get(user)
            if expected is not None and _same(password, expected):
                return Subject("basic", user)
        return None

    def _bearer(self, token: str) -> Subject | None:
        for index, static in enumerate(self.static_tokens):
            if _same(token, static):
                return Subject("token", f"static-token-{index + 1}")
        with self._lock:
            issued = self._issued.get(token)
            if issued is None:
                return None
            client_id, expiry = issued
            if expiry <= self.clock():
                del self._issued[token]
                return None
        return Subject("oauth", client_id)


def decode_basic(credentials: str, *, form_encoded: bool) -> tuple[str, str] | None:
    """Decode HTTP Basic credentials. OAuth clients form-urlencode id and secret first (RFC 6749 §2.3.1)."""
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    name, sep, secret = decoded.partition(":")
    if not sep:
        return None
    if form_encoded:
        name, secret = unquote_plus(name), unquote_plus(secret)
    return name, secret


def _json_response(
    start_response: Any, status: str, body: dict[str, Any], extra: list[tuple[str, str]] = ()
) -> list[bytes]:  # type: ignore[assignment]
    payload = json.dumps(body).encode()
    headers = [
        ("Content-Type", "application/json;charset=UTF-8"),
        ("Content-Length", str(len(payload))),
        ("Cache-Control", "no-store"),
        ("Pragma", "no-cache"),
        *extra,
    ]
    start_response(status, headers)
    return [payload]


class TokenEndpoint:
    """WSGI app for ``POST /oauth2/token`` (client_credentials only)."""

    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        def error(status: str, code: str, description: str, extra: list[tuple[str, str]] = ()) -> list[bytes]:  # type: ignore[assignment]
            return _json_response(start_response, status, {"error": code, "error_description": description}, extra)

        if environ["REQUEST_METHOD"] != "POST":
            return error("405 Method Not Allowed", "invalid_request", "use POST", [("Allow", "POST")])
        content_type = (environ.get("CONTENT_TYPE") or "").partition(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return error("400 Bad Request", "invalid_request", "the body must be application/x-www-form-urlencoded")
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length).decode("utf-8", "replace") if length > 0 else ""
        form: dict[str, str] = {}
        for name, value in parse_qsl(body, keep_blank_values=True):
            if name in form:
                return error("400 Bad Request", "invalid_request", f"parameter {name} given twice")
            form[name] = value

        grant_type = form.get("grant_type")
        if not grant_type:
            return error("400 Bad Request", "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            return error("400 Bad Request", "unsupported_grant_type", "only client_credentials is supported")

        authorization = environ.get("HTTP_AUTHORIZATION", "")
        uses_basic = authorization.lower().startswith("basic ")
        if uses_basic and ("client_secret" in form):
            return error("400 Bad Request", "invalid_request", "use one client authentication method, not two")
        if uses_basic:
            decoded = decode_basic(authorization[6:].strip(), form_encoded=True)
            client_id, client_secret = decoded if decoded else ("", "")
        else:
            client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if not client_id:
            return error(
                "401 Unauthorized",
                "invalid_client",
                "client authentication is missing",
                [("WWW-Authenticate", 'Basic realm="oauth2"')],
            )
        if not self.authenticator.check_client(client_id, client_secret):
            extra = [("WWW-Authenticate", 'Basic realm="oauth2"')] if uses_basic else []
            return error("401 Unauthorized", "invalid_client", "client authentication failed", extra)

        token = self.authenticator.issue_token(client_id)
        body_out: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self.authenticator.token_ttl),
        }
        if form.get("scope"):
            body_out["scope"] = form["scope"]
        return _json_response(start_response, "200 OK", body_out)
