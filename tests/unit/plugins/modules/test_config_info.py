# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import pytest

from ansible_collections.idmops.pingidm.plugins.module_utils import _config_info
from ansible_collections.idmops.pingidm.plugins.modules import config_info
from ansible_collections.idmops.pingidm.tests.unit.conftest import FakeIdm

CLEAR_PASSWORD = "smtp-Secr3t-clear"
CONNECTOR = {
    "connectorRef": {"connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector"},
    "configurationProperties": {
        "SCIMEndpoint": "https://scim.test/v2",
        "clientId": "idm",
        "clientSecret": FakeIdm.encrypt("scim-Secr3t-value"),
    },
}


@pytest.fixture
def tenant(fake_idm):
    fake_idm.configs.update(
        {
            "provisioner.openicf/scim": CONNECTOR,
            "provisioner.openicf/ldap": {"configurationProperties": {"credentials": FakeIdm.encrypt("ldap-pw")}},
            "sync": {"mappings": [{"name": "a", "source": "system/scim/account", "target": "managed/user"}]},
            "mapping/b": {"name": "b", "source": "managed/user", "target": "system/scim/account"},
            "schedule/recon-a": {"type": "cron", "schedule": "0 0 * * * ?", "invokeService": "sync"},
            "external.email": {
                "host": "smtp.test",
                "auth": {"enable": True, "username": "mailer", "password": CLEAR_PASSWORD},
                # the same secret where no key names it: only the no_log values of the task hide it
                "note": "smtp://mailer:%s@smtp.test" % CLEAR_PASSWORD,
            },
            "ui/configuration": {"configuration": {"lang": "en"}},
        }
    )
    return fake_idm


def test_patterns_select_objects_sorted_and_masked(tenant, run_module, idm_args):
    patterns = ["provisioner.openicf/*", "sync", "mapping/*", "schedule/*"]
    result = run_module(config_info, dict(idm_args, id=patterns))
    assert not result["failed"] and result["changed"] is False
    assert result["ids"] == [
        "mapping/b",
        "provisioner.openicf/ldap",
        "provisioner.openicf/scim",
        "schedule/recon-a",
        "sync",
    ]
    assert [c["id"] for c in result["configs"]] == result["ids"]
    scim = result["configs"][2]
    assert scim["config"]["_id"] == "provisioner.openicf/scim"
    assert scim["config"]["configurationProperties"]["clientSecret"] == {"$crypto": "********"}
    assert scim["config"]["configurationProperties"]["clientId"] == "idm"
    assert scim["secrets"] == [{"path": ["configurationProperties", "clientSecret"], "name": "clientSecret"}]
    assert result["configs"][4]["secrets"] == []
    assert result["missing"] == []
    # Only reads: one listing and one GET per object.
    assert tenant.writes() == []
    assert [c[:2] for c in tenant.calls] == [("GET", "config")] + [("GET", "config/" + i) for i in result["ids"]]


def test_clear_secret_outside_a_connector_is_masked_and_never_printed(tenant, run_module, idm_args):
    result = run_module(config_info, dict(idm_args, id=["external.email"]))
    entry = result["configs"][0]
    assert entry["config"]["auth"] == {"enable": True, "username": "mailer", "password": "********"}
    assert entry["secrets"] == [{"path": ["auth", "password"], "name": "auth.password"}]
    assert entry["config"]["note"] == "smtp://mailer:********@smtp.test"
    assert CLEAR_PASSWORD not in result.raw_output
    assert "scim-Secr3t-value" not in run_module(config_info, idm_args).raw_output


def test_everything_by_default_with_exclusions(tenant, run_module, idm_args):
    result = run_module(config_info, dict(idm_args, exclude=["ui*", "ui/*", "provisioner.openicf/ldap"]))
    assert result["ids"] == ["external.email", "mapping/b", "provisioner.openicf/scim", "schedule/recon-a", "sync"]


def test_missing_exact_ids_are_reported_patterns_may_match_nothing(tenant, run_module, idm_args):
    result = run_module(config_info, dict(idm_args, id=["managed", "sync", "endpoint/*"]))
    assert result["ids"] == ["sync"] and result["missing"] == ["managed"] and not result["failed"]


def test_ids_only_is_one_request(tenant, run_module, idm_args):
    result = run_module(config_info, dict(idm_args, id=["schedule/*", "sync"], content=False))
    assert result["ids"] == ["schedule/recon-a", "sync"] and "configs" not in result
    assert [c[:2] for c in tenant.calls] == [("GET", "config")]


def test_check_mode_returns_the_same(tenant, run_module, idm_args):
    real = run_module(config_info, dict(idm_args, id=["*"]))
    checked = run_module(config_info, dict(idm_args, id=["*"]), check_mode=True)
    assert checked["configs"] == real["configs"] and checked["changed"] is False


@pytest.mark.parametrize("bad", ["config/sync", "/sync", "a/b/c", "mapping/", ""])
def test_bad_ids_fail_before_any_request(tenant, run_module, idm_args, bad):
    result = run_module(config_info, dict(idm_args, id=[bad]))
    assert result["failed"] and "Invalid id" in result["msg"]
    assert tenant.calls == []


def test_api_error_fails_with_the_path(tenant, run_module, idm_args):
    tenant.fail("GET", r"config", 403, "Access denied")
    result = run_module(config_info, idm_args)
    assert result["failed"] and result["status"] == 403 and "GET config" in result["msg"]


def test_object_removed_between_listing_and_read(tenant, run_module, idm_args):
    tenant.fail("GET", r"config/sync", 404, "Not Found")
    result = run_module(config_info, dict(idm_args, id=["sync", "mapping/*"]))
    assert result["ids"] == ["mapping/b"] and [c["id"] for c in result["configs"]] == ["mapping/b"]


@pytest.mark.parametrize(
    "pattern, ids, selected",
    [
        ("*", ["a", "b/c"], ["a", "b/c"]),
        (
            "provisioner.openicf/*",
            ["provisioner.openicf/x", "provisioner.openicf.connectorinfoprovider"],
            ["provisioner.openicf/x"],
        ),
        ("schedule/recon-[ab]", ["schedule/recon-a", "schedule/recon-c"], ["schedule/recon-a"]),
        ("Sync", ["sync"], []),
    ],
)
def test_select(pattern, ids, selected):
    assert _config_info.select(ids, [pattern])[0] == selected
