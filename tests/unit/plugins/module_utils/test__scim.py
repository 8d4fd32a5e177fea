# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_scim preflight: a fake SCIM provider at the requests layer, plus real sockets for DNS/refused/TLS failures."""

from __future__ import annotations

import datetime
import http.server
import json
import socket
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from ansible_collections.idmops.pingidm.plugins.module_utils import _scim, _scim_schema
from ansible_collections.idmops.pingidm.tests.unit.local_server import json_server

HOST = "https://scim.test"
V2 = HOST + "/scim/v2"
V1 = HOST + "/scim/v1"
TOKEN_URL = HOST + "/oauth2/token"
CLIENT_ID = "idm-client"
CLIENT_SECRET = "scim-Secr3t-client"
BASIC_USER = "scimadmin"
BASIC_PASSWORD = "basic-Secr3t-pw"
STATIC_TOKEN = "static-Secr3t-token"


def attr(name, type_="string", multi=False, required=False, subs=None, **extra):
    value = {
        "name": name,
        "type": type_,
        "multiValued": multi,
        "required": required,
        "mutability": "readWrite",
        "returned": "default",
        "caseExact": False,
    }
    if subs:
        value["subAttributes"] = [attr(sub) for sub in subs]
    value.update(extra)
    return value


V2_USER_SCHEMA = {
    "id": _scim_schema.V2_USER_URN,
    "name": "User",
    "description": "User Account",
    "attributes": [
        attr("userName", required=True),
        attr("name", "complex", subs=["givenName", "familyName"]),
        attr("emails", "complex", multi=True, subs=["value", "type", "primary"]),
        attr("active", "boolean"),
        attr("groups", "complex", multi=True, subs=["value", "display"], mutability="readOnly"),
    ],
}
V2_ENTERPRISE_SCHEMA = {
    "id": _scim_schema.V2_ENTERPRISE_URN,
    "name": "EnterpriseUser",
    "attributes": [attr("employeeNumber"), attr("manager", "complex", subs=["value", "displayName"])],
}
V2_GROUP_SCHEMA = {
    "id": _scim_schema.V2_GROUP_URN,
    "name": "Group",
    "attributes": [
        attr("displayName", required=True),
        attr("members", "complex", multi=True, subs=["value", "display", "$ref"]),
    ],
}


def v1_attr(name, type_="string", multi=False, schema=_scim_schema.V1_CORE_URN, **extra):
    return dict({"name": name, "type": type_, "multiValued": multi, "schema": schema}, **extra)


def v1_schema(name, attributes):
    return {
        "id": _scim_schema.V1_CORE_URN + ":" + name,
        "name": name,
        "schema": _scim_schema.V1_CORE_URN,
        "attributes": attributes,
    }


V1_USER_SCHEMA = v1_schema(
    "User",
    [
        v1_attr("id", readOnly=True, required=True),
        v1_attr("userName", readOnly=False, required=True),
        v1_attr(
            "name",
            "complex",
            subAttributes=[{"name": "givenName", "type": "string"}, {"name": "familyName", "type": "string"}],
        ),
        v1_attr("employeeNumber", schema=_scim_schema.V1_ENTERPRISE_URN),
    ],
)
V1_GROUP_SCHEMA = v1_schema("Group", [v1_attr("displayName", required=True), v1_attr("members", "complex", multi=True)])


