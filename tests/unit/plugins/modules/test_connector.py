# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.idmops.pingidm.plugins.modules import connector
from ansible_collections.idmops.pingidm.tests.unit.conftest import (
    ADMIN_PASSWORD,
    SCIM_CONNECTOR_REF,
    FakeIdm,
    no_metadata_message,
)

SECRET = "scim-Client-Secr3t"
ROTATED = "rotated-Secr3t-2"
CONFIG_ID = "provisioner.openicf/scim"


def scim_config(secret=SECRET, **props):
    properties = {
        "SCIMEndpoint": "http://scim.test/scim/v2",
        "SCIMVersion": 2,
        "authenticationMethod": "OAUTH",
        "tokenEndpoint": "http://scim.test/oauth2/token",
        "clientId": "idm",
        "clientSecret": secret,
        "maximumConnections": 10,
    }
    properties.update(props)
    return {
        "connectorRef": dict(SCIM_CONNECTOR_REF),
        "enabled": True,
        "configurationProperties": properties,
        "objectTypes": {
            "account": {
                "id": "__ACCOUNT__",
                "nativeType": "__ACCOUNT__",
                "properties": {"userName": {"type": "string", "nativeName": "__NAME__"}},
            }
        },
    }


def args(idm_args, config=None, **extra):
    return dict(idm_args, name="scim", config=config if config is not None else scim_config(), **extra)


def assert_no_secret(result, *secrets):
    for secret in (*secrets, SECRET, ROTATED, ADMIN_PASSWORD):
        assert secret not in result.raw_output
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" not in json.dumps(
        {k: result.get(k) for k in ("config", "diff", "msg", "test", "status")}
    )
    assert '"data"' not in json.dumps(result.get("config")) and '"iv"' not in json.dumps(result.get("diff"))


def test_create_encrypts_and_reports_secrets_updated(fake_idm, run_module, idm_args):
    result = run_module(connector, args(idm_args), diff=True)
    assert result["changed"] is True and not result["failed"]
    stored = fake_idm.configs[CONFIG_ID]
    assert FakeIdm.decrypt(stored["configurationProperties"]["clientSecret"]) == SECRET
    assert result["secrets_updated"] == ["clientSecret"]
    assert result["config"]["configurationProperties"]["clientSecret"] == {"$crypto": "********"}
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["configurationProperties"]["clientSecret"] == "******** (changed)"
    assert result["status"]["ok"] is True
    assert fake_idm.calls_to("PUT", "config/" + CONFIG_ID)[0][2] == {"waitForCompletion": "true"}
    assert_no_secret(result)


