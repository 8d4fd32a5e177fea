# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A clear secret inside a document option never shows, even when the task fails before the module runs."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.idmops.pingidm.plugins.modules import config, connector, mapping

SECRET = "doc-Secr3t-in-config"
CONFIG = {"configurationProperties": {"clientSecret": SECRET, "SCIMEndpoint": "http://scim.test"}}
MAPPING = {
    "name": "m1",
    "source": "system/scim/account",
    "target": "managed/user",
    "properties": [{"target": "password", "default": "x"}],
    "extra": {"password": SECRET},
}

CASES = {
    "connector": (connector, {"name": "scim", "config": CONFIG}),
    "connector-json-string": (connector, {"name": "scim", "config": json.dumps(CONFIG)}),
    "config": (config, {"id": "provisioner.openicf/scim", "config": CONFIG}),
    "mapping": (mapping, {"mapping": MAPPING}),
    "mappings": (mapping, {"mappings": [MAPPING]}),
}


@pytest.mark.parametrize("module, args", list(CASES.values()), ids=list(CASES))
def test_validation_failure_does_not_show_a_document_secret(run_module, idm_args, module, args):
    result = run_module(module, dict(idm_args, no_such_option=1, **args))
    assert result["failed"] and "no_such_option" in result["msg"]
    assert SECRET not in result.raw_output
    # ansible-core 2.19 returns the arguments as invocation here (masked now); 2.21 returns none


def test_module_log_entry_does_not_show_a_document_secret(run_module, idm_args, monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    run_module(connector, dict(idm_args, name="scim", config=CONFIG))
    if run_module.path == "module":
        assert logged and "clientSecret" in logged[0] and SECRET not in logged[0]
    else:
        assert not logged  # the controller path writes no log entry
