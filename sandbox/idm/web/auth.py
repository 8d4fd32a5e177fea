"""Authentication and authorisation of the sandbox IDM's REST calls.

Credentials: ``X-OpenIDM-Username``/``X-OpenIDM-Password`` (RFC 5987 ``utf-8''...`` values too), HTTP Basic,
static bearer tokens (admin rights), or the opaque ``session-jwt`` cookie a successful credential login gets.
``anonymous``/``anonymous`` is a known principal that may only ping. Bad credentials: 401 ``Access Denied``.
``health/*`` and ``info/ping`` need no credentials; a ``--no-script-user`` may not call ``script`` or
``__sandbox`` (403).
"""

from __future__ import annotations

import base64
import binascii
import secrets
import urllib.parse
from collections.abc import Iterable, Mapping

from ..errors import IdmError

PUBLIC_ENDPOINTS = ("health",)
ADMIN_ROLES = ["internal/role/openidm-admin", "internal/role/openidm-authorized"]
USER_ROLES = ["internal/role/openidm-authorized"]
MAX_SESSIONS = 10000


def decode_header_value(value: str | None) -> str | None:
    """RFC 5987 ``utf-8''...`` values as IDM accepts them in X-OpenIDM-* headers."""
    if value and value.lower().startswith("utf-8''"):
        return urllib.parse.unquote(value[7:], encoding="utf-8")
    return value


class Authenticator:
    def __init__(
        self,
        admin_user: str,
        admin_password: str,
        bearer_tokens: Iterable[str] = (),
        no_script_users: Iterable[str] = (),
    ) -> None:
        """``no_script_users``: ``USER:PASS`` specs of authenticated users without script rights."""
        self._users = {admin_user: (admin_password, ADMIN_ROLES)}
        self._no_script: set[str] = set()
        for spec in no_script_users:
            user, _, password = spec.partition(":")
            self._users[user] = (password, USER_ROLES)
            self._no_script.add(user)
        self._tokens = dict.fromkeys(bearer_tokens, admin_user)
        self._sessions: dict[str, str] = {}

    def roles_of(self, principal: str) -> list[str]:
        entry = self._users.get(principal)
        return list(entry[1]) if entry else []

    def authenticate(self, environ: Mapping[str, str]) -> tuple[str | None, bool]:
        """``(principal, from_credentials)``; principal None = no credentials; raises 401 on bad ones."""
        username = decode_header_value(environ.get("HTTP_X_OPENIDM_USERNAME"))
        password = decode_header_value(environ.get("HTTP_X_OPENIDM_PASSWORD"))
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

    def authorize(self, principal: str | None, endpoint: str, path: list[str]) -> None:
        """Raise 401/403 unless ``principal`` may call ``<endpoint>/<path>``."""
        if endpoint in PUBLIC_ENDPOINTS or (endpoint == "info" and path == ["ping"]):
            return
        if principal is None:
            raise IdmError(401, "Access Denied")
        if principal == "anonymous":
            raise IdmError(403, "Access denied")
        if endpoint in ("script", "__sandbox") and principal in self._no_script:
            raise IdmError(403, "Access denied")

    def new_session(self, principal: str) -> str:
        """A new ``session-jwt`` value for ``principal``."""
        token = secrets.token_urlsafe(24)
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.clear()  # opaque sessions are a convenience; clients re-authenticate anyway
        self._sessions[token] = principal
        return token
