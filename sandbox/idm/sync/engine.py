"""The reconciliation engine: one run of one mapping, source phase and target phase (contract §4.1, §5). Its
parts: ``prefetch`` (query filters, target set and its index), ``situations`` (the decisions, pure functions),
``properties`` (property mapping and correlation), ``actions`` (what each action does and which one a policy
picks), ``buffers`` (link and audit writes), ``runstate`` (what ``GET recon/<id>`` shows); ``implicit`` pushes one
managed-object change through a mapping with the same engine.

How a run goes (all of it through the internal router, so managed and system objects behave the same):

1. Query the source set (``sourceQuery`` override or everything), the target set (``targetQuery`` or everything)
   and all links of the mapping's link type: three bulk reads (IDM's ``prefetchLinks``).
2. Source phase: per source and link qualifier, decide the situation (§5.1), pick the action (policy or default),
   perform it, audit it.
3. Target phase (unless ``runTargetPhase: false`` or reconById): every target not seen in the source phase.

Performance: correlation queries that are a plain equality (or an ``and`` of equalities) on an unrestricted target
set are answered from an in-memory index of the prefetched targets instead of one query per source; link and audit
writes are buffered and flushed in batches; managed writes run in store transactions of ``CHUNK`` entries.
Scripts are compiled once per thread (``scripting``).

Choices where IDM's behaviour is UNCONFIRMED or inconvenient to copy exactly (documented here on purpose):

* UPDATE compares old and new target strictly, as IDM does (``JsonValue`` equality after the property mappings
  and ``onUpdate`` are applied to a copy of the old target; ``strict_equal``): a key set to null differs from a
  missing key, a key removed by ``onUpdate`` is a change, ``1`` is not ``1.0``, and a mapped ``members`` element
  without the ``$ref``/``display`` a SCIM provider adds differs from the stored one.
  Mappings must therefore reproduce what the target returns (the shipped templates do, with ``onUpdate``) or
  every run updates. ``IDM_SANDBOX_LENIENT_UNCHANGED=1`` switches to "new covers old" semantics instead, to tell
  a mapping's perpetual updates apart from real ones.
* Unchanged targets are counted in ``progress.target.unchanged`` and not written. A changed target is written
  as its changed top-level keys (IDM sends the whole object with ``If-Match``; same end state).
* A source that does not qualify and has no link is SOURCE_IGNORED unless the correlation query finds targets
  (then UNQUALIFIED), as the contract's table says.
* reconById of a source id that no longer exists: SOURCE_MISSING when it is linked to an existing target,
  LINK_ONLY when the linked target is gone too, ALL_GONE otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from ..errors import IdmError
from . import situations
from .actions import Actions
from .buffers import AuditBuffer, LinkBook
from .entries import Canceled, Entry, EntryFailure, sync_failure
from .mapping import Mapping
from .prefetch import Targets, prefetch_sets
from .properties import Correlator, PropertyMapper
from .runstate import RunState
from .scope import RunScope, SyncServices
from .scripting import ScriptError

CHUNK = 500


class ReconEngine:
    """Runs one reconciliation of one mapping (``execute``), or, with ``implicit=True``, the entries of one
    managed-object change (``sandbox.idm.sync.implicit``). Not reused across runs.

    ``assoc(rows)`` stores analysis entries (``persistAssociations``); ``on_flush()`` runs after each flush of
    the buffers (the recon service saves the run's progress)."""

    def __init__(
        self,
        services: SyncServices,
        mapping: Mapping,
        run: RunState,
        entry_delay: float = 0.0,
        assoc: Callable[[list[dict]], None] | None = None,
        implicit: bool = False,
        on_flush: Callable[[], None] | None = None,
    ) -> None:
        readings = services.readings
        self.scope = RunScope(services.router, services.runner, mapping, run, readings, implicit)
        self.mapping = mapping
        self.run = run
        self.readings = readings
        self.store = services.store
        self.implicit = implicit
        self.entry_delay = entry_delay
        self.analyze = run.analyze
        self.on_flush = on_flush
        self.sources: dict[str, dict | None] = {}
        self.targets = Targets()
        # Links are written at once (not batched) when a managed write could trigger an implicit sync that has to
        # see them, as IDM writes each link before it writes the target.
        eager = implicit or (readings.implicit_sync == "on" and not mapping.target.startswith("system/"))
        self.links = LinkBook(services.links, mapping, eager)
        self.audit = AuditBuffer(services.audit, mapping, run, implicit, assoc)
        self.properties = PropertyMapper(self.scope)
        self.correlator = Correlator(self.scope, self.properties, self.targets)
        self.actions = Actions(self.scope, self.links, self.targets, self.properties)

    def flush(self) -> None:
        self.links.flush()
        self.audit.flush()
        if self.on_flush is not None:
            self.on_flush()

    # ---- run -----------------------------------------------------------------------------------------------
    def execute(self) -> None:
        run, mapping = self.run, self.mapping
        self.audit.write_now(self.audit.recon_event("start", message=f"Reconciliation initiated by {run.initiator}"))
        run.stage = "ACTIVE_QUERY_ENTRIES"
        self._prefetch()
        if not self.sources and run.source_ids is None and not mapping.allow_empty_source:
            run.error = "Source set is empty and allowEmptySourceSet is false"
            self.finish("COMPLETED_FAILED", "source set is empty")
            return
        try:
            run.stage = "ACTIVE_RECONCILING_SOURCE"
            started = time.perf_counter()
            self._phase(list(self.sources.items()), self._source_entries)
            run.timed("sourcePhase", started)
            if mapping.run_target_phase and run.source_ids is None:
                run.stage = "ACTIVE_RECONCILING_TARGET"
                started = time.perf_counter()
                remaining = [
                    (tid, obj) for tid, obj in list(self.targets.objects.items()) if tid not in self.targets.seen
                ]
                self._phase(remaining, self._target_entries)
                run.timed("targetPhase", started)
        except Canceled:
            run.stage = "ACTIVE_CANCELING"
            self.flush()
            self.finish("COMPLETED_CANCELED")
            return
        run.stage = "ACTIVE_PROCESSING_RESULTS"
        self.flush()
        self._result_script()
        self.finish("COMPLETED_SUCCESS")

    def _prefetch(self) -> None:
        """The source set, the target set and the links: three bulk reads (IDM's ``prefetchLinks``)."""
        self.sources, objects, index_usable = prefetch_sets(self.scope)
        self.targets.prefetched(objects, index_usable)
        # IDM queries the targets only when a target phase runs, and skips correlation when that query found
        # nothing unless correlateEmptyTargetSet (SourceSyncOperation.java L329, SyncOperation.java L343-350).
        run, mapping = self.run, self.mapping
        self.correlator.empty_target_set = not objects and mapping.run_target_phase and run.source_ids is None
        started = time.perf_counter()
        run.links_total = self.links.load_all(mapping.qualifiers)
        run.timed("linkQuery", started)

    def _result_script(self) -> None:
        """The mapping's ``result`` script, timed as ``resultScript``. A failing one fails the run: IDM's
        ``doResults()`` throws into ``doRecon()``, which ends the run COMPLETED_FAILED ("Synchronization failed";
        OpenIDM ObjectMapping.java L657-677, L815-840)."""
        script = self.mapping.scripts.get("result")
        if not script:
            return
        summary = self.run.summary()
        self.scope.run_script(
            script,
            self.scope.bindings(
                source=summary["progress"]["source"], target=summary["progress"]["target"], **{"global": summary}
            ),
            f"{self.mapping.name} result",
            "resultScript",
        )

    def finish(self, stage: str, reason: str | None = None) -> None:
        """End the run in ``stage`` and write its summary event."""
        self.run.finish(stage)
        counted = " ".join(f"{k}:{v}" for k, v in self.run.situations.items() if v)
        message = f"Reconciliation {self.run.state.lower()}"
        if reason:
            message += f": {reason}"
        self.audit.write_now(
            self.audit.recon_event(
                "summary",
                message=f"{message}. {counted}".strip(),
                detail=self.run.summary(),
                status="SUCCESS" if stage == "COMPLETED_SUCCESS" else "FAILURE",
            )
        )

    def _phase(
        self, items: list[tuple[str, dict | None]], make_entries: Callable[[str, dict | None], Iterable[Entry]]
    ) -> None:
        writes_local = not self.mapping.target.startswith("system/") and not self.analyze
        for offset in range(0, len(items), CHUNK):
            chunk = items[offset : offset + CHUNK]
            if writes_local:
                with self.store.batch():
                    self._chunk(chunk, make_entries)
            else:
                self._chunk(chunk, make_entries)
            self.flush()

    def _chunk(
        self, chunk: list[tuple[str, dict | None]], make_entries: Callable[[str, dict | None], Iterable[Entry]]
    ) -> None:
        for object_id, obj in chunk:
            if self.run.cancel.is_set():
                raise Canceled()
            if self.entry_delay:
                time.sleep(self.entry_delay)
            for entry in make_entries(object_id, obj):
                self.handle(entry)

    # ---- situations ----------------------------------------------------------------------------------------
    def qualifiers(self, source: dict | None) -> list[str]:
        """The link qualifiers of an object (``linkQualifiers`` list or script; ``default``)."""
        mapping = self.mapping
        if mapping.qualifier_script is None:
            return mapping.qualifiers
        try:
            result = self.scope.runner.run(
                mapping.qualifier_script,
                self.scope.bindings(object=source, returnAll=source is None),
                f"{mapping.name} linkQualifiers",
            )
        except ScriptError:
            return mapping.qualifiers
        return list(result) if isinstance(result, list) and result else ["default"]

    def _source_entries(self, source_id: str, source: dict | None) -> Iterator[Entry]:
        self.run.source_processed += 1
        for qualifier in self.qualifiers(source):
            entry = Entry("source", qualifier)
            entry.source_id, entry.source = source_id, source
            target_id = self.links.target_of(qualifier, source_id)
            if target_id is not None:
                entry.linked = True
                self.run.links_processed += 1
                entry.target_id = target_id
                entry.target = self.targets.get(target_id)
                if entry.target is None and not self.targets.index_usable:
                    entry.target = self.scope.read_or_none(self.mapping.target, target_id, self.scope.fields("target"))
                self.targets.seen.add(target_id)
            if self._assessed(entry, self.assess_source):
                yield entry

    def _assessed(self, entry: Entry, assess: Callable[[Entry], None]) -> bool:
        """Whether ``assess`` decided the entry's situation; a script or IDM error is recorded as its failure."""
        try:
            assess(entry)
        except (ScriptError, IdmError) as exc:
            self.record_failure(entry, exc)
            return False
        return True

    def assess_source(self, entry: Entry) -> None:
        """Gather what the situation of a source entry depends on, in IDM's order, and decide it."""
        if entry.source is None:
            self._assess_gone_source(entry)
            return
        qualifies = self._source_qualifies(entry.source, entry.qualifier)
        if entry.linked:
            entry.situation = situations.linked_source(qualifies, entry.target is not None)
            return
        correlator = self.correlator
        candidates = (
            correlator.correlate(entry.source, entry.qualifier) if correlator.may_correlate(entry.qualifier) else []
        )
        self.targets.seen.update(candidates)
        if len(candidates) == 1:
            entry.target_id, entry.target = candidates[0], self.targets.get(candidates[0])
        elif candidates:
            entry.ambiguous = candidates
        owner = None
        if qualifies and len(candidates) == 1:
            if self.implicit:
                self.links.load_one(entry.qualifier, target_id=candidates[0])
            owner = self.links.source_of(entry.qualifier, candidates[0])
        entry.situation = situations.unlinked_source(qualifies, candidates, owner, entry.source_id)

    def _assess_gone_source(self, entry: Entry) -> None:
        """No source (reconById of a gone source, implicit sync of a delete): SourceSyncOperation.java L197-250."""
        if entry.linked:
            exists = entry.target is not None
            entry.situation = situations.gone_linked_source(
                exists, exists and self._target_valid(entry.target, entry.qualifier)
            )
            return
        old = entry.old_source
        may = old and self.correlator.may_correlate(entry.qualifier)
        candidates = self.correlator.correlate(old, entry.qualifier) if may else []
        valid = bool(candidates) and self._source_qualifies(old, entry.qualifier, conditions=False)
        if len(candidates) == 1:
            entry.target_id, entry.target = candidates[0], self.targets.get(candidates[0])
        elif candidates:
            entry.ambiguous = candidates
        entry.situation = situations.gone_unlinked_source(candidates, valid)

    def _source_qualifies(self, source: dict, qualifier: str, conditions: bool = True) -> bool:
        mapping, scope = self.mapping, self.scope
        if mapping.valid_source is not None:
            valid = scope.run_script(
                mapping.valid_source,
                scope.bindings(source=source, linkQualifier=qualifier),
                f"{mapping.name} validSource",
                "validSourceScript",
            )
            if not valid:
                return False
        if conditions and mapping.source_condition is not None:
            return mapping.source_condition.evaluate(scope.runner, source, qualifier, f"{mapping.name} sourceCondition")
        return True

    def _target_valid(self, target: dict, qualifier: str) -> bool:
        mapping, scope = self.mapping, self.scope
        if mapping.valid_target is None:
            return True
        return bool(
            scope.run_script(
                mapping.valid_target,
                scope.bindings(target=target, linkQualifier=qualifier),
                f"{mapping.name} validTarget",
                "validTargetScript",
            )
        )

    def _target_entries(self, target_id: str, target: dict) -> Iterator[Entry]:
        self.run.target_processed += 1
        for qualifier in self.qualifiers(None):
            entry = Entry("target", qualifier)
            entry.target_id, entry.target = target_id, target
            if self._assessed(entry, self._assess_target):
                yield entry

    def _assess_target(self, entry: Entry) -> None:
        valid = self._target_valid(entry.target, entry.qualifier)
        source_id = self.links.source_of(entry.qualifier, entry.target_id) if valid else None
        qualifies = False
        if source_id is not None:
            entry.linked = True
            self.run.links_processed += 1
            entry.source_id = source_id
            entry.source = (
                self.sources[source_id]
                if source_id in self.sources
                else self.scope.read_or_none(self.mapping.source, source_id, self.scope.fields("source"))
            )
            # IDM re-checks only validSource here, not sourceCondition (TargetSyncOperation.java L97-130)
            qualifies = entry.source is not None and self._source_qualifies(
                entry.source, entry.qualifier, conditions=False
            )
        entry.situation = situations.target(valid, source_id is not None, entry.source is not None, qualifies)

    # ---- actions -------------------------------------------------------------------------------------------
    def handle(self, entry: Entry) -> None:
        """Decide and perform the action, then count and audit the entry as IDM's SourceRecon/TargetRecon do:
        a SynchronizationException is a FAILURE unless the action was EXCEPTION, which throws on purpose
        (``if (op.action != ReconAction.EXCEPTION) status = FAILURE``, OpenIDM SourceRecon.java L76-84,
        TargetRecon.java L67-75); the EXCEPTION entry keeps status SUCCESS and carries the exception message.
        Reading ``exception_status=failure`` counts EXCEPTION entries as FAILURE (the old sandbox behaviour)."""
        self.run.situations[entry.situation] += 1
        try:
            action, policy = self.actions.choose(entry)
            entry.action = action
            if not self.analyze:
                self.actions.perform(entry, action)
                self.actions.post_action(entry, action, policy)
        except ScriptError as exc:
            self._record(entry, "FAILURE", sync_failure(str(exc), wrapped=False))
            return
        except EntryFailure as exc:
            self._record(entry, "FAILURE", sync_failure(str(exc)))
            return
        except IdmError as exc:
            self._record(entry, "FAILURE", sync_failure(exc.message))
            return
        if entry.action == "EXCEPTION":
            status = "SUCCESS" if self.readings.exception_status == "success" else "FAILURE"
            self._record(entry, status, sync_failure(f"Situation {entry.situation} marked as EXCEPTION"))
        elif entry.action != "NOREPORT":
            self._record(entry, "SUCCESS", None)
        else:
            entry.status = "SUCCESS"
            self.run.statuses["SUCCESS"] += 1
            self.audit.association(entry, "SUCCESS", None)

    def record_failure(self, entry: Entry, exc: ScriptError | IdmError) -> None:
        """An entry whose situation could not be assessed (a failing script or read)."""
        message = str(exc) if isinstance(exc, ScriptError) else exc.message
        self._record(entry, "FAILURE", sync_failure(message, wrapped=False))

    def _record(self, entry: Entry, status: str, failure: dict | None) -> None:
        """Count the entry and write its audit event (``audit/recon``, or ``audit/sync`` in an implicit sync)."""
        entry.status, entry.failure = status, failure
        self.run.statuses[status] += 1
        self.audit.entry(entry, status, failure)
