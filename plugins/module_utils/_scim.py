# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""SCIM provider preflight: check a SCIM 2.0 / 1.1 provider directly, before IDM's connector is configured.

PRIVATE to the collection: names here can change without notice.

It speaks to the provider the way IDM's SCIM connector would (same auth methods: OAUTH client_credentials,
BASIC, TOKEN) and turns every failure into ONE message that says what to fix. Secrets are sent, never shown:
messages are built from URLs (which hold no secret), statuses, and the provider's error text.

HTTP goes through the requests session directly (not _http.HttpClient): each check reads the provider's own
status and error text, and a transport failure is classified by _transport.classify_transport_error.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.idmops.pingidm.plugins.module_utils import _transport
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure
from ansible_collections.idmops.pingidm.plugins.module_utils._scim_schema import (
    V1_CORE_URN, V2_ENTERPRISE_URN, V2_GROUP_URN, answered_version, attribute_details,
    find_group_schema, find_user_schemas, list_resources, schema_extensions, schema_summary,
    user_attribute_details, _user_resource_type_name)

AUTH_METHODS = ("OAUTH", "BASIC", "TOKEN")
SPC_PATH = {2: "ServiceProviderConfig", 1: "ServiceProviderConfigs"}


class ScimPreflightError(ModuleFailure):
    """One failed check. ``step`` names the check (token, service_provider_config, schemas, ...), ``kind``
    the failure class (dns, refused, unreachable, timeout, dropped, tls, auth, not_found, wrong_version, http,
    bad_answer, bad_endpoint)."""

    def __init__(self, message, step, kind, status=None):
        super(ScimPreflightError, self).__init__(message, step=step, kind=kind, status=status)
        self.step = step
        self.kind = kind
        self.status = status

    def as_result(self):
        return {"step": self.step, "kind": self.kind, "status": self.status}


def _first_line(text):
    text = (text or "").strip()
    return text.splitlines()[0][:300] if text else ""


def transport_message(kind, what, url, detail, timeout):
    host, port = _transport.host_port(url)
    if kind == "dns":
        return ("Cannot resolve the host name '%s' of %s (%s): DNS lookup failed. Check the host name in the URL "
                "and the DNS of the machine that runs the module." % (host, what, url))
    if kind == "refused":
        return ("Connection to %s:%d refused (%s %s). Is the provider running, and is the port right?"
                % (host, port, what, url))
    if kind == "tls" and _transport.plain_http_answer(detail):
        return "TLS with %s (%s %s) failed: %s. %s" % (host, what, url, detail, _transport.tls_hint(detail))
    if kind == "tls":
        return ("TLS certificate of %s (%s %s) could not be verified: %s. Set ca_path to the CA certificate "
                "(PEM) that signed it, or validate_certs: false for a test server." % (host, what, url, detail))
    if kind == "timeout":
        return "No answer from %s (%s) within %s s. Is the URL right, and can this machine reach it?" % (
            what, url, timeout)
    return "Could not connect to %s (%s): %s" % (what, url, detail)


