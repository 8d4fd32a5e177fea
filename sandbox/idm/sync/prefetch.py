"""What a reconciliation reads before it reconciles (IDM queries the source and target sets and, with
``prefetchLinks``, every link up front): the query filters of ``sourceQuery``/``targetQuery``, and the target set
with an equality index over it, so correlation queries that are a plain equality (or an ``and`` of equalities) on
an unrestricted target set are answered from memory instead of one query per source.
"""

from __future__ import annotations

from typing import Any

from .. import queryfilter
from ..errors import IdmError


def query_filter_of(spec: Any, what: str) -> str:
    """The ``_queryFilter`` of a ``sourceQuery``/``targetQuery`` (``true`` when absent)."""
    if spec is None:
        return "true"
    if not isinstance(spec, dict):
        raise IdmError(400, f"Invalid {what}: expected an object with _queryFilter")
    if "_queryFilter" in spec:
        return spec["_queryFilter"]
    if spec.get("_queryId") in ("query-all-ids", "query-all"):
        return "true"
    raise IdmError(400, f"Unsupported {what} {spec!r}: only _queryFilter is supported by the sandbox")


def index_plan(node):
    """Equality clauses ``[(pointer, value)]`` when a filter can be answered by the index, else None."""
    if node[0] == "eq":
        return [(node[1], node[2])]
    if node[0] == "and" and all(child[0] == "eq" for child in node[1]):
        return [(child[1], child[2]) for child in node[1]]
    return None


class TargetIndex:
    """Equality index over the prefetched targets, per pointer, built on first use; case-insensitive like the
    managed repository and SCIM's default attributes."""

    def __init__(self, targets):
        self.targets = targets
        self.indexes = {}

    @staticmethod
    def _keys(obj, segments):
        keys = set()
        for value in queryfilter.resolve(obj, segments):
            key = queryfilter.comparable(value, True)
            if key is not None:
                keys.add(key)
        return keys

    def lookup(self, segments, value):
        key = tuple(segments)
        index = self.indexes.get(key)
        if index is None:
            index = {}
            for target_id, obj in self.targets.items():
                for k in self._keys(obj, segments):
                    index.setdefault(k, []).append(target_id)
            self.indexes[key] = index
        return index.get(queryfilter.comparable(value, True), [])

    def put(self, target_id, obj):
        old = self.targets.get(target_id)
        for key, index in self.indexes.items():
            if old is not None:
                for k in self._keys(old, list(key)):
                    ids = index.get(k)
                    if ids and target_id in ids:
                        ids.remove(target_id)
            if obj is not None:
                for k in self._keys(obj, list(key)):
                    index.setdefault(k, []).append(target_id)
        if obj is None:
            self.targets.pop(target_id, None)
        else:
            self.targets[target_id] = obj


class Targets:
    """The target objects a run knows (``objects``: prefetched, or read on the way) and the ids the source phase
    has seen. After ``prefetched()`` the run's writes are tracked and, when the target query was unrestricted
    (``index_usable``), correlation can use the equality index."""

    def __init__(self) -> None:
        self.objects: dict[str, dict] = {}
        self.index: TargetIndex | None = None
        self.index_usable = False
        self.seen: set[str] = set()

    def prefetched(self, objects: dict[str, dict], index_usable: bool) -> None:
        self.objects = objects
        self.index = TargetIndex(objects)
        self.index_usable = index_usable

    def get(self, target_id: str) -> dict | None:
        return self.objects.get(target_id)

    def put(self, target_id: str, obj: dict | None) -> None:
        """A target the run created, changed (``obj``) or deleted (None); only a prefetched set tracks them."""
        if self.index is not None:
            self.index.put(target_id, obj)

    def lookup(self, plan: list[tuple[list[str], Any]]) -> list[str]:
        """The ids matching every ``(pointer, value)`` equality of an ``index_plan``."""
        ids = None
        for segments, value in plan:
            found = self.index.lookup(segments, value)
            ids = list(found) if ids is None else [i for i in ids if i in found]
        return ids or []
