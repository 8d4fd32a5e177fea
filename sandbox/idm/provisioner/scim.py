"""The SCIM connector (``org.forgerock.openicf.connectors.scim.ScimConnector``): real HTTP to a SCIM 1.1/2.0
provider through one keep-alive ``requests.Session`` whose pool holds ``maximumConnections`` connections.

Operations take and return IDM system objects (see ``schema.ObjectType``). Failures raise ``ConnectorError`` with
a ``kind`` the system service turns into IDM's answers (``credentials`` -> "Connection Error" in a connector test,
as IDM reports OpenICF's InvalidCredentialException).
"""

from __future__ import annotations

import base64
import json
import re
import ssl
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .schema import ObjectType, ObjectTypeError

DEFAULT_PAGE_SIZE = 1000
USER_AGENT = "OpenICF-SCIM-Connector/1.5.20.31 (idmops sandbox)"


class ConnectorError(Exception):
    """A failure of the connector. ``kind``: configuration, credentials, connection, not_found, conflict,
    unsupported, provider."""

    def __init__(self, message, kind="provider", status=None):
        super().__init__(message)
        self.kind = kind
        self.status = status


def _flag(value):
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _number(value, default, name):
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConnectorError(
            f"org.identityconnectors.framework.common.exceptions.ConfigurationException: "
            f"{name} must be a number, got {value!r}",
            "configuration",
        ) from None


