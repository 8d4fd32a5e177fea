# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""PingIDM's REST API: base URL and context path, the four auth types, IDM's headers, and the connection options
every IDM module shares.

PRIVATE to the collection: names here can change without notice. HTTP itself (sessions, retries, errors) is
``_http``'s.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible.module_utils.basic import env_fallback

from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError, HttpClient
from ansible_collections.idmops.pingidm.plugins.module_utils._transport import check_url

AUTH_TYPES = ("headers", "basic", "bearer", "client_credentials")
DEFAULT_OAUTH_SCOPE = "fr:idm:*"
# POST actions that only read (test, testConfig) or whose repeat is harmless (cancel) are retried like GET;
# every other action (recon, reconById, ...) never is: a repeat could start it twice.
RETRYABLE_ACTIONS = frozenset(("test", "testConfig", "cancel"))


def connector_error_hint(error):
    """Advice for an error text of IDM's connector test, or "" when there is nothing to add."""
    if (error or "").strip() == "Connection Error":
        # IDM's text for the connector's InvalidCredentialException: the target system refused the credentials.
        return (" (IDM reports 'Connection Error' when the target system rejects the connector's credentials: "
                "check clientId, clientSecret and tokenEndpoint for OAUTH, user and password for BASIC, authToken "
                "for TOKEN)")
    return ""


def check_idm_url(idm_url, context_path):
    """The IDM server URL without a trailing slash; refuses one that already ends with the context path."""
    check_url("idm_url", idm_url, base=True)
    parts = urlsplit(idm_url)
    path = parts.path.rstrip("/")
    context = (context_path or "").strip("/")
    if context and (path == "/" + context or path.endswith("/" + context)):
        base = "%s://%s%s" % (parts.scheme, parts.netloc, path[:-len(context) - 1])
        raise ValueError("idm_url must not include the context path: write %s and context_path %s (got %s)."
                         % (base, context, idm_url))
    return "%s://%s%s" % (parts.scheme, parts.netloc, path)


