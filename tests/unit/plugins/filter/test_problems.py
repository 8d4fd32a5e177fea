# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters sync_problems / connector_problems (the rules of module_utils/_validate.py), called directly and
through Ansible's templar, and against the shipped templates."""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.idmops.pingidm.plugins.filter import connector_problems as connector_filter
from ansible_collections.idmops.pingidm.plugins.filter import sync_problems as sync_filter
from ansible_collections.idmops.pingidm.plugins.module_utils import _vocabulary
from ansible_collections.idmops.pingidm.tests.unit.conftest import SCIM_CONNECTOR_REF

sync_problems = sync_filter.FilterModule().filters()["sync_problems"]
connector_problems = connector_filter.FilterModule().filters()["connector_problems"]

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
SECRET = "filter-Secr3t-value"

CONNECTOR = {
    "connectorRef": dict(SCIM_CONNECTOR_REF),
    "configurationProperties": {
        "SCIMEndpoint": "https://scim.example.com/scim/v2",
        "SCIMVersion": 2,
        "authenticationMethod": "OAUTH",
        "grantType": "client_credentials",
        "tokenEndpoint": "https://scim.example.com/token",
        "clientId": "idm",
        "clientSecret": SECRET,
    },
    "objectTypes": {
        "account": {"properties": {"userName": {"nativeName": "__NAME__"}, "emails": {}, "name": {}}},
        "group": {"properties": {"displayName": {"nativeName": "__NAME__"}, "members": {}}},
    },
}


def mapping(name, source, target, **extra):
    m = {
        "name": name,
        "source": source,
        "target": target,
        "properties": [{"source": "userName", "target": "userName"}],
        "policies": [{"situation": s, "action": a} for s, a in _vocabulary.DEFAULT_POLICY_ACTIONS.items()],
    }
    m.update(extra)
    return m


USERS = mapping("systemScimAccount_managedUser", "system/scim/account", "managed/user")
USERS_BACK = mapping(
    "managedUser_systemScimAccount", "managed/user", "system/scim/account", links="systemScimAccount_managedUser"
)
SYNC = {"mappings": [USERS, USERS_BACK]}


def test_a_good_set_has_no_problems_in_any_shape():
    assert sync_problems(SYNC, connectors={"scim": CONNECTOR}) == []
    assert sync_problems([USERS, USERS_BACK]) == []
    assert sync_problems(USERS) == []
    assert connector_problems(CONNECTOR) == []


def test_an_empty_set_is_a_problem():
    assert sync_problems({"mappings": []}) == ["no mappings"]
    assert sync_problems([]) == ["no mappings"]


def test_names_sides_properties_policies():
    bad = {
        "mappings": [
            dict(USERS, name=None),
            mapping("m2", "system/scim", "managed/user/x"),
            mapping(
                "m3",
                "managed/user",
                "system/scim/account",
                properties=[{"source": "x"}],
                policies=[
                    {"situation": "ABSENT", "action": "CRATE"},
                    {"situation": "ABSENCE", "action": "CREATE"},
                    {"situation": "MISSING", "action": "ignore"},
                ],
            ),
            mapping("m3", "managed/user", "managed/role"),
        ]
    }
    problems = sync_problems(bad)
    assert "mappings[0]: name is missing (a non-empty string)" in problems
    assert (
        "mapping m2: source 'system/scim' must be system/<connector>/<object type>, for example "
        "system/scim/account" in problems
    )
    assert "mapping m2: target 'managed/user/x' must be managed/<object>, for example managed/user" in problems
    assert "mapping m3: property #1 has no target" in problems
    assert "mapping m3: unknown situation ABSENCE" in problems
    assert "mapping m3: unknown action ignore for MISSING (names are upper case: IGNORE)" in problems
    assert any(p.startswith("mapping m3: unknown action CRATE for ABSENT (known: CREATE, UPDATE") for p in problems)
    assert "mapping name m3 is used more than once (mappings[2] and mappings[3])" in problems


@pytest.mark.parametrize(
    "other, expected",
    [
        (
            None,
            "mapping managedUser_systemScimAccount: links names unknown mapping systemScimAccount_managedUser "
            "(neither given nor on the server); IDM refuses to load the mappings then",
        ),
        (
            dict(USERS, target="managed/role"),
            "mapping managedUser_systemScimAccount: links names mapping systemScimAccount_managedUser, which goes from "
            "system/scim/account to managed/role; it must go the same way (managed/user to system/scim/account) or "
            "exactly the reverse way (system/scim/account to managed/user)",
        ),
    ],
)
def test_links_must_name_a_mapping_in_the_same_or_reverse_direction(other, expected):
    assert sync_problems([USERS_BACK] + ([other] if other else [])) == [expected]


