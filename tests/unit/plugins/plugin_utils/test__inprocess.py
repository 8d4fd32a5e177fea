# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The in-process module shim: validation, check/diff mode, secrets and failures as a module process has them."""

from __future__ import annotations

import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.idmops.pingidm.plugins.module_utils._http import ApiError
from ansible_collections.idmops.pingidm.plugins.module_utils._module import ModuleFailure, ModuleSpec
from ansible_collections.idmops.pingidm.plugins.plugin_utils import _inprocess
from ansible_collections.idmops.pingidm.plugins.plugin_utils._inprocess import (
    InProcessModule,
    ModuleExit,
    environment,
    execution_mode,
    plain_data,
)

SECRET = "s3cr3t-Value-42"


def spec(**extra):
    options = dict(
        name=dict(type="str", required=True, aliases=["id"]),
        mode=dict(type="str", default="a", choices=["a", "b"]),
        token=dict(type="str", no_log=True, fallback=(_env_fallback, ["SHIM_TEST_TOKEN"])),
        old=dict(type="str", removed_in_version="2.0.0", removed_from_collection="idmops.pingidm"),
    )
    options.update(extra)
    return ModuleSpec(options, connection=False, mutually_exclusive=[("mode", "old")])


def _env_fallback(*names):
    from ansible.module_utils.basic import env_fallback

    return env_fallback(*names)


def finish(args, logic=None, check_mode=False, diff=False, module_spec=None):
    """Build the shim and run ``logic``; return the result the action plugin would hand back."""
    try:
        module = InProcessModule(module_spec or spec(), args, "idmops.pingidm.test", check_mode=check_mode, diff=diff)
        module.execute(logic or (lambda m: dict(changed=False, params=dict(m.params))))
    except ModuleExit as done:
        return done.result
    raise AssertionError("the shim did not exit")


def test_validation_fills_defaults_and_resolves_aliases():
    result = finish({"id": "scim"})
    assert result["failed"] is False
    assert result["params"]["name"] == "scim"
    assert result["params"]["mode"] == "a"


def test_unknown_option_fails_like_ansible_module():
    result = finish({"name": "scim", "bogus": 1})
    assert result["failed"] is True
    assert result["msg"].startswith("Unsupported parameters for (idmops.pingidm.test) module: bogus.")


def test_choices_and_mutually_exclusive_are_enforced():
    assert "value of mode must be one of: a, b" in finish({"name": "x", "mode": "c"})["msg"]
    assert "mutually exclusive: mode|old" in finish({"name": "x", "mode": "b", "old": "y"})["msg"]


def test_required_option_missing():
    assert finish({})["msg"] == "missing required arguments: name"


def test_removed_option_gives_a_deprecation():
    result = finish({"name": "x", "old": "y", "mode": None})
    assert result["deprecations"][0]["msg"].startswith("Param 'old' is deprecated")
    assert result["deprecations"][0]["collection_name"] == "idmops.pingidm"


def test_env_fallback_reads_the_task_environment_and_restores_it():
    os.environ.pop("SHIM_TEST_TOKEN", None)
    with environment({"SHIM_TEST_TOKEN": SECRET}):
        result = finish({"name": "x"}, lambda m: dict(changed=False, seen=m.params["token"] == SECRET))
    assert result["seen"] is True
    assert "SHIM_TEST_TOKEN" not in os.environ


def test_no_log_option_is_scrubbed_from_results_warnings_and_failures():
    def logic(module):
        module.warn("token was %s" % module.params["token"])
        raise ModuleFailure("could not use %s" % module.params["token"], echoed=module.params["token"])

    result = finish({"name": "x", "token": SECRET}, logic)
    assert SECRET not in repr(result)
    assert result["failed"] is True and result["changed"] is False
    assert result["warnings"] == ["token was ********"]


def test_values_added_to_no_log_values_are_scrubbed():
    def logic(module):
        module.no_log_values.add("found-in-config-99")
        return dict(changed=True, config={"clientSecret": "found-in-config-99"})

    result = finish({"name": "x"}, logic)
    assert "found-in-config-99" not in repr(result)


