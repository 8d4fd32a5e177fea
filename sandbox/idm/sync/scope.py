"""What every part of one synchronization run shares: the mapping, the run state, the internal router and the
script runner, the readings, whether it is an implicit sync, and what scripts and reads are given (bindings,
``_fields``); and the server's services every synchronization works with (``SyncServices``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from ..errors import IdmError
from ..managed import RELATIONSHIPS
from ..readings import Readings
from ..router import InternalRouter
from ..store import Store
from .audit import AuditService
from .entries import Entry
from .links import LinkStore
from .mapping import Mapping
from .runstate import RunState
from .scripting import ScriptRunner


@dataclass(frozen=True)
class SyncServices:
    """The server's services a synchronization (a recon run, an implicit sync) works with; built once."""

    router: InternalRouter
    runner: ScriptRunner
    links: LinkStore
    audit: AuditService
    store: Store
    readings: Readings


class RunScope:
    def __init__(
        self,
        router: InternalRouter,
        runner: ScriptRunner,
        mapping: Mapping,
        run: RunState,
        readings: Readings,
        implicit: bool,
    ) -> None:
        self.router = router
        self.runner = runner
        self.mapping = mapping
        self.run = run
        self.readings = readings
        # implicit=True: one source change pushed through the mapping (IDM's implicit sync, ObjectMapping
        # .doSourceSync): nothing is prefetched, links are read and written at once, entries go to audit/sync.
        self.implicit = implicit
        self._field_cache: dict[str, list[str] | None] = {}

    def timed(self, name: str, started: float) -> None:
        """Add the time since ``started`` (``time.perf_counter()``) to the run's ``durationSummary[name]``."""
        self.run.timed(name, started)

    def run_script(self, script: dict, bindings: dict, where: str, metric: str | None = None) -> Any:
        """Run a mapping script, timed under ``metric`` when given."""
        if metric is None:
            return self.runner.run(script, bindings, where)
        started = time.perf_counter()
        result = self.runner.run(script, bindings, where)
        self.run.timed(metric, started)
        return result

    def bindings(self, **extra: Any) -> dict[str, Any]:
        """Every script gets ``context``: the parts of IDM's context chain a mapping script can read here. A recon
        runs under a ``ReconContext`` (name ``recon``, data ``{"mapping"}``, ReconciliationService.java L340-342)
        and every sync operation under a ``SyncContext`` (``sync``, ``{"mapping"}``, SyncOperation.java L161);
        there is no reconId in the context."""
        context = {"security": {"authenticationId": self.run.initiator}, "sync": {"mapping": self.mapping.name}}
        if not self.implicit:
            context["recon"] = {"mapping": self.mapping.name}
        base: dict[str, Any] = {"context": context}
        base.update(extra)
        return base

    def script_bindings(self, entry: Entry, target: dict | None = None, old_target: dict | None = None) -> dict:
        """The bindings of onCreate/onUpdate/onDelete/onLink/onUnlink as ``SyncOperation.execScript()`` sets them
        (OpenIDM SyncOperation.java L744-790): ``linkQualifier``, ``mappingConfig``, ``source`` (when there is a
        source id), ``oldSource``, ``sourceId``, ``target`` (when loaded) and ``oldTarget`` (onUpdate only),
        ``targetId``, ``situation``."""
        bindings = self.bindings(
            linkQualifier=entry.qualifier,
            mappingConfig=self.mapping.config,
            oldSource=entry.old_source,
            sourceId=entry.source_id,
            targetId=entry.target_id,
        )
        if entry.source_id is not None:
            bindings["source"] = entry.source
        if target is not None:
            bindings["target"] = target
            if old_target is not None:
                bindings["oldTarget"] = old_target
        if entry.situation is not None:
            bindings["situation"] = entry.situation
        return bindings

    def fields(self, side: str) -> list[str] | None:
        """The ``_fields`` recon reads sources and targets with.

        Reading ``recon_target_fields=default`` (IDM): None, the default fields, so relationship fields such as
        ``members``/``roles`` (``returnByDefault: false``) are absent, as ``LazyObjectAccessor.rawReadObject()``
        reads without ``_fields`` (OpenIDM LazyObjectAccessor.java L135-146). ``mapped`` (the old sandbox
        behaviour): ``*`` plus the relationship fields the mapping reads or writes.
        """
        if self.readings.recon_target_fields == "default":
            return None
        if side in self._field_cache:
            return self._field_cache[side]
        resource = self.mapping.source if side == "source" else self.mapping.target
        relationships = {prop for (res, prop) in RELATIONSHIPS if res == resource}
        wanted: set[str] = set()
        for prop in self.mapping.properties:
            segments = prop.source if side == "source" else prop.target
            if side == "source" and prop.has_source and prop.source == []:
                wanted |= relationships
            elif segments and segments[0] in relationships:
                wanted.add(segments[0])
        fields = ["*", *sorted(wanted)] if wanted else None
        self._field_cache[side] = fields
        return fields

    def read_or_none(self, resource: str, object_id: str, fields: list[str] | None = None) -> dict | None:
        """The object, or None when it does not exist (404)."""
        try:
            return self.router.read(resource, object_id, fields=fields)
        except IdmError as exc:
            if exc.code == 404:
                return None
            raise
