"""Relationships between managed objects: ``user.roles`` <-> ``role.members`` (many-to-many), kept in memory and
written through to SQLite (table ``relationships``).

A relationship record is ``{"_id", "_rev", "a": (resource, id, property), "b": (...), "props"}``; either end can
be read as an element of its object's relationship field: ``{"_ref", "_refResourceCollection",
"_refResourceId", "_refProperties": {"_id", "_rev", ...}}``. Referencing an object that does not exist is a 400.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from ..crest import copy_json
from ..errors import IdmError
from ..store import Store

# (resource, property) -> (other resource, other property); both ends are many-valued.
RELATIONSHIPS = {
    ("managed/user", "roles"): ("managed/role", "members"),
    ("managed/role", "members"): ("managed/user", "roles"),
}

End = tuple[str, str, str]  # (resource, object id, property)

_PROPS_OF: dict[str, dict[str, tuple[str, str]]] = {}


def relationship_props(resource: str) -> dict[str, tuple[str, str]]:
    """``{property: (other resource, other property)}`` of the relationship fields of a managed object type."""
    props = _PROPS_OF.get(resource)
    if props is None:
        props = _PROPS_OF[resource] = {p: other for (res, p), other in RELATIONSHIPS.items() if res == resource}
    return props


class Relationships:
    """The relationship records. ``objects(resource)`` gives the stored objects of a type (``{id: object}``) for
    reference checks and expansion; ``new_rev()`` and ``next_seq()`` are the managed service's counters."""

    def __init__(
        self,
        store: Store,
        objects: Callable[[str], dict[str, dict]],
        new_rev: Callable[[], str],
        next_seq: Callable[[], int],
    ) -> None:
        self.store = store
        self._objects = objects
        self._new_rev = new_rev
        self._next_seq = next_seq
        self._rels: dict[str, dict[str, Any]] = {}  # rel id -> record
        self._index: dict[End, dict[str, None]] = {}  # end -> {rel id: None} (ordered set)

    def load(self) -> int:
        """(Re)read every record from SQLite; returns the highest sequence number seen (0 when none)."""
        self._rels, self._index = {}, {}
        seq = 0
        for row in self.store.query(
            "SELECT id, rev, first_resource, first_id, first_property, second_resource, "
            "second_id, second_property, properties, seq FROM relationships ORDER BY seq"
        ):
            rel = {
                "_id": row[0],
                "_rev": row[1],
                "a": tuple(row[2:5]),
                "b": tuple(row[5:8]),
                "props": json.loads(row[8]),
            }
            self._remember(rel)
            seq = max(seq, row[9])
        return seq

    def _remember(self, rel: dict[str, Any]) -> None:
        self._rels[rel["_id"]] = rel
        self._index.setdefault(rel["a"], {})[rel["_id"]] = None
        self._index.setdefault(rel["b"], {})[rel["_id"]] = None

    # --- reading -------------------------------------------------------------------------------------------------
    def ids(self, resource: str, obj_id: str, prop: str) -> list[str]:
        return list(self._index.get((resource, obj_id, prop), {}))

    def holds(self, end: End, rel_id: str) -> bool:
        return rel_id in self._index.get(end, {})

    def element(self, rel_id: str, end: End, expand: tuple[str, ...] = (), with_top_ids: bool = False) -> dict:
        """The record as an element of ``end``'s relationship field; ``expand`` adds fields of the other object."""
        rel = self._rels[rel_id]
        other = rel["b"] if rel["a"] == end else rel["a"]
        element: dict[str, Any] = {}
        if with_top_ids:
            element.update({"_id": rel["_id"], "_rev": rel["_rev"]})
        element.update(
            {
                "_ref": f"{other[0]}/{other[1]}",
                "_refResourceCollection": other[0],
                "_refResourceId": other[1],
                "_refProperties": dict({"_id": rel["_id"], "_rev": rel["_rev"]}, **copy_json(rel["props"])),
            }
        )
        if expand:
            target = self._objects(other[0]).get(other[1])
            if target is not None:
                wanted = [f for f in expand if not f.startswith("_ref")]
                if "*" in wanted:
                    element.update({k: copy_json(v) for k, v in target.items() if k not in element})
                else:
                    element.update({k: copy_json(target[k]) for k in wanted if k in target and k not in element})
        return element

    def elements(self, resource: str, obj_id: str, prop: str, expand: tuple[str, ...] = ()) -> list[dict]:
        end = (resource, obj_id, prop)
        return [self.element(rid, end, expand) for rid in self.ids(resource, obj_id, prop)]

    def effective_roles(self, user_id: str) -> list[dict]:
        """``effectiveRoles`` of a user: a reference to each role it has."""
        end = ("managed/user", user_id, "roles")
        roles = []
        for rid in self.ids(*end):
            rel = self._rels[rid]
            other = rel["b"] if rel["a"] == end else rel["a"]
            roles.append(
                {"_refResourceCollection": other[0], "_refResourceId": other[1], "_ref": f"{other[0]}/{other[1]}"}
            )
        return roles

    # --- writing -------------------------------------------------------------------------------------------------
    def parse_ref(self, resource: str, prop: str, element: Any) -> tuple[str, str | None, dict]:
        """``(other id, relationship id or None, properties)`` of an element a client sent; 400 when invalid."""
        if not isinstance(element, dict):
            raise IdmError(400, f"Relationship field {prop} needs objects with _ref")
        ref = element.get("_ref")
        if ref is None and element.get("_refResourceCollection") and element.get("_refResourceId"):
            ref = f"{element['_refResourceCollection']}/{element['_refResourceId']}"
        other_resource, _ = RELATIONSHIPS[(resource, prop)]
        if not isinstance(ref, str) or not ref.startswith(other_resource + "/") or ref.count("/") != 2:
            raise IdmError(400, f"Relationship field {prop} needs _ref of the form {other_resource}/<id>, got {ref!r}")
        other_id = ref.rsplit("/", 1)[1]
        if other_id not in self._objects(other_resource):
            raise IdmError(400, f"The referenced object {ref} does not exist")
        props = {k: v for k, v in (element.get("_refProperties") or {}).items() if k not in ("_id", "_rev")}
        return other_id, (element.get("_refProperties") or {}).get("_id"), props

    def validate(self, resource: str, rel_values: dict[str, Any]) -> dict[str, list[tuple[str, str | None, dict]]]:
        """The parsed elements of the relationship fields of a request body (400 on a bad one)."""
        parsed = {}
        for prop, elements in rel_values.items():
            if elements is None:
                elements = []
            if not isinstance(elements, list):
                raise IdmError(400, f"Relationship field {prop} must be an array")
            parsed[prop] = [self.parse_ref(resource, prop, element) for element in elements]
        return parsed

    def create(self, resource: str, obj_id: str, prop: str, other_id: str, props: dict) -> str:
        other_resource, other_prop = RELATIONSHIPS[(resource, prop)]
        rel = {
            "_id": str(uuid.uuid4()),
            "_rev": self._new_rev(),
            "a": (resource, obj_id, prop),
            "b": (other_resource, other_id, other_prop),
            "props": props,
        }
        self.store.execute(
            "INSERT INTO relationships VALUES (?,?,?,?,?,?,?,?,?,?)",
            (rel["_id"], rel["_rev"], *rel["a"], *rel["b"], json.dumps(props), self._next_seq()),
        )
        self._remember(rel)
        return rel["_id"]

    def delete(self, rel_id: str) -> None:
        rel = self._rels.pop(rel_id)
        for end in (rel["a"], rel["b"]):
            self._index.get(end, {}).pop(rel_id, None)
        self.store.execute("DELETE FROM relationships WHERE id = ?", (rel_id,))

    def delete_all(self, resource: str, obj_id: str) -> None:
        """Every relationship of an object (it is being deleted)."""
        for prop in relationship_props(resource):
            for rid in self.ids(resource, obj_id, prop):
                self.delete(rid)

    def replace(self, resource: str, obj_id: str, parsed: dict[str, list[tuple[str, str | None, dict]]]) -> bool:
        """Make the relationship sets equal to ``parsed``; returns True when something changed. Elements that
        name an existing relationship id, or the same other object, keep their record."""
        changed = False
        for prop, wanted in parsed.items():
            existing = {rid: self._rels[rid] for rid in self.ids(resource, obj_id, prop)}
            end = (resource, obj_id, prop)
            keep: set[str] = set()
            to_create = []
            for other_id, rel_id, props in wanted:
                match = self._match(existing, keep, end, other_id, rel_id)
                if match is None:
                    to_create.append((other_id, props))
                    continue
                keep.add(match)
                if props and props != existing[match]["props"]:
                    rel = existing[match]
                    rel["props"], rel["_rev"] = props, self._new_rev()
                    self.store.execute(
                        "UPDATE relationships SET rev = ?, properties = ? WHERE id = ?",
                        (rel["_rev"], json.dumps(props), match),
                    )
                    changed = True
            for rid in existing:
                if rid not in keep:
                    self.delete(rid)
                    changed = True
            for other_id, props in to_create:
                self.create(resource, obj_id, prop, other_id, props)
                changed = True
        return changed

    @staticmethod
    def _match(existing: dict[str, dict], keep: set[str], end: End, other_id: str, rel_id: str | None) -> str | None:
        if rel_id in existing and rel_id not in keep:
            return rel_id
        for rid, rel in existing.items():
            other = rel["b"] if rel["a"] == end else rel["a"]
            if rid not in keep and other[1] == other_id:
                return rid
        return None
