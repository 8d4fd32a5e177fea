"""Managed objects (``/openidm/managed/<name>``) with the ``user.roles`` <-> ``role.members`` relationship.

Behaviour chosen to match IDM 7/8 on a DS repository (see idm-rest-contract.md §0 and §6):

* Any ``managed/<name>`` is accepted (the sandbox has no ``managed.json`` gate). Policy: IDM's stock
  ``managed.json`` required lists: ``managed/user`` needs ``userName`` (unique, case-insensitive), ``givenName``,
  ``sn``, ``mail``; ``managed/role`` needs ``name`` (IDM 7.x; reading ``role_required=name+description`` = the 5.x
  list). If ``config/managed`` exists, the ``schema.required`` lists of its objects replace these defaults.
  Failures are 403 "Failed policy validation".
* Properties the schema does not declare are stored as sent (IDM's default generic repository mapping keeps the
  whole object). Reading ``undeclared_properties=refused`` imitates an explicit JDBC table mapping: 400
  "Unmapped fields [...] for type managed/<name>" (OpenIDM MappedTableHandler.java L345-352) for properties that
  neither ``config/managed`` nor the stock 7.x schema declares.
* Every committed change (create, a real update/patch, delete) is handed to ``sync_listener`` (the implicit
  synchronization of ``sandbox/idm/sync/implicit.py``) after the write, with the caller's ``context``.
* ``_rev`` is an opaque string; ETag carries it quoted. ``If-Match`` absent or ``*`` matches any revision.
* An update that changes nothing is not written and keeps its ``_rev`` (IDM skips unchanged updates).
* Relationship fields (``roles`` on users, ``members`` on roles) are stored as relationship records, are not
  returned by default, and appear with ``_fields=*,roles``/``*_ref``/``roles/<field>``. A PUT without the field
  leaves the relationships alone; with it, the set is replaced (elements keep their ``_refProperties._id``).
  Referencing an object that does not exist is a 400.
* ``effectiveRoles`` (and an always-empty ``effectiveAssignments``) are virtual on users, recomputed on read.
* Deleting a role that still has members is 409 "Cannot delete a role that is currently granted".
* Queries match strings case-insensitively (DS ``caseIgnoreJsonQueryMatch``); results come in creation order
  unless ``_sortKeys`` is given. ``eq`` on a top-level field uses an in-memory hash index built on first use.

Everything is held in memory and written through to SQLite; ``store.batch()`` makes bulk writes one transaction.
"""

import itertools
import json
import logging
import uuid

from . import queryfilter
from .crest import (apply_patch, copy_json, int_param, page, parse_fields, project, sort_results, strict_equal)
from .errors import IdmError
from .http import Response
from .router import ResourceProvider

log = logging.getLogger("sandbox.idm.managed")

# (resource, property) -> (other resource, other property); both ends are many-valued.
RELATIONSHIPS = {
    ("managed/user", "roles"): ("managed/role", "members"),
    ("managed/role", "members"): ("managed/user", "roles"),
}
VIRTUAL_FIELDS = {"managed/user": ("effectiveRoles", "effectiveAssignments")}
# Stock managed.json required lists (OpenIDM/WrenIDM conf/managed.json for 5.x; ForgeRock forgeops IDM 7 cdk
# profile: users the same four, roles ["name"]).
DEFAULT_REQUIRED = {"managed/user": ["userName", "givenName", "sn", "mail"], "managed/role": ["name"]}
ROLE_REQUIRED = {"name": ["name"], "name+description": ["name", "description"]}
# Properties the stock IDM 7 managed.json declares (forgeops cdk profile), for undeclared_properties=refused.
DECLARED = {
    "managed/user": {"_id", "userName", "password", "givenName", "cn", "sn", "mail", "profileImage", "description",
                     "accountStatus", "telephoneNumber", "postalAddress", "address2", "city", "postalCode",
                     "country", "stateProvince", "assignedDashboard", "roles", "manager", "authzRoles", "reports",
                     "effectiveRoles", "effectiveAssignments", "lastSync", "kbaInfo", "preferences",
                     "consentedMappings", "aliasList", "ownerOfOrg", "adminOfOrg", "memberOfOrg", "memberOfOrgIDs",
                     "activeDate", "inactiveDate"},
    "managed/role": {"_id", "name", "description", "members", "assignments", "condition", "temporalConstraints"},
}
UNIQUE_FIELDS = {"managed/user": ["userName"]}


