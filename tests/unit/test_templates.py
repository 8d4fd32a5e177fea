# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""conf_templates/: render with Ansible's own templar and several variable sets, then check the documents the
way IDM would read them, and run the generated JavaScript (ES5) in a real JS engine (quickjs) against the
transforms' contract: forward and reverse values, convergence of a round trip, member lookups."""

from __future__ import annotations

import functools
import json
import os
import re

import pytest
import yaml

quickjs = pytest.importorskip("quickjs")

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

from ansible_collections.idmops.pingidm.plugins.filter import sync_problems as _sync_filter  # noqa: E402
from ansible_collections.idmops.pingidm.tests.unit.ansible_cli import needs_collection, run_play  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(REPO, "conf_templates")
ROLE = os.path.join(REPO, "roles", "scim_sync")
with open(os.path.join(ROLE, "defaults", "main.yml"), encoding="utf-8") as _handle:
    ROLE_DEFAULTS = yaml.safe_load(_handle)
# What the role gives the templates: its defaults (the only copy of the default attribute maps).
TEMPLATE_DEFAULTS = {key: value for key, value in ROLE_DEFAULTS.items() if key.startswith("scim_sync_")}
SAMPLE_MAPPINGS = [
    "systemScimAccount_managedUser",
    "managedUser_systemScimAccount",
    "systemScimGroup_managedRole",
    "managedRole_systemScimGroup",
]
SITUATIONS = {
    "SOURCE_IGNORED",
    "SOURCE_MISSING",
    "MISSING",
    "FOUND_ALREADY_LINKED",
    "UNQUALIFIED",
    "UNASSIGNED",
    "LINK_ONLY",
    "TARGET_IGNORED",
    "ALL_GONE",
    "CONFIRMED",
    "FOUND",
    "ABSENT",
    "AMBIGUOUS",
}

OAUTH = {
    "scim_sync_scim_endpoint": "https://scim.example.com/scim/v2",
    "scim_sync_scim_token_endpoint": "https://scim.example.com/oauth2/token",
    "scim_sync_scim_client_id": "idm-client",
    "scim_sync_scim_client_secret": 's3cr"et\\with {{ braces }} and ünïcode',
}


@functools.cache
def _render_cached(name, variables_json):
    with open(os.path.join(TEMPLATES, name), encoding="utf-8") as handle:
        text = handle.read()
    # The templates import scim_attributes.j2 from their own directory, as the role's renderers allow.
    templar = Templar(loader=DataLoader(), variables=json.loads(variables_json))
    templar = templar.copy_with_new_env(searchpath=[TEMPLATES])
    return templar.template(trust_as_template(text))


def render(name, variables, defaults=True):
    """The parsed document, rendered with the role's defaults under ``variables`` (rendering is cached: several
    tests share a variable set; results are fresh copies)."""
    variables = {**(TEMPLATE_DEFAULTS if defaults else {}), **variables}
    return json.loads(_render_cached(name, json.dumps(variables, sort_keys=True)))


def connector(**extra):
    return render("provisioner.openicf-scim.json.j2", {**OAUTH, **extra})


def mappings(**extra):
    return {m["name"]: m for m in render("sync.json.j2", {**OAUTH, **extra})["mappings"]}


sync_problems = _sync_filter.FilterModule().filters()["sync_problems"]


def reference_problems(sync_doc, connector_doc, connector_name="scim"):
    """The role's validation rules (the sync_problems filter) on a rendered sync.json and connector."""
    return sync_problems(sync_doc, connectors={connector_name: connector_doc})