def _provider_error_text(response):
    """The provider's own error text: SCIM 2.0 ``detail``, SCIM 1.1 ``Errors[].description``, OAuth ``error``."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    if body.get("error"):
        text = str(body["error"])
        if body.get("error_description"):
            text += ": %s" % body["error_description"]
        return text
    if body.get("detail"):
        return str(body["detail"])
    errors = body.get("Errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("description") or "")
    return ""


# --- the probe -----------------------------------------------------------------------------------------

class ScimProbe(object):
    """Runs the preflight checks in order; the first failure raises ScimPreflightError."""

    def __init__(self, endpoint, scim_version=2, auth_method="OAUTH", client_id=None, client_secret=None,
                 token_endpoint=None, user=None, password=None, token=None, validate_certs=True, ca_path=None,
                 timeout=30):
        self.endpoint = (endpoint or "").rstrip("/")
        self.version = int(scim_version)
        self.auth_method = auth_method
        self.client_id = client_id
        self._client_secret = client_secret
        self.token_endpoint = token_endpoint
        self.user = user
        self._password = password
        self._token = token
        self.timeout = timeout
        self.session = _transport.requests.Session()
        # Passed with every request, not set on the session: requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE from
        # the environment override session.verify, which would silently ignore ca_path and validate_certs=false.
        self._verify = False if not validate_certs else (ca_path or True)
        self.session.headers["Accept"] = "application/scim+json, application/json"
        self._auth = None
        self.token_auth_method = None
        self.warnings = []

    def close(self):
        self.session.close()

    # transport --------------------------------------------------------------------------------------
    def _send(self, step, what, method, url, **kwargs):
        try:
            return self.session.request(method, url, timeout=self.timeout, allow_redirects=False,
                                        verify=self._verify, **kwargs)
        except _transport.requests.exceptions.RequestException as exc:
            kind = _transport.classify_transport_error(exc)
            raise ScimPreflightError(transport_message(kind, what, url, _transport.short_error_text(exc), self.timeout),
                                     step, kind)

    def _json(self, step, what, response):
        try:
            return response.json()
        except ValueError:
            content_type = response.headers.get("Content-Type", "no content type")
            raise ScimPreflightError(
                "%s (%s) answered %d with %s, not JSON. Is the endpoint right? It should be the SCIM base URL, "
                "ending with /scim/v%d or similar." % (what, response.url, response.status_code, content_type,
                                                       self.version), step, "bad_answer", response.status_code)

    # checks -----------------------------------------------------------------------------------------
    def check_endpoint(self):
        parts = urlsplit(self.endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScimPreflightError("endpoint must be an http(s) URL such as https://scim.example.com/scim/v2, "
                                     "got %r." % self.endpoint, "endpoint", "bad_endpoint")
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            self.warnings.append("endpoint uses plain http: credentials travel unencrypted.")

    def authenticate(self):
        if self.auth_method == "BASIC":
            self._auth = (self.user or "", self._password or "")
        elif self.auth_method == "TOKEN":
            self.session.headers["Authorization"] = "Bearer %s" % (self._token or "")
        else:
            self.session.headers["Authorization"] = "Bearer %s" % self._fetch_token()

    def _fetch_token(self):
        """client_credentials at token_endpoint: client_secret_basic first, then client_secret_post."""
        url = self.token_endpoint
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScimPreflightError("token_endpoint must be an http(s) URL, got %r." % url, "token", "bad_endpoint")
        form = {"grant_type": "client_credentials"}
        attempts = (
            ("client_secret_basic", dict(data=form, auth=(self.client_id or "", self._client_secret or ""))),
            ("client_secret_post", dict(data=dict(form, client_id=self.client_id or "",
                                                  client_secret=self._client_secret or ""))),
        )
        failure = None
        for method_name, kwargs in attempts:
            response = self._send("token", "token_endpoint", "POST", url, headers={"Accept": "application/json"},
                                  **kwargs)
            if response.status_code == 200:
                body = self._json("token", "token_endpoint", response)
                token = body.get("access_token") if isinstance(body, dict) else None
                if not token:
                    raise ScimPreflightError(
                        "token_endpoint (%s) answered 200 without an access_token. Is it an OAuth 2.0 token "
                        "endpoint?" % url, "token", "bad_answer", 200)
                self.token_auth_method = method_name
                return token
            if response.status_code == 404:
                raise ScimPreflightError("token_endpoint (%s) answered 404 Not Found. Check the token endpoint URL."
                                         % url, "token", "not_found", 404)
            if response.status_code not in (400, 401):
                raise ScimPreflightError("token_endpoint (%s) answered %d %s. %s" % (
                    url, response.status_code, response.reason or "", _provider_error_text(response)),
                    "token", "http", response.status_code)
            failure = response
        raise ScimPreflightError(
            "token_endpoint (%s) rejected client_id '%s' and its client_secret (answered %d: %s; tried "
            "client_secret_basic and client_secret_post). Check client_id and client_secret."
            % (url, self.client_id, failure.status_code, _provider_error_text(failure) or failure.reason),
            "token", "auth", failure.status_code)

    def _credential_hint(self):
        if self.auth_method == "BASIC":
            return "Check user '%s' and password (HTTP Basic)." % self.user
        if self.auth_method == "TOKEN":
            return "Check token (sent as a Bearer token); it may be wrong or expired."
        return ("The provider refused the access token that token_endpoint issued to client_id '%s': check that "
                "the client may use the SCIM API (scopes, audience)." % self.client_id)

    def _get(self, step, path, params=None, optional=False):
        """GET endpoint/path with auth; returns (status, json). Raises on 401/403 and, unless optional, 404."""
        url = "%s/%s" % (self.endpoint, path)
        response = self._send(step, "endpoint", "GET", url, params=params, auth=self._auth)
        status = response.status_code
        if status in (401, 403):
            raise ScimPreflightError("%s answered %d %s. %s" % (
                url, status, response.reason or "", self._credential_hint()), step, "auth", status)
        if status == 404:
            if optional:
                return 404, None
            raise ScimPreflightError(
                "%s answered 404 Not Found. Is the endpoint right? It should end with /scim/v%d or similar (the "
                "base URL of the provider's /Users)." % (url, self.version), step, "not_found", 404)
        if status >= 300:
            raise ScimPreflightError("%s answered %d %s. %s" % (url, status, response.reason or "",
                                                                _provider_error_text(response)),
                                     step, "http", status)
        return status, self._json(step, "endpoint", response)

    def service_provider_config(self):
        """The SPC at the configured version's path; detects a provider that speaks the other version."""
        other = 1 if self.version == 2 else 2
        status, body = self._get("service_provider_config", SPC_PATH[self.version], optional=True)
        if status == 404:
            other_status, other_body = self._get("service_provider_config", SPC_PATH[other], optional=True)
            if other_status != 404 and answered_version(other_body) == other:
                raise self._wrong_version(other)
            raise ScimPreflightError(
                "%s/%s answered 404 Not Found. Is the endpoint right? It should end with /scim/v%d or similar "
                "(the base URL of the provider's /Users)." % (self.endpoint, SPC_PATH[self.version], self.version),
                "service_provider_config", "not_found", 404)
        answered = answered_version(body)
        if answered == other:
            raise self._wrong_version(other)
        if answered is None:
            self.warnings.append("The ServiceProviderConfig answer names no SCIM schema; assuming SCIM %d."
                                 % self.version)
        return body

    def _wrong_version(self, answered):
        return ScimPreflightError(
            "%s speaks SCIM %s, but scim_version is %d. Set scim_version: %d (the connector's SCIMVersion) or use "
            "the provider's SCIM %s endpoint." % (self.endpoint, "2.0" if answered == 2 else "1.1", self.version,
                                                  answered, "2.0" if self.version == 2 else "1.1"),
            "service_provider_config", "wrong_version")

    def schemas(self):
        body = self._get("schemas", "Schemas")[1]
        schemas = list_resources(body)
        if not schemas and isinstance(body, dict) and body.get("id"):
            schemas = [body]  # a provider that answers one schema document
        if not schemas:
            raise ScimPreflightError("%s/Schemas returned no schema." % self.endpoint, "schemas", "bad_answer")
        return schemas

    def resource_types(self):
        if self.version == 1:
            return []  # SCIM 1.1 has no /ResourceTypes
        status, body = self._get("resource_types", "ResourceTypes", optional=True)
        if status == 404:
            self.warnings.append("%s/ResourceTypes answered 404; resource types unknown." % self.endpoint)
            return []
        return list_resources(body)

    def count(self, resource):
        status, body = self._get("%s_count" % resource.lower(), resource, params={"count": 0}, optional=True)
        if status == 404:
            self.warnings.append("%s/%s answered 404: the provider has no %s endpoint." % (
                self.endpoint, resource, resource))
            return None
        total = body.get("totalResults") if isinstance(body, dict) else None
        if not isinstance(total, int) or isinstance(total, bool):
            self.warnings.append("%s/%s?count=0 gave no totalResults." % (self.endpoint, resource))
            return None
        return total

    def run(self):
        self.check_endpoint()
        self.authenticate()
        spc = self.service_provider_config()
        schemas = self.schemas()
        core, extension = find_user_schemas(schemas, self.version)
        if core is None:
            raise ScimPreflightError("%s/Schemas has no User schema (ids: %s)." % (
                self.endpoint, ", ".join(str(s.get("id")) for s in schemas)), "schemas", "bad_answer")
        resource_types = self.resource_types()
        extensions = schema_extensions(resource_types)
        extension = self._enterprise_in_use(extension, resource_types, extensions)
        details = user_attribute_details(core, extension, self.version)
        group_schema = find_group_schema(schemas, self.version)
        if group_schema is None:
            self.warnings.append("%s/Schemas has no Group schema; group attributes unknown." % self.endpoint)
        group_details = attribute_details(group_schema, None, V2_GROUP_URN if self.version == 2 else V1_CORE_URN)
        result = {
            "endpoint": self.endpoint,
            "scim_version": self.version,
            "auth_method": self.auth_method,
            "token_auth_method": self.token_auth_method,
            "service_provider_config": spc,
            "schemas": [schema_summary(schema) for schema in schemas],
            "resource_types": resource_types,
            "schema_extensions": extensions,
            "enterprise_user": any(attribute["extension"] for attribute in details),
            "user_count": self.count("Users"),
            "group_count": self.count("Groups"),
            "user_attributes": [attribute["name"] for attribute in details],
            "user_attribute_details": details,
            "group_attributes": [attribute["name"] for attribute in group_details],
            "group_attribute_details": group_details,
        }
        return result

    def _enterprise_in_use(self, extension, resource_types, extensions):
        """The enterprise extension schema when the User resource type uses it, else None.

        A provider can serve the extension's schema at /Schemas without attaching it to its User resource type;
        then its attributes are not part of a User (RFC 7643 section 6) and writing them fails. Without
        /ResourceTypes (SCIM 1.1, or a 404) the schema's presence at /Schemas is all there is to go by.
        """
        if self.version != 2 or not resource_types:
            return extension
        user_type = _user_resource_type_name(resource_types)
        if user_type is None:
            return extension
        listed = [item["schema"] for item in extensions.get(user_type, [])]
        if V2_ENTERPRISE_URN not in listed:
            if extension is not None:
                self.warnings.append("%s/Schemas has the enterprise extension, but the %s resource type does not "
                                     "list it in schemaExtensions; its attributes are left out." % (
                                         self.endpoint, user_type))
            return None
        if extension is None:
            self.warnings.append("The %s resource type lists the enterprise extension, but %s/Schemas has no "
                                 "schema for it; its attributes are unknown and left out." % (user_type, self.endpoint))
        return extension
