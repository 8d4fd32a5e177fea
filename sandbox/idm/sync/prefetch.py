"""What a reconciliation reads before it reconciles (IDM queries the source and target sets and, with
``prefetchLinks``, every link up front): the query filters of ``sourceQuery``/``targetQuery``, and the target set
with an equality index over it, so correlation queries that are a plain equality (or an ``and`` of equalities) on
an unrestricted target set are answered from memory instead of one query per source.
"""

from __future__ import annotations

import time
from typing import Any

from .. import queryfilter
from ..errors import IdmError
from .scope import RunScope


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


def prefetch_sets(scope: RunScope) -> tuple[dict[str, dict | None], dict[str, dict], bool]:
    """``(sources, targets, index_usable)``: the source set (``sourceQuery``, or the ``reconById`` ids, None for
    a gone one) and the target set (``targetQuery``), read in bulk and timed, with the run's ``parameters`` and
    totals set. The target index may answer correlation queries only when the target query is unrestricted."""
    run, mapping = scope.run, scope.mapping
    source_filter = query_filter_of(mapping.source_query, "sourceQuery")
    target_filter = query_filter_of(mapping.target_query, "targetQuery")
    source_fields, target_fields = scope.fields("source"), scope.fields("target")
    run.parameters = {
        "sourceQuery": {
            "resourceName": mapping.source,
            "_queryFilter": source_filter,
            "_fields": ",".join(source_fields or ["*"]),
        },
        "targetQuery": {
            "resourceName": mapping.target,
            "queryFilter": target_filter,
            "_fields": ",".join(target_fields or ["*"]),
        },
    }
    if run.source_ids is not None:
        run.parameters["sourceIds"] = list(run.source_ids)
    started = time.perf_counter()
    sources: dict[str, dict | None] = {}
    if run.source_ids is None:
        for obj in scope.router.query(mapping.source, source_filter, fields=source_fields)["result"]:
            sources[obj["_id"]] = obj
    else:
        for source_id in run.source_ids:
            sources[source_id] = scope.read_or_none(mapping.source, source_id, source_fields)
    run.timed("sourceQuery", started)
    run.source_total = len(sources)

    started = time.perf_counter()
    targets = {
        obj["_id"]: obj for obj in scope.router.query(mapping.target, target_filter, fields=target_fields)["result"]
    }
    run.timed("targetQuery", started)
    run.target_total = len(targets)
    return sources, targets, target_filter.strip() == "true"


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
