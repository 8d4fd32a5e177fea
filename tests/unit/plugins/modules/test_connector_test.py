# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest
import requests

from ansible_collections.idmops.pingidm.plugins.modules import connector_test


def add_connector(fake_idm, name, **props):
    fake_idm.configs["provisioner.openicf/" + name] = {
        "connectorRef": {"connectorName": "x"},
        "enabled": True,
        "configurationProperties": dict(props),
        "objectTypes": {"account": {}},
    }


def test_one_connector_ok_never_changed(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    result = run_module(connector_test, dict(idm_args, name="scim"))
    assert result["changed"] is False and not result["failed"] and result["attempts"] == 1
    assert result["connectors"][0]["name"] == "scim" and result["connectors"][0]["ok"] is True
    assert result["connectors"][0]["objectTypes"] == ["__ALL__", "account"]


def test_retries_until_ok(fake_idm, run_module, idm_args, virtual_clock):
    add_connector(fake_idm, "scim")
    fake_idm._pending_start["scim"] = 2
    result = run_module(connector_test, dict(idm_args, name="scim", wait_interval=2))
    assert result["attempts"] == 3 and virtual_clock.sleeps == [2, 2]


def test_unknown_connector_fails_at_once_naming_the_configured_ones(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    result = run_module(connector_test, dict(idm_args, name="ghost", wait_timeout=30))
    assert result["failed"] and result["changed"] is False and result["attempts"] == 1
    assert "Connector 'ghost' is not configured" in result["msg"] and "Configured connectors: scim." in result["msg"]


def test_configured_connector_not_registered_yet_is_retried(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    fake_idm.fail("POST", r"system/scim", 404, "System: scim is not available.", times=2)
    result = run_module(connector_test, dict(idm_args, name="scim"))
    assert not result["failed"] and result["attempts"] == 3


@pytest.mark.parametrize("status", [503, None])
@pytest.mark.parametrize("failures, attempts", [(2, 1), (5, 2)])
def test_busy_idm_or_dropped_connection_is_retried_within_the_wait(
    fake_idm, run_module, idm_args, status, failures, attempts
):
    # The test action only reads: the client retries it (4 tries), then the module's wait loop tries again.
    add_connector(fake_idm, "scim")
    fake_idm.fail("POST", r"system/scim", status, "Injected fault", times=failures)
    result = run_module(connector_test, dict(idm_args, name="scim"))
    assert not result["failed"] and result["attempts"] == attempts
    assert len(fake_idm.calls_to("POST", "system/scim")) == failures + 1


def test_idm_still_busy_at_the_end_fails_with_its_answer(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    fake_idm.fail("POST", r"system/scim", 503, "Injected fault")
    result = run_module(connector_test, dict(idm_args, name="scim", wait_timeout=2))
    assert result["failed"] and "scim: POST system/scim?_action=test" in result["msg"]
    assert "503" in result["msg"]


def test_timeout_fails_with_error_text_and_name(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim", clientSecret="never-Shown-1")
    fake_idm.connector_errors["scim"] = "localhost:1389"
    result = run_module(connector_test, dict(idm_args, name="scim", wait_timeout=5, wait_interval=1))
    assert result["failed"]
    assert result["msg"] == "Connector test failed after 6 attempt(s) in 5 s; scim: localhost:1389"
    assert result["connectors"][0]["error"] == "localhost:1389"
    assert "never-Shown-1" not in result.raw_output


def test_refused_credentials_fail_at_once_with_what_to_check(fake_idm, run_module, idm_args, virtual_clock):
    add_connector(fake_idm, "scim", clientSecret="never-Shown-1")
    fake_idm.connector_errors["scim"] = "Connection Error"
    result = run_module(connector_test, dict(idm_args, name="scim", wait_timeout=60, wait_interval=1))
    assert result["failed"] and result["attempts"] == 1 and virtual_clock.sleeps == []
    assert result["msg"].startswith(
        "Connector test failed: scim: Connection Error (IDM reports 'Connection Error' "
        "when the target system rejects the connector's credentials: check clientId, "
        "clientSecret and tokenEndpoint for OAUTH"
    )
    assert result["msg"].endswith("Not retried: waiting does not fix refused credentials.")
    assert result["connectors"][0]["error"] == "Connection Error"
    assert "never-Shown-1" not in result.raw_output


def test_refused_credentials_of_one_connector_fail_the_all_connectors_test_at_once(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    add_connector(fake_idm, "ldap")
    fake_idm.connector_errors["ldap"] = "Connection Error"
    result = run_module(connector_test, dict(idm_args, wait_timeout=60))
    assert result["failed"] and result["attempts"] == 1
    assert "ldap: Connection Error" in result["msg"] and "scim:" not in result["msg"]


def test_all_connectors(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    add_connector(fake_idm, "ldap")
    result = run_module(connector_test, idm_args)
    assert [c["name"] for c in result["connectors"]] == ["ldap", "scim"]
    fake_idm.connector_errors["ldap"] = "localhost:1389"
    result = run_module(connector_test, dict(idm_args, wait_timeout=0))
    assert result["failed"] and "ldap: localhost:1389" in result["msg"] and "scim" not in result["msg"]
    assert result["attempts"] == 1


def test_no_connectors_warns(fake_idm, run_module, idm_args):
    result = run_module(connector_test, idm_args)
    assert not result["failed"] and result["connectors"] == []
    assert "no connectors" in str(result["warnings"])


def test_check_mode_runs_the_same(fake_idm, run_module, idm_args):
    add_connector(fake_idm, "scim")
    result = run_module(connector_test, dict(idm_args, name="scim"), check_mode=True)
    assert result["connectors"][0]["ok"] is True and fake_idm.writes() == []


def test_http_error_fails_clearly(fake_idm, run_module, idm_args):
    fake_idm.fail("POST", r"system/scim", 403, "Access denied")
    result = run_module(connector_test, dict(idm_args, name="scim"))
    assert result["failed"] and result["status"] == 403
    assert result["msg"].startswith("POST system/scim?_action=test on http://idm.test:8080/openidm failed")


def test_bad_interval(fake_idm, run_module, idm_args):
    result = run_module(connector_test, dict(idm_args, wait_interval=0))
    assert result["failed"] and "wait_interval" in result["msg"] and fake_idm.calls == []


def test_wait_timeout_is_not_the_request_timeout(fake_idm, run_module, idm_args, monkeypatch):
    add_connector(fake_idm, "scim")
    seen = []
    real_request = requests.Session.request

    def capture(session, method, url, **kwargs):
        seen.append(kwargs.get("timeout"))
        return real_request(session, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", capture)
    result = run_module(connector_test, dict(idm_args, name="scim", wait_timeout=0, timeout=7))
    assert not result["failed"] and seen == [7]