def scripts_of(doc):
    """Every script object in a document."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "text/javascript" and "source" in node:
                found.append(node["source"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    return found


class Js:
    """Evaluates a mapping script with IDM-style globals; ``openidm`` is a stub backed by Python dicts."""

    def __init__(self, objects=None):
        self.context = quickjs.Context()
        self.context.set_time_limit(2)
        self.context.eval("var __objects = %s;" % json.dumps(objects or {}))
        # openidm.read(id) -> object or null; openidm.query(resource, {_queryFilter: 'attr eq "v"'}) -> {result}
        self.context.eval(r"""
            var openidm = {
              read: function (id) { return __objects[id] === undefined ? null : __objects[id]; },
              query: function (resource, params) {
                var m = /^(\w+) eq "((?:[^"\\]|\\.)*)"$/.exec(params._queryFilter), out = [], k, v;
                if (!m) { throw new Error("unsupported filter " + params._queryFilter); }
                v = JSON.parse('"' + m[2] + '"');
                for (k in __objects) {
                  if (k.indexOf(resource + "/") === 0 && String(__objects[k][m[1]]).toLowerCase() === v.toLowerCase()) {
                    out.push(__objects[k]);
                  }
                }
                return {result: out};
              }
            };""")

    def run(self, script, **bindings):
        for name, value in bindings.items():
            self.context.eval("var %s = %s;" % (name, json.dumps(value)))
        result = self.context.eval(script)
        return json.loads(result.json()) if hasattr(result, "json") else result

    def value(self, name):
        return json.loads(self.context.eval("JSON.stringify(%s)" % name))


def transform(mapping, target):
    return next(p for p in mapping["properties"] if p["target"] == target)


# ---------- provisioner.openicf-scim.json ----------


def test_connector_oauth_fields_and_defaults():
    doc = connector()
    ref = doc["connectorRef"]
    assert ref["bundleName"] == "org.forgerock.openicf.connectors.scim-connector"
    assert ref["connectorName"] == "org.forgerock.openicf.connectors.scim.ScimConnector"
    assert ref["bundleVersion"] == "[1.5.0.0,1.6.0.0)"
    assert doc["enabled"] is True
    props = doc["configurationProperties"]
    assert props["SCIMVersion"] == 2 and props["authenticationMethod"] == "OAUTH"
    assert props["grantType"] == "client_credentials"
    assert props["clientSecret"] == OAUTH["scim_sync_scim_client_secret"]  # quotes, braces, unicode survive
    assert props["user"] is None and props["password"] is None and props["authToken"] is None
    assert props["httpProxyHost"] is None and props["httpProxyPort"] is None
    assert props["connectionTimeout"] == 30 and props["maximumConnections"] == 10
    assert props["usePathForPatchV2"] is False
    assert doc["poolConfigOption"]["maxObjects"] == 10
    assert set(doc["operationTimeout"].values()) == {-1} and len(doc["operationTimeout"]) == 13
    assert doc["resultsHandlerConfig"]["enableAttributesToGetSearchResultsHandler"] is True


@pytest.mark.parametrize(
    "method, extra, present, absent",
    [
        (
            "BASIC",
            {"scim_sync_scim_user": "u", "scim_sync_scim_password": "p'w\"d"},
            {"user": "u", "password": "p'w\"d"},
            ["clientId", "clientSecret", "tokenEndpoint", "grantType", "authToken"],
        ),
        (
            "TOKEN",
            {"scim_sync_scim_token": "tok\\en"},
            {"authToken": "tok\\en"},
            ["clientId", "clientSecret", "tokenEndpoint", "grantType", "user", "password"],
        ),
        ("oauth", {}, {"clientId": "idm-client"}, ["user", "password", "authToken"]),
    ],
)
def test_connector_auth_methods_null_unused_fields(method, extra, present, absent):
    props = connector(scim_sync_scim_auth_method=method, **extra)["configurationProperties"]
    assert props["authenticationMethod"] == method.upper()
    for key, value in present.items():
        assert props[key] == value
    for key in absent:
        assert props[key] is None, key


def test_connector_options_and_version_one():
    doc = connector(
        scim_sync_scim_version="1",
        scim_sync_connector_bundle_version="[1.5.19.0,1.6.0.0)",
        scim_sync_scim_http_proxy_host="proxy",
        scim_sync_scim_http_proxy_port="3128",
        scim_sync_connector_enabled=False,
        scim_sync_connector_operation_timeout={"SEARCH": 60000},
        scim_sync_scim_accept_self_signed_certificates=True,
    )
    props = doc["configurationProperties"]
    assert props["SCIMVersion"] == 1
    assert props["httpProxyHost"] == "proxy" and props["httpProxyPort"] == 3128
    assert props["acceptSelfSignedCertificates"] is True
    assert doc["connectorRef"]["bundleVersion"] == "[1.5.19.0,1.6.0.0)"
    assert doc["enabled"] is False
    assert doc["operationTimeout"]["SEARCH"] == 60000 and doc["operationTimeout"]["CREATE"] == -1


def test_connector_object_types():
    types = connector()["objectTypes"]
    account, group = types["account"], types["group"]
    assert account["nativeType"] == "__ACCOUNT__" and group["nativeType"] == "__GROUP__"
    assert account["properties"]["userName"] == {
        "type": "string",
        "nativeName": "__NAME__",
        "nativeType": "string",
        "required": True,
    }
    assert group["properties"]["displayName"]["nativeName"] == "__NAME__"
    for name in ("emails", "phoneNumbers", "addresses", "groups"):
        assert account["properties"][name]["type"] == "array"
    assert account["properties"]["meta"]["flags"] == ["NOT_CREATABLE", "NOT_UPDATEABLE"]
    assert account["properties"]["groups"]["flags"] == ["NOT_CREATABLE", "NOT_UPDATEABLE"]
    assert "NOT_READABLE" in account["properties"]["__PASSWORD__"]["flags"]
    assert sorted(group["properties"]) == ["displayName", "externalId", "members", "meta"]
    for schema in (account, group):
        for name, spec in schema["properties"].items():
            assert {"type", "nativeName", "nativeType"} <= set(spec), name


ENTERPRISE = ["employeeNumber", "costCenter", "organization", "division", "department", "manager"]
# The SCIM core attributes that the role's default user map and EXTRAS (below) map.
MAPPED_CORE = ["userName", "name", "displayName", "title", "active", "emails", "phoneNumbers", "externalId"]


def test_connector_default_is_the_scim_core_without_the_enterprise_extension():
    # A provider without the enterprise extension refuses every PATCH that names one of its attributes, so the
    # default (no preflight, no list) declares the core attributes only.
    properties = connector()["objectTypes"]["account"]["properties"]
    assert not set(ENTERPRISE) & set(properties)
    assert {*MAPPED_CORE, "__PASSWORD__"} <= set(properties)
    listed = connector(scim_sync_account_properties=["name", "emails", "department", "manager"])
    assert sorted(listed["objectTypes"]["account"]["properties"]) == [
        "department",
        "emails",
        "manager",
        "name",
        "userName",
    ]


def test_connector_limited_account_properties_keep_user_name():
    props = connector(scim_sync_account_properties=["emails", "active", "unknownThing"])["objectTypes"]["account"]
    assert sorted(props["properties"]) == ["active", "emails", "userName"]
    props = connector(scim_sync_account_properties=["password"])["objectTypes"]["account"]
    assert sorted(props["properties"]) == ["__PASSWORD__", "userName"]


def test_connector_group_properties_keep_display_name():
    group = connector(scim_sync_group_properties=["externalId"])["objectTypes"]["group"]
    assert sorted(group["properties"]) == ["displayName", "externalId"]


def test_templates_need_the_attribute_maps_outside_the_role():
    with pytest.raises(Exception, match="scim_sync_user_attribute_map"):
        render("sync.json.j2", OAUTH, defaults=False)


# ---------- sync.json ----------


def test_sync_has_the_four_sample_mappings():
    doc = render("sync.json.j2", OAUTH)
    by_name = {m["name"]: m for m in doc["mappings"]}
    assert [m["name"] for m in doc["mappings"]] == SAMPLE_MAPPINGS
    assert (by_name["systemScimAccount_managedUser"]["source"], by_name["systemScimAccount_managedUser"]["target"]) == (
        "system/scim/account",
        "managed/user",
    )
    assert by_name["managedUser_systemScimAccount"]["links"] == "systemScimAccount_managedUser"
    assert (by_name["systemScimGroup_managedRole"]["source"], by_name["systemScimGroup_managedRole"]["target"]) == (
        "system/scim/group",
        "managed/role",
    )
    assert by_name["managedRole_systemScimGroup"]["links"] == "systemScimGroup_managedRole"
    assert reference_problems(doc, connector()) == []


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"scim_sync_account_properties": ["name", "emails"]},
        {"scim_sync_connector_name": "hr", "scim_sync_sync_members": False},
        {
            "scim_sync_user_attribute_map": [
                {"scim": "userName", "idm": "userName"},
                {"scim": "nickName", "idm": "description"},
                {"scim": "addresses", "idm": "postalAddress", "type": "home"},
            ]
        },
    ],
)
def test_sync_references_only_declared_connector_attributes(variables):
    doc = render("sync.json.j2", {**OAUTH, **variables})
    connector_doc = render("provisioner.openicf-scim.json.j2", {**OAUTH, **variables})
    assert reference_problems(doc, connector_doc, variables.get("scim_sync_connector_name", "scim")) == []
    assert len({m["name"] for m in doc["mappings"]}) == 4


def test_sync_limited_account_properties_drop_unmapped_attributes():
    by_name = mappings(scim_sync_account_properties=["name", "emails"])
    forward = {p["target"] for p in by_name["systemScimAccount_managedUser"]["properties"]}
    assert forward == {"userName", "givenName", "sn", "mail"}
    reverse = {p["target"] for p in by_name["managedUser_systemScimAccount"]["properties"]}
    assert reverse == {"userName", "name", "emails"}


def test_reference_validation_catches_undeclared_attribute():
    doc = render("sync.json.j2", {**OAUTH, "scim_sync_user_attribute_map": [{"scim": "shoeSize", "idm": "shoeSize"}]})
    problems = reference_problems(doc, connector())
    assert any("systemScimAccount_managedUser" in p and "shoeSize" in p for p in problems), problems


def test_policies_converge_and_overrides_merge():
    by_name = mappings(scim_sync_policy_overrides={"managedUser_systemScimAccount": {"SOURCE_MISSING": "UNLINK"}})
    for name, mapping in by_name.items():
        policies = {p["situation"]: p["action"] for p in mapping["policies"]}
        assert set(policies) == SITUATIONS, name
        assert policies["ABSENT"] == "CREATE" and policies["CONFIRMED"] == "UPDATE" and policies["FOUND"] == "UPDATE"
        assert policies["AMBIGUOUS"] == "EXCEPTION" and policies["MISSING"] == "EXCEPTION"
        assert policies["UNASSIGNED"] == "IGNORE"
    assert {p["situation"]: p["action"] for p in by_name["managedUser_systemScimAccount"]["policies"]}[
        "SOURCE_MISSING"
    ] == "UNLINK"
    assert {p["situation"]: p["action"] for p in by_name["systemScimAccount_managedUser"]["policies"]}[
        "SOURCE_MISSING"
    ] == "DELETE"


def test_scripts_are_es5():
    doc = render("sync.json.j2", OAUTH)
    sources = scripts_of(doc)
    assert len(sources) >= 12
    for source in sources:
        assert not re.search(r"\b(let|const|class)\s|=>|`|\.\.\.", source), source
        quickjs.Context().eval("(function () { return function () {" + source + "\n}; })")  # parses


# ---------- the JavaScript, executed ----------

# The role's default map plus the three attributes stock managed.json does not declare, with the enterprise
# extension declared: every kind of transform is exercised.
EXTRAS = [
    {"scim": "displayName", "idm": "displayName"},
    {"scim": "title", "idm": "title"},
    {"scim": "department", "idm": "department", "optional": True},
]
ALL_ACCOUNT = [*MAPPED_CORE, "department"]


def full_mappings(**extra):
    return mappings(
        **{"scim_sync_user_attribute_map_extra": EXTRAS, "scim_sync_account_properties": ALL_ACCOUNT, **extra}
    )


SEED_USER = {
    "_id": "u1",
    "userName": "ana.o'neil",
    "displayName": "Ana O'Neil",
    "title": "Engineer",
    "active": False,
    "department": "IT",
    "name": {"givenName": "Ana", "familyName": "O'Neil", "formatted": "Ana O'Neil"},
    "emails": [
        {"value": "home@example.com", "type": "home"},
        {"value": "ana@example.com", "type": "work", "primary": True},
    ],
    "phoneNumbers": [{"value": "+1 555 1", "type": "mobile"}, {"value": "+1 555 2", "type": "work"}],
}


def forward_user(js, by_name, scim_user):
    out = {}
    for prop in by_name["systemScimAccount_managedUser"]["properties"]:
        value = scim_user.get(prop["source"])
        if "transform" in prop:
            value = js.run(prop["transform"]["source"], source=value)
        out[prop["target"]] = value
    return out


def reverse_user(js, by_name, idm_user, old_scim_user):
    """IDM's UPDATE: a copy of the target as read, every property mapping put on it, then onUpdate."""
    mapping = by_name["managedUser_systemScimAccount"]
    target = json.loads(json.dumps(old_scim_user))
    for prop in mapping["properties"]:
        value = idm_user if prop["source"] == "" else idm_user.get(prop["source"])
        if "transform" in prop:
            value = js.run(prop["transform"]["source"], source=value)
        target[prop["target"]] = value
    js.run(mapping["onUpdate"]["source"], target=target, oldTarget=old_scim_user)
    return js.value("target")


