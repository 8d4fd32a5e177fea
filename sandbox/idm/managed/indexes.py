"""In-memory hash indexes of managed objects: per object type and top-level field, the ids of the objects holding
each (case-folded) value. An index is built on first use and kept up to date by every write. Queries use them to
pick candidates for ``eq`` on a top-level field (also inside ``and``/``or``); the policy uses them for uniqueness.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import queryfilter

Key = tuple[str, Any]


def index_keys(value: Any) -> list[Key]:
    """The keys a value is indexed under: each element of an array, case-folded, nulls left out."""
    values = value if isinstance(value, list) else [value]
    keys = []
    for item in values:
        key = queryfilter.comparable(item, True)
        if key is not None and key[0] != "z":
            keys.append(key)
    return keys


class FieldIndexes:
    """``objects(resource)`` gives the stored objects of a type (``{id: object}``); ``unindexed(resource, field)``
    tells which fields are not stored on the object (relationship and virtual fields)."""

    def __init__(self, objects: Callable[[str], dict[str, dict]], unindexed: Callable[[str, str], bool]) -> None:
        self._objects = objects
        self._unindexed = unindexed
        self._indexes: dict[str, dict[str, dict[Key, set[str]]]] = {}

    def clear(self) -> None:
        self._indexes = {}

    def index(self, resource: str, field: str) -> dict[Key, set[str]]:
        indexes = self._indexes.setdefault(resource, {})
        index = indexes.get(field)
        if index is None:
            index = {}
            for obj_id, obj in self._objects(resource).items():
                for key in index_keys(obj.get(field)):
                    index.setdefault(key, set()).add(obj_id)
            indexes[field] = index
        return index

    def owners(self, resource: str, field: str, value: Any) -> set[str]:
        """The ids of the objects whose ``field`` holds ``value`` (case-insensitive)."""
        return self.index(resource, field).get(queryfilter.comparable(value, True), set())

    def update(self, resource: str, obj_id: str, old: dict | None, new: dict | None) -> None:
        """Move an object's entries from its old to its new value (None = absent) in every built index."""
        for field, index in self._indexes.get(resource, {}).items():
            if old is not None:
                for key in index_keys(old.get(field)):
                    ids = index.get(key)
                    if ids:
                        ids.discard(obj_id)
            if new is not None:
                for key in index_keys(new.get(field)):
                    index.setdefault(key, set()).add(obj_id)

    def candidates(self, resource: str, node: tuple) -> set[str] | list[str] | None:
        """The ids a query filter can only match among, or None when the filter needs a full scan."""
        kind = node[0]
        if kind == "eq" and len(node[1]) == 1 and node[2] is not None and not isinstance(node[2], (dict, list)):
            field = node[1][0]
            if self._unindexed(resource, field):
                return None
            if field == "_id":
                return [node[2]] if isinstance(node[2], str) else []
            return self.owners(resource, field, node[2])
        if kind == "and":
            for child in node[1]:
                found = self.candidates(resource, child)
                if found is not None:
                    return found
        if kind == "or":
            union: set[str] = set()
            for child in node[1]:
                found = self.candidates(resource, child)
                if found is None:
                    return None
                union.update(found)
            return union
        return None