class FakeScim:
    """A SCIM provider answering at the requests layer. ``speaks`` is the version served under BOTH /scim/v1 and
    /scim/v2 (to imitate a misconfigured endpoint); set attributes to change behaviour."""

    def __init__(self):
        self.speaks = {"/scim/v2": 2, "/scim/v1": 1}
        self.client_auth = ("client_secret_basic", "client_secret_post")
        self.tokens = set()
        self.users, self.groups = 7, 3
        self.has_groups = True
        self.has_resource_types = True
        self.schemas_v2 = [V2_USER_SCHEMA, V2_GROUP_SCHEMA, V2_ENTERPRISE_SCHEMA]
        self.user_extensions = [{"schema": _scim_schema.V2_ENTERPRISE_URN, "required": False}]
        self.html_at = None  # path prefix answering an HTML page
        self.raise_for = {}  # url prefix -> exception to raise
        self.calls = []

    def handle(self, method, url, params=None, data=None, headers=None, auth=None):
        for prefix, exc in self.raise_for.items():
            if url.startswith(prefix):
                raise exc
        split = urlsplit(url)
        query = dict(parse_qsl(split.query))
        query.update(params or {})
        form = dict(parse_qsl(data)) if isinstance(data, str) else dict(data or {})
        self.calls.append((method, split.path, query))
        if self.html_at and split.path.startswith(self.html_at):
            return 200, "<html>login</html>", "text/html"
        if split.path == "/oauth2/token":
            return self._token(form, auth, headers)
        for prefix, version in self.speaks.items():
            if split.path.startswith(prefix + "/"):
                return self._scim(version, split.path[len(prefix) + 1 :], query, headers, auth)
        return 404, {"detail": "Not found", "status": "404"}, "application/scim+json"

    def _token(self, form, auth, headers):
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}, "application/json"
        ok = False
        if auth and "client_secret_basic" in self.client_auth:
            ok = auth == (CLIENT_ID, CLIENT_SECRET)
        elif not auth and "client_secret_post" in self.client_auth:
            ok = (form.get("client_id"), form.get("client_secret")) == (CLIENT_ID, CLIENT_SECRET)
        if not ok:
            return (
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed"},
                "application/json",
            )
        token = "tok-%d" % (len(self.tokens) + 1)
        self.tokens.add(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}, "application/json"

    def _authorized(self, headers, auth):
        if auth:
            return auth == (BASIC_USER, BASIC_PASSWORD)
        bearer = (headers or {}).get("Authorization", "")
        return bearer.startswith("Bearer ") and (bearer[7:] in self.tokens or bearer[7:] == STATIC_TOKEN)

    def _scim(self, version, path, query, headers, auth):
        json_type = "application/scim+json" if version == 2 else "application/json"
        if version == 2 and path == "ServiceProviderConfig":
            return (
                200,
                {
                    "schemas": [_scim_schema.V2_SPC_URN],
                    "patch": {"supported": True},
                    "filter": {"supported": True, "maxResults": 1000},
                },
                json_type,
            )
        if version == 1 and path in ("ServiceProviderConfigs", "ServiceProviderConfig"):
            return 200, {"schemas": [_scim_schema.V1_CORE_URN], "patch": {"supported": True}}, json_type
        if not self._authorized(headers, auth):
            return 401, {"detail": "Missing or invalid credentials", "status": "401"}, json_type
        if path == "Schemas":
            resources = self.schemas_v2 if version == 2 else [V1_USER_SCHEMA, V1_GROUP_SCHEMA]
            return 200, {"totalResults": len(resources), "Resources": resources}, json_type
        if path == "ResourceTypes" and version == 2 and self.has_resource_types:
            user = {"id": "User", "name": "User", "endpoint": "/Users", "schema": _scim_schema.V2_USER_URN}
            if self.user_extensions is not None:
                user["schemaExtensions"] = self.user_extensions
            group = {"id": "Group", "name": "Group", "endpoint": "/Groups", "schema": _scim_schema.V2_GROUP_URN}
            return 200, {"totalResults": 2, "Resources": [user, group]}, json_type
        if path in ("Users", "Groups"):
            if path == "Groups" and not self.has_groups:
                return 404, {"detail": "Not found"}, json_type
            assert query.get("count") in (0, "0")
            total = self.users if path == "Users" else self.groups
            return 200, {"totalResults": total, "itemsPerPage": 0, "startIndex": 1, "Resources": []}, json_type
        return 404, {"detail": "Not found", "status": "404"}, json_type


def _response(url, status, body, content_type):
    response = requests.Response()
    response.status_code = status
    response.url = url
    response.reason = http.server.BaseHTTPRequestHandler.responses.get(status, ("",))[0]
    response._content = (json.dumps(body) if not isinstance(body, str) else body).encode()
    response.headers["Content-Type"] = content_type
    response.encoding = "utf-8"
    return response


def install_fake_scim(monkeypatch):
    """Answer every requests call of the test with a new FakeScim; returns it."""
    fake = FakeScim()

    def fake_request(session, method, url, params=None, data=None, headers=None, auth=None, **kwargs):
        merged = dict(session.headers)
        merged.update(headers or {})
        status, body, content_type = fake.handle(method, url, params=params, data=data, headers=merged, auth=auth)
        return _response(url, status, body, content_type)

    monkeypatch.setattr(requests.Session, "request", fake_request)
    return fake