def test_same_secret_is_ok_and_sends_nothing(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    stored = copy.deepcopy(fake_idm.configs[CONFIG_ID])
    result = run_module(connector, args(idm_args), diff=True)
    assert result["changed"] is False and result["secrets_updated"] == []
    assert fake_idm.configs[CONFIG_ID] == stored
    assert len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 1
    assert result["diff"]["before"] == result["diff"]["after"]
    assert_no_secret(result)


def test_rotated_secret_detected_in_check_mode_and_written(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    checked = run_module(connector, args(idm_args, scim_config(ROTATED)), check_mode=True, diff=True)
    assert checked["changed"] is True and checked["secrets_updated"] == ["clientSecret"]
    assert len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 1
    assert checked["diff"]["before"]["configurationProperties"]["clientSecret"] == {"$crypto": "********"}
    assert checked["diff"]["after"]["configurationProperties"]["clientSecret"] == "******** (changed)"
    real = run_module(connector, args(idm_args, scim_config(ROTATED)), diff=True)
    assert real["changed"] is True and real["secrets_updated"] == ["clientSecret"]
    assert real["diff"] == checked["diff"]
    assert FakeIdm.decrypt(fake_idm.configs[CONFIG_ID]["configurationProperties"]["clientSecret"]) == ROTATED
    assert run_module(connector, args(idm_args, scim_config(ROTATED)))["changed"] is False
    assert_no_secret(checked)
    assert_no_secret(real)


def test_a_decrypted_stored_secret_is_hidden_where_no_key_names_it(fake_idm, run_module, idm_args):
    # The stored secret is known only by decrypting it; outside its key (here in a URL) only the task's no_log
    # values hide it in the diff's "before".
    run_module(connector, args(idm_args, scim_config(SCIMEndpoint="http://idm:%s@scim.test/scim/v2" % SECRET)))
    result = run_module(connector, args(idm_args, scim_config(ROTATED)), diff=True)
    assert result["changed"] is True and result["secrets_updated"] == ["clientSecret"]
    assert (
        result["diff"]["before"]["configurationProperties"]["SCIMEndpoint"] == "http://idm:********@scim.test/scim/v2"
    )
    assert_no_secret(result)


def test_other_change_keeps_stored_secret_form(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    crypto = fake_idm.configs[CONFIG_ID]["configurationProperties"]["clientSecret"]
    result = run_module(connector, args(idm_args, scim_config(maximumConnections=20)), diff=True)
    assert result["changed"] is True and result["secrets_updated"] == []
    assert result["differences"] == ["configurationProperties.maximumConnections"]
    assert fake_idm.configs[CONFIG_ID]["configurationProperties"]["clientSecret"] == crypto
    assert result["diff"]["after"]["configurationProperties"]["clientSecret"] == {"$crypto": "********"}


def test_exported_crypto_with_other_iv_counts_as_equal(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    exported = scim_config(FakeIdm.encrypt(SECRET))  # same value, other IV (e.g. exported from another run)
    assert run_module(connector, args(idm_args, exported))["changed"] is False
    other = scim_config(FakeIdm.encrypt(ROTATED))
    result = run_module(connector, args(idm_args, other))
    assert result["changed"] is True and result["secrets_updated"] == ["clientSecret"]


def test_when_different_without_eval_rights_fails_naming_options(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    fake_idm.script_eval_allowed = False
    result = run_module(connector, args(idm_args))
    assert result["failed"] and result["changed"] is False and result["status"] == 403
    assert "update_secrets=on_create" in result["msg"] and "update_secrets=always" in result["msg"]
    assert "connector 'scim'" in result["msg"]
    assert len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 1
    assert_no_secret(result)


def test_on_create_needs_no_decrypt_and_never_rotates(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    crypto = fake_idm.configs[CONFIG_ID]["configurationProperties"]["clientSecret"]
    fake_idm.script_eval_allowed = False
    result = run_module(connector, args(idm_args, scim_config(ROTATED), update_secrets="on_create"))
    assert result["changed"] is False and result["secrets_updated"] == []
    result = run_module(
        connector, args(idm_args, scim_config(ROTATED, maximumConnections=5), update_secrets="on_create")
    )
    assert result["changed"] is True and result["secrets_updated"] == []
    assert fake_idm.configs[CONFIG_ID]["configurationProperties"]["clientSecret"] == crypto
    assert not fake_idm.calls_to("POST", "script")


def test_on_create_writes_secret_on_create(fake_idm, run_module, idm_args):
    result = run_module(connector, args(idm_args, update_secrets="on_create"))
    assert result["changed"] is True and result["secrets_updated"] == ["clientSecret"]


def test_always_writes_given_secrets(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    fake_idm.script_eval_allowed = False
    for check_mode in (True, False):
        result = run_module(connector, args(idm_args, update_secrets="always"), check_mode=check_mode)
        assert result["changed"] is True and result["secrets_updated"] == ["clientSecret"]
    assert len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 2
    assert not fake_idm.calls_to("POST", "script")


def test_test_before_save_blocks_a_bad_config(fake_idm, run_module, idm_args):
    fake_idm.test_config_result = "Connection Error"
    for check_mode in (True, False):
        result = run_module(connector, args(idm_args, test_before_save=True), check_mode=check_mode)
        assert result["failed"] and "failed IDM's test, so it was not saved: Connection Error" in result["msg"]
        assert "check clientId, clientSecret and tokenEndpoint" in result["msg"]
    assert CONFIG_ID not in fake_idm.configs
    body = fake_idm.calls_to("POST", "system")[0][3]
    assert body["name"] == "scim" and body["configurationProperties"]["clientSecret"] == SECRET
    assert_no_secret(result)


def test_test_before_save_passes_then_saves(fake_idm, run_module, idm_args):
    result = run_module(connector, args(idm_args, test_before_save=True))
    assert result["changed"] is True and result["test"] == {"name": "scim", "ok": True}
    assert CONFIG_ID in fake_idm.configs
    # unchanged: no test, no write
    result = run_module(connector, args(idm_args, test_before_save=True))
    assert result["changed"] is False and "test" not in result
    assert len(fake_idm.calls_to("POST", "system")) == 1


def test_wait_polls_until_connector_started(fake_idm, run_module, idm_args, virtual_clock):
    fake_idm.start_after_tests = 3
    result = run_module(connector, args(idm_args, wait=True))
    # waitForCompletion=true: the fake starts it before answering, so one test call is enough
    assert result["status"]["ok"] is True and result["waited"] == 0
    fake_idm.configs.clear()
    fake_idm.honour_wait_for_completion = False
    result = run_module(connector, args(idm_args))
    assert result["status"]["ok"] is True and result["waited"] == 3.0


@pytest.mark.parametrize("status", [502, 503, 504, None])
def test_busy_idm_or_dropped_connections_during_the_wait_do_not_fail_the_save(
    fake_idm, run_module, idm_args, virtual_clock, status
):
    # More failures than the client retries (4 tries): the wait loop polls again instead of failing.
    fake_idm.fail("POST", r"system/scim", status, "Injected fault", times=5)
    result = run_module(connector, args(idm_args))
    assert not result.get("failed") and result["changed"] is True and result["status"]["ok"] is True
    assert len(fake_idm.calls_to("POST", "system/scim")) == 6


def test_wait_times_out_after_saving(fake_idm, run_module, idm_args):
    fake_idm.start_after_tests = 1000
    fake_idm.honour_wait_for_completion = False
    result = run_module(connector, args(idm_args, wait_timeout=5))
    assert result["failed"] and result["changed"] is True
    assert "was saved, but IDM did not start it within 5 s (last answer: connector not available)" in result["msg"]


def test_no_wait_and_disabled_connector_skip_the_wait(fake_idm, run_module, idm_args):
    result = run_module(connector, args(idm_args, wait=False))
    assert "status" not in result and fake_idm.calls_to("PUT", "config/" + CONFIG_ID)[0][2] == {}
    disabled = dict(scim_config(), enabled=False)
    result = run_module(connector, args(idm_args, disabled))
    assert result["changed"] is True and "status" not in result
    assert not fake_idm.calls_to("POST", "system/scim")


def test_absent(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    checked = run_module(connector, dict(idm_args, name="scim", state="absent"), check_mode=True, diff=True)
    assert checked["changed"] is True and CONFIG_ID in fake_idm.configs
    assert checked["diff"]["after"] == {}
    assert checked["diff"]["before"]["configurationProperties"]["clientSecret"] == {"$crypto": "********"}
    assert run_module(connector, dict(idm_args, name="scim", state="absent"))["changed"] is True
    assert CONFIG_ID not in fake_idm.configs
    assert run_module(connector, dict(idm_args, name="scim", state="absent"))["changed"] is False


@pytest.mark.parametrize("bad", ["", "provisioner.openicf/scim"])
def test_bad_name(fake_idm, run_module, idm_args, bad):
    result = run_module(connector, dict(idm_args, name=bad, config={}))
    assert result["failed"] and "is not a connector name" in result["msg"] and fake_idm.calls == []


def test_api_error_on_read(fake_idm, run_module, idm_args):
    fake_idm.fail("GET", r"config/provisioner\.openicf/scim", 500, "boom")
    result = run_module(connector, args(idm_args))
    assert result["failed"] and result["status"] == 500
    assert result["msg"].startswith("GET config/provisioner.openicf/scim on http://idm.test:8080/openidm failed")
    assert_no_secret(result)


# --- IDM without connector metadata (500 "retry later"), started or not, created ----------------------------


def test_write_refused_for_missing_metadata_is_sent_again_until_stored(fake_idm, run_module, idm_args, virtual_clock):
    fake_idm.fail("PUT", r"config/provisioner\.openicf/scim", 500, no_metadata_message("scim"), times=3)
    result = run_module(connector, args(idm_args))
    assert not result["failed"] and result["changed"] is True and result["created"] is True
    assert len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 4 and CONFIG_ID in fake_idm.configs
    assert virtual_clock.sleeps == [1.0, 2.0, 4.0]
    assert result["status"]["ok"] is True and result["waited"] == 7.0


@pytest.mark.parametrize("wait", [True, False])
def test_missing_metadata_that_persists_fails_naming_the_bundle(fake_idm, run_module, idm_args, virtual_clock, wait):
    fake_idm.fail("PUT", r"config/provisioner\.openicf/scim", 500, no_metadata_message("scim"))
    config = scim_config()
    config["connectorRef"]["bundleVersion"] = "[1.4.0.0,1.5.0.0)"
    result = run_module(connector, args(idm_args, config, wait_timeout=20, wait=wait))
    assert result["failed"] and result["changed"] is False and CONFIG_ID not in fake_idm.configs
    assert result["msg"] == (
        "IDM has no metadata for connector 'scim' (bundleName org.forgerock.openicf.connectors.scim-connector, "
        "bundleVersion [1.4.0.0,1.5.0.0), connectorName org.forgerock.openicf.connectors.scim.ScimConnector) and "
        'stored nothing: it answered 500 "%s" for 17 s. Install a connector bundle in that version range (in '
        "IDM's connectors directory, or on the remote connector server of connectorHostRef), or correct "
        "connectorRef; IDM offers: org.forgerock.openicf.connectors.scim-connector 1.5.20.31."
        % no_metadata_message("scim")
    )
    assert virtual_clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert_no_secret(result)


def test_other_500_is_not_retried(fake_idm, run_module, idm_args):
    fake_idm.fail("PUT", r"config/provisioner\.openicf/scim", 500, "boom")
    result = run_module(connector, args(idm_args))
    assert result["failed"] and result["status"] == 500 and len(fake_idm.calls_to("PUT", "config/" + CONFIG_ID)) == 1


def test_connector_that_never_starts_fails_the_task(fake_idm, run_module, idm_args):
    # A server that adds the reason after "connector not available" (the sandbox does) has not started it either.
    fake_idm.connector_errors["scim"] = (
        "connector not available: no installed connector matches connectorName "
        "'x', bundleName 'y', bundleVersion '[9,10)'"
    )
    result = run_module(connector, args(idm_args, wait_timeout=5))
    assert result["failed"] and result["changed"] is True and result["created"] is True
    assert result["msg"].startswith(
        "Connector 'scim' was saved, but IDM did not start it within 5 s (last answer: "
        "connector not available: no installed connector matches"
    )
    assert result["status"]["ok"] is False


def test_started_connector_whose_remote_system_refuses_passes_with_a_warning(fake_idm, run_module, idm_args):
    fake_idm.connector_errors["scim"] = "Connection Error"
    result = run_module(connector, args(idm_args, wait_timeout=30))
    assert not result["failed"] and result["changed"] is True and result["waited"] == 0
    assert result["status"] == dict(result["status"], ok=False, error="Connection Error")
    assert len(result.warning_texts) == 1 and result.warning_texts[0].startswith(
        "Connector 'scim' was saved and IDM started it, but its test fails: Connection Error (IDM reports"
    )


def test_created_is_true_only_for_a_create(fake_idm, run_module, idm_args):
    checked = run_module(connector, args(idm_args), check_mode=True)
    assert checked["changed"] is True and checked["created"] is True and CONFIG_ID not in fake_idm.configs
    assert run_module(connector, args(idm_args))["created"] is True
    assert run_module(connector, args(idm_args))["created"] is False
    updated = run_module(connector, args(idm_args, scim_config(maximumConnections=3)))
    assert updated["changed"] is True and updated["created"] is False


# --- test_before_save: auto (default), true, false ------------------------------------------------------------


def test_auto_test_before_save_keeps_a_working_connector(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    stored = copy.deepcopy(fake_idm.configs[CONFIG_ID])
    fake_idm.test_config_result = "Connection Error"  # the new credentials are refused
    for check_mode in (True, False):
        result = run_module(connector, args(idm_args, scim_config(ROTATED)), check_mode=check_mode)
        assert result["failed"] and result["changed"] is False and result["test"]["ok"] is False
        assert result["msg"].startswith(
            "The configuration of connector 'scim' failed IDM's test, so it was not "
            "saved: Connection Error (IDM reports"
        )
        assert result["msg"].endswith(
            "(the stored configuration works, so it was kept; set test_before_save=false to save this one anyway)"
        )
        assert_no_secret(result)
    assert fake_idm.configs[CONFIG_ID] == stored
    forced = run_module(connector, args(idm_args, scim_config(ROTATED), test_before_save=False))
    assert forced["changed"] is True and "test" not in forced


def test_auto_test_before_save_passes_a_good_update(fake_idm, run_module, idm_args):
    run_module(connector, args(idm_args))
    result = run_module(connector, args(idm_args, scim_config(ROTATED)))
    assert result["changed"] is True and result["test"] == {"name": "scim", "ok": True}


def test_auto_test_before_save_skips_create_failing_and_disabling(fake_idm, run_module, idm_args):
    fake_idm.test_config_result = "Connection Error"
    assert run_module(connector, args(idm_args))["changed"] is True  # create: never tested
    fake_idm.connector_errors["scim"] = "Connection Error"  # the stored one fails too
    result = run_module(connector, args(idm_args, scim_config(ROTATED)))
    assert result["changed"] is True and "test" not in result
    del fake_idm.connector_errors["scim"]
    result = run_module(connector, args(idm_args, dict(scim_config(ROTATED), enabled=False)))
    assert result["changed"] is True and "test" not in result
    assert not [c for c in fake_idm.calls if c[2].get("_action") == "testConfig"]
