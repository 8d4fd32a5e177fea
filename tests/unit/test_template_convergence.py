# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sync.json.j2 converges on any conformant SCIM provider and under each reading of IDM where IDM's behaviour is
not settled: a second reconciliation of all four mappings updates nothing, and a real change on either side is
still written.

The rendered mappings' JavaScript runs in QuickJS inside a small model of IDM's sync engine, which does what
IDM's Java does where it matters here (audit B.5, SyncOperation.performAction): UPDATE = a copy of the target as
IDM read it, every property mapping put on it (a null result is put as null), then onUpdate with IDM's bindings;
the target is written only when it is not strictly equal to the one read (JsonValue.isEqualTo: a null is not a
missing key, a removed key is a change, 1 is not 1.0, true is not 1). CREATE = the property mappings on {} and
onCreate. Links are shared by a mapping and its reverse.

Model providers (the sandbox provider's switches, and one more shape): ``omit_unassigned`` (no null, [] or {} in
answers), ``compute_name_formatted`` (the server sets name.formatted), ``no_enterprise`` (the enterprise extension
is not advertised and any write of one of its attributes is refused), ``bare_members`` (members as {value} only),
``explicit_nulls`` (every declared attribute comes back, null when unassigned). Model IDMs: relationship fields
read by default or not (A3, ``recon_target_fields=default|mapped``), nulls kept or dropped on managed objects
(UNCONFIRMED for a DS repository), implicit synchronization of managed-object changes on or off.
"""

from __future__ import annotations

import copy
import functools
import itertools
import json
import re

import pytest

from ansible_collections.idmops.pingidm.tests.unit.test_templates import OAUTH, render

quickjs = pytest.importorskip("quickjs")

ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE = {"employeeNumber", "costCenter", "organization", "division", "department", "manager"}
ORDER = [
    "systemScimAccount_managedUser",
    "managedUser_systemScimAccount",
    "systemScimGroup_managedRole",
    "managedRole_systemScimGroup",
]
# What the role's preflight declares for the sandbox provider (its /Schemas), with and without the extension.
PROVIDER_CORE = [
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    "externalId",
    "meta",
]
EXTRAS = [
    {"scim": "displayName", "idm": "displayName"},
    {"scim": "title", "idm": "title"},
    {"scim": "department", "idm": "department", "optional": True},
]


class EntryFailure(Exception):
    """One entry failed (IDM counts it in statusSummary.FAILURE)."""


def strict_equal(a, b):
    """JsonValue.isEqualTo (JsonPatch.isEqual): same key sets, ordered lists, scalars by Java equals."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(strict_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def unassigned(value):
    return value is None or value == [] or value == {} or value == ""


def without_unassigned(value):
    if isinstance(value, dict):
        out = {k: without_unassigned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if not unassigned(v)}
    if isinstance(value, list):
        return [without_unassigned(v) for v in value]
    return value


EQ_FILTER = re.compile(r'^(\w+) eq "((?:[^"\\]|\\.)*)"$')


def eq_filter(params):
    match = EQ_FILTER.match(params.get("_queryFilter", ""))
    assert match, "the model answers only 'attr eq \"value\"' filters, got %r" % params
    return match.group(1), json.loads('"%s"' % match.group(2))


