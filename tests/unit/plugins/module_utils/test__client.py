# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests

from ansible.module_utils.testing import patch_module_args

from ansible_collections.idmops.pingidm.plugins.module_utils import _client, _http, _transport
from ansible_collections.idmops.pingidm.plugins.module_utils._client import IdmClient
from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError, HttpClient
from ansible_collections.idmops.pingidm.plugins.module_utils._module import IdmModule, ModuleSpec
from ansible_collections.idmops.pingidm.tests.unit.conftest import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    IDM_BASE,
    IDM_HOST,
    TOKEN_PATH,
)


def make_client(**kwargs):
    args = dict(idm_url=IDM_HOST, username=ADMIN_USER, password=ADMIN_PASSWORD)
    args.update(kwargs)
    return IdmClient(**args)


def test_get_sends_idm_headers_and_parses_json(fake_idm, virtual_clock):
    client = make_client()
    assert client.get("info/ping")["state"] == "ACTIVE_READY"
    assert client.base_url == IDM_BASE
    headers = client.http.session.headers
    assert headers["X-OpenIDM-NoSession"] == "true"
    assert headers["Accept-API-Version"] == "resource=1.0"
    assert fake_idm.calls == [("GET", "info/ping", {}, None)]


def test_context_path_is_configurable(fake_idm, virtual_clock):
    client = make_client(context_path="/custom/")
    with pytest.raises(ApiError) as info:
        client.get("info/ping")
    assert client.base_url == IDM_HOST + "/custom"
    assert info.value.status == 404


def test_put_get_delete_round_trip(fake_idm, virtual_clock):
    client = make_client()
    assert client.get_or_none("config/thing") is None
    stored = client.put("config/thing", {"a": 1})
    assert stored == {"_id": "thing", "a": 1}
    assert client.get("config/thing") == {"_id": "thing", "a": 1}
    assert client.delete("config/thing")["a"] == 1
    assert client.get_or_none("config/thing") is None


def test_post_action_puts_action_and_params_in_query(fake_idm, virtual_clock):
    client = make_client()
    client.put("config/provisioner.openicf/scim", {"connectorRef": {}})
    result = client.post_action("system/scim", "test")
    assert result["ok"] is True
    assert fake_idm.calls[-1] == ("POST", "system/scim", {"_action": "test"}, {})


def test_error_message_names_method_path_server_status_message_and_hint(fake_idm, virtual_clock):
    fake_idm.fail("PUT", r"config/provisioner\.openicf/scim", 403, "Access denied")
    client = make_client()
    with pytest.raises(ApiError) as info:
        client.put("config/provisioner.openicf/scim", {"x": 1})
    error = info.value
    assert str(error) == (
        "PUT config/provisioner.openicf/scim on http://idm.test:8080/openidm failed: "
        'IDM answered 403 Forbidden "Access denied". '
        "Check that the user has the openidm-admin role."
    )
    assert (error.method, error.path, error.status, error.message) == (
        "PUT",
        "config/provisioner.openicf/scim",
        403,
        "Access denied",
    )
    assert error.as_result() == {"status": 403, "method": "PUT", "path": "config/provisioner.openicf/scim"}


def test_error_message_shows_action_but_never_other_query_values(fake_idm, virtual_clock):
    fake_idm.fail("POST", r"recon", 400, "bad mapping")
    client = make_client()
    with pytest.raises(ApiError) as info:
        client.post_action("recon", "recon", params={"mapping": "secretish"})
    assert "POST recon?_action=recon on" in str(info.value)
    assert "secretish" not in str(info.value)


def test_wrong_password_gives_401_with_auth_hint_and_no_secret(fake_idm, virtual_clock):
    client = make_client(password="wrong-Secr3t")
    with pytest.raises(ApiError) as info:
        client.get("config/sync")
    text = str(info.value)
    assert info.value.status == 401
    assert "X-OpenIDM-Username" in text and "Check username and password" in text
    assert "wrong-Secr3t" not in text


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_idempotent_methods_retry_on_503_with_backoff(fake_idm, virtual_clock, method):
    fake_idm.configs["thing"] = {"a": 1}
    fake_idm.fail(method, r"config/thing", 503, "not ready", times=2)
    client = make_client()
    client.request(method, "config/thing", body={"a": 1} if method == "PUT" else None)
    assert len(fake_idm.calls_to(method, "config/thing")) == 3
    assert virtual_clock.sleeps == [0.5, 1.0]


