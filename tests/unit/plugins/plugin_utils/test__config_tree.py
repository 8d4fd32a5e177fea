# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config trees: file names as IDM's conf/ reads them, apply order, exported files (secrets as Vault references,
Jinja-safe text) rendered back through the collection's own template action, and the prune plan."""

from __future__ import annotations

import json
import os

import pytest
import yaml

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

try:
    from ansible.template import trust_as_template
except ImportError:  # ansible-core < 2.19 templates any string

    def trust_as_template(value):
        return value


from ansible_collections.idmops.pingidm.plugins.action import config as config_action
from ansible_collections.idmops.pingidm.plugins.filter import config_tree_prune
from ansible_collections.idmops.pingidm.plugins.module_utils import _compare, _config_info
from ansible_collections.idmops.pingidm.plugins.plugin_utils import _config_tree
from ansible_collections.idmops.pingidm.tests.unit.action_harness import make_action

ROLE_TASKS = os.path.join(os.path.dirname(_config_tree.__file__), "..", "..", "roles", "scim_sync", "tasks")


def role_tasks(name):
    with open(os.path.join(ROLE_TASKS, name), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


SECRET = 'scim-Secr3t "quoted" \\ back\\slash {{ not jinja }}'
CRYPTO = {"$crypto": {"type": "x-simple-encryption", "value": {"data": "AAAA", "iv": "BBBB"}}}
CONNECTOR = {
    "_id": "provisioner.openicf/scim",
    "_rev": "3",
    "connectorRef": {"connectorName": "org.forgerock.openicf.connectors.scim.ScimConnector"},
    "configurationProperties": {
        "SCIMEndpoint": "https://scim.test/v2",
        "clientId": "idm",
        "clientSecret": CRYPTO,
        "password": None,
    },
    "objectTypes": {"account": {"properties": {"userName": {"type": "string", "nativeName": "__NAME__"}}}},
}
MAPPING = {
    "name": "m1",
    "source": "system/scim/account",
    "target": "managed/user",
    "properties": [
        {
            "source": "",
            "target": "displayName",
            "transform": {"type": "text/javascript", "source": "var t = '{{x}} {%y%} {#z#}'; source.a + '}}' + t;"},
        }
    ],
    "policies": [{"situation": "ABSENT", "action": "CREATE"}],
}


@pytest.mark.parametrize(
    "cid, name",
    [
        ("sync", "sync.json"),
        ("managed", "managed.json"),
        ("repo.ds", "repo.ds.json"),
        ("provisioner.openicf/scim", "provisioner.openicf-scim.json"),
        ("schedule/recon-users", "schedule-recon-users.json"),
        ("mapping/systemScimAccount_managedUser", "mapping-systemScimAccount_managedUser.json"),
        ("ui.context/admin", "ui.context-admin.json"),
    ],
)
def test_file_names_round_trip_like_idm_conf(cid, name):
    assert _config_tree.file_name(cid) == name
    assert _config_tree.config_id("/some/dir/" + name) == cid


@pytest.mark.parametrize("cid", ["my-factory/x", "a-b", "a/b/c", "a/"])
def test_ids_that_cannot_be_conf_file_names(cid):
    with pytest.raises(_config_tree.TreeError, match=cid.replace("/", ".")):
        _config_tree.file_name(cid)


def test_plan_orders_what_objects_refer_to_first():
    files = [
        "t/schedule-b.json",
        "t/sync.json",
        "t/endpoint-x.json",
        "t/provisioner.openicf-scim.json",
        "t/managed.json",
        "t/mapping-m.json",
        "t/schedule-a.json",
        "t/provisioner.openicf-ldap.json",
    ]
    plan = _config_tree.plan(files)
    assert [e["id"] for e in plan] == [
        "provisioner.openicf/ldap",
        "provisioner.openicf/scim",
        "managed",
        "endpoint/x",
        "mapping/m",
        "sync",
        "schedule/a",
        "schedule/b",
    ]
    assert [e["kind"] for e in plan] == [
        "connector",
        "connector",
        "managed",
        "config",
        "mapping",
        "sync",
        "schedule",
        "schedule",
    ]
    assert plan[0]["name"] == "ldap" and plan[0]["path"] == "t/provisioner.openicf-ldap.json"


def test_plan_puts_a_mapping_after_the_mapping_it_links_to(tmp_path):
    def write(name, body):
        path = tmp_path / name
        path.write_text(body)
        return str(path)

    files = [
        write("mapping-a_reverse.json", json.dumps({"name": "a_reverse", "links": "z_forward"})),
        write("mapping-b.json", "{{ not json before rendering }}"),
        write("mapping-z_forward.json", json.dumps({"name": "z_forward"})),
        write("mapping-loop1.json", json.dumps({"name": "loop1", "links": "loop2"})),
        write("mapping-loop2.json", json.dumps({"name": "loop2", "links": "loop1"})),
        write("sync.json", "{}"),
        write("schedule-s.json", "{}"),
        write("managed.json", "{}"),
    ]
    plan = _config_tree.plan(files)
    assert [e["id"] for e in plan] == [
        "managed",
        "mapping/z_forward",
        "mapping/a_reverse",
        "mapping/b",
        "mapping/loop2",
        "mapping/loop1",
        "sync",
        "schedule/s",
    ]


def test_plan_names_every_bad_file():
    with pytest.raises(_config_tree.TreeError) as error:
        _config_tree.plan(["t/-x.json", "t/README.md", "t/ok.json", "t/a-.json"])
    assert "-x.json" in str(error.value) and "README.md" in str(error.value) and "a-.json" in str(error.value)


def _render_back(tmp_path, exported, variables):
    """Render an exported file exactly as apply does: the config action plugin's template option."""
    path = tmp_path / exported["file"]
    path.write_text(exported["content"])
    action, calls = make_action(config_action, {"id": exported["id"], "template": str(path)}, tmp_path)
    action.run(task_vars=dict(variables))
    return calls[-1][1]["config"]


def test_export_writes_references_and_renders_back_to_the_object(tmp_path):
    item = _config_info.describe("provisioner.openicf/scim", CONNECTOR)
    exported = _config_tree.export(item, "idm-eu")
    assert exported["file"] == "provisioner.openicf-scim.json" and exported["kind"] == "connector"
    text = exported["content"]
    assert "AAAA" not in text and "$crypto" not in text and "_rev" not in text and '"_id"' not in text
    assert "{{ scim_sync_config_secrets['scim_client_secret'] }}" in text
    assert exported["secrets"] == [
        {
            "name": "clientSecret",
            "key": "scim_client_secret",
            "path": ["configurationProperties", "clientSecret"],
            "vault_variable": "vault_idm_eu_scim_client_secret",
        }
    ]
    # Pretty, sorted, one trailing newline: the same object always gives the same bytes.
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    rendered = _render_back(tmp_path, exported, {"scim_sync_config_secrets": {"scim_client_secret": "plain-value"}})
    expected = _compare.normalise(CONNECTOR)
    expected["configurationProperties"]["clientSecret"] = "plain-value"
    assert rendered == expected


def test_jinja_lookalike_text_renders_back_unchanged(tmp_path):
    exported = _config_tree.export(_config_info.describe("mapping/m1", MAPPING), "t1")
    assert "{{x}}" not in exported["content"]
    assert _render_back(tmp_path, exported, {}) == MAPPING


def test_secret_with_json_special_characters_renders_when_escaped_as_apply_does(tmp_path):
    # apply passes scim_sync_config_secrets with each value JSON-escaped (to_json without the quotes).
    exported = _config_tree.export(_config_info.describe("provisioner.openicf/scim", CONNECTOR), "t1")
    escaped = json.dumps(SECRET)[1:-1]
    rendered = _render_back(tmp_path, exported, {"scim_sync_config_secrets": {"scim_client_secret": escaped}})
    assert rendered["configurationProperties"]["clientSecret"] == SECRET


def test_secrets_outside_connectors_and_in_lists():
    document = {"auth": {"password": "clear"}, "remoteConnectorServers": [{"name": "rcs", "key": CRYPTO}]}
    exported = _config_tree.export(_config_info.describe("external.email", document), "tenant-1.eu")
    assert [s["vault_variable"] for s in exported["secrets"]] == [
        "vault_tenant_1_eu_external_email_auth_password",
        "vault_tenant_1_eu_external_email_remote_connector_servers_0_key",
    ]
    assert "clear" not in exported["content"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("clientSecret", "client_secret"),
        ("SCIMEndpoint", "scim_endpoint"),
        ("keyStorePassword", "key_store_password"),
        ("idm-EU", "idm_eu"),
        ("tenant1", "tenant1"),
        ("Tenant-1.prod", "tenant_1_prod"),
        ("authToken", "auth_token"),
        ("remoteConnectorServers.0.key", "remote_connector_servers_0_key"),
        ("myHTTPProxy2Password", "my_http_proxy2_password"),
    ],
)
def test_variable_name_parts_are_snake_case(text, expected):
    assert _config_tree.token(text) == expected