class Provider:
    """A SCIM provider as IDM's connector shows it: users and groups with SCIM ids, the declared attributes only."""

    def __init__(self, quirks, account_types, group_types):
        self.quirks = set(quirks)
        self.account_types = account_types
        self.group_types = group_types
        self.users, self.groups = {}, {}
        self.ids = itertools.count(1)
        self.writes = 0

    # storage in SCIM shape -----------------------------------------------------------------------------------
    def add_user(self, resource):
        resource = copy.deepcopy(resource)
        resource["id"] = "s%d" % next(self.ids)
        self.users[resource["id"]] = self._stored(resource)
        return resource["id"]

    def add_group(self, resource):
        resource = copy.deepcopy(resource)
        resource["id"] = "g%d" % next(self.ids)
        self.groups[resource["id"]] = self._stored(resource)
        return resource["id"]

    def _stored(self, resource):
        if "compute_name_formatted" in self.quirks and isinstance(resource.get("name"), dict):
            parts = [resource["name"].get(k) for k in ("givenName", "familyName")]
            resource["name"]["formatted"] = " ".join(p for p in parts if p)
        return resource

    # what the connector returns ------------------------------------------------------------------------------
    def _answer(self, value):
        if "omit_unassigned" in self.quirks:
            return without_unassigned(value)
        return value

    def account(self, scim_id):
        resource = self.users.get(scim_id)
        if resource is None:
            return None
        resource = self._answer(copy.deepcopy(resource))
        extension = resource.get(ENTERPRISE_URN) or {}
        obj = {"_id": scim_id}
        for prop, spec in self.account_types.items():
            if "NOT_READABLE" in spec.get("flags", []) or prop.startswith("__"):
                continue
            value = extension.get(prop) if prop in ENTERPRISE else resource.get(prop)
            if value is not None:
                obj[prop] = value
            elif "explicit_nulls" in self.quirks:
                obj[prop] = None
        return obj

    def group(self, scim_id):
        resource = self.groups.get(scim_id)
        if resource is None:
            return None
        resource = copy.deepcopy(resource)
        members = []
        for member in resource.get("members") or []:
            if "bare_members" in self.quirks:
                members.append({"value": member["value"]})
            else:
                user = self.users[member["value"]]
                members.append(
                    {
                        "value": member["value"],
                        "$ref": "https://scim.test/Users/" + member["value"],
                        "type": "User",
                        "display": user.get("displayName") or user["userName"],
                    }
                )
        resource["members"] = members
        resource = self._answer(resource)
        obj = {"_id": scim_id}
        for prop in self.group_types:
            if resource.get(prop) is not None:
                obj[prop] = resource[prop]
            elif "explicit_nulls" in self.quirks:
                obj[prop] = None
        return obj

    def query(self, kind, params):
        attribute, value = eq_filter(params)
        store, read = (self.users, self.account) if kind == "account" else (self.groups, self.group)
        return [read(i) for i, r in store.items() if str(r.get(attribute, "")).lower() == value.lower()]

    # what the connector writes (a PATCH replacing each given attribute; null removes it) ---------------------
    def _apply(self, resource, obj, types):
        for prop, value in obj.items():
            spec = types.get(prop)
            if prop in ("_id", "_rev") or spec is None or "NOT_UPDATEABLE" in spec.get("flags", []):
                continue
            if prop in ENTERPRISE and types is self.account_types:
                if "no_enterprise" in self.quirks:
                    raise EntryFailure("400 invalidPath: %s:%s" % (ENTERPRISE_URN, prop))
                extension = resource.setdefault(ENTERPRISE_URN, {})
                if value is None:
                    extension.pop(prop, None)
                else:
                    extension[prop] = copy.deepcopy(value)
            elif value is None:
                resource.pop(prop, None)
            elif prop == "members":
                resource[prop] = [{"value": m["value"]} for m in value]  # the provider keeps the ids only
            else:
                resource[prop] = copy.deepcopy(value)
        return self._stored(resource)

    def write(self, kind, scim_id, obj):
        """What the connector writes to an ``account`` or a ``group``: a create without ``scim_id``, else a PATCH."""
        store, prefix, types = (
            (self.users, "s", self.account_types) if kind == "account" else (self.groups, "g", self.group_types)
        )
        self.writes += 1
        if scim_id is None:
            scim_id = "%s%d" % (prefix, next(self.ids))
            store[scim_id] = {"id": scim_id}
        store[scim_id] = self._apply(store[scim_id], obj, types)
        return scim_id


# IDM's stock policy: the properties a managed user or role must have.
IDM_REQUIRED = {"user": ("userName", "givenName", "sn", "mail"), "role": ("name",)}


