# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.idmops.pingidm.plugins.modules import config
from ansible_collections.idmops.pingidm.tests.unit.conftest import FakeIdm

MANAGED = {
    "objects": [{"name": "user", "schema": {"order": ["userName", "mail"], "required": ["userName"]}}],
    "enabled": True,
}
REORDERED = {
    "enabled": True,
    "objects": [{"schema": {"required": ["userName"], "order": ["userName", "mail"]}, "name": "user"}],
}


def args(idm_args, **extra):
    return dict(idm_args, id="managed", config=MANAGED, **extra)


def test_create_then_unchanged_with_reordered_keys(fake_idm, run_module, idm_args):
    result = run_module(config, args(idm_args))
    assert result["changed"] is True and not result["failed"]
    assert fake_idm.configs["managed"] == MANAGED
    assert result["config"] == dict(MANAGED, _id="managed")
    result = run_module(config, dict(idm_args, id="managed", config=REORDERED))
    assert result["changed"] is False
    assert len(fake_idm.calls_to("PUT", "config/managed")) == 1


def test_server_bookkeeping_is_ignored(fake_idm, run_module, idm_args):
    fake_idm.configs["managed"] = dict(MANAGED, _rev="17")
    result = run_module(config, dict(idm_args, id="managed", config=dict(MANAGED, _id="managed")))
    assert result["changed"] is False and fake_idm.writes() == []


@pytest.mark.parametrize(
    "change",
    [
        {"enabled": False},
        {"enabled": 1},  # type change
        {"objects": [{"name": "user", "schema": {"order": ["mail", "userName"], "required": ["userName"]}}]},
    ],
)
def test_changed_and_check_mode_predicts_real_run(fake_idm, run_module, idm_args, change):
    fake_idm.configs["managed"] = dict(MANAGED)
    desired = dict(MANAGED, **change)
    checked = run_module(config, dict(idm_args, id="managed", config=desired), check_mode=True, diff=True)
    assert checked["changed"] is True and fake_idm.writes() == []
    assert checked["config"] == dict(desired, _id="managed")
    real = run_module(config, dict(idm_args, id="managed", config=desired), diff=True)
    assert real["changed"] is True and real["diff"] == checked["diff"]
    assert fake_idm.configs["managed"] == desired
    assert run_module(config, dict(idm_args, id="managed", config=desired), check_mode=True)["changed"] is False


def test_diff_shows_before_and_after(fake_idm, run_module, idm_args):
    fake_idm.configs["managed"] = {"enabled": True}
    result = run_module(config, dict(idm_args, id="managed", config={"enabled": False}), diff=True)
    assert result["diff"] == {"before": {"enabled": True}, "after": {"enabled": False}}
    assert result["differences"] == ["enabled"]
    result = run_module(config, dict(idm_args, id="new", config={"a": 1}), diff=True)
    assert result["diff"] == {"before": {}, "after": {"a": 1}}
    assert "diff" not in run_module(config, dict(idm_args, id="new", config={"a": 1}))


def test_absent_deletes_only_when_present(fake_idm, run_module, idm_args):
    fake_idm.configs["managed"] = dict(MANAGED)
    checked = run_module(config, dict(idm_args, id="managed", state="absent"), check_mode=True, diff=True)
    assert checked["changed"] is True and "managed" in fake_idm.configs
    assert checked["diff"]["after"] == {}
    result = run_module(config, dict(idm_args, id="managed", state="absent"))
    assert result["changed"] is True and "managed" not in fake_idm.configs
    result = run_module(config, dict(idm_args, id="managed", state="absent"))
    assert result["changed"] is False
    assert len(fake_idm.calls_to("DELETE", "config/managed")) == 1


def test_crypto_values_compared_by_decrypting(fake_idm, run_module, idm_args):
    stored_secret = FakeIdm.encrypt("top-Secr3t")
    fake_idm.configs["authentication"] = {"rsFilter": {"clientSecret": stored_secret}}
    same_clear = {"rsFilter": {"clientSecret": "top-Secr3t"}}
    result = run_module(config, dict(idm_args, id="authentication", config=same_clear), diff=True)
    assert result["changed"] is False
    other_crypto = {"rsFilter": {"clientSecret": FakeIdm.encrypt("top-Secr3t")}}  # same value, other IV
    assert run_module(config, dict(idm_args, id="authentication", config=other_crypto))["changed"] is False
    assert "top-Secr3t" not in result.raw_output
    rotated = {"rsFilter": {"clientSecret": "new-Secr3t"}}
    result = run_module(config, dict(idm_args, id="authentication", config=rotated), diff=True)
    assert result["changed"] is True
    assert result["diff"]["after"]["rsFilter"]["clientSecret"] == "******** (changed)"
    assert "new-Secr3t" not in result.raw_output and "top-Secr3t" not in result.raw_output