class _TlsAdapter(HTTPAdapter):
    """Pool of ``maxsize`` connections; optionally trusts any certificate or skips hostname checks."""

    def __init__(self, maxsize, accept_self_signed, skip_hostname):
        self._accept_self_signed = accept_self_signed
        self._skip_hostname = skip_hostname
        super().__init__(pool_connections=1, pool_maxsize=maxsize, pool_block=True, max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        if self._accept_self_signed or self._skip_hostname:
            context = ssl.create_default_context()
            context.check_hostname = False
            if self._accept_self_signed:
                context.verify_mode = ssl.CERT_NONE
            kwargs["ssl_context"] = context
            if self._skip_hostname and not self._accept_self_signed:
                kwargs["assert_hostname"] = False
        return super().init_poolmanager(*args, **kwargs)


class ScimConnector:
    """One configured SCIM system. Thread-safe: the session pool and the token cache are shared."""

    def __init__(self, config, decrypt=None):
        self.config = config
        props = config.get("configurationProperties") or {}
        self._decrypt = decrypt or (lambda value: value)
        self.endpoint = (props.get("SCIMEndpoint") or "").rstrip("/")
        version = str(props.get("SCIMVersion") if props.get("SCIMVersion") is not None else "2").strip()
        if version not in ("1", "2", "1.1", "2.0"):
            raise ConnectorError(
                "org.identityconnectors.framework.common.exceptions.ConfigurationException: "
                f"SCIMVersion must be 1 or 2, got {version!r}",
                "configuration",
            )
        self.version = 1 if version.startswith("1") else 2
        self.auth_method = (props.get("authenticationMethod") or "OAUTH").upper()
        self.timeout = _number(props.get("connectionTimeout"), 30, "connectionTimeout")
        self.max_connections = max(1, _number(props.get("maximumConnections"), 10, "maximumConnections"))
        self.use_path_for_patch = _flag(props.get("usePathForPatchV2"))
        self._props = props
        self._validate()
        try:
            self.object_types = {
                key: ObjectType(key, schema, self.version) for key, schema in (config.get("objectTypes") or {}).items()
            }
        except ObjectTypeError as exc:
            raise ConnectorError(str(exc), "configuration") from None
        self.session = requests.Session()
        self.session.headers.update({"Accept": "application/scim+json, application/json", "User-Agent": USER_AGENT})
        adapter = _TlsAdapter(
            self.max_connections,
            _flag(props.get("acceptSelfSignedCertificates")),
            _flag(props.get("disableHostNameVerifier")),
        )
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        if props.get("httpProxyHost"):
            port = props.get("httpProxyPort") or 8080
            proxy = f"http://{props['httpProxyHost']}:{port}"
            self.session.proxies = {"http": proxy, "https": proxy}
            self.session.trust_env = False
        self._token = None
        self._token_expiry = 0.0
        self._token_lock = threading.Lock()
        self._max_results = None

    # ---- configuration -------------------------------------------------------------------------------------
    def _validate(self):
        required = {
            "OAUTH": ("SCIMEndpoint", "tokenEndpoint", "clientId", "clientSecret", "grantType"),
            "BASIC": ("SCIMEndpoint", "user", "password"),
            "TOKEN": ("SCIMEndpoint", "authToken"),
        }
        if self.auth_method not in required:
            raise ConnectorError(
                "org.identityconnectors.framework.common.exceptions.ConfigurationException: "
                f"authenticationMethod must be OAUTH, BASIC or TOKEN, got {self.auth_method!r}",
                "configuration",
            )
        for name in required[self.auth_method]:
            value = self._props.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise ConnectorError(
                    "org.identityconnectors.framework.common.exceptions.ConfigurationException: "
                    f"{name} is required for authenticationMethod {self.auth_method}",
                    "configuration",
                )
        if self.auth_method == "OAUTH" and self._props.get("grantType") != "client_credentials":
            raise ConnectorError(
                "org.identityconnectors.framework.common.exceptions.ConfigurationException: "
                f"unsupported grantType {self._props.get('grantType')!r}",
                "configuration",
            )
        if urlsplit(self.endpoint).scheme not in ("http", "https"):
            raise ConnectorError(
                "org.identityconnectors.framework.common.exceptions.ConfigurationException: "
                f"SCIMEndpoint is not an http(s) URL: {self.endpoint!r}",
                "configuration",
            )

    def _secret(self, name):
        value = self._props.get(name)
        if isinstance(value, dict):
            value = self._decrypt(value)
        return value

    def close(self):
        self.session.close()

    def object_type(self, key):
        try:
            return self.object_types[key]
        except KeyError:
            raise ConnectorError(f"Object type {key} is not supported", "not_found") from None

    # ---- HTTP ----------------------------------------------------------------------------------------------
    def _connection_error(self, url, exc):
        parts = urlsplit(url)
        reason = str(exc)
        for pattern in (
            r"\[Errno -?\d+\] ([^')\"]+)",
            r"(timed out)",
            r"(CERTIFICATE_VERIFY_FAILED[^')\"]*)",
            r"(certificate verify failed[^')\"]*)",
            r"(Hostname mismatch[^')\"]*)",
        ):
            match = re.search(pattern, reason)
            if match:
                reason = match.group(1)
                break
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return ConnectorError(f"Connect to {parts.hostname}:{port} failed: {reason}", "connection")

    def _fetch_token(self):
        url = self._props["tokenEndpoint"]
        try:
            response = self.session.post(
                url,
                data={"grant_type": "client_credentials"},
                auth=(self._props["clientId"], self._secret("clientSecret")),
                timeout=self.timeout,
            )
        except requests.RequestException as exc:
            raise self._connection_error(url, exc) from None
        if response.status_code in (400, 401, 403):
            raise ConnectorError("Invalid client credentials", "credentials", response.status_code)
        if response.status_code != 200:
            raise ConnectorError(
                f"Token endpoint returned HTTP {response.status_code}", "provider", response.status_code
            )
        try:
            body = response.json()
            token = body["access_token"]
        except (ValueError, KeyError):
            raise ConnectorError("Token endpoint returned no access_token", "provider") from None
        lifetime = float(body.get("expires_in") or 3600)
        # refresh a little early so a token never expires in flight
        self._token_expiry = time.monotonic() + max(1.0, lifetime - min(30.0, lifetime / 10))
        self._token = token
        return token

    def _auth_header(self, force_refresh=False):
        if self.auth_method == "BASIC":
            raw = f"{self._props['user']}:{self._secret('password')}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        if self.auth_method == "TOKEN":
            return "Bearer " + str(self._secret("authToken"))
        with self._token_lock:
            if force_refresh or self._token is None or time.monotonic() >= self._token_expiry:
                self._fetch_token()
            return "Bearer " + self._token

    def request(self, method, path, params=None, body=None, expect=(200,)):
        url = self.endpoint + path
        headers = {"Authorization": self._auth_header()}
        if body is not None:
            headers["Content-Type"] = "application/scim+json" if self.version == 2 else "application/json"
        payload = json.dumps(body) if body is not None else None
        for attempt in (1, 2):
            try:
                response = self.session.request(
                    method, url, params=params, data=payload, headers=headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise self._connection_error(url, exc) from None
            if response.status_code == 401 and attempt == 1 and self.auth_method == "OAUTH":
                headers["Authorization"] = self._auth_header(force_refresh=True)  # expired or revoked token
                continue
            break
        if response.status_code in expect:
            if response.status_code == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise ConnectorError(
                    f"SCIM provider returned a non-JSON body for {method} {path}", "provider", response.status_code
                ) from None
        raise self._http_error(method, path, response)

    @staticmethod
    def _http_error(method, path, response):
        detail = ""
        try:
            body = response.json()
            detail = body.get("detail") or body.get("Errors", [{}])[0].get("description") or ""
        except (ValueError, AttributeError, IndexError, TypeError):
            pass
        status = response.status_code
        kind = {401: "credentials", 403: "credentials", 404: "not_found", 409: "conflict"}.get(status, "provider")
        message = f"SCIM provider returned HTTP {status} for {method} {path}"
        if detail:
            message += f": {detail}"
        return ConnectorError(message, kind, status)

    # ---- operations ----------------------------------------------------------------------------------------
    def test(self):
        """What IDM's connector test does: authenticate and run a one-entry search against /Users."""
        self.request("GET", "/Users", params={"startIndex": 1, "count": 1})

    def max_results(self):
        """The provider's page limit from ServiceProviderConfig (``filter.maxResults``), capped at 1000."""
        if self._max_results is None:
            limit = DEFAULT_PAGE_SIZE
            try:
                spc = self.request("GET", "/ServiceProviderConfig" if self.version == 2 else "/ServiceProviderConfigs")
                reported = int(((spc or {}).get("filter") or {}).get("maxResults") or 0)
                if reported > 0:
                    limit = min(limit, reported)
            except (ConnectorError, ValueError, TypeError):
                pass
            self._max_results = limit
        return self._max_results

    def read(self, type_key, uid):
        otype = self.object_type(type_key)
        try:
            resource = self.request("GET", f"{otype.endpoint}/{uid}")
        except ConnectorError as exc:
            if exc.kind == "not_found":
                raise ConnectorError(f"Object {uid} not found on {type_key}", "not_found", 404) from None
            raise
        return otype.to_idm(resource)

    def create(self, type_key, obj):
        otype = self.object_type(type_key)
        resource = self.request("POST", otype.endpoint, body=otype.to_scim(obj), expect=(200, 201))
        return otype.to_idm(resource)

    def update(self, type_key, uid, obj):
        """Replace the given attributes (PATCH replace in 2.0, partial-resource PATCH in 1.1), like the
        OpenICF connector; attributes not in ``obj`` stay untouched."""
        otype = self.object_type(type_key)
        if self.version == 2:
            body = otype.patch_v2(obj, self.use_path_for_patch)
            if not body["Operations"]:
                return self.read(type_key, uid)
        else:
            body = otype.patch_v1(obj)
        try:
            resource = self.request("PATCH", f"{otype.endpoint}/{uid}", body=body, expect=(200, 204))
        except ConnectorError as exc:
            if exc.kind == "not_found":
                raise ConnectorError(f"Object {uid} not found on {type_key}", "not_found", 404) from None
            raise
        if resource is None:  # 204: the provider did not echo the resource
            return self.read(type_key, uid)
        return otype.to_idm(resource)

    def delete(self, type_key, uid):
        otype = self.object_type(type_key)
        try:
            self.request("DELETE", f"{otype.endpoint}/{uid}", expect=(200, 204))
        except ConnectorError as exc:
            if exc.kind == "not_found":
                raise ConnectorError(f"Object {uid} not found on {type_key}", "not_found", 404) from None
            raise

    def search(self, type_key, scim_filter=None, start_index=1, count=None):
        """One page: ``(objects, total_results)``."""
        otype = self.object_type(type_key)
        params = {"startIndex": start_index, "count": count or self.max_results()}
        if scim_filter:
            params["filter"] = scim_filter
        body = self.request("GET", otype.endpoint, params=params) or {}
        resources = body.get("Resources") or []
        total = int(body.get("totalResults", len(resources)))
        return [otype.to_idm(r) for r in resources], total

    def search_all(self, type_key, scim_filter=None):
        """Every matching object, paging with the provider's maximum count."""
        page = self.max_results()
        start, results = 1, []
        while True:
            objects, total = self.search(type_key, scim_filter, start, page)
            results.extend(objects)
            start += len(objects)
            if not objects or start > total:
                return results