class Idm:
    """Managed users and roles as IDM stores and reads them."""

    def __init__(self, relationship_fields="default", keep_nulls=True):
        self.relationship_fields = relationship_fields
        self.keep_nulls = keep_nulls
        self.objects = {"user": {}, "role": {}}
        self.members = {}  # role id -> [user ids]
        self.ids = itertools.count(1)
        self.on_change = None  # implicit synchronization hook: callable(kind, id)

    def read(self, kind, object_id):
        obj = self.objects[kind].get(object_id)
        if obj is None:
            return None
        obj = copy.deepcopy(obj)
        if kind == "role" and self.relationship_fields == "mapped":
            obj["members"] = self.relationships(object_id)
        return obj

    def relationships(self, role_id):
        return [
            {
                "_ref": "managed/user/" + user_id,
                "_refResourceCollection": "managed/user",
                "_refResourceId": user_id,
                "_refProperties": {"_id": "rel-%s-%s" % (role_id, user_id), "_rev": "1"},
            }
            for user_id in self.members.get(role_id, [])
        ]

    def write(self, kind, object_id, obj):
        obj = copy.deepcopy(obj)
        missing = [p for p in IDM_REQUIRED[kind] if unassigned(obj.get(p))]
        if missing:
            raise EntryFailure("403 Failed policy validation: %s required" % ", ".join(missing))
        if object_id is None:
            object_id = "%s%d" % (kind[0], next(self.ids))
        obj["_id"] = object_id
        if kind == "role" and "members" in obj:
            refs = obj.pop("members") or []
            self.members[object_id] = sorted(r["_ref"].split("/")[-1] for r in refs)
        if not self.keep_nulls:
            obj = {k: v for k, v in obj.items() if v is not None}
        self.objects[kind][object_id] = obj
        if self.on_change:
            self.on_change(kind, object_id)
        return object_id

    def query(self, kind, params):
        attribute, value = eq_filter(params)
        return [
            self.read(kind, i)
            for i, o in self.objects[kind].items()
            if str(o.get(attribute, "")).lower() == value.lower()
        ]