def test_a_decrypted_stored_secret_is_hidden_where_no_key_names_it(fake_idm, run_module, idm_args):
    # Known only by decrypting the stored clientSecret; in the URL only the task's no_log values hide it.
    fake_idm.configs["authentication"] = {
        "rsFilter": {"clientSecret": FakeIdm.encrypt("top-Secr3t"), "url": "https://rs:top-Secr3t@am.test/x"}
    }
    rotated = {"rsFilter": {"clientSecret": "new-Secr3t", "url": "https://am.test/x"}}
    result = run_module(config, dict(idm_args, id="authentication", config=rotated), diff=True)
    assert result["changed"] is True and result["diff"]["before"]["rsFilter"]["url"] == "https://rs:********@am.test/x"
    assert "top-Secr3t" not in result.raw_output


def test_crypto_without_eval_rights_counts_as_different_with_warning(fake_idm, run_module, idm_args):
    fake_idm.script_eval_allowed = False
    fake_idm.configs["authentication"] = {"clientSecret": FakeIdm.encrypt("x-Secr3t")}
    result = run_module(
        config, dict(idm_args, id="authentication", config={"clientSecret": "x-Secr3t"}), check_mode=True
    )
    assert result["changed"] is True
    assert "counts as different" in str(result["warnings"])


def test_unchanged_secret_is_sent_in_stored_form(fake_idm, run_module, idm_args):
    stored_secret = FakeIdm.encrypt("keep-Secr3t")
    fake_idm.configs["authentication"] = {"clientSecret": stored_secret, "enabled": True}
    run_module(config, dict(idm_args, id="authentication", config={"clientSecret": "keep-Secr3t", "enabled": False}))
    assert fake_idm.configs["authentication"] == {"clientSecret": stored_secret, "enabled": False}


@pytest.mark.parametrize("bad_id", ["a/b/c", "/sync", "config/sync", "a//b"])
def test_bad_id_rejected_before_any_request(fake_idm, run_module, idm_args, bad_id):
    result = run_module(config, dict(idm_args, id=bad_id, config={}))
    assert result["failed"] and "is not a configuration id" in result["msg"]
    assert fake_idm.calls == []


def test_template_needs_the_action_plugin(fake_idm, run_module, idm_args):
    result = run_module(config, dict(idm_args, id="sync", template="sync.json.j2"))
    assert result["failed"] and "action plugin" in result["msg"]


def test_config_required_when_present(fake_idm, run_module, idm_args):
    result = run_module(config, dict(idm_args, id="sync"))
    assert result["failed"] and "config" in result["msg"]


def test_forbidden_put_fails_with_clear_message(fake_idm, run_module, idm_args):
    fake_idm.fail("PUT", r"config/managed", 403, "Access denied")
    result = run_module(config, args(idm_args))
    assert result["failed"] and result["status"] == 403 and result["changed"] is False
    assert result["msg"] == (
        "PUT config/managed on http://idm.test:8080/openidm failed: IDM answered 403 Forbidden "
        '"Access denied". Check that the user has the openidm-admin role.'
    )


# --- connector ids, created, mode=merge -----------------------------------------------------------------------


def test_connector_ids_are_refused_unless_allowed(fake_idm, run_module, idm_args):
    for state in ("present", "absent"):
        result = run_module(
            config, dict(idm_args, id="provisioner.openicf/scim", config={"enabled": True}, state=state)
        )
        assert result["failed"] and result["changed"] is False and fake_idm.calls == []
        assert result["msg"] == (
            "provisioner.openicf/scim is a connector configuration: manage it with "
            "idmops.pingidm.connector (name scim), which compares secrets by a policy, retries "
            "while IDM has no connector metadata and waits for the connector to start. Set "
            "allow_connector_ids=true to use this module anyway."
        )
    allowed = run_module(
        config, dict(idm_args, id="provisioner.openicf/scim", config={"enabled": True}, allow_connector_ids=True)
    )
    assert allowed["changed"] is True and "provisioner.openicf/scim" in fake_idm.configs
    # the connector info provider (remote connector servers) is not a connector
    assert not run_module(
        config, dict(idm_args, id="provisioner.openicf.connectorinfoprovider", config={"remoteConnectorClients": []})
    )["failed"]