@pytest.fixture
def fake_scim(monkeypatch):
    return install_fake_scim(monkeypatch)


def probe(**kwargs):
    args = dict(
        endpoint=V2,
        scim_version=2,
        auth_method="OAUTH",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        token_endpoint=TOKEN_URL,
        timeout=5,
    )
    args.update(kwargs)
    return _scim.ScimProbe(**args)


def failure(**kwargs):
    with pytest.raises(_scim.ScimPreflightError) as info:
        probe(**kwargs).run()
    error = info.value
    for secret in (CLIENT_SECRET, BASIC_PASSWORD, STATIC_TOKEN):
        assert secret not in str(error)
    return error


# --- happy paths ---------------------------------------------------------------------------------------


def test_oauth_v2_full_preflight(fake_scim):
    result = probe().run()
    assert result["scim_version"] == 2 and result["token_auth_method"] == "client_secret_basic"
    assert result["user_count"] == 7 and result["group_count"] == 3
    assert result["service_provider_config"]["schemas"] == [_scim_schema.V2_SPC_URN]
    assert [s["name"] for s in result["schemas"]] == ["User", "Group", "EnterpriseUser"]
    assert result["resource_types"][0]["id"] == "User"
    assert result["user_attributes"] == ["userName", "name", "emails", "active", "groups", "employeeNumber", "manager"]
    by_name = {a["name"]: a for a in result["user_attribute_details"]}
    assert by_name["userName"]["required"] is True and by_name["userName"]["extension"] is False
    assert by_name["name"]["sub_attributes"] == ["givenName", "familyName"] and by_name["name"]["multi_valued"] is False
    assert by_name["emails"]["multi_valued"] is True
    assert by_name["emails"]["sub_attributes"] == ["value", "type", "primary"]
    assert by_name["groups"]["mutability"] == "readOnly"
    assert by_name["employeeNumber"]["extension"] is True
    assert by_name["employeeNumber"]["schema"] == _scim_schema.V2_ENTERPRISE_URN
    assert "sub_attributes" not in by_name["active"]
    assert result["enterprise_user"] is True
    assert result["schema_extensions"] == {
        "User": [{"schema": _scim_schema.V2_ENTERPRISE_URN, "required": False}],
        "Group": [],
    }
    assert result["group_attributes"] == ["displayName", "members"]
    groups = {a["name"]: a for a in result["group_attribute_details"]}
    assert groups["displayName"]["required"] is True and groups["members"]["multi_valued"] is True
    assert groups["members"]["sub_attributes"] == ["value", "display", "$ref"]


def test_provider_without_the_enterprise_extension(fake_scim):
    fake_scim.schemas_v2 = [V2_USER_SCHEMA, V2_GROUP_SCHEMA]
    fake_scim.user_extensions = None
    p = probe()
    result = p.run()
    assert result["user_attributes"] == ["userName", "name", "emails", "active", "groups"]
    assert result["enterprise_user"] is False and result["schema_extensions"]["User"] == []
    assert p.warnings == []


def test_enterprise_schema_not_attached_to_the_user_resource_type(fake_scim):
    fake_scim.user_extensions = [{"schema": "urn:example:custom:1.0:User", "required": True}]
    p = probe()
    result = p.run()
    assert "employeeNumber" not in result["user_attributes"] and result["enterprise_user"] is False
    assert result["schema_extensions"]["User"] == [{"schema": "urn:example:custom:1.0:User", "required": True}]
    assert any("does not list it in schemaExtensions" in warning for warning in p.warnings)


def test_enterprise_listed_without_its_schema(fake_scim):
    fake_scim.schemas_v2 = [V2_USER_SCHEMA, V2_GROUP_SCHEMA]
    p = probe()
    result = p.run()
    assert result["enterprise_user"] is False and "employeeNumber" not in result["user_attributes"]
    assert any("has no schema for it" in warning for warning in p.warnings)