@pytest.mark.parametrize("status", [503, None])
def test_action_that_starts_something_is_never_retried(fake_idm, virtual_clock, status):
    fake_idm.fail("POST", r"recon", status, "busy", times=1)
    client = make_client()
    with pytest.raises(ApiError) as info:
        client.post_action("recon", "recon", params={"mapping": "managedUser_systemScimAccount"})
    assert info.value.status == status
    assert len(fake_idm.calls_to("POST", "recon")) == 1
    assert virtual_clock.sleeps == []


@pytest.mark.parametrize("status", [503, None])
@pytest.mark.parametrize("path, action", [("system/scim", "test"), ("system", "testConfig")])
def test_read_only_actions_are_retried_like_get(fake_idm, virtual_clock, status, path, action):
    client = make_client()
    client.put("config/provisioner.openicf/scim", {"connectorRef": {}})
    fake_idm.fail("POST", path, status, "busy", times=2)
    answer = client.post_action(path, action, body={"name": "scim", "connectorRef": {}})
    assert answer["ok"] is True
    assert len(fake_idm.calls_to("POST", path)) == 3
    assert virtual_clock.sleeps == [0.5, 1.0]


def test_retries_are_bounded_and_reported(fake_idm, virtual_clock):
    fake_idm.fail("GET", r"config/sync", 502, "bad gateway")
    client = make_client(retries=2)
    with pytest.raises(ApiError) as info:
        client.get("config/sync")
    assert info.value.status == 502
    assert len(fake_idm.calls_to("GET", "config/sync")) == 3


def test_refused_connection_is_retried_then_reported_as_nothing_listening(fake_idm, virtual_clock):
    fake_idm.fail("GET", r"info/ping", None, times=1)
    assert make_client().get("info/ping")["state"] == "ACTIVE_READY"
    fake_idm.fail("GET", r"info/ping", None)
    with pytest.raises(ApiError) as info:
        make_client().get("info/ping")
    assert str(info.value) == (
        "GET info/ping on http://idm.test:8080/openidm failed: connection refused by "
        "idm.test:8080 (nothing listens on that port) (4 attempts). Check the port in the "
        "URL and that the server is running."
    )
    assert info.value.status is None and info.value.kind == "refused"
    assert info.value.as_result()["kind"] == "refused"


def test_host_that_does_not_resolve_fails_at_once(fake_idm, virtual_clock):
    client = make_client(idm_url="http://nowhere.test:1")
    with pytest.raises(ApiError) as info:
        client.get("info/ping")
    assert str(info.value) == (
        "GET info/ping on http://nowhere.test:1/openidm failed: the host name "
        "'nowhere.test' does not resolve (DNS lookup failed). Check the host name in the URL."
    )
    assert info.value.kind == "dns"
    assert virtual_clock.sleeps == []  # no retry: a name that does not resolve will not resolve a second later


def test_dropped_connection_is_transient_unlike_dns_and_tls(fake_idm, virtual_clock):
    fake_idm.fail("GET", r"info/ping", None, kind="dropped")
    with pytest.raises(ApiError) as info:
        make_client(retries=0).get("info/ping")
    assert info.value.kind == "dropped" and "the connection was dropped" in str(info.value)
    assert _http.is_transient(info.value)
    assert not _http.is_transient(ApiError("GET", "x", "y", kind="dns"))
    assert not _http.is_transient(ApiError("GET", "x", "y", kind="tls"))
    assert _http.is_transient(ApiError("GET", "x", "y", kind="refused"))
    assert _http.is_transient(ApiError("GET", "x", "y", status=503))
    assert not _http.is_transient(ApiError("GET", "x", "y", status=500))


def test_real_refused_port_is_classified(virtual_clock):
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there now
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ApiError) as info:
        make_client(idm_url="http://127.0.0.1:%d" % port, retries=0).get("info/ping")
    assert info.value.kind == "refused"
    assert "connection refused by 127.0.0.1:%d (nothing listens on that port)" % port in str(info.value)


def test_urllib3_name_resolution_error_is_dns():
    import socket

    import urllib3

    resolver_error = socket.gaierror(-2, "Name or service not known")
    cause = urllib3.exceptions.NameResolutionError("idm.example.con", None, resolver_error)
    error = requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/openidm", cause))
    assert _transport.classify_transport_error(error) == "dns"
    assert _transport.classify_transport_error(requests.exceptions.ConnectTimeout("x")) == "unreachable"
    assert _transport.classify_transport_error(requests.exceptions.ReadTimeout("x")) == "timeout"