def test_default_user_map_satisfies_idm_default_policy():
    # IDM's default managed user policy requires userName, givenName, sn and mail; the default map fills them,
    # and maps only properties the default managed.json declares.
    forward = {p["target"] for p in mappings()["systemScimAccount_managedUser"]["properties"]}
    assert {"userName", "givenName", "sn", "mail"} <= forward
    assert forward <= {"userName", "givenName", "sn", "mail", "telephoneNumber", "accountStatus"}
    # IDM's default role policy: name (7.x), name and description (5.x)
    assert {p["target"] for p in mappings()["systemScimGroup_managedRole"]["properties"]} == {
        "name",
        "description",
        "members",
    }


def test_extra_entries_are_appended_and_replace_the_same_idm_property():
    by_name = mappings(
        scim_sync_user_attribute_map_extra=[
            {"scim": "title", "idm": "title"},
            {"scim": "nickName", "idm": "telephoneNumber"},
        ]
    )
    forward = {p["target"]: p["source"] for p in by_name["systemScimAccount_managedUser"]["properties"]}
    assert forward["title"] == "title" and forward["telephoneNumber"] == "nickName"
    reverse = [p["target"] for p in by_name["managedUser_systemScimAccount"]["properties"]]
    assert "phoneNumbers" not in reverse and "nickName" in reverse
    groups = mappings(scim_sync_group_attribute_map_extra=[{"scim": "externalId", "idm": "externalId"}])
    assert {"source": "externalId", "target": "externalId"} in groups["systemScimGroup_managedRole"]["properties"]