def test_without_resource_types_the_schemas_decide(fake_scim):
    fake_scim.has_resource_types = False
    p = probe()
    result = p.run()
    assert result["enterprise_user"] is True and "employeeNumber" in result["user_attributes"]
    assert result["schema_extensions"] == {}


def test_provider_without_a_group_schema_warns(fake_scim):
    fake_scim.schemas_v2 = [V2_USER_SCHEMA, V2_ENTERPRISE_SCHEMA]
    p = probe()
    result = p.run()
    assert result["group_attributes"] == [] and result["group_attribute_details"] == []
    assert any("no Group schema" in warning for warning in p.warnings)


def test_oauth_falls_back_to_client_secret_post(fake_scim):
    fake_scim.client_auth = ("client_secret_post",)
    result = probe().run()
    assert result["token_auth_method"] == "client_secret_post"
    token_calls = [c for c in fake_scim.calls if c[1] == "/oauth2/token"]
    assert len(token_calls) == 2


def test_basic_and_token_auth(fake_scim):
    assert probe(auth_method="BASIC", user=BASIC_USER, password=BASIC_PASSWORD).run()["user_count"] == 7
    assert probe(auth_method="TOKEN", token=STATIC_TOKEN).run()["group_count"] == 3
    assert not [c for c in fake_scim.calls if c[1] == "/oauth2/token"]


def test_v1_provider(fake_scim):
    result = probe(endpoint=V1 + "/", scim_version=1).run()
    assert result["endpoint"] == V1 and result["scim_version"] == 1
    assert result["resource_types"] == []
    assert result["user_attributes"] == ["id", "userName", "name", "employeeNumber"]
    assert result["enterprise_user"] is True and result["group_attributes"] == ["displayName", "members"]
    by_name = {a["name"]: a for a in result["user_attribute_details"]}
    assert by_name["id"]["mutability"] == "readOnly"
    assert by_name["employeeNumber"]["extension"] is True
    assert ("GET", "/scim/v1/ServiceProviderConfigs", {}) in fake_scim.calls


def test_missing_groups_and_resource_types_are_warnings(fake_scim):
    fake_scim.has_groups = False
    fake_scim.has_resource_types = False
    p = probe()
    result = p.run()
    assert result["group_count"] is None and result["resource_types"] == []
    assert len(p.warnings) == 2


# --- one clear message per failure -------------------------------------------------------------------------


def test_wrong_client_secret(fake_scim):
    error = failure(client_secret="wrong-Secr3t")
    assert error.step == "token" and error.kind == "auth" and error.status == 401
    assert "client_id 'idm-client'" in str(error) and "client_secret" in str(error)
    assert "invalid_client" in str(error)
    assert "wrong-Secr3t" not in str(error)


def test_token_endpoint_404(fake_scim):
    error = failure(token_endpoint=HOST + "/oauth/token")
    assert (error.step, error.kind, error.status) == ("token", "not_found", 404)


def test_rejected_basic_credentials_name_the_user(fake_scim):
    error = failure(auth_method="BASIC", user=BASIC_USER, password="nope")
    assert (error.step, error.kind, error.status) == ("schemas", "auth", 401)
    assert "user 'scimadmin'" in str(error)


def test_rejected_static_token(fake_scim):
    error = failure(auth_method="TOKEN", token="expired-token")
    assert error.kind == "auth" and "token" in str(error) and "expired-token" not in str(error)


def test_wrong_base_path(fake_scim):
    error = failure(endpoint=HOST + "/api")
    assert (error.step, error.kind) == ("service_provider_config", "not_found")
    assert "Is the endpoint right? It should end with /scim/v2 or similar" in str(error)


def test_v1_answer_on_v2_config(fake_scim):
    fake_scim.speaks = {"/scim/v2": 1}  # the URL says v2 but the provider speaks 1.1
    error = failure()
    assert error.kind == "wrong_version"
    assert "speaks SCIM 1.1, but scim_version is 2" in str(error) and "scim_version: 1" in str(error)


def test_v2_provider_configured_as_v1(fake_scim):
    error = failure(scim_version=1)  # /scim/v2/ServiceProviderConfigs is 404, the singular answers 2.0
    assert error.kind == "wrong_version" and "speaks SCIM 2.0, but scim_version is 1" in str(error)


