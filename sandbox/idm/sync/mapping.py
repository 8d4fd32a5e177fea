"""Mapping configuration (contract §3.3): read from ``config/sync`` (``mappings`` array) or ``config/mapping/<name>``
and compiled once per run (pointers parsed, filter conditions parsed, policies indexed by situation).

The set of mappings in force is activated like IDM's ``SyncMappings`` component: on every change of
``config/sync`` or ``config/mapping/*`` the whole set is compiled; if that fails (e.g. a ``links`` naming no mapping,
or one that is neither the same nor the exact reverse direction: IDM's ``LinkType.getLinkType()`` /
``Match.getLinkTypeMatch()`` throw, OpenIDM LinkType.java L57-80, L173-193), the configuration stays stored (the
config write answered 200/201) but the previous set stays in force, as OSGi DS keeps a component whose ``@Modified``
method threw (SyncMappings.java L83-90 catches only JsonValueException). A recon of a mapping that is not in force
then answers 409 ``No such mapping: <name>``. When the stored set is invalid at server start there is no mapping
service at all: recons answer 500 and managed-object changes are not synchronized.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .. import queryfilter
from ..config import ConfigService
from ..errors import IdmError
from .scripting import ScriptRunner

log = logging.getLogger("sandbox.idm.sync")

SITUATIONS = (
    "SOURCE_IGNORED",
    "TARGET_CHANGED",
    "SOURCE_TARGET_CONFLICT",
    "FOUND_ALREADY_LINKED",
    "UNQUALIFIED",
    "ABSENT",
    "TARGET_IGNORED",
    "MISSING",
    "ALL_GONE",
    "UNASSIGNED",
    "AMBIGUOUS",
    "CONFIRMED",
    "LINK_ONLY",
    "SOURCE_MISSING",
    "FOUND",
)

# §5.1. SOURCE_IGNORED/TARGET_IGNORED/ALL_GONE: IDM's code (REPORT/NOREPORT) rather than its docs (IGNORE); the
# difference is only whether an audit entry is written. TARGET_CHANGED/SOURCE_TARGET_CONFLICT are cloud-only and
# never arise here; IGNORE is the harmless default.
DEFAULT_ACTIONS = {
    "CONFIRMED": "UPDATE",
    "FOUND": "UPDATE",
    "FOUND_ALREADY_LINKED": "EXCEPTION",
    "ABSENT": "CREATE",
    "AMBIGUOUS": "EXCEPTION",
    "MISSING": "EXCEPTION",
    "UNQUALIFIED": "DELETE",
    "SOURCE_MISSING": "EXCEPTION",
    "SOURCE_IGNORED": "REPORT",
    "TARGET_IGNORED": "REPORT",
    "UNASSIGNED": "EXCEPTION",
    "LINK_ONLY": "EXCEPTION",
    "ALL_GONE": "NOREPORT",
    "TARGET_CHANGED": "IGNORE",
    "SOURCE_TARGET_CONFLICT": "IGNORE",
}
ACTIONS = ("CREATE", "UPDATE", "DELETE", "LINK", "UNLINK", "EXCEPTION", "IGNORE", "REPORT", "NOREPORT", "ASYNC")


def pointer(text: str | None) -> list[str] | None:
    """A property path (``name/givenName``, ``/mail``) as segments; None for None."""
    if text is None:
        return None
    return queryfilter.parse_pointer(text)


def get_path(obj: Any, segments: list[str]) -> Any:
    value = obj
    for segment in segments:
        if isinstance(value, dict):
            value = value.get(segment)
        elif isinstance(value, list):
            try:
                value = value[int(segment)]
            except (ValueError, IndexError):
                return None
        else:
            return None
        if value is None:
            return None
    return value


def set_path(obj: dict, segments: list[str], value: Any) -> None:
    node = obj
    for segment in segments[:-1]:
        child = node.get(segment)
        if not isinstance(child, dict):
            child = {}
            node[segment] = child
        node = child
    node[segments[-1]] = value


class Condition:
    """A script or a CREST filter string (evaluated against ``{<subject>: object, "linkQualifier": q}``)."""

    def __init__(self, spec: Any, subject: str) -> None:
        self.spec = spec
        self.subject = subject
        self.filter = None
        if isinstance(spec, str):
            try:
                self.filter = queryfilter.parse(spec)
            except IdmError as exc:
                raise IdmError(400, f"Invalid condition {spec!r}: {exc.message}") from None

    def evaluate(
        self, runner: ScriptRunner, obj: Any, qualifier: str, where: str, extra: dict[str, Any] | None = None
    ) -> bool:
        if self.filter is not None:
            scope = dict(extra or {})
            scope.update({self.subject: obj, "linkQualifier": qualifier})
            return queryfilter.matches(self.filter, scope)
        bindings = {self.subject: obj, "linkQualifier": qualifier}
        if extra:
            bindings.update(extra)
        return bool(runner.run(self.spec, bindings, where))


class PropertyMapping:
    def __init__(self, spec: Any) -> None:
        if not isinstance(spec, dict) or not spec.get("target"):
            raise IdmError(400, f"Invalid property mapping {spec!r}: 'target' is required")
        self.spec = spec
        self.target = pointer(spec["target"])
        self.has_source = "source" in spec
        self.source = pointer(spec.get("source"))  # [] = whole object ("source": "")
        self.transform = spec.get("transform")
        self.condition = Condition(spec["condition"], "object") if spec.get("condition") is not None else None
        self.has_default = "default" in spec
        self.default = spec.get("default")


class Mapping:
    def __init__(self, config: dict[str, Any], all_mappings: list[dict[str, Any]] | tuple = ()) -> None:
        if not isinstance(config, dict) or not config.get("name"):
            raise IdmError(400, "A mapping needs a name")
        self.config = config
        self.name = config["name"]
        self.source = (config.get("source") or "").strip("/")
        self.target = (config.get("target") or "").strip("/")
        if not self.source or not self.target:
            raise IdmError(400, f"Mapping {self.name} needs 'source' and 'target'")
        self.links = config.get("links")
        self.link_type = self.links or self.name
        # A mapping that borrows another mapping's links sees them reversed when it runs the other way round.
        self.reversed = False
        if self.links:
            self.reversed = self._link_match(all_mappings) == "MATCH_REVERSE"
        self.valid_source = config.get("validSource")
        self.valid_target = config.get("validTarget")
        self.source_condition = (
            Condition(config["sourceCondition"], "source") if config.get("sourceCondition") is not None else None
        )
        self.properties = [PropertyMapping(p) for p in config.get("properties") or []]
        self.policies = {}
        for policy in config.get("policies") or []:
            if not isinstance(policy, dict) or policy.get("situation") not in SITUATIONS:
                raise IdmError(400, f"Invalid policy {policy!r} in mapping {self.name}")
            action = policy.get("action")
            if isinstance(action, str) and action not in ACTIONS:
                raise IdmError(400, f"Invalid action {action!r} for {policy['situation']} in mapping {self.name}")
            condition = Condition(policy["condition"], "object") if policy.get("condition") is not None else None
            self.policies.setdefault(policy["situation"], []).append((policy, condition))
        qualifiers = config.get("linkQualifiers")
        self.qualifier_script = qualifiers if isinstance(qualifiers, dict) else None
        self.qualifiers = list(qualifiers) if isinstance(qualifiers, list) and qualifiers else ["default"]
        correlation = config.get("correlationQuery")
        if isinstance(correlation, list):
            self.correlation = {c.get("linkQualifier", "default"): c for c in correlation if isinstance(c, dict)}
        elif isinstance(correlation, dict):
            self.correlation = {correlation.get("linkQualifier", "default"): correlation}
        else:
            self.correlation = {}
        self.correlation_script = config.get("correlationScript")
        self.scripts = {k: config.get(k) for k in ("onCreate", "onUpdate", "onDelete", "onLink", "onUnlink", "result")}
        self.run_target_phase = config.get("runTargetPhase", True) is not False
        self.allow_empty_source = bool(config.get("allowEmptySourceSet", False))
        self.correlate_empty_target_set = config.get("correlateEmptyTargetSet", False) is True
        self.enable_sync = config.get("enableSync", True) is not False
        self.prefetch_links = config.get("prefetchLinks", True) is not False
        self.source_query = config.get("sourceQuery")
        self.target_query = config.get("targetQuery")

    def _link_match(self, all_mappings: list[dict[str, Any]] | tuple) -> str:
        """IDM's LinkType.getLinkType() + Match.getLinkTypeMatch() for a mapping that names ``links``."""
        definer = next((m for m in all_mappings if isinstance(m, dict) and m.get("name") == self.links), None)
        if definer is None:
            raise IdmError(
                400,
                "When using links from another mapping the links must be named according to the "
                f"mapping. Could not find a mapping for {self.links} used in {self.name}",
            )
        other_source = (definer.get("source") or "").strip("/")
        other_target = (definer.get("target") or "").strip("/")
        if (self.source, self.target) == (other_source, other_target):
            return "MATCH_EXACT"
        if (self.source, self.target) == (other_target, other_source):
            return "MATCH_REVERSE"
        raise IdmError(
            400,
            f"Mappings {self.name} and {definer.get('name')} {{}} are configured to share the same "
            f"links of {self.links}, but use incompatible source or targets: ({self.source}->"
            f"{self.target}) vs ({other_source}->{other_target})",
        )

    def policy_for(self, situation: str) -> list[tuple[dict[str, Any], Condition | None]]:
        return self.policies.get(situation, [])

    def link_ids(self, source_id: str, target_id: str) -> tuple[str, str]:
        """(firstId, secondId) of the link between a source and a target of this mapping."""
        return (target_id, source_id) if self.reversed else (source_id, target_id)