def test_optional_entries_follow_the_declared_attributes_and_required_ones_stay():
    core = full_mappings(scim_sync_account_properties=[])  # no list: the SCIM core, no enterprise extension
    assert "department" not in {p["target"] for p in core["managedUser_systemScimAccount"]["properties"]}
    with_enterprise = full_mappings()
    assert "department" in {p["target"] for p in with_enterprise["managedUser_systemScimAccount"]["properties"]}
    # a required (not optional) item for an attribute the connector does not declare stays in the mapping, so
    # the role's validation names it instead of silently syncing less than asked
    by_name = mappings(scim_sync_account_properties=["emails"])
    assert "name" in {p["target"] for p in by_name["managedUser_systemScimAccount"]["properties"]}
    assert "phoneNumbers" not in {p["target"] for p in by_name["managedUser_systemScimAccount"]["properties"]}
    # no members declared: no member sync
    groups = mappings(scim_sync_group_properties=["externalId"])
    assert "members" not in {p["target"] for p in groups["systemScimGroup_managedRole"]["properties"]}


def test_forward_user_transforms():
    js, by_name = Js(), full_mappings()
    user = forward_user(js, by_name, SEED_USER)
    assert user == {
        "userName": "ana.o'neil",
        "givenName": "Ana",
        "sn": "O'Neil",
        "mail": "ana@example.com",
        "telephoneNumber": "+1 555 2",
        "accountStatus": "inactive",
        "displayName": "Ana O'Neil",
        "title": "Engineer",
        "department": "IT",
    }
    bare = forward_user(js, by_name, {"userName": "x", "emails": [{"value": "only@example.com"}]})
    assert bare["mail"] == "only@example.com" and bare["accountStatus"] == "active"
    assert bare["givenName"] is None and bare["telephoneNumber"] is None