def test_an_unexpected_exception_fails_without_the_secret_in_message_or_traceback():
    def logic(module):
        raise RuntimeError("boom with %s" % module.params["token"])

    result = finish({"name": "x", "token": SECRET}, logic)
    assert result["failed"] is True
    assert "failed unexpectedly: RuntimeError" in result["msg"]
    assert SECRET not in result["msg"] and SECRET not in result["exception"]


def test_api_error_becomes_a_failure_with_its_fields():
    def logic(module):
        raise ApiError("GET", "config/sync", "http://idm.test/openidm", status=404, reason="Not Found")

    result = finish({"name": "x"}, logic)
    assert result["failed"] is True
    assert result["status"] == 404 and result["path"] == "config/sync"
    assert result["msg"].startswith("GET config/sync on http://idm.test/openidm failed")


def test_check_and_diff_mode_come_from_the_task():
    result = finish(
        {"name": "x"}, lambda m: dict(changed=False, check=m.check_mode, diff=m._diff), check_mode=True, diff=True
    )
    assert result["check"] is True and result["diff"] is True


def test_a_module_without_check_mode_is_skipped_in_check_mode():
    no_check = ModuleSpec(dict(name=dict(type="str")), connection=False, supports_check_mode=False)
    result = finish({"name": "x"}, lambda m: pytest.fail("must not run"), check_mode=True, module_spec=no_check)
    assert result["skipped"] is True


def test_connection_options_and_their_rules_are_merged():
    idm = ModuleSpec(dict(name=dict(type="str")))
    result = finish({"idm_url": "http://idm.test", "auth_type": "bearer"}, module_spec=idm)
    assert result["msg"] == "auth_type is bearer but all of the following are missing: token"


def test_module_exit_is_not_swallowed_by_except_exception():
    def logic(module):
        try:
            module.fail_json(msg="stop here")
        except Exception:  # pylint: disable=broad-except
            pytest.fail("ModuleExit must not be an Exception")

    assert finish({"name": "x"}, logic)["msg"] == "stop here"


def test_plain_data_turns_tagged_values_into_plain_types():
    from ansible._internal._datatag._tags import Origin

    tagged = Origin(path="/x.yml", line_num=1).tag("value")
    converted = plain_data({"a": [tagged]})
    assert converted["a"][0].__class__ is str and converted == {"a": ["value"]}


@pytest.mark.parametrize(
    "task_vars, env, expected",
    [
        ({}, None, "auto"),
        ({}, "module", "module"),
        ({"idmops_pingidm_execution": "controller"}, "module", "controller"),
        ({"idmops_pingidm_execution": "MODULE"}, None, "module"),
    ],
)
def test_execution_mode(monkeypatch, task_vars, env, expected):
    if env is None:
        monkeypatch.delenv(_inprocess.EXECUTION_ENV, raising=False)
    else:
        monkeypatch.setenv(_inprocess.EXECUTION_ENV, env)
    assert execution_mode(task_vars) == expected


def test_execution_mode_rejects_unknown_values(monkeypatch):
    monkeypatch.delenv(_inprocess.EXECUTION_ENV, raising=False)
    with pytest.raises(AnsibleActionFail, match="idmops_pingidm_execution must be one of auto, controller, module"):
        execution_mode({"idmops_pingidm_execution": "remote"})


@pytest.mark.parametrize("source, expected", [("module", False), ("controller", True)])
def test_execution_variable_given_as_a_template_is_resolved(monkeypatch, tmp_path, source, expected):
    from ansible.template import trust_as_template

    from ansible_collections.idmops.pingidm.plugins.action import info as info_action
    from ansible_collections.idmops.pingidm.tests.unit.action_harness import make_action

    monkeypatch.delenv(_inprocess.EXECUTION_ENV, raising=False)
    action, _calls = make_action(info_action, {}, tmp_path, resolved="idmops.pingidm.info")
    task_vars = {"mode_source": source, "idmops_pingidm_execution": trust_as_template("{{ mode_source }}")}
    action._templar.available_variables = task_vars  # pylint: disable=protected-access
    assert action.runs_on_controller(task_vars) is expected