class Engine:
    """Reconciliations and implicit synchronization of the rendered mappings over a Provider and an Idm."""

    def __init__(self, mappings, provider, idm, implicit_sync=False):
        self.mappings = {m["name"]: m for m in mappings}
        self.provider, self.idm = provider, idm
        self.links = {"systemScimAccount_managedUser": {}, "systemScimGroup_managedRole": {}}
        self.js = quickjs.Context()
        self.js.add_callable("__read", lambda ref: json.dumps(self.read(ref)))
        self.js.add_callable("__query", lambda ref, params: json.dumps({"result": self.query(ref, json.loads(params))}))
        self.js.eval(
            "var openidm = {"
            " read: function (id) { return JSON.parse(__read(id)); },"
            " query: function (resource, params) { return JSON.parse(__query(resource, JSON.stringify(params))); }"
            "};"
        )
        self.counts = None
        self.syncing = False
        if implicit_sync:
            idm.on_change = self.implicit_sync

    # the openidm object of the scripts -----------------------------------------------------------------------
    def read(self, ref):
        parts = ref.split("/")
        if parts[0] == "system":
            return self.provider.account(parts[3]) if parts[2] == "account" else self.provider.group(parts[3])
        return self.idm.read(parts[1], parts[2])

    def query(self, ref, params):
        parts = ref.split("/")
        if parts[0] == "system":
            return self.provider.query(parts[2], params)
        if len(parts) == 4 and parts[3] == "members":
            return self.idm.relationships(parts[2])
        return self.idm.query(parts[1], params)

    # scripts -------------------------------------------------------------------------------------------------
    BINDINGS = (
        "source",
        "target",
        "oldTarget",
        "sourceId",
        "targetId",
        "situation",
        "linkQualifier",
        "mappingConfig",
        "context",
        "oldSource",
    )

    def run(self, script, result=None, **bindings):
        for name in self.BINDINGS:
            self.js.eval("var %s = %s;" % (name, json.dumps(bindings[name]) if name in bindings else "undefined"))
        value = self.js.eval(script)
        if result:
            value = self.js.eval("JSON.stringify(%s)" % result)
            return json.loads(value)
        return json.loads(value.json()) if hasattr(value, "json") else value

    # one source entry ----------------------------------------------------------------------------------------
    def sides(self, mapping):
        """(link type, reversed, read source, read target, write target, query targets) of a mapping."""
        name = mapping["name"]
        if name.startswith("system"):
            kind = "account" if "Account" in name else "group"
            idm_kind = "user" if kind == "account" else "role"
            return (
                name,
                False,
                getattr(self.provider, kind),
                lambda i: self.idm.read(idm_kind, i),
                lambda i, o: self.idm.write(idm_kind, i, o),
                lambda p: self.idm.query(idm_kind, p),
            )
        kind = "account" if "User" in name else "group"
        idm_kind = "user" if kind == "account" else "role"
        return (
            mapping["links"],
            True,
            lambda i: self.idm.read(idm_kind, i),
            getattr(self.provider, kind),
            functools.partial(self.provider.write, kind),
            lambda p: self.provider.query(kind, p),
        )

    def apply_properties(self, mapping, source, target):
        for prop in mapping["properties"]:
            value = source if prop.get("source") == "" else source.get(prop["source"]) if "source" in prop else None
            if "transform" in prop:
                value = self.run(prop["transform"]["source"], source=copy.deepcopy(value), linkQualifier="default")
            if value is None and "default" in prop:
                value = prop["default"]
            target[prop["target"]] = copy.deepcopy(value)
        return target

    def on_event(self, mapping, event, source, target, **bindings):
        """``target`` as the mapping's ``event`` script (onCreate, onUpdate) leaves it, if it has one."""
        if not mapping.get(event):
            return target
        return self.run(
            mapping[event]["source"],
            result="target",
            source=source,
            target=target,
            linkQualifier="default",
            mappingConfig=mapping,
            context={},
            **bindings,
        )

    def process(self, name, source_id):
        mapping = self.mappings[name]
        link_type, reverse, read_source, read_target, write_target, query_targets = self.sides(mapping)
        links = self.links[link_type]
        source = read_source(source_id)
        target_id = next((f for f, s in links.items() if s == source_id), None) if reverse else links.get(source_id)
        situation = "CONFIRMED"
        if target_id is None or read_target(target_id) is None:
            query = self.run(mapping["correlationQuery"]["source"], source=source, linkQualifier="default")
            found = query_targets(query)
            if len(found) > 1:
                raise EntryFailure("AMBIGUOUS")
            if not found:
                target = self.apply_properties(mapping, source, {})
                target = self.on_event(mapping, "onCreate", source, target, sourceId=source_id, situation="ABSENT")
                target_id = write_target(None, target)
                self.link(link_type, reverse, source_id, target_id)
                return "created"
            target_id, situation = found[0]["_id"], "FOUND"
            self.link(link_type, reverse, source_id, target_id)
        old = read_target(target_id)
        target = self.apply_properties(mapping, source, copy.deepcopy(old))
        bindings = {"oldTarget": old, "sourceId": source_id, "targetId": target_id, "situation": situation}
        target = self.on_event(mapping, "onUpdate", source, target, **bindings)
        if strict_equal(old, target):
            return "unchanged"
        write_target(target_id, target)
        return "updated"

    def link(self, link_type, reverse, source_id, target_id):
        first, second = (target_id, source_id) if reverse else (source_id, target_id)
        self.links[link_type][first] = second

    def recon(self, name):
        counts = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}
        self.counts = counts
        if name.startswith("system"):
            ids = list(self.provider.users if "Account" in name else self.provider.groups)
        else:
            ids = list(self.idm.objects["user" if "User" in name else "role"])
        for source_id in ids:
            try:
                counts[self.process(name, source_id)] += 1
            except EntryFailure:
                counts["failed"] += 1
        self.counts = None
        return counts

    def implicit_sync(self, kind, object_id):
        """IDM pushes a managed-object change through the mappings whose source it is (failures are logged)."""
        if self.syncing:
            return
        self.syncing = True
        try:
            self.process(
                "managedUser_systemScimAccount" if kind == "user" else "managedRole_systemScimGroup", object_id
            )
        except EntryFailure:
            pass
        finally:
            self.syncing = False

    def all(self):
        return {name: self.recon(name) for name in ORDER}