@pytest.mark.parametrize("hostname", ["tenant1", "idm-EU", "Tenant-1.prod", "myIDMHost", "a.b-c_D"])
def test_the_role_computes_the_tenant_part_as_the_export_does(hostname):
    # apply.yml derives scim_sync_config_secrets from vault_<tenant token>_* with this Jinja expression.
    expression = role_tasks("apply.yml")[0]["ansible.builtin.set_fact"]["scim_sync__tenant_token"]
    templar = Templar(loader=DataLoader(), variables={"inventory_hostname": hostname})
    assert templar.template(trust_as_template(expression)).strip() == _config_tree.token(hostname)
    exported = role_tasks("export.yml")[0]["vars"]["scim_sync__tenant_token"]
    assert exported == expression


def test_duplicate_secret_names_are_refused():
    document = {"a.b": {"password": "x"}, "a": {"b": {"password": "y"}}}
    with pytest.raises(_config_tree.TreeError, match="share a variable name"):
        _config_tree.export(_config_info.describe("thing", document), "t")


def test_prune_removes_only_managed_kinds_in_reverse_order_and_never_protected_ones():
    tree = ["provisioner.openicf/scim", "sync", "schedule/a", "endpoint/mine", "managed"]
    server = [
        "provisioner.openicf/scim",
        "provisioner.openicf/old",
        "provisioner.openicf.connectorinfoprovider",
        "sync",
        "managed",
        "audit",
        "schedule/a",
        "schedule/old",
        "mapping/x",
        "endpoint/mine",
        "endpoint/linkedView",
        "ui/configuration",
        "repo.ds",
    ]
    plan = _config_tree.prune(tree, server)
    assert plan["remove"] == ["schedule/old", "provisioner.openicf/old"]
    assert plan["protected"] == ["endpoint/linkedView"]
    assert plan["kinds"] == ["endpoint/*", "provisioner.openicf/*", "schedule/*"]
    allowed = _config_tree.prune(tree, server, allow=["endpoint/linked*"])
    assert allowed["remove"] == ["schedule/old", "endpoint/linkedView", "provisioner.openicf/old"]


@pytest.mark.parametrize(
    "cid",
    [
        "ui/configuration",
        "ui.context/admin",
        "authentication",
        "audit",
        "repo.ds",
        "repo.jdbc",
        "endpoint/gettasksview",
        "webserver.listener/https",
        "selfservice/registration",
        "servletfilter/cors",
        "emailTemplate/welcome",
    ],
)
def test_idm_own_objects_are_protected(cid):
    assert _config_tree.is_protected(cid)
    assert not _config_tree.is_protected(cid, allow=[cid])


def test_protected_list_in_the_docs_is_the_one_the_code_uses():
    docs = yaml.safe_load(config_tree_prune.DOCUMENTATION)["description"][1]
    for pattern in _config_tree.PROTECTED:
        assert "C(%s)" % pattern in docs, pattern
    assert docs.count("C(") == len(_config_tree.PROTECTED)
