"""The managed-object service: create, read, update, patch, delete and query ``managed/<name>`` objects, with the
relationship fields of ``relationships.py`` and the policy of ``policy.py``. See the package docstring for the
behaviour; this module knows nothing of HTTP (the REST routes are ``sandbox.idm.rest.managed``) nor of resource
paths (the internal router's provider is ``provider.py``).
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from typing import Any, Protocol

from .. import queryfilter
from ..config import ConfigService
from ..crest import NO_PAGING, Paging, apply_patch, copy_json, project, strict_equal
from ..errors import IdmError
from ..readings import Readings
from ..store import Store
from .indexes import FieldIndexes
from .policy import Policy
from .relationships import Relationships, relationship_props

log = logging.getLogger("sandbox.idm.managed")

VIRTUAL_FIELDS = {"managed/user": ("effectiveRoles", "effectiveAssignments")}


class SyncListener(Protocol):
    """The implicit synchronization (``sandbox.idm.sync.implicit.ImplicitSync``)."""

    def syncs(self, resource: str) -> bool:
        """Whether a change to ``resource`` goes through any mapping."""

    def notify(self, event: str, resource: str, object_id: str, old: Any, new: Any, context: Any) -> Any:
        """Synchronize one change (``event``: create, update or delete); never raises."""


def _check_rev(current_rev: str, rev: str | None) -> None:
    if rev not in (None, "*") and rev.strip('"') != current_rev:
        raise IdmError(412, "Precondition Failed")


def _check_resource(resource: str) -> str:
    parts = resource.strip("/").split("/")
    if len(parts) != 2 or parts[0] != "managed" or not parts[1]:
        raise IdmError(404, f"Resource '{resource}' not found")
    return "/".join(parts)


def _not_stored(resource: str, field: str) -> bool:
    return field in relationship_props(resource) or field in VIRTUAL_FIELDS.get(resource, ())


class ManagedService:
    def __init__(self, store: Store, config: ConfigService, readings: Readings) -> None:
        self.store = store
        self.sync_listener: SyncListener | None = None
        self._lock = store.lock  # one lock with the store: batches and managed writes cannot deadlock
        self._objects: dict[str, dict[str, dict]] = {}  # resource -> {id: stored object incl. _id/_rev}, in order
        self._positions: dict[str, dict[str, int]] = {}  # resource -> {id: creation sequence number}
        self._rev_prefix = uuid.uuid4().hex[:8]
        self._counter = itertools.count(1)
        self._seq = itertools.count(1)
        self.policy = Policy(config, readings)
        self.indexes = FieldIndexes(self._objects_of, _not_stored)
        self.relationships = Relationships(store, self._objects_of, self._new_rev, lambda: next(self._seq))
        self._load()
        store.on_rollback(self._load)

    def _load(self) -> None:
        """(Re)build the in-memory state from SQLite: at start and after a rolled-back batch."""
        self._objects, self._positions = {}, {}
        self.indexes.clear()
        seq = 0
        for resource, obj_id, rev, body, row_seq in self.store.query(
            "SELECT type, id, rev, body, seq FROM managed ORDER BY seq"
        ):
            obj = {"_id": obj_id, "_rev": rev}
            obj.update(json.loads(body))
            self._objects.setdefault(resource, {})[obj_id] = obj
            self._positions.setdefault(resource, {})[obj_id] = row_seq
            seq = max(seq, row_seq)
        seq = max(seq, self.relationships.load())
        self._seq = itertools.count(seq + 1)

    # --- helpers ---------------------------------------------------------------------------------------------------
    def _objects_of(self, resource: str) -> dict[str, dict]:
        return self._objects.get(resource, {})

    def _new_rev(self) -> str:
        return f"{self._rev_prefix}-{next(self._counter)}"

    def _get(self, resource: str, obj_id: str) -> dict:
        obj = self._objects.get(resource, {}).get(obj_id)
        if obj is None:
            raise IdmError(404, f"Object {resource}/{obj_id} not found in {resource}")
        return obj

    # --- rendering -------------------------------------------------------------------------------------------------
    def _virtual(self, resource: str, obj_id: str) -> dict:
        if resource != "managed/user":
            return {}
        return {"effectiveRoles": self.relationships.effective_roles(obj_id), "effectiveAssignments": []}

    def render(self, resource: str, obj: dict, fields: list[str] | None = None) -> dict:
        """The client view of a stored object for ``_fields`` (list or None)."""
        rel_props = relationship_props(resource)
        want_rels: dict[str, set[str]] = {}
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
            out[prop] = self.relationships.elements(resource, obj["_id"], prop, tuple(expand))
        return out

    def _sync_view(self, resource: str, obj: dict, rel_props: Any = ()) -> dict | None:
        """The value implicit sync gets: the object with its virtual properties and the relationship fields the
        request carried (ManagedObjectSet puts those back into the content it syncs). None when no mapping
        synchronizes ``resource``: then there is nothing to build and nothing to notify."""
        if self.sync_listener is None or not self.sync_listener.syncs(resource):
            return None
        view = self.render(resource, obj, None)
        for prop in rel_props:
            view[prop] = self.relationships.elements(resource, obj["_id"], prop)
        return view

    def _notify(self, event: str, resource: str, obj_id: str, old: Any, new: Any, context: Any) -> None:
        if self.sync_listener is None or (old is None and new is None):  # no view built: nothing synchronizes it
            return
        try:
            self.sync_listener.notify(event, resource, obj_id, old, new, context)
        except Exception:
            log.exception("implicit sync of %s/%s failed", resource, obj_id)

    # --- write core ------------------------------------------------------------------------------------------------
    @staticmethod
    def _split_body(resource: str, body: Any) -> tuple[dict, dict]:
        """``(plain fields, relationship fields)`` of a request body; ``_id``, ``_rev`` and virtual fields go."""
        if not isinstance(body, dict):
            raise IdmError(400, "The request body must be a JSON object")
        rel_props = relationship_props(resource)
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

    def _store_object(self, resource: str, obj: dict, old: dict | None) -> None:
        positions = self._positions.setdefault(resource, {})
        position = positions.get(obj["_id"]) or next(self._seq)
        positions[obj["_id"]] = position
        self.store.execute(
            "INSERT OR REPLACE INTO managed (type, id, rev, body, seq) VALUES (?, ?, ?, ?, ?)",
            (
                resource,
                obj["_id"],
                obj["_rev"],
                json.dumps({k: v for k, v in obj.items() if k not in ("_id", "_rev")}),
                position,
            ),
        )
        self._objects.setdefault(resource, {})[obj["_id"]] = obj
        self.indexes.update(resource, obj["_id"], old, obj)

    def _validate(self, resource: str, obj_id: str, plain: dict, rels: dict) -> dict:
        self.policy.validate(resource, obj_id, plain, self.indexes.owners)
        return self.relationships.validate(resource, rels)

    def _update_locked(
        self, resource: str, obj_id: str, body: Any, rev: str | None, fields: list[str] | None
    ) -> tuple[dict, Any, Any]:
        """The update under the lock: ``(view, old value, new value)``; the values are None when nothing
        changed (then nothing is written: IDM skips unchanged updates, ManagedObjectSet.java L556)."""
        plain, rels = self._split_body(resource, body)
        old = self._get(resource, obj_id)
        _check_rev(old["_rev"], rev)
        parsed = self._validate(resource, obj_id, plain, rels)
        old_value = self._sync_view(resource, old, rels)
        rels_changed = self.relationships.replace(resource, obj_id, parsed)
        if strict_equal({k: v for k, v in old.items() if k not in ("_id", "_rev")}, plain):
            view = self.render(resource, old, fields)
            if not rels_changed:
                return view, None, None
            return view, old_value, self._sync_view(resource, old, rels)
        obj = {"_id": obj_id, "_rev": self._new_rev()}
        obj.update(plain)
        self._store_object(resource, obj, old)
        return self.render(resource, obj, fields), old_value, self._sync_view(resource, obj, rels)

    # --- CRUD ------------------------------------------------------------------------------------------------------
    def create_object(
        self, resource: str, body: Any, obj_id: str | None = None, fields: list[str] | None = None, context: Any = None
    ) -> dict:
        resource = _check_resource(resource)
        plain, rels = self._split_body(resource, body)
        with self._lock, self.store.batch():
            obj_id = obj_id or str(uuid.uuid4())
            if obj_id in self._objects.get(resource, {}):
                raise IdmError(412, "Precondition Failed")
            parsed = self._validate(resource, obj_id, plain, rels)
            obj = {"_id": obj_id, "_rev": self._new_rev()}
            obj.update(plain)
            self._store_object(resource, obj, None)
            self.relationships.replace(resource, obj_id, parsed)
            view = self.render(resource, obj, fields)
            synced = self._sync_view(resource, obj, rels)
        self._notify("create", resource, obj_id, None, synced, context)
        return view

    def put_object(
        self,
        resource: str,
        obj_id: str,
        body: Any,
        rev: str | None = None,
        fields: list[str] | None = None,
        context: Any = None,
    ) -> tuple[bool, dict]:
        """IDM's PUT without ``If-None-Match``: ``(created, view)``. A missing object is created unless ``rev``
        names a revision (then the update answers 404)."""
        with self._lock:
            exists = obj_id in self._objects.get(_check_resource(resource), {})
            if not exists and rev in (None, "*"):
                return True, self.create_object(resource, body, obj_id, fields, context=context)
        return False, self.update_object(resource, obj_id, body, rev, fields, context=context)

    def update_object(
        self,
        resource: str,
        obj_id: str,
        body: Any,
        rev: str | None = None,
        fields: list[str] | None = None,
        context: Any = None,
    ) -> dict:
        resource = _check_resource(resource)
        with self._lock, self.store.batch():
            view, old_value, new_value = self._update_locked(resource, obj_id, body, rev, fields)
        if new_value is not None:
            self._notify("update", resource, obj_id, old_value, new_value, context)
        return view

    def patch_object(
        self,
        resource: str,
        obj_id: str,
        operations: Any,
        rev: str | None = None,
        fields: list[str] | None = None,
        context: Any = None,
    ) -> dict:
        resource = _check_resource(resource)
        rel_props = relationship_props(resource)
        with self._lock, self.store.batch():
            old = self._get(resource, obj_id)
            _check_rev(old["_rev"], rev)
            if not isinstance(operations, list):
                raise IdmError(400, "The patch request body must be a JSON array of patch operations")
            touched = {
                queryfilter.parse_pointer(op.get("field", ""))[:1][0]
                for op in operations
                if isinstance(op, dict) and queryfilter.parse_pointer(op.get("field", ""))
            }
            current = copy_json(old)
            for prop in rel_props:
                if prop in touched:
                    current[prop] = self.relationships.elements(resource, obj_id, prop)
            patched = apply_patch(current, operations, subset_fields=tuple(rel_props))
            view, old_value, new_value = self._update_locked(resource, obj_id, patched, None, fields)
        if new_value is not None:
            self._notify("update", resource, obj_id, old_value, new_value, context)
        return view

    def delete_object(
        self, resource: str, obj_id: str, rev: str | None = None, fields: list[str] | None = None, context: Any = None
    ) -> dict:
        resource = _check_resource(resource)
        with self._lock, self.store.batch():
            old = self._get(resource, obj_id)
            _check_rev(old["_rev"], rev)
            if resource == "managed/role" and self.relationships.ids(resource, obj_id, "members"):
                raise IdmError(409, "Cannot delete a role that is currently granted")
            view = self.render(resource, old, fields)
            old_value = self._sync_view(resource, old)
            self.relationships.delete_all(resource, obj_id)
            del self._objects[resource][obj_id]
            self._positions[resource].pop(obj_id, None)
            self.indexes.update(resource, obj_id, old, None)
            self.store.execute("DELETE FROM managed WHERE type = ? AND id = ?", (resource, obj_id))
        self._notify("delete", resource, obj_id, old_value, None, context)
        return view

    def read_object(self, resource: str, obj_id: str, fields: list[str] | None = None) -> dict:
        resource = _check_resource(resource)
        with self._lock:
            return self.render(resource, self._get(resource, obj_id), fields)

    # --- query -----------------------------------------------------------------------------------------------------
    def query_objects(
        self,
        resource: str,
        query_filter: str | None = None,
        query_id: str | None = None,
        fields: list[str] | None = None,
        paging: Paging = NO_PAGING,
    ) -> dict:
        resource = _check_resource(resource)
        if query_id is not None:
            if query_id != "query-all-ids":
                raise IdmError(400, f"Unsupported _queryId '{query_id}'")
            query_filter, fields = "true", ["_id"]
        if query_filter is None:
            raise IdmError(400, "Query request needs _queryFilter or _queryId")
        node = queryfilter.parse(query_filter)
        expand_for_filter = any(p and _not_stored(resource, p[0]) for p in queryfilter.pointers(node))
        with self._lock:
            objects = self._objects.get(resource, {})
            ids = self.indexes.candidates(resource, node)
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
            envelope = paging.apply(matched, case_insensitive=True)
            envelope["result"] = [self.render(resource, obj, fields) for obj in envelope["result"]]
            return envelope

    # --- relationship collections (managed/role/<id>/members[/<relId>]) -------------------------------------------
    def _rel_collection(self, resource: str, obj_id: str, prop: str) -> tuple[str, str, str]:
        if prop not in relationship_props(resource):
            raise IdmError(404, f"Resource '{resource}/{obj_id}/{prop}' not found")
        self._get(resource, obj_id)
        return (resource, obj_id, prop)

    def rel_query(
        self,
        resource: str,
        obj_id: str,
        prop: str,
        query_filter: str,
        fields: list[str] | None = None,
        paging: Paging = NO_PAGING,
    ) -> dict:
        node = queryfilter.parse(query_filter)
        with self._lock:
            end = self._rel_collection(resource, obj_id, prop)
            expand = tuple(f for f in (fields or []) if not f.startswith("_"))
            items = [
                self.relationships.element(rid, end, expand, with_top_ids=True) for rid in self.relationships.ids(*end)
            ]
        items = [i for i in items if queryfilter.matches(node, i, case_insensitive=True)]
        return paging.apply(items, case_insensitive=True)

    def rel_read(self, resource: str, obj_id: str, prop: str, rel_id: str) -> dict:
        with self._lock:
            end = self._rel_collection(resource, obj_id, prop)
            if not self.relationships.holds(end, rel_id):
                raise IdmError(404, f"Relationship {rel_id} not found")
            return self.relationships.element(rel_id, end, with_top_ids=True)

    def rel_create(self, resource: str, obj_id: str, prop: str, body: Any) -> dict:
        with self._lock, self.store.batch():
            end = self._rel_collection(resource, obj_id, prop)
            other_id, _, props = self.relationships.parse_ref(resource, prop, body)
            rel_id = self.relationships.create(resource, obj_id, prop, other_id, props)
            return self.relationships.element(rel_id, end, with_top_ids=True)

    def rel_delete(self, resource: str, obj_id: str, prop: str, rel_id: str) -> dict:
        with self._lock, self.store.batch():
            element = self.rel_read(resource, obj_id, prop, rel_id)
            self.relationships.delete(rel_id)
            return element