class IdmClient(object):
    """PingIDM REST client: ``/<context_path>/...`` with the configured authentication."""

    def __init__(self, idm_url, context_path="openidm", auth_type="headers", username=None, password=None,
                 token=None, oauth_token_url=None, oauth_client_id=None, oauth_client_secret=None,
                 oauth_scope=DEFAULT_OAUTH_SCOPE, validate_certs=True, ca_path=None, timeout=30, retries=3,
                 backoff=0.5, sleep=None):
        if auth_type not in AUTH_TYPES:
            raise ValueError("auth_type must be one of %s, got %r" % (", ".join(AUTH_TYPES), auth_type))
        self.idm_url = check_idm_url(idm_url, context_path)
        if auth_type == "client_credentials":
            check_url("oauth_token_url", oauth_token_url)
        self.context_path = (context_path or "").strip("/")
        base = self.idm_url + ("/" + self.context_path if self.context_path else "")
        self.http = HttpClient(base, validate_certs=validate_certs, ca_path=ca_path, timeout=timeout,
                               retries=retries, backoff=backoff, service="IDM", sleep=sleep,
                               headers={"X-OpenIDM-NoSession": "true", "Accept-API-Version": "resource=1.0"})
        self.auth_type = auth_type
        self._username = username
        self._password = password
        self._token = token
        self._oauth = dict(url=oauth_token_url, client_id=oauth_client_id, client_secret=oauth_client_secret,
                           scope=oauth_scope or DEFAULT_OAUTH_SCOPE)
        self._auth = None
        self._setup_auth()

    @property
    def base_url(self):
        return self.http.base_url

    @classmethod
    def from_params(cls, params, **kwargs):
        """Build from a module's validated parameters (connection options of idm_argument_spec())."""
        names = ("idm_url", "context_path", "auth_type", "username", "password", "token", "oauth_token_url",
                 "oauth_client_id", "oauth_client_secret", "oauth_scope", "validate_certs", "ca_path", "timeout")
        args = dict((name, params.get(name)) for name in names if params.get(name) is not None)
        args.update(kwargs)
        return cls(**args)

    def _setup_auth(self):
        headers = self.http.session.headers
        if self.auth_type == "headers":
            headers["X-OpenIDM-Username"] = self._username or ""
            headers["X-OpenIDM-Password"] = self._password or ""
        elif self.auth_type == "basic":
            self._auth = (self._username or "", self._password or "")
        elif self.auth_type == "bearer":
            headers["Authorization"] = "Bearer %s" % (self._token or "")

    def _fetch_token(self):
        """client_credentials grant (client_secret_basic) against oauth_token_url."""
        url = self._oauth["url"]
        try:
            result = self.http.request(
                "POST", url, data={"grant_type": "client_credentials", "scope": self._oauth["scope"]},
                auth=(self._oauth["client_id"] or "", self._oauth["client_secret"] or ""),
                headers={"Accept": "application/json"})
        except ApiError as exc:
            hint = "Check oauth_client_id, oauth_client_secret and oauth_scope." if exc.status in (400, 401) else None
            raise exc.amend(hint=hint, service="the token endpoint")
        body = result.body if isinstance(result.body, dict) else {}
        token = body.get("access_token")
        if not token:
            raise ApiError("POST", self.http.describe(url), self.http.where(url), status=result.status,
                           service="the token endpoint",
                           message="the answer has no access_token",
                           hint="Check that oauth_token_url is an OAuth 2.0 token endpoint.")
        self.http.session.headers["Authorization"] = "Bearer %s" % token

    def request(self, method, path, params=None, body=None, ok_statuses=None, retry=None):
        if self.auth_type == "client_credentials" and "Authorization" not in self.http.session.headers:
            self._fetch_token()
        try:
            return self.http.request(method, path, params=params, body=body, auth=self._auth,
                                     ok_statuses=ok_statuses, retry=retry)
        except ApiError as exc:
            if exc.status != 401:
                raise
            if self.auth_type != "client_credentials":
                raise exc.amend(hint=self._auth_hint())
        # The token may have expired between calls: fetch a new one and try exactly once more.
        self._fetch_token()
        try:
            return self.http.request(method, path, params=params, body=body, auth=self._auth,
                                     ok_statuses=ok_statuses, retry=retry)
        except ApiError as exc:
            if exc.status == 401:
                exc.amend(hint=self._auth_hint())
            raise

    def _auth_hint(self):
        return {
            "headers": "Check username and password (sent as X-OpenIDM-Username/X-OpenIDM-Password).",
            "basic": "Check username and password (sent as HTTP Basic).",
            "bearer": "Check that the token is valid, not expired and has the fr:idm:* scope.",
            "client_credentials": "Check that the OAuth client's tokens are accepted by IDM (scope %s)."
                                  % self._oauth["scope"],
        }[self.auth_type]

    # helpers -------------------------------------------------------------------------------------------

    def get(self, path, params=None):
        return self.request("GET", path, params=params).body

    def get_or_none(self, path, params=None):
        """GET, or None when IDM answers 404."""
        result = self.request("GET", path, params=params, ok_statuses=(404,))
        return None if result.status == 404 else result.body

    def config_ids(self):
        """Every configuration id IDM lists (``GET config``)."""
        listing = self.get("config") or {}
        return [c["_id"] for c in listing.get("configurations", []) if isinstance(c, dict) and c.get("_id")]

    def put(self, path, body, params=None):
        return self.request("PUT", path, params=params, body=body).body

    def delete(self, path, params=None):
        return self.request("DELETE", path, params=params).body

    def post_action(self, path, action, params=None, body=None):
        query = {"_action": action}
        if params:
            query.update(params)
        return self.request("POST", path, params=query, body=body if body is not None else {},
                            retry=action in RETRYABLE_ACTIONS).body

    def decrypt(self, value):
        """Clear value of an IDM ``$crypto`` object, through ``POST script?_action=eval`` (needs eval rights)."""
        body = {"type": "text/javascript", "globals": {"val": value}, "source": "openidm.decrypt(val);"}
        # This script only reads, so a dropped connection or a busy IDM is retried like a GET.
        return self.request("POST", "script", params={"_action": "eval"}, body=body, retry=True).body

    def close(self):
        self.http.close()


# Ansible glue -----------------------------------------------------------------------------------------

def idm_argument_spec():
    """Connection options shared by every IDM module (doc fragment idmops.pingidm.connection)."""
    return dict(
        idm_url=dict(type="str", required=True, fallback=(env_fallback, ["IDM_URL"])),
        context_path=dict(type="str", default="openidm", fallback=(env_fallback, ["IDM_CONTEXT_PATH"])),
        auth_type=dict(type="str", default="headers", choices=list(AUTH_TYPES),
                       fallback=(env_fallback, ["IDM_AUTH_TYPE"])),
        username=dict(type="str", fallback=(env_fallback, ["IDM_USERNAME"])),
        password=dict(type="str", no_log=True, fallback=(env_fallback, ["IDM_PASSWORD"])),
        token=dict(type="str", no_log=True, fallback=(env_fallback, ["IDM_TOKEN"])),
        oauth_token_url=dict(type="str", no_log=False, fallback=(env_fallback, ["IDM_OAUTH_TOKEN_URL"])),
        oauth_client_id=dict(type="str", fallback=(env_fallback, ["IDM_OAUTH_CLIENT_ID"])),
        oauth_client_secret=dict(type="str", no_log=True, fallback=(env_fallback, ["IDM_OAUTH_CLIENT_SECRET"])),
        oauth_scope=dict(type="str", default=DEFAULT_OAUTH_SCOPE, fallback=(env_fallback, ["IDM_OAUTH_SCOPE"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["IDM_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["IDM_CA_PATH"])),
        timeout=dict(type="int", default=30, fallback=(env_fallback, ["IDM_TIMEOUT"])),
    )


IDM_REQUIRED_IF = [
    ("auth_type", "headers", ("username", "password")),
    ("auth_type", "basic", ("username", "password")),
    ("auth_type", "bearer", ("token",)),
    ("auth_type", "client_credentials", ("oauth_token_url", "oauth_client_id", "oauth_client_secret")),
]