@pytest.mark.parametrize(
    "message, shown",
    [
        ("Resource &#39;endpoint/hellworld&#39; not found", "Resource 'endpoint/hellworld' not found"),
        ("Invalid &quot;x&quot; &amp; &lt;y&gt;", 'Invalid "x" & <y>'),
    ],
)
def test_crest_html_escaped_messages_are_shown_unescaped(fake_idm, virtual_clock, message, shown):
    fake_idm.fail("GET", r"endpoint/x", 404, message)
    with pytest.raises(ApiError) as info:
        make_client().get("endpoint/x")
    assert info.value.message == shown and '"%s"' % shown in str(info.value)


def test_a_redirect_is_reported_not_followed(monkeypatch, virtual_clock):
    # Following it would send the X-OpenIDM-Password header wherever the Location points.
    sent = []

    def send(adapter, request, **kwargs):
        sent.append((request.url, request.headers.get("X-OpenIDM-Password")))
        response = requests.Response()
        response.url, response.request = request.url, request
        response.status_code = 200 if request.url.startswith("https://elsewhere.test") else 302
        response.headers["Location"] = "https://elsewhere.test/login"
        response._content, response._content_consumed = b"", True  # pylint: disable=protected-access
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    with pytest.raises(ApiError) as info:
        make_client().get("info/ping")
    assert info.value.status == 302
    assert sent == [(IDM_BASE + "/info/ping", ADMIN_PASSWORD)]


def test_no_retry_on_404_or_400(fake_idm, virtual_clock):
    client = make_client()
    assert client.get_or_none("config/absent") is None
    assert len(fake_idm.calls_to("GET", "config/absent")) == 1


def test_tls_error_hint(monkeypatch, virtual_clock):
    def raise_ssl(*args, **kwargs):
        raise requests.exceptions.SSLError("certificate verify failed")

    monkeypatch.setattr(requests.Session, "request", raise_ssl)
    with pytest.raises(ApiError) as info:
        make_client(idm_url="https://idm.test").get("info/ping")
    assert "TLS error: certificate verify failed" in str(info.value)
    assert "validate_certs and ca_path" in str(info.value)


def test_tls_options_set_session_verify():
    assert make_client().http.session.verify is True
    assert make_client(validate_certs=False).http.session.verify is False
    assert make_client(ca_path="/etc/ca.pem").http.session.verify == "/etc/ca.pem"


def test_basic_auth(fake_idm, virtual_clock):
    client = make_client(auth_type="basic")
    assert "X-OpenIDM-Username" not in client.http.session.headers
    assert client.get("info/ping")["state"] == "ACTIVE_READY"


def test_bearer_auth(fake_idm, virtual_clock):
    fake_idm.tokens.add("good-token")
    assert make_client(auth_type="bearer", token="good-token").get("info/ping")
    with pytest.raises(ApiError) as info:
        make_client(auth_type="bearer", token="bad-token").get("info/ping")
    assert "Check that the token is valid" in str(info.value)
    assert "bad-token" not in str(info.value)


def cc_client(**kwargs):
    args = dict(
        idm_url=IDM_HOST,
        auth_type="client_credentials",
        oauth_token_url=IDM_HOST + TOKEN_PATH,
        oauth_client_id=CLIENT_ID,
        oauth_client_secret=CLIENT_SECRET,
    )
    args.update(kwargs)
    return IdmClient(**args)


def test_client_credentials_fetches_token_once_and_reuses_it(fake_idm, virtual_clock):
    client = cc_client()
    client.get("info/ping")
    client.get("info/ping")
    assert fake_idm.token_requests == 1


def test_client_credentials_refreshes_once_on_401(fake_idm, virtual_clock):
    client = cc_client()
    client.get("info/ping")
    fake_idm.tokens.clear()  # token expired on the server side
    assert client.get("info/ping")["state"] == "ACTIVE_READY"
    assert fake_idm.token_requests == 2


def test_client_credentials_gives_up_after_one_refresh(fake_idm, virtual_clock):
    client = cc_client()
    client.get("info/ping")
    fake_idm.fail("GET", r"info/ping", 401, "Access Denied")
    with pytest.raises(ApiError) as info:
        client.get("info/ping")
    assert info.value.status == 401
    assert fake_idm.token_requests == 2