def test_round_trip_converges_and_preserves_provider_values():
    js, by_name = Js(), full_mappings()
    idm_user = forward_user(js, by_name, SEED_USER)
    # Nothing changed in IDM: the reverse mapping writes back exactly what the provider has.
    back = reverse_user(js, by_name, idm_user, SEED_USER)
    assert back == SEED_USER
    assert forward_user(js, by_name, back) == idm_user
    # A change in IDM replaces the chosen value only; other e-mails, phones and name parts stay, and the
    # formatted name the provider derived from the parts follows them.
    changed = dict(idm_user, telephoneNumber="+1 555 9", sn="Smith", accountStatus="active")
    after = reverse_user(js, by_name, changed, SEED_USER)
    assert after["phoneNumbers"] == [{"value": "+1 555 1", "type": "mobile"}, {"value": "+1 555 9", "type": "work"}]
    assert after["emails"] == SEED_USER["emails"]
    assert after["name"] == {"givenName": "Ana", "familyName": "Smith", "formatted": "Ana Smith"}
    assert after["active"] is True
    assert forward_user(js, by_name, after) == changed


def test_reverse_user_keeps_a_formatted_name_the_provider_did_not_derive():
    js, by_name = Js(), full_mappings()
    old = dict(SEED_USER, name={"givenName": "Ana", "familyName": "O'Neil", "formatted": "Dr. A. O'Neil"})
    idm_user = dict(forward_user(js, by_name, old), givenName="Anna")
    assert reverse_user(js, by_name, idm_user, old)["name"] == {
        "givenName": "Anna",
        "familyName": "O'Neil",
        "formatted": "Dr. A. O'Neil",
    }


