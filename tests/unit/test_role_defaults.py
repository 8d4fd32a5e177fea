# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's documented defaults are its real defaults: meta/argument_specs.yml (what ansible-doc shows) equals
defaults/main.yml, and the attribute maps have one source (the templates carry no copy)."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible_collections.idmops.pingidm.tests.unit.ansible_cli import REPO, ansible_tool, needs_collection

ROLE = os.path.join(REPO, "roles", "scim_sync")
# The variables of the attribute maps and attribute sets: each must have a documented default.
ATTRIBUTE_VARIABLES = [
    "scim_sync_user_attribute_map",
    "scim_sync_user_attribute_map_extra",
    "scim_sync_group_attribute_map",
    "scim_sync_group_attribute_map_extra",
    "scim_sync_account_properties",
    "scim_sync_group_properties",
    "scim_sync_preflight",
]


def load(*parts):
    with open(os.path.join(ROLE, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


DEFAULTS = load("defaults", "main.yml")
SPECS = load("meta", "argument_specs.yml")["argument_specs"]


@pytest.mark.parametrize("entry_point", sorted(SPECS))
def test_documented_defaults_equal_the_role_defaults(entry_point):
    options = SPECS[entry_point]["options"]
    for name, spec in options.items():
        if "default" in spec:
            assert DEFAULTS.get(name) == spec["default"], name
    # Entry points that render the templates (main, provision) document every attribute variable's default;
    # reconcile renders nothing and declares none of them.
    declared = [name for name in ATTRIBUTE_VARIABLES if name in options]
    assert declared in ([], ATTRIBUTE_VARIABLES), (entry_point, declared)
    for name in declared:
        assert "default" in options[name], name


@pytest.mark.parametrize("variable", sorted(DEFAULTS))
def test_every_role_default_is_documented_with_its_value(variable):
    """What `ansible-doc -t role` prints as the default is what the role uses, in every entry point that declares
    the variable (an option documented without a default counts too)."""
    declared = {name: entry["options"][variable] for name, entry in SPECS.items() if variable in entry["options"]}
    assert declared, "%s is in defaults/main.yml but in no entry point of the argument spec" % variable
    for entry_point, spec in declared.items():
        assert spec.get("default") == DEFAULTS[variable], (variable, entry_point)


def test_the_entry_points_that_render_templates_declare_the_attribute_variables():
    assert all(name in SPECS["provision"]["options"] for name in ATTRIBUTE_VARIABLES)
    assert all(name in SPECS["main"]["options"] for name in ATTRIBUTE_VARIABLES)


def test_the_templates_carry_no_copy_of_the_default_maps():
    with open(os.path.join(REPO, "conf_templates", "sync.json.j2"), encoding="utf-8") as handle:
        text = handle.read()
    assert "scim_sync_user_attribute_map | default(" not in text
    assert "scim_sync_group_attribute_map | default(" not in text
    assert "'name.familyName'" not in text and "'telephoneNumber'" not in text


@needs_collection
def test_ansible_doc_shows_the_real_default_maps():
    result = ansible_tool("ansible-doc", "-t", "role", "--json", "idmops.pingidm.scim_sync", check=True)
    options = json.loads(result.stdout)["idmops.pingidm.scim_sync"]["entry_points"]["main"]["options"]
    for name in ATTRIBUTE_VARIABLES:
        assert options[name]["default"] == DEFAULTS[name], name
    assert len(options["scim_sync_user_attribute_map"]["default"]) == 6
