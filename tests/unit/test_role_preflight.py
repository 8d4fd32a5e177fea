# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""roles/scim_sync/tasks/preflight.yml, run by ansible-playbook against a SCIM provider served on 127.0.0.1: the
provider decides the attribute sets, and lists or maps that name what the provider does not have are refused
before anything reaches IDM (the play never talks to IDM here)."""

from __future__ import annotations

import base64
import json
import re

import pytest

from ansible_collections.idmops.pingidm.tests.unit.ansible_cli import needs_collection, run_play
from ansible_collections.idmops.pingidm.tests.unit.local_server import json_server
from ansible_collections.idmops.pingidm.tests.unit.plugins.module_utils.test__scim import (
    STATIC_TOKEN,
    V2_GROUP_SCHEMA,
    V2_USER_SCHEMA,
    FakeScim,
)

pytestmark = needs_collection

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: idmops.pingidm.scim_sync
        tasks_from: preflight.yml
    - ansible.builtin.debug:
        msg: "DECLARED {{ {'account': scim_sync_account_properties, 'group': scim_sync_group_properties} | to_json }}"
"""


@pytest.fixture
def provider():
    """FakeScim (the module tests' provider) over real HTTP on 127.0.0.1."""
    fake = FakeScim()

    def answer(url, headers):
        header = headers.get("Authorization", "")
        auth = tuple(base64.b64decode(header[6:]).decode().split(":", 1)) if header.startswith("Basic ") else None
        return fake.handle("GET", url, headers={"Authorization": header}, auth=auth)

    with json_server(answer) as base:
        fake.endpoint = base + "/scim/v2"
        yield fake


def preflight(tmp_path, fake, **variables):
    """(rc, declared lists or the failure message)."""
    variables = {
        "scim_sync_idm_url": "http://127.0.0.1:9",
        "scim_sync_scim_endpoint": fake.endpoint,
        "scim_sync_scim_auth_method": "TOKEN",
        "scim_sync_scim_token": STATIC_TOKEN,
        **variables,
    }
    result, failure = run_play(tmp_path, PLAY, variables)
    assert STATIC_TOKEN not in result.stdout + result.stderr
    if failure is not None:
        return result.returncode, failure
    declared = re.search(r'"msg": "DECLARED (.*)"$', result.stdout, re.MULTILINE)
    assert declared, result.stdout + result.stderr
    return result.returncode, json.loads(declared.group(1).replace('\\"', '"'))


def test_the_provider_decides_both_attribute_sets(tmp_path, provider):
    rc, declared = preflight(tmp_path, provider)
    assert rc == 0
    assert declared == {
        "account": [
            "userName",
            "name",
            "emails",
            "active",
            "groups",
            "employeeNumber",
            "manager",
            "externalId",
            "meta",
        ],
        "group": ["displayName", "members", "externalId", "meta"],
    }


def test_a_provider_without_the_enterprise_extension(tmp_path, provider):
    provider.schemas_v2 = [V2_USER_SCHEMA, V2_GROUP_SCHEMA]
    provider.user_extensions = None
    rc, declared = preflight(tmp_path, provider)
    assert rc == 0 and "employeeNumber" not in declared["account"] and "manager" not in declared["account"]


def test_lists_naming_what_the_provider_lacks_are_refused(tmp_path, provider):
    provider.user_extensions = None  # /Schemas has the extension, the User resource type does not use it
    rc, message = preflight(
        tmp_path,
        provider,
        scim_sync_account_properties=["userName", "name", "emails", "department", "externalId"],
        scim_sync_group_properties=["displayName", "owner"],
    )
    assert rc == 2
    assert (
        "scim_sync_account_properties names department, which the provider has no User attribute for "
        "(it has: userName, name, emails, active, groups, externalId, meta)"
    ) in message
    assert "scim_sync_group_properties names owner" in message


def test_map_items_naming_what_the_provider_lacks_are_refused_unless_optional(tmp_path, provider):
    rc, message = preflight(
        tmp_path,
        provider,
        scim_sync_user_attribute_map_extra=[
            {"scim": "title", "idm": "title"},
            {"scim": "nickName", "idm": "nick", "optional": True},
        ],
    )
    assert rc == 2
    assert (
        "scim_sync_user_attribute_map_extra maps title <-> title, but the provider has no User attribute title"
        in message
    )
    assert "nickName" not in message
    # the default map's optional phoneNumbers item is not an error: this provider has no phoneNumbers
    assert "phoneNumbers" not in message
    rc, _declared = preflight(
        tmp_path, provider, scim_sync_user_attribute_map_extra=[{"scim": "title", "idm": "title", "optional": True}]
    )
    assert rc == 0


def test_an_extra_item_replaces_the_default_item_for_the_same_property(tmp_path, provider):
    # the provider has no name: the default givenName/sn items would be refused, the replacements are fine
    provider.schemas_v2 = [
        dict(V2_USER_SCHEMA, attributes=[a for a in V2_USER_SCHEMA["attributes"] if a["name"] != "name"]),
        V2_GROUP_SCHEMA,
    ]
    rc, message = preflight(tmp_path, provider)
    assert rc == 2 and "scim_sync_user_attribute_map maps name.givenName <-> givenName" in message
    rc, declared = preflight(
        tmp_path,
        provider,
        scim_sync_user_attribute_map_extra=[
            {"scim": "emails", "idm": "givenName", "kind": "multi"},
            {"scim": "userName", "idm": "sn"},
        ],
    )
    assert rc == 0 and "name" not in declared["account"]


def test_the_preflight_speaks_to_the_provider_only(tmp_path, provider):
    preflight(tmp_path, provider)
    paths = {call[1] for call in provider.calls}
    assert paths == {
        "/scim/v2/ServiceProviderConfig",
        "/scim/v2/Schemas",
        "/scim/v2/ResourceTypes",
        "/scim/v2/Users",
        "/scim/v2/Groups",
    }
    assert all(method == "GET" for method, _path, _query in provider.calls)