SEED_USERS = [
    {
        "userName": "ana",
        "displayName": "Ana Lima",
        "title": "Engineer",
        "active": True,
        "name": {"givenName": "Ana", "familyName": "Lima", "formatted": "Ana Lima"},
        "emails": [
            {"value": "ana@home.test", "type": "home"},
            {"value": "ana@work.test", "type": "work", "primary": True},
        ],
        "phoneNumbers": [{"value": "+1 555 1", "type": "mobile"}, {"value": "+1 555 2", "type": "work"}],
        ENTERPRISE_URN: {"department": "R&D", "employeeNumber": "7"},
    },
    {
        "userName": "bo",
        "name": {"givenName": "Bo", "familyName": "Berg"},
        "emails": [{"value": "bo@work.test"}],
        "title": "",
    },
    {
        "userName": "cy",
        "active": False,
        "title": None,
        "phoneNumbers": [],
        "name": {
            "honorificPrefix": "Dr.",
            "givenName": "Cy",
            "middleName": "J.",
            "familyName": "Ng",
            "formatted": "Dr. Cy J. Ng",
        },
        "emails": [{"value": "cy@work.test", "type": "work"}],
    },
    # IDM's default policy needs givenName, sn and mail: this one fails to be created, on every run
    {"userName": "dee", "emails": [{"value": "dee@work.test"}]},
]


def build(quirks=(), relationship_fields="default", keep_nulls=True, implicit_sync=False, **variables):
    variables = {
        **OAUTH,
        "scim_sync_user_attribute_map_extra": EXTRAS,
        "scim_sync_account_properties": PROVIDER_CORE + ([] if "no_enterprise" in quirks else sorted(ENTERPRISE)),
        **variables,
    }
    types = render("provisioner.openicf-scim.json.j2", variables)["objectTypes"]
    doc = render("sync.json.j2", variables)
    provider = Provider(quirks, types["account"]["properties"], types["group"]["properties"])
    ids = [provider.add_user(u) for u in SEED_USERS]
    provider.add_group({"displayName": "Sales", "members": [{"value": ids[0]}, {"value": ids[1]}]})
    provider.add_group({"displayName": "Empty", "members": []})
    provider.add_group({"displayName": "Dees", "members": [{"value": ids[3]}]})
    idm = Idm(relationship_fields, keep_nulls)
    return Engine(doc["mappings"], provider, idm, implicit_sync), ids


def changes(results):
    return {name: (c["created"], c["updated"]) for name, c in results.items() if c["created"] or c["updated"]}


PROVIDERS = [
    (),
    ("omit_unassigned",),
    ("compute_name_formatted",),
    ("no_enterprise",),
    ("bare_members",),
    ("explicit_nulls",),
    ("omit_unassigned", "compute_name_formatted", "no_enterprise", "bare_members"),
]
READINGS = [
    dict(relationship_fields="default", keep_nulls=True),
    dict(relationship_fields="mapped", keep_nulls=True),
    dict(relationship_fields="default", keep_nulls=False),
    dict(relationship_fields="default", implicit_sync=True),
]


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join("%s=%s" % kv for kv in r.items()))
@pytest.mark.parametrize("quirks", PROVIDERS, ids=lambda q: "+".join(q) or "plain")
def test_second_run_changes_nothing_and_failures_stay_visible(quirks, reading):
    engine, _ids = build(quirks, **reading)
    first = engine.all()
    assert first["systemScimAccount_managedUser"]["created"] == 3
    assert first["systemScimGroup_managedRole"]["created"] == 3
    # "dee" has no name: IDM's default policy refuses the user, and says so on every run
    assert first["systemScimAccount_managedUser"]["failed"] == 1
    second = engine.all()
    assert changes(second) == {}, second
    assert second["systemScimAccount_managedUser"]["failed"] == 1
    assert all(c["failed"] == 0 for name, c in second.items() if name != "systemScimAccount_managedUser")
    assert sum(c["unchanged"] for c in second.values()) == 3 + 3 + 3 + 3
    # the role members came through (A3: whether or not IDM read them with the role)
    sales = next(i for i, r in engine.idm.objects["role"].items() if r["name"] == "Sales")
    assert len(engine.idm.members[sales]) == 2