def test_links_same_direction_and_mappings_on_the_server_count():
    same = mapping("second", "system/scim/account", "managed/user", links=USERS["name"])
    assert sync_problems([USERS, same]) == []
    assert sync_problems([USERS_BACK], existing=[USERS]) == []
    assert sync_problems([USERS_BACK], existing={USERS["name"]: USERS}) == []
    # the set wins over the server
    assert sync_problems([USERS_BACK, dict(USERS, source="managed/role")], existing=[USERS]) != []


def test_connector_side_types_and_attributes():
    bad = [
        mapping("m", "system/scim/accounts", "managed/user"),
        mapping(
            "n",
            "managed/user",
            "system/scim/account",
            properties=[{"source": "x", "target": "shoeSize"}, {"source": "y", "target": "name/givenName"}],
        ),
        mapping("o", "system/ldap/account", "managed/user"),
    ]  # not a connector given: not checked
    problems = sync_problems(bad, connectors={"scim": CONNECTOR})
    assert problems == [
        "mapping m: source system/scim/accounts is not an object type of the connector (known: account, group)",
        'mapping n: property target "shoeSize" is not an attribute of system/scim/account (known: emails, name, '
        "userName)",
    ]


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda c: c.pop("objectTypes"), "objectTypes is missing or not an object"),
        (lambda c: c["connectorRef"].pop("bundleVersion"), "connectorRef.bundleVersion is missing (set my_version)"),
        (
            lambda c: c["configurationProperties"].update(SCIMEndpoint="scim.example.com"),
            "configurationProperties.SCIMEndpoint must be an http(s) URL (set my_endpoint)",
        ),
        (
            lambda c: c["configurationProperties"].update(SCIMVersion=True),
            "configurationProperties.SCIMVersion must be 1 or 2",
        ),
        (
            lambda c: c["configurationProperties"].update(authenticationMethod="NTLM"),
            "configurationProperties.authenticationMethod must be OAUTH, BASIC or TOKEN",
        ),
        (
            lambda c: c["configurationProperties"].update(clientSecret=""),
            "configurationProperties.clientSecret is required for authenticationMethod OAUTH (set my_secret)",
        ),
        (
            lambda c: c["configurationProperties"].update(authenticationMethod="BASIC"),
            "configurationProperties.user is required for authenticationMethod BASIC",
        ),
        (
            lambda c: c["objectTypes"]["group"]["properties"]["displayName"].pop("nativeName"),
            "objectTypes.group needs exactly one attribute with nativeName __NAME__",
        ),
        (lambda c: c["objectTypes"].pop("account"), "objectTypes.account.properties is missing"),
    ],
)
def test_connector_rules_name_the_field_and_variable_never_the_value(change, expected):
    config = copy.deepcopy(CONNECTOR)
    change(config)
    variables = {
        "connectorRef.bundleVersion": "my_version",
        "configurationProperties.SCIMEndpoint": "my_endpoint",
        "configurationProperties.clientSecret": "my_secret",
    }
    problems = connector_problems(config, variables=variables)
    assert expected in problems
    assert SECRET not in json.dumps(problems) and "scim.example.com" not in json.dumps(problems)


def test_scim_rules_apply_to_the_scim_connector_only():
    ldap = {
        "connectorRef": {
            "bundleName": "org.forgerock.openicf.connectors.ldap-connector",
            "bundleVersion": "[1.5.0.0,1.6.0.0)",
            "connectorName": "org.identityconnectors.ldap.LdapConnector",
        },
        "configurationProperties": {"host": "ldap"},
        "objectTypes": {},
    }
    assert connector_problems(ldap) == []
    assert connector_problems([]) == ["the connector configuration is not an object"]


def _render(name, variables):
    """The template rendered as the role renders it: with the role's defaults, next to scim_attributes.j2."""
    templates = os.path.join(REPO, "conf_templates")
    with open(os.path.join(REPO, "roles", "scim_sync", "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = {k: v for k, v in yaml.safe_load(handle).items() if k.startswith("scim_sync_")}
    with open(os.path.join(templates, name), encoding="utf-8") as handle:
        text = handle.read()
    templar = Templar(loader=DataLoader(), variables=dict(defaults, **variables))
    templar = templar.copy_with_new_env(searchpath=[templates])
    return json.loads(templar.template(trust_as_template(text)))


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"scim_sync_connector_name": "hr", "scim_sync_account_properties": ["name", "emails"]},
    ],
)
def test_the_shipped_templates_have_no_problems(variables):
    variables = dict(
        {
            "scim_sync_scim_endpoint": "https://scim.example.com/scim/v2",
            "scim_sync_scim_token_endpoint": "https://scim.example.com/token",
            "scim_sync_scim_client_id": "idm",
            "scim_sync_scim_client_secret": SECRET,
        },
        **variables,
    )
    connector = _render("provisioner.openicf-scim.json.j2", variables)
    sync = _render("sync.json.j2", variables)
    assert connector_problems(connector) == []
    assert sync_problems(sync, connectors={variables.get("scim_sync_connector_name", "scim"): connector}) == []