def test_client_credentials_bad_secret_names_token_endpoint(fake_idm, virtual_clock):
    client = cc_client(oauth_client_secret="wrong-Secr3t")
    with pytest.raises(ApiError) as info:
        client.get("info/ping")
    text = str(info.value)
    assert text.startswith(
        "POST /am/oauth2/access_token on http://idm.test:8080 failed: the token endpoint answered 401"
    )
    assert "Client authentication failed" in text and "oauth_client_secret" in text
    assert "wrong-Secr3t" not in text


def test_unknown_auth_type_rejected():
    with pytest.raises(ValueError):
        make_client(auth_type="kerberos")


@pytest.mark.parametrize("url", ["ftp://idm.test:8080", "idm.test:8080", "http://", "", "https//idm.test"])
def test_idm_url_without_http_scheme_or_host_is_rejected_clearly(url):
    with pytest.raises(ValueError) as raised:
        make_client(idm_url=url)
    assert "idm_url must be an http:// or https:// URL" in str(raised.value)


@pytest.mark.parametrize(
    "url, context_path, expected",
    [
        (
            "https://idm.example.com/openidm",
            "openidm",
            "idm_url must not include the context path: write https://idm.example.com and context_path openidm",
        ),
        (
            "https://idm.example.com:8443/openidm/",
            "openidm",
            "idm_url must not include the context path: write https://idm.example.com:8443 and context_path openidm",
        ),
        (
            "https://idm.example.com/proxy/idm",
            "/idm/",
            "idm_url must not include the context path: write https://idm.example.com/proxy and context_path idm",
        ),
        (
            "https://idm.example.com?x=1",
            "openidm",
            "idm_url must not have a query (?...) or a fragment (#...): write https://idm.example.com",
        ),
        (
            "https://idm.example.com/#top",
            "openidm",
            "idm_url must not have a query (?...) or a fragment (#...): write https://idm.example.com",
        ),
        ("https://idm.example.com:80a", "openidm", "idm_url has an invalid port"),
    ],
)
def test_idm_url_mistakes_are_refused_before_any_request(fake_idm, url, context_path, expected):
    with pytest.raises(ValueError) as raised:
        make_client(idm_url=url, context_path=context_path)
    assert str(raised.value).startswith(expected)
    assert fake_idm.calls == []


def test_idm_url_with_credentials_is_refused_without_echoing_them():
    with pytest.raises(ValueError) as raised:
        make_client(idm_url="https://admin:hunter2-pw@idm.example.com")
    assert "must not contain credentials" in str(raised.value) and "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    "url, context_path, base",
    [
        ("https://idm.example.com/", "openidm", "https://idm.example.com/openidm"),  # a trailing slash is harmless
        ("https://idm.example.com/proxy/", "openidm", "https://idm.example.com/proxy/openidm"),  # a proxy prefix
        ("https://idm.example.com/openidm", "", "https://idm.example.com/openidm"),  # no context path: the URL is all
    ],
)
def test_accepted_idm_urls(url, context_path, base):
    assert make_client(idm_url=url, context_path=context_path).base_url == base


def test_client_credentials_needs_an_http_token_url():
    with pytest.raises(ValueError, match="oauth_token_url must be an http"):
        make_client(
            auth_type="client_credentials",
            oauth_client_id="c",
            oauth_client_secret="s",
            oauth_token_url="idm.test/am/oauth2/access_token",
        )


def test_http_client_is_generic(fake_idm, virtual_clock):
    http = HttpClient(IDM_BASE, service="SCIM provider", retries=0)
    with pytest.raises(ApiError) as info:
        http.request("GET", "info/ping")
    assert "SCIM provider answered 401" in str(info.value)
    credentials = {"X-OpenIDM-Username": ADMIN_USER, "X-OpenIDM-Password": ADMIN_PASSWORD}
    result = http.request("GET", "info/ping", headers=credentials)
    assert result.status == 200 and result.body["state"] == "ACTIVE_READY"


def test_poll_stops_when_done_and_on_timeout(virtual_clock):
    answers = iter([(False, 1), (False, 2), (True, 3)])
    assert _http.poll(lambda: next(answers), timeout=10, interval=1) == (True, 3, 2.0)
    assert _http.poll(lambda: (False, "x"), timeout=3, interval=1) == (False, "x", 3.0)


def build_module(args):
    with patch_module_args(args):
        return IdmModule(ModuleSpec({}))