@pytest.mark.parametrize(
    "reading", READINGS[:2] + READINGS[3:], ids=lambda r: ",".join("%s=%s" % kv for kv in r.items())
)
@pytest.mark.parametrize("quirks", PROVIDERS, ids=lambda q: "+".join(q) or "plain")
def test_an_idm_edit_reaches_the_provider_and_then_converges(quirks, reading):
    engine, ids = build(quirks, **reading)
    engine.all()
    users = engine.idm.objects["user"]
    ana = next(i for i, u in users.items() if u["userName"] == "ana")
    edited = dict(engine.idm.read("user", ana), title="Lead", sn="Lima-Kahn", telephoneNumber="+1 555 9")
    engine.idm.write("user", ana, edited)
    if reading.get("implicit_sync"):
        pushed = {}  # IDM pushed the change itself
    else:
        pushed = engine.recon("managedUser_systemScimAccount")
        assert pushed["updated"] == 1 and pushed["failed"] == 0
    scim = engine.provider.users[ids[0]]
    assert scim["title"] == "Lead"
    assert scim["name"]["familyName"] == "Lima-Kahn" and scim["name"]["formatted"] == "Ana Lima-Kahn"
    assert scim["phoneNumbers"] == [{"value": "+1 555 1", "type": "mobile"}, {"value": "+1 555 9", "type": "work"}]
    assert scim["emails"] == SEED_USERS[0]["emails"]  # the other values stay as the provider has them
    if "no_enterprise" not in quirks:
        assert scim[ENTERPRISE_URN] == {"department": "R&D", "employeeNumber": "7"}
    assert changes(engine.all()) == {}
    assert engine.idm.read("user", ana)["title"] == "Lead"  # not overwritten by the provider's old value


@pytest.mark.parametrize("quirks", PROVIDERS, ids=lambda q: "+".join(q) or "plain")
def test_a_provider_edit_reaches_idm_and_a_cleared_value_is_cleared(quirks):
    engine, ids = build(quirks)
    engine.all()
    engine.provider.users[ids[1]]["title"] = "Analyst"
    engine.provider.users[ids[0]].pop("title")
    assert engine.recon("systemScimAccount_managedUser")["updated"] == 2
    by_name = {u["userName"]: u for u in engine.idm.objects["user"].values()}
    assert by_name["bo"]["title"] == "Analyst" and by_name["ana"]["title"] is None
    assert changes(engine.all()) == {}


@pytest.mark.parametrize("reading", READINGS, ids=lambda r: ",".join("%s=%s" % kv for kv in r.items()))
@pytest.mark.parametrize("quirks", [(), ("omit_unassigned", "bare_members")], ids=["plain", "omit+bare"])
def test_membership_changes_travel_both_ways(quirks, reading):
    engine, ids = build(quirks, **reading)
    engine.all()
    roles = {r["name"]: i for i, r in engine.idm.objects["role"].items()}
    users = {u["userName"]: i for i, u in engine.idm.objects["user"].items()}
    # a grant in IDM (through the role's relationship collection, as the REST API does)
    engine.idm.members[roles["Empty"]] = [users["cy"]]
    assert engine.recon("managedRole_systemScimGroup")["updated"] == 1
    empty = next(g for g in engine.provider.groups.values() if g["displayName"] == "Empty")
    assert empty["members"] == [{"value": ids[2]}]
    # a member removed at the provider
    sales = next(g for g in engine.provider.groups.values() if g["displayName"] == "Sales")
    sales["members"] = [{"value": ids[1]}]
    assert engine.recon("systemScimGroup_managedRole")["updated"] == 1
    assert engine.idm.members[roles["Sales"]] == [users["bo"]]
    assert changes(engine.all()) == {}


def test_no_enterprise_provider_gets_no_enterprise_attribute():
    engine, _ids = build(("no_enterprise",))
    outbound = [p["target"] for p in engine.mappings["managedUser_systemScimAccount"]["properties"]]
    assert "department" not in outbound
    engine.all()
    assert all(c["failed"] == 0 for name, c in engine.all().items() if name != "systemScimAccount_managedUser")


def test_the_model_sees_a_mapping_that_does_not_converge():
    """The model is strict enough to catch the old behaviour: a null sent for an attribute the provider omits."""
    engine, _ids = build(("omit_unassigned",))
    engine.all()
    mapping = engine.mappings["managedUser_systemScimAccount"]
    mapping["onUpdate"] = {"type": "text/javascript", "source": "1;"}  # no merge, no restore
    assert engine.recon("managedUser_systemScimAccount")["updated"] == 3
    role_mapping = engine.mappings["systemScimGroup_managedRole"]
    role_mapping["onUpdate"] = {"type": "text/javascript", "source": "1;"}
    assert engine.recon("systemScimGroup_managedRole")["updated"] == 3  # A3: members absent from the role read