def test_created(fake_idm, run_module, idm_args):
    assert run_module(config, args(idm_args), check_mode=True)["created"] is True
    assert run_module(config, args(idm_args))["created"] is True
    assert run_module(config, args(idm_args))["created"] is False
    assert run_module(config, dict(idm_args, id="managed", config=dict(MANAGED, enabled=False)))["created"] is False


USER_PROPERTIES = {"mail": {"type": "string"}, "sn": {"type": "string"}}
STORED_MANAGED = {
    "objects": [
        {"name": "user", "schema": {"title": "User", "properties": USER_PROPERTIES}},
        {"name": "role", "schema": {"title": "Role"}},
    ],
    "auditing": {"enabled": True},
}


def test_merge_owns_one_managed_object_type_and_keeps_the_rest(fake_idm, run_module, idm_args):
    fake_idm.configs["managed"] = STORED_MANAGED
    device = {"objects": [{"name": "device", "schema": {"title": "Device"}}]}
    merged = dict(STORED_MANAGED, objects=STORED_MANAGED["objects"] + device["objects"])
    checked = run_module(config, dict(idm_args, id="managed", config=device, mode="merge"), check_mode=True, diff=True)
    assert checked["changed"] is True and checked["created"] is False and fake_idm.writes() == []
    assert checked["differences"] == ["objects"] and checked["config"] == dict(merged, _id="managed")
    assert checked["diff"] == {"before": STORED_MANAGED, "after": merged}
    real = run_module(config, dict(idm_args, id="managed", config=device, mode="merge"), diff=True)
    assert real["changed"] is True and real["diff"] == checked["diff"]
    assert fake_idm.configs["managed"] == merged
    assert run_module(config, dict(idm_args, id="managed", config=device, mode="merge"))["changed"] is False
    assert len(fake_idm.calls_to("PUT", "config/managed")) == 1


def test_merge_one_nested_property_and_remove_with_null(fake_idm, run_module, idm_args):
    fake_idm.configs["managed"] = STORED_MANAGED
    patch = {
        "objects": [
            {"name": "user", "schema": {"properties": {"mail": {"type": "string", "title": "E-mail"}, "sn": None}}}
        ],
        "auditing": None,
    }
    result = run_module(config, dict(idm_args, id="managed", config=patch, mode="merge"), diff=True)
    assert result["changed"] is True
    assert fake_idm.configs["managed"] == {
        "objects": [
            {
                "name": "user",
                "schema": {"title": "User", "properties": {"mail": {"type": "string", "title": "E-mail"}}},
            },
            {"name": "role", "schema": {"title": "Role"}},
        ]
    }
    assert sorted(result["differences"]) == [
        "auditing",
        "objects.0.schema.properties.mail.title",
        "objects.0.schema.properties.sn",
    ]
    again = run_module(config, dict(idm_args, id="managed", config=patch, mode="merge"))
    assert again["changed"] is False  # removing what is not there is no change


def test_merge_creates_a_missing_object_and_keeps_stored_secrets(fake_idm, run_module, idm_args):
    result = run_module(config, dict(idm_args, id="authentication", config={"a": {"b": 1}, "c": None}, mode="merge"))
    assert result["created"] is True and fake_idm.configs["authentication"] == {"a": {"b": 1}}
    fake_idm.configs["custom"] = {"clientSecret": FakeIdm.encrypt("s3cret-Value"), "other": 1}
    result = run_module(config, dict(idm_args, id="custom", config={"other": 2}, mode="merge"), diff=True)
    assert result["changed"] is True and result["differences"] == ["other"]
    assert fake_idm.configs["custom"]["clientSecret"]["$crypto"]
    assert "s3cret-Value" not in result.raw_output


def test_merge_needs_state_present(fake_idm, run_module, idm_args):
    result = run_module(config, dict(idm_args, id="managed", state="absent", mode="merge"))
    assert result["failed"] and "mode=merge needs state=present" in result["msg"] and fake_idm.calls == []
