"""Property mapping and correlation of one mapping (contract §3.3): the value of each mapped property
(``source``, ``transform``, ``default``, ``condition``), and the targets a source correlates with
(``correlationQuery`` as a script or an ``expressionTree``, or ``correlationScript``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from .. import queryfilter
from ..crest import copy_json
from .mapping import PropertyMapping, get_path, set_path
from .prefetch import Targets, index_plan
from .scope import RunScope
from .scripting import ScriptError


class PropertyMapper:
    def __init__(self, scope: RunScope) -> None:
        self.scope = scope
        self.mapping = scope.mapping

    def value(self, prop: PropertyMapping, source: Any, qualifier: str) -> Any:
        if prop.has_source:
            value = source if prop.source == [] else get_path(source, prop.source)
        else:
            value = None
        if prop.transform is not None:
            value = self.scope.run_script(
                prop.transform,
                self.scope.bindings(source=value, linkQualifier=qualifier),
                f"{self.mapping.name} property {'/'.join(prop.target)} transform",
                "propertyMappingScript",
            )
        if value is None and prop.has_default:
            value = copy_json(prop.default)
        return value

    def apply(
        self, source: Any, target: dict, qualifier: str, old_source: Any = None, old_target: dict | None = None
    ) -> dict:
        """``PropertyMapping.apply()``: a property ``condition`` sees ``object``, ``target`` (being built),
        ``linkQualifier``, and ``oldSource``/``oldTarget`` when known (PropertyMapping.java L175-185)."""
        extra: dict[str, Any] = {"target": target}
        if old_source is not None:
            extra["oldSource"] = old_source
        if old_target is not None:
            extra["oldTarget"] = old_target
        for prop in self.mapping.properties:
            if prop.condition is not None and not prop.condition.evaluate(
                self.scope.runner,
                source,
                qualifier,
                f"{self.mapping.name} property {'/'.join(prop.target)} condition",
                extra,
            ):
                continue
            set_path(target, prop.target, copy_json(self.value(prop, source, qualifier)))
        return target


def expression_filter(tree: Any, value_of: Any) -> str:
    """The UI's ``expressionTree`` (``{"all"|"any": [field | subtree]}``) as a CREST filter."""
    if isinstance(tree, str):
        return f"/{tree} eq {json.dumps(value_of(tree))}"
    if isinstance(tree, dict):
        for key, joiner in (("all", " and "), ("any", " or ")):
            if key in tree:
                parts = [expression_filter(item, value_of) for item in tree[key]]
                return "(" + joiner.join(parts) + ")" if parts else ("true" if key == "all" else "false")
    raise ScriptError(f"Invalid expressionTree {tree!r}")


class Correlator:
    """The target ids a source correlates with. Answered from the prefetched targets' index when the filter is
    an equality (or an ``and`` of them) on an unrestricted target set, else by a query of the target."""

    def __init__(self, scope: RunScope, properties: PropertyMapper, targets: Targets) -> None:
        self.scope = scope
        self.mapping = scope.mapping
        self.properties = properties
        self.targets = targets
        self.empty_target_set = False  # correlateEmptyTargetSet: the target set was empty at the start

    def may_correlate(self, qualifier: str) -> bool:
        mapping = self.mapping
        has_correlation = qualifier in mapping.correlation or mapping.correlation_script is not None
        return has_correlation and (mapping.correlate_empty_target_set or not self.empty_target_set)

    def correlate(self, source: Any, qualifier: str) -> list[str]:
        mapping, scope = self.mapping, self.scope
        spec = mapping.correlation.get(qualifier)
        if spec is None and mapping.correlation_script is not None:
            result = scope.run_script(
                mapping.correlation_script,
                scope.bindings(source=source, linkQualifier=qualifier),
                f"{mapping.name} correlationScript",
                "correlationScript",
            )
            ids = [item.get("_id") if isinstance(item, dict) else str(item) for item in result or []]
            return [i for i in ids if i]
        if spec is None:
            return []
        started = time.perf_counter()
        query_filter = self._query_filter(spec, source, qualifier)
        node = queryfilter.parse(query_filter)  # a malformed filter fails the entry before any query
        plan = index_plan(node) if self.targets.index_usable else None
        result = self.targets.lookup(plan) if plan is not None else self._query(query_filter)
        scope.timed("correlationQuery", started)
        return result

    def _query_filter(self, spec: dict, source: Any, qualifier: str) -> str:
        if "expressionTree" in spec:
            return expression_filter(spec["expressionTree"], lambda field: self._value(source, field, qualifier))
        name = self.mapping.name
        query = self.scope.runner.run(
            spec, self.scope.bindings(source=source, linkQualifier=qualifier), f"{name} correlationQuery"
        )
        if not isinstance(query, dict):
            raise ScriptError(f"{name} correlationQuery must return an object with _queryFilter")
        if "_queryFilter" not in query:
            raise ScriptError(
                f"{name} correlationQuery: only _queryFilter queries are supported by the sandbox, got {sorted(query)}"
            )
        return query["_queryFilter"]

    def _query(self, query_filter: str) -> list[str]:
        scope, target = self.scope, self.mapping.target
        fields = scope.fields("target")
        ids = [obj["_id"] for obj in scope.router.query(target, query_filter, fields=fields)["result"]]
        for obj_id in ids:
            if obj_id not in self.targets.objects:
                self.targets.objects[obj_id] = scope.router.read(target, obj_id, fields=fields)
        return ids

    def _value(self, source: Any, field: str, qualifier: str) -> Any:
        """The value a correlation ``expressionTree`` compares a target field with: the mapped property's."""
        for prop in self.mapping.properties:
            if "/".join(prop.target) != field.strip("/"):
                continue
            if prop.condition is not None and not prop.condition.evaluate(
                self.scope.runner, source, qualifier, f"{self.mapping.name} property {field} condition"
            ):
                continue
            return self.properties.value(prop, source, qualifier)
        return get_path(source, queryfilter.parse_pointer(field))