_REL_PROPS_CACHE = {}


def _relationship_props(resource):
    props = _REL_PROPS_CACHE.get(resource)
    if props is None:
        props = _REL_PROPS_CACHE[resource] = {p: other for (res, p), other in RELATIONSHIPS.items() if res == resource}
    return props


def _policy_error(failures):
    return IdmError(403, "Failed policy validation", {"result": False, "failedPolicyRequirements": [
        {"property": prop, "policyRequirements": [{"policyRequirement": req}]} for prop, req in failures]})


def _check_rev(current_rev, rev):
    if rev not in (None, "*") and rev.strip('"') != current_rev:
        raise IdmError(412, "Precondition Failed")


class ManagedService(ResourceProvider):
    def __init__(self, store, config, readings):
        self.store = store
        self.config = config
        self.readings = readings
        self.sync_listener = None        # callable(event, resource, id, old, new, context): implicit sync
        self._lock = store.lock          # one lock with the store: batches and managed writes cannot deadlock
        self._objects = {}               # resource -> {id: stored object incl. _id/_rev}, in creation order
        self._positions = {}             # resource -> {id: creation sequence number}
        self._indexes = {}               # resource -> {field: {comparable key: set(ids)}}
        self._rels = {}                  # rel id -> {"_id","_rev","a":(res,id,prop),"b":(res,id,prop),"props"}
        self._rel_index = {}             # (res, id, prop) -> {rel id: None} (ordered set)
        self._rev_prefix = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._required_cache = {}
        self._load()
        store.on_rollback(self._load)
        config.subscribe("managed", self._on_managed_config)

    def _load(self):
        """(Re)build the in-memory state from SQLite: at start and after a rolled-back batch."""
        store = self.store
        self._objects, self._positions, self._indexes, self._rels, self._rel_index = {}, {}, {}, {}, {}
        seq = 0
        for resource, obj_id, rev, body, row_seq in store.query(
                "SELECT type, id, rev, body, seq FROM managed ORDER BY seq"):
            obj = {"_id": obj_id, "_rev": rev}
            obj.update(json.loads(body))
            self._objects.setdefault(resource, {})[obj_id] = obj
            self._positions.setdefault(resource, {})[obj_id] = row_seq
            seq = max(seq, row_seq)
        for row in store.query("SELECT id, rev, first_resource, first_id, first_property, second_resource, "
                               "second_id, second_property, properties, seq FROM relationships ORDER BY seq"):
            rel = {"_id": row[0], "_rev": row[1], "a": tuple(row[2:5]), "b": tuple(row[5:8]),
                   "props": json.loads(row[8])}
            self._add_rel_memory(rel)
            seq = max(seq, row[9])
        self._seq = itertools.count(seq + 1)

    # --- helpers ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _check_resource(resource):
        parts = resource.strip("/").split("/")
        if len(parts) != 2 or parts[0] != "managed" or not parts[1]:
            raise IdmError(404, f"Resource '{resource}' not found")
        return "/".join(parts)

    def _new_rev(self):
        return f"{self._rev_prefix}-{next(self._counter)}"

    def _get(self, resource, obj_id):
        obj = self._objects.get(resource, {}).get(obj_id)
        if obj is None:
            raise IdmError(404, f"Object {resource}/{obj_id} not found in {resource}")
        return obj

    def _schema(self, resource):
        """``(required, declared or None)`` of a managed object type: ``config/managed`` when it defines the
        type, else the stock lists."""
        cached = self._required_cache.get(resource)
        if cached is None:
            required = list(DEFAULT_REQUIRED.get(resource, []))
            if resource == "managed/role":
                required = list(ROLE_REQUIRED[self.readings.role_required])
            declared = DECLARED.get(resource)
            if self.config.exists("managed"):
                name = resource.split("/", 1)[1]
                for definition in self.config.get("managed").get("objects", []):
                    if definition.get("name") == name:
                        schema = definition.get("schema") or {}
                        required = list(schema.get("required") or [])
                        declared = set(schema.get("properties") or {}) | {"_id"}
            cached = self._required_cache[resource] = (required, declared)
        return cached

    def _required(self, resource):
        return self._schema(resource)[0]

    def _on_managed_config(self, _config_id, _value, _wait):
        self._required_cache = {}

    # --- indexes ---------------------------------------------------------------------------------------------------
    def _index(self, resource, field):
        indexes = self._indexes.setdefault(resource, {})
        index = indexes.get(field)
        if index is None:
            index = {}
            for obj_id, obj in self._objects.get(resource, {}).items():
                for key in self._index_keys(obj.get(field)):
                    index.setdefault(key, set()).add(obj_id)
            indexes[field] = index
        return index

    @staticmethod
    def _index_keys(value):
        values = value if isinstance(value, list) else [value]
        keys = []
        for item in values:
            key = queryfilter.comparable(item, True)
            if key is not None and key[0] != "z":
                keys.append(key)
        return keys

    def _reindex(self, resource, obj_id, old, new):
        for field, index in self._indexes.get(resource, {}).items():
            if old is not None:
                for key in self._index_keys(old.get(field)):
                    ids = index.get(key)
                    if ids:
                        ids.discard(obj_id)
            if new is not None:
                for key in self._index_keys(new.get(field)):
                    index.setdefault(key, set()).add(obj_id)

    # --- relationships ---------------------------------------------------------------------------------------------
    def _add_rel_memory(self, rel):
        self._rels[rel["_id"]] = rel
        self._rel_index.setdefault(rel["a"], {})[rel["_id"]] = None
        self._rel_index.setdefault(rel["b"], {})[rel["_id"]] = None

    def _rel_ids(self, resource, obj_id, prop):
        return list(self._rel_index.get((resource, obj_id, prop), {}))

    def _element(self, rel, end, expand=(), with_top_ids=False):
        other = rel["b"] if rel["a"] == end else rel["a"]
        element = {}
        if with_top_ids:
            element.update({"_id": rel["_id"], "_rev": rel["_rev"]})
        element.update({"_ref": f"{other[0]}/{other[1]}", "_refResourceCollection": other[0],
                        "_refResourceId": other[1],
                        "_refProperties": dict({"_id": rel["_id"], "_rev": rel["_rev"]}, **copy_json(rel["props"]))})
        if expand:
            target = self._objects.get(other[0], {}).get(other[1])
            if target is not None:
                wanted = [f for f in expand if not f.startswith("_ref")]
                if "*" in wanted:
                    element.update({k: copy_json(v) for k, v in target.items() if k not in element})
                else:
                    element.update({k: copy_json(target[k]) for k in wanted if k in target and k not in element})
        return element

    def _elements(self, resource, obj_id, prop, expand=()):
        end = (resource, obj_id, prop)
        return [self._element(self._rels[rid], end, expand) for rid in self._rel_ids(resource, obj_id, prop)]

    def _parse_ref(self, resource, prop, element):
        if not isinstance(element, dict):
            raise IdmError(400, f"Relationship field {prop} needs objects with _ref")
        ref = element.get("_ref")
        if ref is None and element.get("_refResourceCollection") and element.get("_refResourceId"):
            ref = f"{element['_refResourceCollection']}/{element['_refResourceId']}"
        other_resource, _ = RELATIONSHIPS[(resource, prop)]
        if not isinstance(ref, str) or not ref.startswith(other_resource + "/") or ref.count("/") != 2:
            raise IdmError(400, f"Relationship field {prop} needs _ref of the form {other_resource}/<id>, got {ref!r}")
        other_id = ref.rsplit("/", 1)[1]
        if other_id not in self._objects.get(other_resource, {}):
            raise IdmError(400, f"The referenced object {ref} does not exist")
        props = {k: v for k, v in (element.get("_refProperties") or {}).items() if k not in ("_id", "_rev")}
        return other_id, (element.get("_refProperties") or {}).get("_id"), props

    def _create_rel(self, resource, obj_id, prop, other_id, props):
        other_resource, other_prop = RELATIONSHIPS[(resource, prop)]
        rel = {"_id": str(uuid.uuid4()), "_rev": self._new_rev(), "a": (resource, obj_id, prop),
               "b": (other_resource, other_id, other_prop), "props": props}
        self.store.execute("INSERT INTO relationships VALUES (?,?,?,?,?,?,?,?,?,?)",
                           (rel["_id"], rel["_rev"], *rel["a"], *rel["b"], json.dumps(props), next(self._seq)))
        self._add_rel_memory(rel)
        return rel

    def _delete_rel(self, rel_id):
        rel = self._rels.pop(rel_id)
        for end in (rel["a"], rel["b"]):
            self._rel_index.get(end, {}).pop(rel_id, None)
        self.store.execute("DELETE FROM relationships WHERE id = ?", (rel_id,))
        return rel

    def _validate_rels(self, resource, rel_values):
        parsed = {}
        for prop, elements in rel_values.items():
            if elements is None:
                elements = []
            if not isinstance(elements, list):
                raise IdmError(400, f"Relationship field {prop} must be an array")
            parsed[prop] = [self._parse_ref(resource, prop, element) for element in elements]
        return parsed

    def _replace_rels(self, resource, obj_id, parsed):
        """Make the relationship sets equal to ``parsed``; returns True when something changed."""
        changed = False
        for prop, wanted in parsed.items():
            existing = {rid: self._rels[rid] for rid in self._rel_ids(resource, obj_id, prop)}
            end = (resource, obj_id, prop)
            keep = set()
            to_create = []
            for other_id, rel_id, props in wanted:
                match = None
                if rel_id in existing and rel_id not in keep:
                    match = rel_id
                else:
                    for rid, rel in existing.items():
                        other = rel["b"] if rel["a"] == end else rel["a"]
                        if rid not in keep and other[1] == other_id:
                            match = rid
                            break
                if match is None:
                    to_create.append((other_id, props))
                else:
                    keep.add(match)
                    if props and props != existing[match]["props"]:
                        rel = existing[match]
                        rel["props"], rel["_rev"] = props, self._new_rev()
                        self.store.execute("UPDATE relationships SET rev = ?, properties = ? WHERE id = ?",
                                           (rel["_rev"], json.dumps(props), match))
                        changed = True
            for rid in existing:
                if rid not in keep:
                    self._delete_rel(rid)
                    changed = True
            for other_id, props in to_create:
                self._create_rel(resource, obj_id, prop, other_id, props)
                changed = True
        return changed

    # --- rendering -------------------------------------------------------------------------------------------------
    def _virtual(self, resource, obj_id):
        if resource != "managed/user":
            return {}
        roles = []
        for rid in self._rel_ids(resource, obj_id, "roles"):
            rel = self._rels[rid]
            other = rel["b"] if rel["a"] == (resource, obj_id, "roles") else rel["a"]
            roles.append({"_refResourceCollection": other[0], "_refResourceId": other[1],
                          "_ref": f"{other[0]}/{other[1]}"})
        return {"effectiveRoles": roles, "effectiveAssignments": []}

    def render(self, resource, obj, fields=None):
        """The client view of a stored object for ``_fields`` (list or None)."""
        rel_props = _relationship_props(resource)
        want_rels = {}
        plain_fields = None
        if fields is not None:
            plain_fields = []
            for field in fields:
                if field == "*_ref":
                    for prop in rel_props:
                        want_rels.setdefault(prop, set())
                    plain_fields.append("*")
                    continue
                head, _, rest = field.partition("/")
                if head in rel_props:
                    want_rels.setdefault(head, set())
                    if rest:
                        want_rels[head].add(rest)
                    continue
                plain_fields.append(field)
            if not plain_fields:
                plain_fields = ["_id"]
        out = copy_json(obj)
        out.update(self._virtual(resource, obj["_id"]))
        out = project(out, plain_fields)
        for prop, expand in want_rels.items():
            out[prop] = self._elements(resource, obj["_id"], prop, tuple(expand))
        return out

    # --- write core ------------------------------------------------------------------------------------------------
    def _split_body(self, resource, body):
        if not isinstance(body, dict):
            raise IdmError(400, "The request body must be a JSON object")
        rel_props = _relationship_props(resource)
        virtual = VIRTUAL_FIELDS.get(resource, ())
        plain, rels = {}, {}
        for key, value in body.items():
            if key in ("_id", "_rev") or key in virtual:
                continue
            if key in rel_props:
                rels[key] = value
            else:
                plain[key] = copy_json(value)
        return plain, rels

    def _validate_policy(self, resource, obj_id, plain):
        if self.readings.undeclared_properties == "refused":
            declared = self._schema(resource)[1]
            unmapped = sorted(k for k in plain if declared is not None and k not in declared)
            if unmapped:
                raise IdmError(400, f"Unmapped fields [{', '.join(unmapped)}] for type {resource}")
        failures = []
        for prop in self._required(resource):
            if plain.get(prop) in (None, "", []):
                failures.append((prop, "REQUIRED"))
        for prop in UNIQUE_FIELDS.get(resource, ()):
            value = plain.get(prop)
            if isinstance(value, str) and value:
                owners = self._index(resource, prop).get(queryfilter.comparable(value, True), set())
                if owners - {obj_id}:
                    failures.append((prop, "UNIQUE"))
        if failures:
            raise _policy_error(failures)

    def _store_object(self, resource, obj, old):
        positions = self._positions.setdefault(resource, {})
        position = positions.get(obj["_id"]) or next(self._seq)
        positions[obj["_id"]] = position
        self.store.execute("INSERT OR REPLACE INTO managed (type, id, rev, body, seq) VALUES (?, ?, ?, ?, ?)",
                           (resource, obj["_id"], obj["_rev"],
                            json.dumps({k: v for k, v in obj.items() if k not in ("_id", "_rev")}),
                            position))
        self._objects.setdefault(resource, {})[obj["_id"]] = obj
        self._reindex(resource, obj["_id"], old, obj)

    def _sync_view(self, resource, obj, rel_props=()):
        """The value implicit sync gets: the object with its virtual properties and the relationship fields the
        request carried (ManagedObjectSet puts those back into the response content it synchronizes)."""
        view = self.render(resource, obj, None)
        for prop in rel_props:
            view[prop] = self._elements(resource, obj["_id"], prop)
        return view

    def _notify(self, event, resource, obj_id, old, new, context):
        if self.sync_listener is not None:
            try:
                self.sync_listener(event, resource, obj_id, old, new, context)
            except Exception:  # pylint: disable=broad-except
                log.exception("implicit sync of %s/%s failed", resource, obj_id)

    def create_object(self, resource, body, obj_id=None, fields=None, context=None):
        resource = self._check_resource(resource)
        plain, rels = self._split_body(resource, body)
        with self._lock, self.store.batch():
            obj_id = obj_id or str(uuid.uuid4())
            if obj_id in self._objects.get(resource, {}):
                raise IdmError(412, "Precondition Failed")
            self._validate_policy(resource, obj_id, plain)
            parsed = self._validate_rels(resource, rels)
            obj = {"_id": obj_id, "_rev": self._new_rev()}
            obj.update(plain)
            self._store_object(resource, obj, None)
            self._replace_rels(resource, obj_id, parsed)
            view = self.render(resource, obj, fields)
            synced = self._sync_view(resource, obj, rels) if self.sync_listener else None
        self._notify("create", resource, obj_id, None, synced, context)
        return view

    def _update_locked(self, resource, obj_id, body, rev, fields):
        """The update under the lock: ``(view, old value, new value)``; the values are None when nothing
        changed (then nothing is written: IDM skips unchanged updates, ManagedObjectSet.java L556)."""
        plain, rels = self._split_body(resource, body)
        old = self._get(resource, obj_id)
        _check_rev(old["_rev"], rev)
        self._validate_policy(resource, obj_id, plain)
        parsed = self._validate_rels(resource, rels)
        old_value = self._sync_view(resource, old, rels) if self.sync_listener else None
        rels_changed = self._replace_rels(resource, obj_id, parsed)
        if strict_equal({k: v for k, v in old.items() if k not in ("_id", "_rev")}, plain):
            view = self.render(resource, old, fields)
            if not rels_changed:
                return view, None, None
            return view, old_value, self._sync_view(resource, old, rels) if self.sync_listener else None
        obj = {"_id": obj_id, "_rev": self._new_rev()}
        obj.update(plain)
        self._store_object(resource, obj, old)
        return (self.render(resource, obj, fields), old_value,
                self._sync_view(resource, obj, rels) if self.sync_listener else None)

    def update_object(self, resource, obj_id, body, rev=None, fields=None, context=None):
        resource = self._check_resource(resource)
        with self._lock, self.store.batch():
            view, old_value, new_value = self._update_locked(resource, obj_id, body, rev, fields)
        if new_value is not None:
            self._notify("update", resource, obj_id, old_value, new_value, context)
        return view

    def patch_object(self, resource, obj_id, operations, rev=None, fields=None, context=None):
        resource = self._check_resource(resource)
        rel_props = _relationship_props(resource)
        with self._lock, self.store.batch():
            old = self._get(resource, obj_id)
            _check_rev(old["_rev"], rev)
            if not isinstance(operations, list):
                raise IdmError(400, "The patch request body must be a JSON array of patch operations")
            touched = {queryfilter.parse_pointer(op.get("field", ""))[:1][0]
                       for op in operations if isinstance(op, dict) and queryfilter.parse_pointer(op.get("field", ""))}
            current = copy_json(old)
            for prop in rel_props:
                if prop in touched:
                    current[prop] = self._elements(resource, obj_id, prop)
            patched = apply_patch(current, operations, subset_fields=tuple(rel_props))
            view, old_value, new_value = self._update_locked(resource, obj_id, patched, None, fields)
        if new_value is not None:
            self._notify("update", resource, obj_id, old_value, new_value, context)
        return view

    def delete_object(self, resource, obj_id, rev=None, fields=None, context=None):
        resource = self._check_resource(resource)
        with self._lock, self.store.batch():
            old = self._get(resource, obj_id)
            _check_rev(old["_rev"], rev)
            if resource == "managed/role" and self._rel_ids(resource, obj_id, "members"):
                raise IdmError(409, "Cannot delete a role that is currently granted")
            view = self.render(resource, old, fields)
            old_value = self._sync_view(resource, old) if self.sync_listener else None
            for prop in _relationship_props(resource):
                for rid in self._rel_ids(resource, obj_id, prop):
                    self._delete_rel(rid)
            del self._objects[resource][obj_id]
            self._positions[resource].pop(obj_id, None)
            self._reindex(resource, obj_id, old, None)
            self.store.execute("DELETE FROM managed WHERE type = ? AND id = ?", (resource, obj_id))
        self._notify("delete", resource, obj_id, old_value, None, context)
        return view

    def read_object(self, resource, obj_id, fields=None):
        resource = self._check_resource(resource)
        with self._lock:
            return self.render(resource, self._get(resource, obj_id), fields)

    # --- query -----------------------------------------------------------------------------------------------------
    def _candidates(self, resource, node):
        kind = node[0]
        if kind == "eq" and len(node[1]) == 1 and node[2] is not None and not isinstance(node[2], (dict, list)):
            field = node[1][0]
            if field in _relationship_props(resource) or field in VIRTUAL_FIELDS.get(resource, ()):
                return None
            if field == "_id":
                return [node[2]] if isinstance(node[2], str) else []
            return self._index(resource, field).get(queryfilter.comparable(node[2], True), set())
        if kind == "and":
            for child in node[1]:
                found = self._candidates(resource, child)
                if found is not None:
                    return found
        if kind == "or":
            union = set()
            for child in node[1]:
                found = self._candidates(resource, child)
                if found is None:
                    return None
                union.update(found)
            return union
        return None

    def query_objects(self, resource, query_filter=None, query_id=None, fields=None, page_size=None, cookie=None,
                      offset=None, total_policy=None, sort_keys=None):
        resource = self._check_resource(resource)
        if query_id is not None:
            if query_id != "query-all-ids":
                raise IdmError(400, f"Unsupported _queryId '{query_id}'")
            query_filter, fields = "true", ["_id"]
        if query_filter is None:
            raise IdmError(400, "Query request needs _queryFilter or _queryId")
        node = queryfilter.parse(query_filter)
        expand_for_filter = any(p and (p[0] in _relationship_props(resource) or
                                       p[0] in VIRTUAL_FIELDS.get(resource, ()))
                                for p in queryfilter.pointers(node))
        with self._lock:
            objects = self._objects.get(resource, {})
            ids = self._candidates(resource, node)
            if ids is None:
                pool = objects.values()
            else:
                positions = self._positions.get(resource, {})
                pool = [objects[i] for i in sorted((i for i in ids if i in objects), key=positions.get)]
            matched = []
            for obj in pool:
                probe = self.render(resource, obj, ["*_ref"]) if expand_for_filter else obj
                if queryfilter.matches(node, probe, case_insensitive=True):
                    matched.append(obj)
            matched = sort_results(matched, sort_keys, case_insensitive=True)
            envelope = page(matched, page_size, cookie, offset, total_policy)
            envelope["result"] = [self.render(resource, obj, fields) for obj in envelope["result"]]
            return envelope

    def count(self, resource):
        with self._lock:
            return len(self._objects.get(self._check_resource(resource), {}))

    # --- relationship collections (managed/role/<id>/members[/<relId>]) -------------------------------------------
    def _rel_collection(self, resource, obj_id, prop):
        if prop not in _relationship_props(resource):
            raise IdmError(404, f"Resource '{resource}/{obj_id}/{prop}' not found")
        self._get(resource, obj_id)
        return (resource, obj_id, prop)

    def rel_query(self, resource, obj_id, prop, query_filter, fields=None, page_size=None, cookie=None,
                  offset=None, total_policy=None, sort_keys=None):
        node = queryfilter.parse(query_filter)
        with self._lock:
            end = self._rel_collection(resource, obj_id, prop)
            expand = tuple(f for f in (fields or []) if not f.startswith("_"))
            items = [self._element(self._rels[rid], end, expand, with_top_ids=True)
                     for rid in self._rel_ids(*end)]
        items = [i for i in items if queryfilter.matches(node, i, case_insensitive=True)]
        items = sort_results(items, sort_keys, case_insensitive=True)
        return page(items, page_size, cookie, offset, total_policy)

    def rel_read(self, resource, obj_id, prop, rel_id):
        with self._lock:
            end = self._rel_collection(resource, obj_id, prop)
            if rel_id not in self._rel_index.get(end, {}):
                raise IdmError(404, f"Relationship {rel_id} not found")
            return self._element(self._rels[rel_id], end, with_top_ids=True)

    def rel_create(self, resource, obj_id, prop, body):
        with self._lock, self.store.batch():
            end = self._rel_collection(resource, obj_id, prop)
            other_id, _, props = self._parse_ref(resource, prop, body)
            rel = self._create_rel(resource, obj_id, prop, other_id, props)
            return self._element(rel, end, with_top_ids=True)

    def rel_delete(self, resource, obj_id, prop, rel_id):
        with self._lock, self.store.batch():
            element = self.rel_read(resource, obj_id, prop, rel_id)
            self._delete_rel(rel_id)
            return element

    # --- InternalRouter provider -----------------------------------------------------------------------------------
    @staticmethod
    def _split_rel(resource):
        parts = resource.strip("/").split("/")
        if len(parts) == 4:
            return "/".join(parts[:2]), parts[2], parts[3]
        return None

    def create(self, resource, obj, id=None, context=None):  # pylint: disable=redefined-builtin
        rel = self._split_rel(resource)
        if rel:
            return self.rel_create(*rel, obj)
        return self.create_object(resource, obj, id, context=context)

    def read(self, resource, id, fields=None, context=None):  # pylint: disable=redefined-builtin
        rel = self._split_rel(resource)
        if rel:
            return self.rel_read(*rel, id)
        return self.read_object(resource, id, fields)

    def update(self, resource, id, obj, rev=None, context=None):  # pylint: disable=redefined-builtin
        return self.update_object(resource, id, obj, rev, context=context)

    def patch(self, resource, id, ops, rev=None, context=None):  # pylint: disable=redefined-builtin
        return self.patch_object(resource, id, ops, rev, context=context)

    def delete(self, resource, id, rev=None, context=None):  # pylint: disable=redefined-builtin
        rel = self._split_rel(resource)
        if rel:
            return self.rel_delete(*rel, id)
        return self.delete_object(resource, id, rev, context=context)

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        if isinstance(fields, str):
            fields = parse_fields(fields)
        rel = self._split_rel(resource)
        if rel:
            return self.rel_query(*rel, query_filter, fields, page_size, cookie)
        return self.query_objects(resource, query_filter, fields=fields, page_size=page_size, cookie=cookie)

    # --- REST ------------------------------------------------------------------------------------------------------
    def handle(self, request):
        path = request.path
        if not path:
            raise IdmError(404, "Resource 'managed' not found")
        resource = f"managed/{path[0]}"
        q = request.query
        fields = parse_fields(q.get("_fields"))
        paging = dict(page_size=int_param(q.get("_pageSize"), "_pageSize"), cookie=q.get("_pagedResultsCookie"),
                      offset=int_param(q.get("_pagedResultsOffset"), "_pagedResultsOffset"),
                      total_policy=q.get("_totalPagedResultsPolicy"), sort_keys=q.get("_sortKeys"))
        method = request.method
        context = {"initiator": request.principal}
        if_match = request.headers.get("if-match")
        if_none_match = request.headers.get("if-none-match")
        if len(path) == 1:
            if method == "GET":
                if "_queryFilter" not in q and "_queryId" not in q:
                    raise IdmError(400, "Query request needs _queryFilter or _queryId")
                return Response(200, self.query_objects(resource, q.get("_queryFilter"), q.get("_queryId"),
                                                        fields, **paging))
            if method == "POST":
                if request.action != "create":
                    raise IdmError(400, f"Action {request.action} not supported on {resource}")
                created = self.create_object(resource, request.body, None, fields, context=context)
                return Response(201, created, {"Location": f"/openidm/{resource}/{created['_id']}"})
            raise IdmError(405, f"Method {method} not allowed on {resource}")
        obj_id = path[1]
        if len(path) == 2:
            if method == "GET":
                return Response(200, self.read_object(resource, obj_id, fields))
            if method == "PUT":
                if if_none_match is not None:
                    if if_none_match.strip() != "*":
                        raise IdmError(400, "If-None-Match must be * on PUT")
                    created = self.create_object(resource, request.body, obj_id, fields, context=context)
                    return Response(201, created, {"Location": f"/openidm/{resource}/{obj_id}"})
                with self._lock:
                    exists = obj_id in self._objects.get(self._check_resource(resource), {})
                    if not exists and if_match in (None, "*"):
                        created = self.create_object(resource, request.body, obj_id, fields, context=context)
                        return Response(201, created, {"Location": f"/openidm/{resource}/{obj_id}"})
                return Response(200, self.update_object(resource, obj_id, request.body, if_match, fields,
                                                        context=context))
            if method == "PATCH":
                return Response(200, self.patch_object(resource, obj_id, request.body, if_match, fields,
                                                       context=context))
            if method == "DELETE":
                return Response(200, self.delete_object(resource, obj_id, if_match, fields, context=context))
            if method == "POST":
                raise IdmError(400, f"Action {request.action} not supported on {resource}/{obj_id}")
            raise IdmError(405, f"Method {method} not allowed")
        prop = path[2]
        if len(path) == 3:
            if method == "GET":
                if "_queryFilter" not in q:
                    raise IdmError(400, "Query request needs _queryFilter")
                return Response(200, self.rel_query(resource, obj_id, prop, q["_queryFilter"], fields, **paging))
            if method == "POST" and request.action == "create":
                element = self.rel_create(resource, obj_id, prop, request.body)
                return Response(201, element,
                                {"Location": f"/openidm/{resource}/{obj_id}/{prop}/{element['_id']}"})
            raise IdmError(405, f"Method {method} not allowed on {resource}/{obj_id}/{prop}")
        if len(path) == 4:
            if method == "GET":
                return Response(200, self.rel_read(resource, obj_id, prop, path[3]))
            if method == "DELETE":
                return Response(200, self.rel_delete(resource, obj_id, prop, path[3]))
            raise IdmError(405, f"Method {method} not allowed on a relationship")
        raise IdmError(404, f"Resource '{'/'.join(['managed'] + path)}' not found")