def test_argument_spec_defaults_and_env_fallbacks(monkeypatch):
    monkeypatch.setenv("IDM_URL", "http://env.test:8080")
    monkeypatch.setenv("IDM_USERNAME", "env-user")
    monkeypatch.setenv("IDM_PASSWORD", "env-pass")
    monkeypatch.setenv("IDM_VALIDATE_CERTS", "false")
    module = build_module({})
    params = module.params
    assert params["idm_url"] == "http://env.test:8080"
    assert params["context_path"] == "openidm"
    assert params["auth_type"] == "headers"
    assert params["oauth_scope"] == "fr:idm:*"
    assert params["timeout"] == 30
    assert params["validate_certs"] is False
    assert "env-pass" in module.no_log_values
    assert module.client.base_url == "http://env.test:8080/openidm"


def test_argument_spec_marks_secrets_no_log():
    spec = _client.idm_argument_spec()
    assert {k for k, v in spec.items() if v.get("no_log")} == {"password", "token", "oauth_client_secret"}
    assert spec["oauth_token_url"]["no_log"] is False


@pytest.mark.parametrize(
    "args, missing",
    [
        ({"idm_url": "http://x", "username": "u"}, "password"),
        ({"idm_url": "http://x", "auth_type": "bearer"}, "token"),
        ({"idm_url": "http://x", "auth_type": "client_credentials", "oauth_client_id": "c"}, "oauth_token_url"),
    ],
)
def test_required_if_rules(args, missing, monkeypatch, capsys):
    for name in ("IDM_URL", "IDM_USERNAME", "IDM_PASSWORD", "IDM_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SystemExit):
        build_module(args)
    assert missing in capsys.readouterr().out


def test_ca_path_wins_over_requests_ca_bundle_env(monkeypatch, virtual_clock):
    """requests lets REQUESTS_CA_BUNDLE override a Session's verify unless verify is passed per request."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/other-bundle.pem")
    seen = []

    def send(adapter, request, **kwargs):
        seen.append(kwargs.get("verify"))
        raise requests.exceptions.ConnectionError("stop here")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    with pytest.raises(ApiError):
        make_client(idm_url="https://idm.test", ca_path="/etc/idm-ca.pem", retries=0).get("info/ping")
    with pytest.raises(ApiError):
        make_client(idm_url="https://idm.test", validate_certs=False, retries=0).get("info/ping")
    assert seen == ["/etc/idm-ca.pem", False]


def test_token_url_may_have_a_query(fake_idm, virtual_clock):
    # older PingAM token endpoints name the realm in the query
    client = make_client(
        auth_type="client_credentials",
        oauth_client_id="c",
        oauth_client_secret="s",
        oauth_token_url="https://am.example.com/am/oauth2/access_token?realm=/alpha",
    )
    assert client.auth_type == "client_credentials"


def test_classify_strings_from_older_urllib3():
    # Older urllib3 versions wrap the socket error only as text.
    exc = requests.exceptions.ConnectionError("HTTPSConnectionPool: [Errno -2] Name or service not known")
    assert _transport.classify_transport_error(exc) == "dns"
    exc = requests.exceptions.ConnectionError("[Errno 111] Connection refused")
    assert _transport.classify_transport_error(exc) == "refused"
    assert _transport.classify_transport_error(requests.exceptions.ConnectionError("reset")) == "dropped"


def test_a_failing_proxy_is_named_as_the_proxy():
    exc = requests.exceptions.ProxyError(
        "HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded "
        "(Caused by ProxyError('Unable to connect to proxy'))"
    )
    assert _transport.classify_transport_error(exc) == "proxy"
    text, hint = _transport.transport_failure("proxy", "http://idm.test:8080/openidm/info/ping", exc, 30)
    assert text.startswith("the HTTP proxy for idm.test:8080 failed") and "NO_PROXY" in hint


def test_https_to_a_plain_http_port_names_openssl_reason_and_the_scheme(monkeypatch, virtual_clock):
    # What requests raises for an https URL whose server answers in plain HTTP (OpenSSL 3.0).
    raised = requests.exceptions.SSLError(
        "HTTPSConnectionPool(host='idm.test', port=8080): Max retries exceeded with url: /openidm/info/ping (Caused "
        "by SSLError(SSLError(1, '[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)')))"
    )

    def request(*args, **kwargs):
        raise raised

    monkeypatch.setattr(requests.Session, "request", request)
    with pytest.raises(ApiError) as info:
        make_client().get("info/ping")
    assert info.value.message == "TLS error: [SSL: WRONG_VERSION_NUMBER] wrong version number"
    assert "check the URL's scheme (http or https), then validate_certs and ca_path" in info.value.hint
