"""REST basics of the sandbox IDM: auth, errors, info/health, faults, access log, sessions."""

from __future__ import annotations

import itertools
import json
import time

import pytest
import requests

from sandbox.tests.idm.sync_helpers import SCIM_REF, stock_user


def test_ping_is_anonymous_and_shaped_like_idm(idm_server):
    response = idm_server.request("GET", "info/ping", auth=False)
    assert response.status_code == 200
    assert response.json() == {"_id": "", "state": "ACTIVE_READY", "shortDesc": "OpenIDM ready"}
    assert response.headers["Content-Type"] == "application/json;charset=utf-8"
    assert response.headers["Cache-Control"] == "no-store"
    anon = idm_server.request(
        "GET", "info/ping", headers={"X-OpenIDM-Username": "anonymous", "X-OpenIDM-Password": "anonymous"}
    )
    assert anon.status_code == 200


def test_unauthenticated_and_wrong_password_are_401(idm_server):
    assert idm_server.request("GET", "config", auth=False).json() == {
        "code": 401,
        "reason": "Unauthorized",
        "message": "Access Denied",
    }
    wrong = idm_server.request(
        "GET", "config", headers={"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "nope"}
    )
    assert wrong.status_code == 401
    anonymous = idm_server.request(
        "GET", "config", headers={"X-OpenIDM-Username": "anonymous", "X-OpenIDM-Password": "anonymous"}
    )
    assert anonymous.status_code == 403


def test_basic_auth_bearer_and_rfc5987_headers(idm_server_factory):
    idm = idm_server_factory(bearer_tokens=["tok-123"], admin_password="pä ss")
    assert idm.request("GET", "info/version", auth=False, headers={}).status_code == 401
    assert (
        requests.get(idm.base + "/info/version", auth=("openidm-admin", "pä ss".encode()), timeout=5).status_code == 200
    )
    assert idm.request("GET", "info/version", headers={"Authorization": "Bearer tok-123"}).status_code == 200
    assert idm.request("GET", "info/version", headers={"Authorization": "Bearer other"}).status_code == 401
    encoded = idm.request(
        "GET",
        "info/version",
        headers={"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "utf-8''p%C3%A4%20ss"},
    )
    assert encoded.status_code == 200
    assert encoded.json()["productVersion"].startswith("8.1.0")


def test_session_cookie_set_unless_nosession_and_usable(idm_server):
    headers = {"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "openidm-admin"}
    response = requests.get(idm_server.base + "/info/version", headers=headers, timeout=5)
    assert "session-jwt" in response.cookies
    follow_up = requests.get(idm_server.base + "/info/version", cookies=response.cookies, timeout=5)
    assert follow_up.status_code == 200
    assert "session-jwt" not in idm_server.request("GET", "info/version").cookies


def test_no_script_user_may_not_eval(idm_server_factory):
    idm = idm_server_factory(no_script_users=["reader:reader-pass"])
    headers = {"X-OpenIDM-Username": "reader", "X-OpenIDM-Password": "reader-pass"}
    denied = idm.request(
        "POST", "script?_action=eval", headers=headers, json={"type": "text/javascript", "source": "1+1"}
    )
    assert denied.status_code == 403
    assert denied.json() == {"code": 403, "reason": "Forbidden", "message": "Access denied"}
    assert idm.request("GET", "config", headers=headers).status_code == 200
    assert idm.request("POST", "script?_action=eval", json={"type": "text/javascript", "source": "1+1"}).json() == 2


def test_unknown_endpoint_bad_json_wrong_method(idm_server):
    assert idm_server.get("nosuch/thing").status_code == 404
    assert idm_server.request("GET", "/other/path").status_code == 404
    bad = idm_server.request(
        "PUT",
        "config/foo",
        data=b"{not json",
        headers=dict(idm_server.admin_headers, **{"Content-Type": "application/json"}),
    )
    assert bad.status_code == 400
    assert set(bad.json()) == {"code", "reason", "message"}
    assert idm_server.request("DELETE", "info/ping").status_code == 405
    assert idm_server.request("POST", "config").status_code == 405


def test_health_and_startup_delay(idm_server_factory):
    idm = idm_server_factory(startup_delay=0.6)
    assert idm.request("GET", "info/ping", auth=False).json()["state"] == "STARTING"
    assert idm.request("GET", "health/ready", auth=False).status_code == 503
    assert idm.get("config").status_code == 503
    time.sleep(0.7)
    assert idm.request("GET", "health/ready", auth=False).status_code == 200
    assert idm.request("GET", "health/live", auth=False).status_code == 200
    assert idm.request("GET", "info/ping", auth=False).json()["state"] == "ACTIVE_READY"


def test_access_log_has_no_secrets(idm_server):
    idm_server.request(
        "PUT",
        "config/provisioner.openicf/x?waitForCompletion=true",
        json={"connectorRef": dict(SCIM_REF), "configurationProperties": {"clientSecret": "very-secret-value"}},
    )
    idm_server.request(
        "GET", "config", headers={"X-OpenIDM-Username": "openidm-admin", "X-OpenIDM-Password": "bad-password-value"}
    )
    with open(f"{idm_server.state_dir}/access.log", encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert any(" PUT /openidm/config/provisioner.openicf/x 201 " in line for line in lines)
    assert any(" GET /openidm/config 401 " in line for line in lines)
    text = "\n".join(lines)
    assert "very-secret-value" not in text and "bad-password-value" not in text and "waitForCompletion" not in text


def test_faults_error_rate_latency_and_reset(idm_server):
    assert idm_server.request("POST", "__sandbox/faults", auth=False, json={"error_rate": 1}).status_code == 401
    set_faults = idm_server.request("POST", "__sandbox/faults", json={"error_rate": 1.0, "error_status": 502})
    assert set_faults.status_code == 200 and set_faults.json()["error_rate"] == 1.0
    failed = idm_server.get("info/version")
    assert failed.status_code == 502 and failed.json()["code"] == 502
    # The switch endpoint itself is never faulted.
    assert idm_server.request("GET", "__sandbox/faults").status_code == 200
    # A latency far above a normal answer's time, so a busy shared machine cannot blur "delayed" and "not".
    idm_server.request("POST", "__sandbox/faults", json={"error_rate": 0, "latency": 2.0, "paths": "info/version"})
    started = time.monotonic()
    assert idm_server.get("info/version").status_code == 200
    assert time.monotonic() - started >= 2.0
    started = time.monotonic()
    idm_server.get("config")
    assert time.monotonic() - started < 1.0
    idm_server.request("POST", "__sandbox/faults", json={"latency": 0, "reset_rate": 1.0, "paths": None})
    with pytest.raises(requests.ConnectionError):
        requests.get(idm_server.base + "/info/version", headers=idm_server.admin_headers, timeout=5)
    assert idm_server.request("DELETE", "__sandbox/faults").json()["reset_rate"] == 0.0
    assert idm_server.get("info/version").status_code == 200
    assert idm_server.request("POST", "__sandbox/faults", json={"error_rate": 3}).status_code == 400
    assert idm_server.request("POST", "__sandbox/faults", json={"bogus": 1}).status_code == 400


def test_faults_spread_even_hits_exactly_the_rate_never_twice_in_a_row(idm_server):
    set_faults = idm_server.request(
        "POST",
        "__sandbox/faults",
        json={"error_rate": 0.4, "error_status": 503, "spread": "even", "paths": "info/version"},
    )
    assert set_faults.status_code == 200 and set_faults.json()["spread"] == "even"
    statuses = [idm_server.get("info/version").status_code for _ in range(10)]
    assert statuses.count(503) == 4 and statuses.count(200) == 6 and statuses[0] == 503
    assert all(not (a == b == 503) for a, b in itertools.pairwise(statuses)), statuses
    assert idm_server.get("config").status_code == 200  # paths not matched: neither hit nor counted
    idm_server.request("POST", "__sandbox/faults", json={"error_rate": 0, "reset_rate": 0.5, "paths": None})
    outcomes = []
    for _ in range(6):
        try:
            outcomes.append(idm_server.get("info/version").status_code)
        except requests.ConnectionError:
            outcomes.append("reset")
    assert outcomes == ["reset", 200] * 3  # the first matching request is always hit
    assert idm_server.request("POST", "__sandbox/faults", json={"spread": "sometimes"}).status_code == 400
    assert idm_server.request("DELETE", "__sandbox/faults").json()["spread"] == "random"


def test_faults_at_start(idm_server_factory):
    idm = idm_server_factory(faults={"error_rate": 1.0, "error_status": 500, "paths": "managed"})
    assert idm.get("managed/user?_queryFilter=true").status_code == 500
    assert idm.get("config").status_code == 200


def test_pretty_print_and_etag_quoted(idm_server):
    created = idm_server.request("POST", "managed/user?_action=create", json=stock_user("etag"))
    assert created.headers["ETag"] == f'"{created.json()["_rev"]}"'
    pretty = idm_server.get("info/ping?_prettyPrint=true")
    assert "\n" in pretty.text and json.loads(pretty.text)["state"] == "ACTIVE_READY"