def test_reverse_user_clears_only_what_idm_cleared():
    js, by_name = Js(), full_mappings()
    idm_user = forward_user(js, by_name, SEED_USER)
    cleared = dict(idm_user, title=None, telephoneNumber=None, department=None)
    after = reverse_user(js, by_name, cleared, SEED_USER)
    assert after["title"] is None and after["department"] is None  # null: the connector removes the attribute
    assert after["phoneNumbers"] == [{"value": "+1 555 1", "type": "mobile"}]  # only the mapped phone goes


def test_reverse_user_create_leaves_out_empty_values():
    js, by_name = Js(), full_mappings()
    mapping = by_name["managedUser_systemScimAccount"]
    idm_user = {
        "userName": "new",
        "givenName": "New",
        "sn": None,
        "mail": "new@example.com",
        "telephoneNumber": "",
        "accountStatus": "inactive",
    }
    target = {}
    for prop in mapping["properties"]:
        value = idm_user if prop["source"] == "" else idm_user.get(prop["source"])
        target[prop["target"]] = js.run(prop["transform"]["source"], source=value) if "transform" in prop else value
    js.run(mapping["onCreate"]["source"], target=target)
    assert js.value("target") == {
        "userName": "new",
        "name": {"givenName": "New"},
        "active": False,
        "emails": [{"value": "new@example.com", "type": "work", "primary": True}],
    }


def test_correlation_queries_escape_values():
    js, by_name = Js(), mappings()
    query = js.run(
        by_name["systemScimAccount_managedUser"]["correlationQuery"]["source"], source={"userName": 'we"ird\\name'}
    )
    assert query == {"_queryFilter": 'userName eq "we\\"ird\\\\name"'}
    query = js.run(by_name["managedRole_systemScimGroup"]["correlationQuery"]["source"], source={"name": "Sales"})
    assert query == {"_queryFilter": 'displayName eq "Sales"'}
    query = js.run(by_name["systemScimGroup_managedRole"]["correlationQuery"]["source"], source={"displayName": "IT"})
    assert query == {"_queryFilter": 'name eq "IT"'}


