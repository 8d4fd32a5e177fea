# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""scim_provider_info module: argument handling, result shape, failures, no secrets in the output."""

from __future__ import annotations

import pytest

from ansible_collections.idmops.pingidm.plugins.modules import scim_provider_info
from ansible_collections.idmops.pingidm.tests.unit.plugins.module_utils.test__scim import (
    BASIC_PASSWORD,
    BASIC_USER,
    CLIENT_ID,
    CLIENT_SECRET,
    STATIC_TOKEN,
    TOKEN_URL,
    V1,
    V2,
    install_fake_scim,
)


@pytest.fixture
def fake_scim(monkeypatch):
    return install_fake_scim(monkeypatch)


OAUTH = dict(endpoint=V2, token_endpoint=TOKEN_URL, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def test_oauth_success_is_never_changed(run_module, fake_scim):
    result = run_module(scim_provider_info, OAUTH)
    assert result["failed"] is False and result["changed"] is False
    assert result["user_count"] == 7 and result["group_count"] == 3
    assert "userName" in result["user_attributes"] and "name" in result["user_attributes"]
    assert result["user_attribute_details"][0]["name"] == "userName"
    assert result["token_auth_method"] == "client_secret_basic"
    assert result["group_attributes"] == ["displayName", "members"] and result["enterprise_user"] is True
    assert result["schema_extensions"]["User"][0]["schema"].endswith(":enterprise:2.0:User")
    assert CLIENT_SECRET not in result.raw_output


def test_check_mode_runs_the_same_reads(run_module, fake_scim):
    result = run_module(scim_provider_info, OAUTH, check_mode=True)
    assert result["failed"] is False and result["user_count"] == 7


def test_v1_string_version_and_basic(run_module, fake_scim):
    result = run_module(
        scim_provider_info,
        dict(endpoint=V1, scim_version="1", auth_method="BASIC", user=BASIC_USER, password=BASIC_PASSWORD),
    )
    assert result["failed"] is False and result["scim_version"] == 1
    assert BASIC_PASSWORD not in result.raw_output


def test_missing_oauth_options_fail_before_any_request(run_module, fake_scim):
    result = run_module(scim_provider_info, dict(endpoint=V2, client_id=CLIENT_ID))
    assert result["failed"] is True and "client_secret" in result["msg"] and "token_endpoint" in result["msg"]
    assert fake_scim.calls == []


def test_token_method_needs_token(run_module, fake_scim):
    result = run_module(scim_provider_info, dict(endpoint=V2, auth_method="TOKEN"))
    assert result["failed"] is True and "token" in result["msg"]


def test_failure_reports_step_and_kind_without_secrets(run_module, fake_scim):
    result = run_module(scim_provider_info, dict(OAUTH, client_secret="bad-Secr3t-value"))
    assert result["failed"] is True and result["changed"] is False
    assert result["step"] == "token" and result["kind"] == "auth" and result["status"] == 401
    assert "bad-Secr3t-value" not in result.raw_output


def test_wrong_version_message(run_module, fake_scim):
    fake_scim.speaks = {"/scim/v2": 1}
    result = run_module(scim_provider_info, OAUTH)
    assert result["failed"] is True and result["kind"] == "wrong_version"
    assert "scim_version: 1" in result["msg"]


def test_static_token_rejected_is_not_echoed(run_module, fake_scim):
    result = run_module(scim_provider_info, dict(endpoint=V2, auth_method="TOKEN", token="tok-" + STATIC_TOKEN))
    assert result["failed"] is True and result["kind"] == "auth"
    assert STATIC_TOKEN not in result.raw_output


def test_plain_http_to_remote_host_warns(run_module, fake_scim):
    fake_scim.speaks = {"/scim/v2": 2}
    result = run_module(
        scim_provider_info, dict(endpoint="http://scim.test/scim/v2", auth_method="TOKEN", token=STATIC_TOKEN)
    )
    assert result["failed"] is False
    # ansible-core 2.19 prints warnings as structured events; older cores as plain strings
    assert "endpoint uses plain http" in str(result.get("warnings"))