class MappingRegistry:
    """The mappings in force (see the module docstring), looked up at the start of each run."""

    def __init__(self, config_service: ConfigService) -> None:
        self.config = config_service
        self._lock = threading.Lock()
        self._active = []  # configs of the set in force
        self._compiled = []  # the same, compiled
        self.available = True  # False: the stored set was invalid at start (no mapping service)
        self.error = None  # why the last activation failed, or None
        self.activate(initial=True)
        config_service.subscribe("sync", self._on_change)
        config_service.subscribe("mapping", self._on_change)

    def stored_configs(self) -> list[dict[str, Any]]:
        configs = []
        if self.config.exists("sync"):
            configs.extend(m for m in self.config.get("sync").get("mappings") or [] if isinstance(m, dict))
        for entry in self.config.list()["configurations"]:
            if entry["_id"].startswith("mapping/"):
                body = self.config.get(entry["_id"])
                body.pop("_id", None)
                body.setdefault("name", entry["_id"].split("/", 1)[1])
                configs.append(body)
        return configs

    def _on_change(self, _config_id: str, _value: Any, _wait: bool) -> None:
        self.activate()

    def activate(self, initial: bool = False) -> bool:
        configs = self.stored_configs()
        try:
            compiled = [Mapping(dict(config), configs) for config in configs]
        except IdmError as exc:
            log.error("Configuration error: %s; the mappings in force stay as they were", exc.message)
            with self._lock:
                self.error = exc.message
                if initial:
                    self.available = False
            return False
        with self._lock:
            self._active, self._compiled, self.error, self.available = configs, compiled, None, True
        return True

    def all_configs(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._active)

    def names(self) -> list[str]:
        return [m.get("name") for m in self.all_configs()]

    def mappings(self) -> list[Mapping]:
        """Compiled mappings in force, in order (sync.json order, then mapping/* files)."""
        with self._lock:
            return list(self._compiled)

    def get(self, name: str, overrides: dict[str, Any] | None = None) -> Mapping | None:
        configs = self.all_configs()
        for config in configs:
            if config.get("name") == name:
                merged = dict(config)
                merged.pop("_id", None)
                if overrides:
                    merged.update(overrides)
                return Mapping(merged, configs)
        return None