def test_member_transforms_look_up_both_sides():
    objects = {
        "system/scim/account/s1": {"_id": "s1", "userName": "Ana"},
        "system/scim/account/s2": {"_id": "s2", "userName": "bob"},
        "system/scim/account/s3": {"_id": "s3", "userName": "carol"},  # not (yet) a managed user
        "managed/user/m1": {"_id": "m1", "userName": "ana"},
        "managed/user/m2": {"_id": "m2", "userName": "bob"},
    }
    js, by_name = Js(objects), mappings()
    to_idm = transform(by_name["systemScimGroup_managedRole"], "members")["transform"]["source"]
    members = [{"value": "s2", "display": "Bob"}, {"value": "s1"}, {"value": "s3"}, {"value": "gone"}, {"value": "s1"}]
    assert js.run(to_idm, source=members) == [{"_ref": "managed/user/m1"}, {"_ref": "managed/user/m2"}]
    assert js.run(to_idm, source=None) == []

    to_scim = transform(by_name["managedRole_systemScimGroup"], "members")["transform"]["source"]
    role = {
        "_id": "r1",
        "name": "Sales",
        "members": [{"_ref": "managed/user/m2"}, {"_ref": "managed/user/m1"}, {"_ref": "managed/user/missing"}],
    }
    assert js.run(to_scim, source=role) == [{"value": "s1"}, {"value": "s2"}]


def test_member_on_update_keeps_current_list_when_same_set():
    js, by_name = Js(), mappings()
    script = by_name["managedRole_systemScimGroup"]["onUpdate"]["source"]
    old = {
        "displayName": "Sales",
        "members": [{"value": "s2", "$ref": "Users/s2", "display": "Bob"}, {"value": "s1", "type": "User"}],
    }
    js.run(script, target={"displayName": "Sales", "members": [{"value": "s1"}, {"value": "s2"}]}, oldTarget=old)
    assert js.value("target")["members"] == old["members"]
    js.run(script, target={"displayName": "Sales", "members": [{"value": "s1"}]}, oldTarget=old)
    assert js.value("target")["members"] == [{"value": "s1"}]
    script = by_name["systemScimGroup_managedRole"]["onUpdate"]["source"]
    old = {"_id": "r1", "name": "Sales", "members": [{"_ref": "managed/user/m1", "_refProperties": {"_id": "rel1"}}]}
    js.run(script, target=dict(old, members=[{"_ref": "managed/user/m1"}]), oldTarget=old)
    assert js.value("target")["members"] == old["members"]


# ---------- the role's own validation (tasks/validate.yml), run by ansible-playbook ----------

PLAYBOOK_SECRET = 'p"a\\ss w0rd ünï'
VALIDATE_PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: idmops.pingidm.scim_sync
        tasks_from: validate.yml
"""


def run_validation(tmp_path, variables):
    # Values given as variables are templated by Ansible, so this secret has no "{{" (that would need !unsafe).
    variables = {
        "scim_sync_idm_url": "http://127.0.0.1:9",
        **OAUTH,
        "scim_sync_scim_client_secret": PLAYBOOK_SECRET,
        **variables,
    }
    result, failure = run_play(tmp_path, VALIDATE_PLAY, variables)
    return result.returncode, failure if failure is not None else result.stdout + result.stderr


@needs_collection
def test_role_validation_names_the_bad_fields(tmp_path):
    rc, message = run_validation(tmp_path, {})
    assert rc == 0, message
    rc, message = run_validation(
        tmp_path,
        {
            "scim_sync_scim_token_endpoint": "",
            "scim_sync_scim_version": 3,
            "scim_sync_user_attribute_map": [{"scim": "userName", "idm": "userName"}, {"scim": "shoeSize", "idm": "x"}],
            "scim_sync_account_properties": ["emails", "shoeSize"],
            "scim_sync_policy_overrides": {"systemScimGroup_managedRole": {"ABSENT": "CRATE"}},
        },
    )
    assert rc == 2
    assert "tokenEndpoint is required for authenticationMethod OAUTH (set scim_sync_scim_token_endpoint)" in message
    assert "SCIMVersion must be 1 or 2" in message
    assert (
        'mapping systemScimAccount_managedUser: property source "shoeSize" is not an attribute of '
        "system/scim/account (known: emails, userName)"
    ) in message
    assert "mapping systemScimGroup_managedRole: unknown action CRATE for ABSENT" in message
    assert PLAYBOOK_SECRET not in message and "w0rd" not in message  # the secret was in the rendered document