def test_html_answer_is_not_json(fake_scim):
    fake_scim.html_at = "/scim/v2"
    error = failure()
    assert error.kind == "bad_answer" and "text/html" in str(error) and "Is the endpoint right?" in str(error)


def test_timeout(fake_scim):
    fake_scim.raise_for[V2] = requests.exceptions.ReadTimeout("read timed out")
    error = failure()
    assert error.kind == "timeout" and "within 5 s" in str(error)


@pytest.mark.parametrize("endpoint", ["scim.example.com/scim/v2", "ftp://x/scim", ""])
def test_bad_endpoint_url(fake_scim, endpoint):
    assert failure(endpoint=endpoint).kind == "bad_endpoint"


# --- real sockets: DNS, refused, TLS -------------------------------------------------------------------------


def test_dns_failure(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host == "scim.does-not-exist.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    error = failure(auth_method="TOKEN", token=STATIC_TOKEN, endpoint="http://scim.does-not-exist.test/scim/v2")
    assert error.kind == "dns" and "scim.does-not-exist.test" in str(error) and "DNS" in str(error)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused():
    port = free_port()
    error = failure(token_endpoint="http://127.0.0.1:%d/oauth2/token" % port)
    assert error.kind == "refused" and error.step == "token"
    assert "127.0.0.1:%d refused" % port in str(error) and "token_endpoint" in str(error)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate, answering a SCIM 2.0 SPC."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )

    scim_json = "application/scim+json"

    def answer(url, headers):
        path = urlsplit(url).path
        if headers.get("Authorization") != "Bearer " + STATIC_TOKEN and "ServiceProvider" not in path:
            return 401, {"detail": "no"}, scim_json
        if path.startswith("/scim/v2/ServiceProviderConfig"):
            return 200, {"schemas": [_scim_schema.V2_SPC_URN]}, scim_json
        if path.startswith("/scim/v2/Schemas"):
            return 200, {"Resources": [V2_USER_SCHEMA]}, scim_json
        if path.startswith("/scim/v2/"):
            return 200, {"totalResults": 1, "Resources": []}, scim_json
        return 404, {"detail": "Not found"}, scim_json

    with json_server(answer, tls=(str(cert_path), str(key_path))) as base:
        yield base + "/scim/v2", str(cert_path)


def test_tls_verify_failure_says_what_to_set(tls_server):
    endpoint = tls_server[0]
    error = failure(auth_method="TOKEN", token=STATIC_TOKEN, endpoint=endpoint)
    assert error.kind == "tls"
    assert "ca_path" in str(error) and "validate_certs" in str(error)


def test_https_to_a_plain_http_server_says_to_check_the_scheme():
    with json_server(lambda url, headers: (200, {}, "application/json")) as base:
        endpoint = base.replace("http://", "https://", 1) + "/scim/v2"
        error = failure(auth_method="TOKEN", token=STATIC_TOKEN, endpoint=endpoint)
    assert error.kind == "tls"
    assert "does not speak TLS on that port: check the URL's scheme" in str(error)
    assert "SSLError(" not in str(error)  # OpenSSL's reason, not the nested reprs


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_tls_with_ca_path_and_without_verification(tls_server):
    endpoint, cert_path = tls_server
    result = probe(auth_method="TOKEN", token=STATIC_TOKEN, endpoint=endpoint, ca_path=cert_path).run()
    assert result["user_count"] == 1 and result["user_attributes"][0] == "userName"
    assert (
        probe(auth_method="TOKEN", token=STATIC_TOKEN, endpoint=endpoint, validate_certs=False).run()["group_count"]
        == 1
    )


# --- pure helpers ---------------------------------------------------------------------------------------


def test_answered_version_and_list_resources():
    assert _scim_schema.answered_version({"schemas": [_scim_schema.V2_SPC_URN]}) == 2
    assert _scim_schema.answered_version({"schemas": [_scim_schema.V1_CORE_URN]}) == 1
    assert _scim_schema.answered_version({}) is None and _scim_schema.answered_version([]) is None
    assert _scim_schema.list_resources([{"a": 1}, 2]) == [{"a": 1}]
    assert _scim_schema.list_resources({"Resources": [{"b": 1}]}) == [{"b": 1}]
    assert _scim_schema.list_resources("x") == []
