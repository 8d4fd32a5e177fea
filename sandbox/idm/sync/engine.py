"""The reconciliation engine: source phase, target phase, situations, actions, property mapping, correlation and
links (contract §4.1, §5).

How a run goes (all of it through the internal router, so managed and system objects behave the same):

1. Query the source set (``sourceQuery`` override or everything), the target set (``targetQuery`` or everything)
   and all links of the mapping's link type: three bulk reads (IDM's ``prefetchLinks``).
2. Source phase: per source and link qualifier, decide the situation (§5.1), pick the action (policy or default),
   perform it, audit it.
3. Target phase (unless ``runTargetPhase: false`` or reconById): every target not seen in the source phase.

Performance: correlation queries that are a plain equality (or an ``and`` of equalities) on an unrestricted target
set are answered from an in-memory index of the prefetched targets instead of one query per source; link and audit
writes are buffered and flushed in batches; managed writes run in store transactions of ``CHUNK`` entries.

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

import json
import math
import os
import re
import threading
import time

from .. import queryfilter
from ..crest import copy_json, strict_equal
from ..errors import IdmError, html_escape
from ..managed import RELATIONSHIPS
from .mapping import ACTIONS, DEFAULT_ACTIONS, SITUATIONS, get_path, set_path
from .scripting import ScriptError

CHUNK = 500
STAGES = {
    "ACTIVE_INITIALIZED": "initialized",
    "ACTIVE_QUERY_ENTRIES": "querying sets of entries to reconcile",
    "ACTIVE_RECONCILING_SOURCE": "reconciling source entries",
    "ACTIVE_RECONCILING_TARGET": "reconciling target entries",
    "ACTIVE_LINK_CLEANUP": "link clean-up",
    "ACTIVE_PROCESSING_RESULTS": "processing reconciling results",
    "ACTIVE_CANCELING": "aborting reconciling",
    "COMPLETED_SUCCESS": "reconciliation completed.",
    "COMPLETED_CANCELED": "reconciliation aborted.",
    "COMPLETED_FAILED": "reconciliation failed",
}


def now_iso():
    """UTC ISO-8601 with milliseconds and ``Z``, as IDM writes timestamps."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class EntryFailure(Exception):
    """One entry failed (status FAILURE); the run goes on."""


class Canceled(Exception):
    pass


class Metric:
    __slots__ = ("count", "total", "minimum", "maximum", "squares")

    def __init__(self):
        self.count, self.total, self.minimum, self.maximum, self.squares = 0, 0.0, None, None, 0.0

    def add(self, millis):
        self.count += 1
        self.total += millis
        self.squares += millis * millis
        self.minimum = millis if self.minimum is None else min(self.minimum, millis)
        self.maximum = millis if self.maximum is None else max(self.maximum, millis)

    def as_dict(self):
        mean = self.total / self.count if self.count else 0
        variance = max(0.0, self.squares / self.count - mean * mean) if self.count else 0
        return {"min": round(self.minimum or 0), "max": round(self.maximum or 0), "mean": round(mean),
                "count": self.count, "sum": round(self.total), "stdDev": round(math.sqrt(variance))}


class RunState:
    """Everything ``GET recon/<id>`` reports about a run; the engine updates it while running."""

    def __init__(self, recon_id, mapping, action="recon", source_ids=None, analyze=False, persist=False,
                 initiator="openidm-admin"):
        self.id = recon_id
        self.mapping = mapping
        self.action = action
        self.source_ids = source_ids
        self.analyze = analyze
        self.persist_associations = persist
        self.initiator = initiator
        self.canceled = False
        self._stage = "ACTIVE_INITIALIZED"
        self.started = now_iso()
        self.started_clock = time.monotonic()
        self.ended = ""
        self.duration_ms = None
        self.cancel = threading.Event()
        self.source_total = self.target_total = self.links_total = None
        self.source_processed = self.target_processed = self.links_processed = 0
        self.target_counts = {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
        self.links_created = 0
        self.situations = dict.fromkeys(SITUATIONS, 0)
        self.statuses = {"SUCCESS": 0, "FAILURE": 0}
        self.metrics = {}
        self.parameters = {}
        self.error = None

    @property
    def stage(self):
        return self._stage

    @stage.setter
    def stage(self, new_stage):
        """``ReconciliationContext.setStage()``: a completed run keeps its stage; once canceled, an active stage
        is ACTIVE_CANCELING and any completion COMPLETED_CANCELED (OpenIDM ReconciliationContext.java L361-383)."""
        if self._stage.startswith("COMPLETED"):
            return
        if self.canceled:
            new_stage = "COMPLETED_CANCELED" if new_stage.startswith("COMPLETED") else "ACTIVE_CANCELING"
        self._stage = new_stage

    def request_cancel(self):
        """``ReconciliationContext.cancel()``: ACTIVE_CANCELING at once (unless already completed)."""
        self.stage = "ACTIVE_CANCELING"
        self.canceled = True
        self.cancel.set()

    @property
    def state(self):
        if self.stage.startswith("ACTIVE"):
            return "ACTIVE"
        return {"COMPLETED_SUCCESS": "SUCCESS", "COMPLETED_CANCELED": "CANCELED"}.get(self.stage, "FAILED")

    def timed(self, name, started):
        self.metrics.setdefault(name, Metric()).add((time.perf_counter() - started) * 1000)

    def finish(self, stage):
        if self.stage.startswith("COMPLETED"):
            return
        self.stage = stage
        self.ended = now_iso()
        self.duration_ms = int((time.monotonic() - self.started_clock) * 1000)

    def summary(self):
        duration = self.duration_ms if self.duration_ms is not None else \
            int((time.monotonic() - self.started_clock) * 1000)

        def total(value):
            return "?" if value is None else str(value)
        return {
            "_id": self.id, "mapping": self.mapping, "state": self.state, "stage": self.stage,
            "stageDescription": STAGES[self.stage],
            "progress": {
                "source": {"existing": {"processed": self.source_processed, "total": total(self.source_total)}},
                "target": {"existing": {"processed": self.target_processed, "total": total(self.target_total)},
                           **self.target_counts},
                "links": {"existing": {"processed": self.links_processed, "total": total(self.links_total)},
                          "created": self.links_created},
            },
            "situationSummary": dict(self.situations),
            "statusSummary": dict(self.statuses),
            "durationSummary": {name: metric.as_dict() for name, metric in sorted(self.metrics.items())},
            "parameters": copy_json(self.parameters),
            "started": self.started, "ended": self.ended, "duration": duration,
        }


LENIENT_UNCHANGED = os.environ.get("IDM_SANDBOX_LENIENT_UNCHANGED") == "1"


def same_target(new, old):
    """True when an UPDATE would not write: ``oldTarget.isEqualTo(target)`` (SyncOperation.java L527), or the
    lenient "new covers old" comparison with ``IDM_SANDBOX_LENIENT_UNCHANGED=1`` (see the module docstring)."""
    if LENIENT_UNCHANGED:
        return covers({k: v for k, v in new.items() if k not in ("_id", "_rev")}, old)
    return strict_equal(new, old)


def covers(new, old):
    """Lenient comparison: ``new`` equals ``old`` when every key it sets has the same value in ``old``."""
    if new is None:
        return old is None
    if isinstance(new, dict):
        if not isinstance(old, dict):
            return False
        return all(covers(value, old.get(key)) if value is not None else old.get(key) is None
                   for key, value in new.items())
    if isinstance(new, list):
        if not isinstance(old, list) or len(new) != len(old):
            return False
        if all(isinstance(item, dict) for item in new):
            remaining = list(old)
            for item in new:
                match = next((i for i, candidate in enumerate(remaining) if covers(item, candidate)), None)
                if match is None:
                    return False
                remaining.pop(match)
            return True
        return all(covers(a, b) for a, b in zip(new, old))
    if isinstance(new, bool) or isinstance(old, bool):
        return new is old or new == old and type(new) is type(old)
    return new == old


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


def _index_plan(node):
    """Equality clauses ``[(pointer, value)]`` when a filter can be answered by the index, else None."""
    if node[0] == "eq":
        return [(node[1], node[2])]
    if node[0] == "and" and all(child[0] == "eq" for child in node[1]):
        return [(child[1], child[2]) for child in node[1]]
    return None


def _expression_filter(tree, value_of):
    """The UI's ``expressionTree`` (``{"all"|"any": [field | subtree]}``) as a CREST filter."""
    if isinstance(tree, str):
        value = value_of(tree)
        return f"/{tree} eq {json_literal(value)}"
    if isinstance(tree, dict):
        for key, joiner in (("all", " and "), ("any", " or ")):
            if key in tree:
                parts = [_expression_filter(item, value_of) for item in tree[key]]
                return "(" + joiner.join(parts) + ")" if parts else ("true" if key == "all" else "false")
    raise ScriptError(f"Invalid expressionTree {tree!r}")


def json_literal(value):
    return json.dumps(value)


_SIMPLE_EQUALITY = re.compile(r'^\s*(/?[A-Za-z_][\w/]*)\s+eq\s+("(?:[^"\\]|\\.)*")\s*$')


class Entry:
    """One situation assessment: a source and/or target object with a link qualifier."""
    __slots__ = ("phase", "qualifier", "source", "source_id", "target", "target_id", "linked", "situation",
                 "ambiguous", "action", "old_source", "status", "failure")

    def __init__(self, phase, qualifier):
        self.phase = phase
        self.qualifier = qualifier
        self.source = self.source_id = self.target = self.target_id = None
        self.old_source = None   # implicit sync of an update/delete: the source before the change
        self.linked = False
        self.situation = None
        self.ambiguous = None
        self.action = None
        self.status = None       # SUCCESS / FAILURE once recorded
        self.failure = None      # {"message", "messageDetail", "exception"} of the SynchronizationException


SYNC_EXCEPTION = "org.forgerock.openidm.sync.SynchronizationException"


def sync_failure(message, wrapped=True):
    """What IDM's ``ObjectMapping.setLogEntryMessage()`` records for a SynchronizationException.

    Failures raised while an action is performed (a refused write, an EXCEPTION policy, "no target object to
    link") are wrapped twice by ``SyncOperation.performAction()`` (``new SynchronizationException(e)`` around the
    thrown one), so the audit ``message`` is ``"<m>. Root cause: <root m>"`` and ``messageDetail`` is the inner
    exception's JSON (``{"code": 409, "reason": "Conflict", "message": <m>}``; OpenIDM ObjectMapping.java
    L884-905, SyncOperation.java L426-572). The sandbox has no deeper root cause than the message itself.
    """
    if not wrapped:
        return {"message": message, "messageDetail": None, "exception": f"{SYNC_EXCEPTION}: {message}"}
    return {"message": f"{message}. Root cause: {message}",
            "messageDetail": {"code": 409, "reason": "Conflict", "message": html_escape(message)},
            "exception": f"{SYNC_EXCEPTION}: {message}\nCaused by: {SYNC_EXCEPTION}: {message}"}


class ReconEngine:
    """Runs one reconciliation of one mapping. Not reused across runs."""

    def __init__(self, router, runner, links, audit, store, mapping, run, readings, entry_delay=0.0, assoc=None,
                 implicit=False):
        self.readings = readings
        # implicit=True: one source change pushed through the mapping (IDM's implicit sync, ObjectMapping
        # .doSourceSync): nothing is prefetched, links are read and written at once, entries go to audit/sync.
        self.implicit = implicit
        self.empty_target_set = False   # correlateEmptyTargetSet: the target set was empty at the start
        self.router = router
        self.runner = runner
        self.links = links
        self.audit = audit
        self.store = store
        self.mapping = mapping
        self.run = run
        self.entry_delay = entry_delay
        self.assoc = assoc  # callable(rows) storing analysis entries, or None
        self.analyze = run.analyze
        self.sources = {}
        self.targets = {}
        self.index = None
        self.index_usable = False
        self.by_source = {}   # qualifier -> {sourceId: targetId}
        self.by_target = {}   # qualifier -> {targetId: sourceId}
        self.seen_targets = set()
        self._link_writes = []
        self._link_deletes = []
        self._audit_rows = []
        self._assoc_rows = []
        self._field_cache = {}
        # Links are written at once (not batched) when a managed write could trigger an implicit sync that has to
        # see them, as IDM writes each link before it writes the target.
        self._eager_links = implicit or (self.readings.implicit_sync == "on"
                                         and not mapping.target.startswith("system/"))

    # ---- helpers -------------------------------------------------------------------------------------------
    @staticmethod
    def _query_filter(spec, what):
        if spec is None:
            return "true"
        if not isinstance(spec, dict):
            raise IdmError(400, f"Invalid {what}: expected an object with _queryFilter")
        if "_queryFilter" in spec:
            return spec["_queryFilter"]
        if spec.get("_queryId") in ("query-all-ids", "query-all"):
            return "true"
        raise IdmError(400, f"Unsupported {what} {spec!r}: only _queryFilter is supported by the sandbox")

    def _fields(self, side):
        """The ``_fields`` recon reads sources and targets with.

        Reading ``recon_target_fields=default`` (IDM): None, the default fields, so relationship fields such as
        ``members``/``roles`` (``returnByDefault: false``) are absent, as ``LazyObjectAccessor.rawReadObject()``
        reads without ``_fields`` (OpenIDM LazyObjectAccessor.java L135-146). ``mapped`` (the old sandbox
        behaviour): ``*`` plus the relationship fields the mapping reads or writes.
        """
        if self.readings.recon_target_fields == "default":
            return None
        resource = self.mapping.source if side == "source" else self.mapping.target
        cached = self._field_cache.get(side, False)
        if cached is not False:
            return cached
        relationships = {prop for (res, prop) in RELATIONSHIPS if res == resource}
        wanted = set()
        for prop in self.mapping.properties:
            segments = prop.source if side == "source" else prop.target
            if side == "source" and prop.has_source and prop.source == []:
                wanted |= relationships
            elif segments and segments[0] in relationships:
                wanted.add(segments[0])
        fields = ["*"] + sorted(wanted) if wanted else None
        self._field_cache[side] = fields
        return fields

    def _flush_links(self):
        if self._link_deletes:
            self.links.delete_many(self._link_deletes)
            self._link_deletes = []
        if self._link_writes:
            self.links.create_many(self._link_writes)
            self._link_writes = []

    def _flush(self):
        self._flush_links()
        if self._audit_rows:
            started = time.perf_counter()
            self.audit.add_many(self._audit_rows, topic="sync" if self.implicit else "recon")
            self.run.timed("auditLog", started)
            self._audit_rows = []
        if self._assoc_rows and self.assoc:
            self.assoc(self._assoc_rows)
            self._assoc_rows = []

    def _bindings(self, **extra):
        """Every script gets ``context``: the parts of IDM's context chain a mapping script can read here. A recon
        runs under a ``ReconContext`` (name ``recon``, data ``{"mapping"}``, ReconciliationService.java L340-342)
        and every sync operation under a ``SyncContext`` (``sync``, ``{"mapping"}``, SyncOperation.java L161);
        there is no reconId in the context."""
        context = {"security": {"authenticationId": self.run.initiator}, "sync": {"mapping": self.mapping.name}}
        if not self.implicit:
            context["recon"] = {"mapping": self.mapping.name}
        base = {"context": context}
        base.update(extra)
        return base

    def _script_bindings(self, entry, target=None, old_target=None):
        """The bindings of onCreate/onUpdate/onDelete/onLink/onUnlink as ``SyncOperation.execScript()`` sets them
        (OpenIDM SyncOperation.java L744-790): ``linkQualifier``, ``mappingConfig``, ``source`` (when there is a
        source id), ``oldSource``, ``sourceId``, ``target`` (when loaded) and ``oldTarget`` (onUpdate only),
        ``targetId``, ``situation``."""
        bindings = self._bindings(linkQualifier=entry.qualifier, mappingConfig=self.mapping.config,
                                  oldSource=entry.old_source, sourceId=entry.source_id, targetId=entry.target_id)
        if entry.source_id is not None:
            bindings["source"] = entry.source
        if target is not None:
            bindings["target"] = target
            if old_target is not None:
                bindings["oldTarget"] = old_target
        if entry.situation is not None:
            bindings["situation"] = entry.situation
        return bindings

    # ---- run -----------------------------------------------------------------------------------------------
    def execute(self):
        run, mapping = self.run, self.mapping
        self.audit.add_many([self._audit_event("start", message=f"Reconciliation initiated by {run.initiator}")])
        run.stage = "ACTIVE_QUERY_ENTRIES"
        source_filter = self._query_filter(mapping.source_query, "sourceQuery")
        target_filter = self._query_filter(mapping.target_query, "targetQuery")
        source_fields, target_fields = self._fields("source"), self._fields("target")
        run.parameters = {
            "sourceQuery": {"resourceName": mapping.source, "_queryFilter": source_filter,
                            "_fields": ",".join(source_fields or ["*"])},
            "targetQuery": {"resourceName": mapping.target, "queryFilter": target_filter,
                            "_fields": ",".join(target_fields or ["*"])},
        }
        if run.source_ids is not None:
            run.parameters["sourceIds"] = list(run.source_ids)
        qualifiers = mapping.qualifiers

        started = time.perf_counter()
        if run.source_ids is None:
            for obj in self.router.query(mapping.source, source_filter, fields=source_fields)["result"]:
                self.sources[obj["_id"]] = obj
        else:
            for source_id in run.source_ids:
                obj = self._read_or_none(mapping.source, source_id, source_fields)
                self.sources[source_id] = obj
        run.timed("sourceQuery", started)
        run.source_total = len(self.sources)

        started = time.perf_counter()
        for obj in self.router.query(mapping.target, target_filter, fields=target_fields)["result"]:
            self.targets[obj["_id"]] = obj
        run.timed("targetQuery", started)
        run.target_total = len(self.targets)
        # IDM queries the targets only when a target phase runs, and skips correlation when that query found
        # nothing unless correlateEmptyTargetSet (SourceSyncOperation.java L329, SyncOperation.java L343-350).
        self.empty_target_set = (not self.targets and mapping.run_target_phase and run.source_ids is None)
        self.index = TargetIndex(self.targets)
        self.index_usable = target_filter.strip() == "true"

        started = time.perf_counter()
        stored = self.links.load(mapping.link_type, qualifiers)
        for qualifier in qualifiers:
            forward, backward = {}, {}
            for first, second in stored.get(qualifier, {}).items():
                source_id, target_id = (second, first) if mapping.reversed else (first, second)
                forward[source_id] = target_id
                backward[target_id] = source_id
            self.by_source[qualifier], self.by_target[qualifier] = forward, backward
        run.timed("linkQuery", started)
        run.links_total = sum(len(v) for v in self.by_source.values())

        if not self.sources and run.source_ids is None and not mapping.allow_empty_source:
            run.error = "Source set is empty and allowEmptySourceSet is false"
            self._finish("COMPLETED_FAILED", "source set is empty")
            return

        try:
            run.stage = "ACTIVE_RECONCILING_SOURCE"
            started = time.perf_counter()
            self._phase(list(self.sources.items()), self._source_entries)
            run.timed("sourcePhase", started)
            if mapping.run_target_phase and run.source_ids is None:
                run.stage = "ACTIVE_RECONCILING_TARGET"
                started = time.perf_counter()
                remaining = [(tid, obj) for tid, obj in list(self.targets.items()) if tid not in self.seen_targets]
                self._phase(remaining, self._target_entries)
                run.timed("targetPhase", started)
        except Canceled:
            run.stage = "ACTIVE_CANCELING"
            self._flush()
            self._finish("COMPLETED_CANCELED")
            return
        run.stage = "ACTIVE_PROCESSING_RESULTS"
        self._flush()
        if mapping.scripts.get("result"):
            try:
                self.runner.run(mapping.scripts["result"], self._bindings(
                    source=self.run.summary()["progress"]["source"], target=self.run.summary()["progress"]["target"],
                    **{"global": self.run.summary()}), f"{mapping.name} result")
            except ScriptError:
                pass  # a failing result script does not fail a finished run in IDM
        self._finish("COMPLETED_SUCCESS")

    def _finish(self, stage, reason=None):
        self.run.finish(stage)
        situations = " ".join(f"{k}:{v}" for k, v in self.run.situations.items() if v)
        message = f"Reconciliation {self.run.state.lower()}"
        if reason:
            message += f": {reason}"
        self.audit.add_many([self._audit_event(
            "summary", message=f"{message}. {situations}".strip(), detail=self.run.summary(),
            status="SUCCESS" if stage == "COMPLETED_SUCCESS" else "FAILURE")])

    def _read_or_none(self, resource, object_id, fields=None):
        try:
            return self.router.read(resource, object_id, fields=fields)
        except IdmError as exc:
            if exc.code == 404:
                return None
            raise

    def _phase(self, items, make_entries):
        writes_local = not self.mapping.target.startswith("system/") and not self.analyze
        for offset in range(0, len(items), CHUNK):
            chunk = items[offset:offset + CHUNK]
            if writes_local:
                with self.store.batch():
                    self._chunk(chunk, make_entries)
            else:
                self._chunk(chunk, make_entries)
            self._flush()

    def _chunk(self, chunk, make_entries):
        for object_id, obj in chunk:
            if self.run.cancel.is_set():
                raise Canceled()
            if self.entry_delay:
                time.sleep(self.entry_delay)
            for entry in make_entries(object_id, obj):
                self._handle(entry)

    # ---- implicit sync ------------------------------------------------------------------------------------
    def _load_links(self, qualifier, source_id=None, target_id=None):
        """Implicit sync reads the one link it needs (IDM's Link.getLinkForSource/ForTarget) instead of all."""
        forward = self.by_source.setdefault(qualifier, {})
        backward = self.by_target.setdefault(qualifier, {})
        if source_id is not None:
            if self.mapping.reversed:
                row = self.links.find(self.mapping.link_type, qualifier, second_id=source_id)
            else:
                row = self.links.find(self.mapping.link_type, qualifier, first_id=source_id)
        else:
            if self.mapping.reversed:
                row = self.links.find(self.mapping.link_type, qualifier, first_id=target_id)
            else:
                row = self.links.find(self.mapping.link_type, qualifier, second_id=target_id)
        if row:
            first, second = row
            source, target = (second, first) if self.mapping.reversed else (first, second)
            forward[source] = target
            backward[target] = source

    def sync_source(self, source_id, source, old_source=None, deleted=False):
        """Push one change of a source object through this mapping: ``ObjectMapping.doSourceSync()`` (OpenIDM
        ObjectMapping.java L399-440). One entry per link qualifier; the first entry that fails (or whose action
        is EXCEPTION, which doSourceSync rethrows) stops the others. Returns the entries."""
        entries = []
        value = old_source if deleted else source
        for qualifier in self._qualifiers(value):
            entry = Entry("source", qualifier)
            entry.source_id, entry.old_source = source_id, old_source
            entry.source = None if deleted else source
            entries.append(entry)
            try:
                self._load_links(qualifier, source_id=source_id)
                target_id = self.by_source.get(qualifier, {}).get(source_id)
                if target_id is not None:
                    entry.linked, entry.target_id = True, target_id
                    entry.target = self._read_or_none(self.mapping.target, target_id, self._fields("target"))
                self._source_situation(entry)
            except (ScriptError, IdmError) as exc:
                self._record(entry, "FAILURE", sync_failure(str(exc) if isinstance(exc, ScriptError) else exc.message,
                                                            wrapped=False))
                break
            self._handle(entry)
            if entry.status == "FAILURE" or entry.action == "EXCEPTION":
                break
        self._flush()
        return entries

    # ---- situations ----------------------------------------------------------------------------------------
    def _qualifiers(self, source):
        if self.mapping.qualifier_script is None:
            return self.mapping.qualifiers
        try:
            result = self.runner.run(self.mapping.qualifier_script, self._bindings(
                object=source, returnAll=source is None), f"{self.mapping.name} linkQualifiers")
        except ScriptError:
            return self.mapping.qualifiers
        return list(result) if isinstance(result, list) and result else ["default"]

    def _source_entries(self, source_id, source):
        self.run.source_processed += 1
        for qualifier in self._qualifiers(source):
            entry = Entry("source", qualifier)
            entry.source_id, entry.source = source_id, source
            target_id = self.by_source.get(qualifier, {}).get(source_id)
            if target_id is not None:
                entry.linked = True
                self.run.links_processed += 1
                entry.target_id = target_id
                entry.target = self.targets.get(target_id)
                if entry.target is None and not self.index_usable:
                    entry.target = self._read_or_none(self.mapping.target, target_id, self._fields("target"))
                self.seen_targets.add(target_id)
            try:
                self._source_situation(entry)
            except (ScriptError, IdmError) as exc:
                self._record(entry, "FAILURE", sync_failure(str(exc) if isinstance(exc, ScriptError) else exc.message,
                                                            wrapped=False))
                continue
            yield entry

    def _gone_source_situation(self, entry):
        """No source (reconById of a gone source, implicit sync of a delete): SourceSyncOperation.java L197-250.
        Linked: SOURCE_MISSING (TARGET_IGNORED when the target is not validTarget) or LINK_ONLY. Not linked: the
        old value, when known, is correlated: none ALL_GONE, one UNASSIGNED, several AMBIGUOUS (TARGET_IGNORED /
        UNQUALIFIED when the old value is not validSource)."""
        if entry.linked:
            if entry.target is None:
                entry.situation = "LINK_ONLY"
            else:
                entry.situation = "SOURCE_MISSING" if self._target_valid(entry.target, entry.qualifier) \
                    else "TARGET_IGNORED"
            return
        old = entry.old_source
        candidates = self._correlate(old, entry.qualifier) if old and self._may_correlate(entry.qualifier) else []
        if not candidates:
            entry.situation = "ALL_GONE"
            return
        valid = self._source_qualifies(old, entry.qualifier, conditions=False)
        if len(candidates) == 1:
            entry.target_id, entry.target = candidates[0], self.targets.get(candidates[0])
            entry.situation = "UNASSIGNED" if valid else "TARGET_IGNORED"
        else:
            entry.ambiguous = candidates
            entry.situation = "AMBIGUOUS" if valid else "UNQUALIFIED"

    def _source_situation(self, entry):
        source = entry.source
        if source is None:
            self._gone_source_situation(entry)
            return
        qualifies = self._source_qualifies(source, entry.qualifier)
        if qualifies:
            if entry.linked:
                entry.situation = "CONFIRMED" if entry.target is not None else "MISSING"
                return
            candidates = self._correlate(source, entry.qualifier) if self._may_correlate(entry.qualifier) else []
            if not candidates:
                entry.situation = "ABSENT"
            elif len(candidates) == 1:
                entry.target_id = candidates[0]
                entry.target = self.targets.get(candidates[0])
                self.seen_targets.add(candidates[0])
                if self.implicit:
                    self._load_links(entry.qualifier, target_id=candidates[0])
                owner = self.by_target.get(entry.qualifier, {}).get(candidates[0])
                entry.situation = "FOUND_ALREADY_LINKED" if owner not in (None, entry.source_id) else "FOUND"
            else:
                entry.situation = "AMBIGUOUS"
                entry.ambiguous = candidates
                self.seen_targets.update(candidates)
            return
        if entry.linked:
            entry.situation = "UNQUALIFIED"
            return
        candidates = self._correlate(source, entry.qualifier) if self._may_correlate(entry.qualifier) else []
        if candidates:
            entry.situation = "UNQUALIFIED"
            self.seen_targets.update(candidates)
            if len(candidates) == 1:
                entry.target_id, entry.target = candidates[0], self.targets.get(candidates[0])
            else:
                entry.ambiguous = candidates
        else:
            entry.situation = "SOURCE_IGNORED"

    def _source_qualifies(self, source, qualifier, conditions=True):
        mapping = self.mapping
        if mapping.valid_source is not None:
            started = time.perf_counter()
            valid = self.runner.run(mapping.valid_source, self._bindings(source=source, linkQualifier=qualifier),
                                    f"{mapping.name} validSource")
            self.run.timed("validSourceScript", started)
            if not valid:
                return False
        if conditions and mapping.source_condition is not None:
            return mapping.source_condition.evaluate(self.runner, source, qualifier,
                                                     f"{mapping.name} sourceCondition")
        return True

    def _target_valid(self, target, qualifier):
        if self.mapping.valid_target is None:
            return True
        started = time.perf_counter()
        valid = self.runner.run(self.mapping.valid_target, self._bindings(target=target, linkQualifier=qualifier),
                                f"{self.mapping.name} validTarget")
        self.run.timed("validTargetScript", started)
        return bool(valid)

    def _target_entries(self, target_id, target):
        self.run.target_processed += 1
        for qualifier in self._qualifiers(None):
            entry = Entry("target", qualifier)
            entry.target_id, entry.target = target_id, target
            try:
                if not self._target_valid(target, qualifier):
                    entry.situation = "TARGET_IGNORED"
                else:
                    source_id = self.by_target.get(qualifier, {}).get(target_id)
                    if source_id is None:
                        entry.situation = "UNASSIGNED"
                    else:
                        entry.linked = True
                        self.run.links_processed += 1
                        entry.source_id = source_id
                        entry.source = self.sources[source_id] if source_id in self.sources else \
                            self._read_or_none(self.mapping.source, source_id, self._fields("source"))
                        if entry.source is None:
                            entry.situation = "SOURCE_MISSING"
                        elif self._source_qualifies(entry.source, qualifier):
                            entry.situation = "CONFIRMED"
                        else:
                            entry.situation = "UNQUALIFIED"
            except (ScriptError, IdmError) as exc:
                self._record(entry, "FAILURE", sync_failure(str(exc) if isinstance(exc, ScriptError) else exc.message,
                                                            wrapped=False))
                continue
            yield entry

    # ---- correlation ---------------------------------------------------------------------------------------
    def _has_correlation(self, qualifier):
        return qualifier in self.mapping.correlation or self.mapping.correlation_script is not None

    def _may_correlate(self, qualifier):
        return self._has_correlation(qualifier) and (self.mapping.correlate_empty_target_set
                                                     or not self.empty_target_set)

    def _correlate(self, source, qualifier):
        mapping = self.mapping
        spec = mapping.correlation.get(qualifier)
        if spec is None and mapping.correlation_script is not None:
            started = time.perf_counter()
            result = self.runner.run(mapping.correlation_script, self._bindings(source=source,
                                                                                  linkQualifier=qualifier),
                                     f"{mapping.name} correlationScript")
            self.run.timed("correlationScript", started)
            ids = []
            for item in result or []:
                ids.append(item.get("_id") if isinstance(item, dict) else str(item))
            return [i for i in ids if i]
        if spec is None:
            return []
        started = time.perf_counter()
        if "expressionTree" in spec:
            query_filter = _expression_filter(spec["expressionTree"], lambda field: self._correlation_value(
                source, field, qualifier))
        else:
            query = self.runner.run(spec, self._bindings(source=source, linkQualifier=qualifier),
                                    f"{mapping.name} correlationQuery")
            if not isinstance(query, dict):
                raise ScriptError(f"{mapping.name} correlationQuery must return an object with _queryFilter")
            if "_queryFilter" not in query:
                raise ScriptError(f"{mapping.name} correlationQuery: only _queryFilter queries are supported "
                                  f"by the sandbox, got {sorted(query)}")
            query_filter = query["_queryFilter"]
        plan = None
        if self.index_usable:
            simple = _SIMPLE_EQUALITY.match(query_filter)
            if simple:  # the common case, without the full parser
                plan = [(queryfilter.parse_pointer(simple.group(1)), json.loads(simple.group(2)))]
            else:
                plan = _index_plan(queryfilter.parse(query_filter))
        else:
            queryfilter.parse(query_filter)  # a malformed filter fails the entry before any query
        if plan is not None:
            ids = None
            for segments, value in plan:
                found = self.index.lookup(segments, value)
                ids = list(found) if ids is None else [i for i in ids if i in found]
            result = ids or []
        else:
            result = [obj["_id"] for obj in self.router.query(mapping.target, query_filter,
                                                              fields=self._fields("target"))["result"]]
            for obj_id in result:
                if obj_id not in self.targets:
                    self.targets[obj_id] = self.router.read(mapping.target, obj_id, fields=self._fields("target"))
        self.run.timed("correlationQuery", started)
        return result

    def _correlation_value(self, source, field, qualifier):
        for prop in self.mapping.properties:
            if "/".join(prop.target) != field.strip("/"):
                continue
            if prop.condition is not None and not prop.condition.evaluate(
                    self.runner, source, qualifier, f"{self.mapping.name} property {field} condition"):
                continue
            return self._property_value(prop, source, None, qualifier)
        return get_path(source, queryfilter.parse_pointer(field))

    # ---- property mapping ----------------------------------------------------------------------------------
    def _property_value(self, prop, source, target, qualifier):
        if prop.has_source:
            value = source if prop.source == [] else get_path(source, prop.source)
        else:
            value = None
        if prop.transform is not None:
            started = time.perf_counter()
            value = self.runner.run(prop.transform, self._bindings(source=value, linkQualifier=qualifier),
                                    f"{self.mapping.name} property {'/'.join(prop.target)} transform")
            self.run.timed("propertyMappingScript", started)
        if value is None and prop.has_default:
            value = copy_json(prop.default)
        return value

    def _apply_properties(self, source, target, qualifier, old_source=None, old_target=None):
        """``PropertyMapping.apply()``: a property ``condition`` sees ``object``, ``target`` (being built),
        ``linkQualifier``, and ``oldSource``/``oldTarget`` when known (PropertyMapping.java L175-185)."""
        extra = {"target": target}
        if old_source is not None:
            extra["oldSource"] = old_source
        if old_target is not None:
            extra["oldTarget"] = old_target
        for prop in self.mapping.properties:
            if prop.condition is not None and not prop.condition.evaluate(
                    self.runner, source, qualifier, f"{self.mapping.name} property {'/'.join(prop.target)} "
                                                    "condition", extra):
                continue
            set_path(target, prop.target, copy_json(self._property_value(prop, source, target, qualifier)))
        return target

    # ---- actions -------------------------------------------------------------------------------------------
    def _action(self, entry):
        for policy, condition in self.mapping.policy_for(entry.situation):
            if condition is not None:
                if not condition.evaluate(self.runner, entry.source, entry.qualifier,
                                       f"{self.mapping.name} policy {entry.situation} condition",
                                       {"target": entry.target}):
                    continue
            action = policy.get("action")
            if isinstance(action, dict):
                started = time.perf_counter()
                action = self.runner.run(action, self._bindings(
                    source=entry.source, target=entry.target, sourceAction=entry.phase == "source",
                    linkQualifier=entry.qualifier, situation=entry.situation,
                    recon={"actionParam": {"reconId": self.run.id, "mapping": self.mapping.name,
                                           "situation": entry.situation}}),
                    f"{self.mapping.name} policy {entry.situation} action")
                self.run.timed("activePolicyScript", started)
            if action not in ACTIONS:
                raise ScriptError(f"{self.mapping.name}: invalid action {action!r} for {entry.situation}")
            return action, policy
        return DEFAULT_ACTIONS[entry.situation], None

    def _handle(self, entry):
        """Decide and perform the action, then count and audit the entry as IDM's SourceRecon/TargetRecon do:
        a SynchronizationException is a FAILURE unless the action was EXCEPTION, which throws on purpose
        (``if (op.action != ReconAction.EXCEPTION) status = FAILURE``, OpenIDM SourceRecon.java L76-84,
        TargetRecon.java L67-75); the EXCEPTION entry keeps status SUCCESS and carries the exception message.
        Reading ``exception_status=failure`` counts EXCEPTION entries as FAILURE (the old sandbox behaviour)."""
        self.run.situations[entry.situation] += 1
        try:
            action, policy = self._action(entry)
            entry.action = action
            if not self.analyze:
                self._perform(entry, action)
                if policy is not None and policy.get("postAction") and action not in ("IGNORE", "ASYNC"):
                    started = time.perf_counter()
                    self.runner.run(policy["postAction"], self._bindings(
                        source=entry.source, target=entry.target, linkQualifier=entry.qualifier,
                        situation=entry.situation, action=action, sourceAction=entry.phase == "source",
                        reconId=None if self.implicit else self.run.id),
                        f"{self.mapping.name} policy {entry.situation} postAction")
                    self.run.timed("activePolicyPostActionScript", started)
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
            self._record_assoc(entry, "SUCCESS", None)

    def _perform(self, entry, action):
        if action == "CREATE":
            self._create(entry)
        elif action == "UPDATE":
            self._update(entry)
        elif action == "DELETE":
            self._delete(entry)
        elif action == "LINK":
            if entry.target_id is None:
                raise EntryFailure("no target object to link")
            self._link(entry)
        elif action == "UNLINK":
            self._unlink(entry)
        # EXCEPTION, IGNORE, REPORT, NOREPORT, ASYNC change nothing

    def _link(self, entry):
        qualifier = entry.qualifier
        owner = self.by_target.setdefault(qualifier, {}).get(entry.target_id)
        if owner is not None and owner != entry.source_id:
            raise EntryFailure(f"Target {self.mapping.target}/{entry.target_id} is already linked to source "
                               f"{self.mapping.source}/{owner}")
        forward = self.by_source.setdefault(qualifier, {})
        previous = forward.get(entry.source_id)
        if previous == entry.target_id:
            entry.linked = True
            return
        if previous is not None:
            self.by_target[qualifier].pop(previous, None)
        forward[entry.source_id] = entry.target_id
        self.by_target[qualifier][entry.target_id] = entry.source_id
        first, second = self.mapping.link_ids(entry.source_id, entry.target_id)
        self._link_writes.append((self.mapping.link_type, qualifier, first, second))
        if self._eager_links:
            self._flush_links()
        self.run.links_created += 1
        entry.linked = True
        script = self.mapping.scripts.get("onLink")
        if script:
            started = time.perf_counter()
            self.runner.run(script, self._script_bindings(entry, entry.target), f"{self.mapping.name} onLink")
            self.run.timed("onLinkScript", started)

    def _unlink(self, entry):
        qualifier = entry.qualifier
        target_id = self.by_source.get(qualifier, {}).get(entry.source_id) if entry.source_id else None
        source_id = entry.source_id
        if target_id is None and entry.target_id is not None:
            source_id = self.by_target.get(qualifier, {}).get(entry.target_id)
            if source_id is not None:
                target_id = entry.target_id
        if target_id is None:
            return
        script = self.mapping.scripts.get("onUnlink")
        if script:   # IDM runs onUnlink before it deletes the link (SyncOperation.java L556-563)
            started = time.perf_counter()
            self.runner.run(script, self._script_bindings(entry, entry.target), f"{self.mapping.name} onUnlink")
            self.run.timed("onUnlinkScript", started)
        started = time.perf_counter()
        self.by_source.get(qualifier, {}).pop(source_id, None)
        self.by_target.get(qualifier, {}).pop(target_id, None)
        entry.source_id = entry.source_id or source_id
        first, _second = self.mapping.link_ids(source_id, target_id)
        # pending link writes of this run must not resurrect the link
        self._link_writes = [w for w in self._link_writes if not (w[1] == qualifier and w[2] == first)]
        self._link_deletes.append((self.mapping.link_type, qualifier, first))
        if self._eager_links:
            self._flush_links()
        entry.linked = False
        self.run.timed("deleteLinkObject", started)

    def _pending(self, action, entry):
        """The PendingActionContext a recon passes with its CREATE/DELETE of a managed object: IDM's sync
        service performs the LINK/UNLINK first thing in notifyCreate/notifyDelete, before it syncs the other
        mappings of that object, so a mapping that shares these links already sees the new link
        (PendingAction.java, SynchronizationService.java L238-268). None when nothing would pick it up."""
        if self.implicit or self.readings.implicit_sync != "on" or self.mapping.target.startswith("system/"):
            return None
        pending = {"action": action, "mapping": self.mapping.name, "target": self.mapping.target,
                   "performed": False}

        def perform(obj):
            if action == "LINK":
                entry.target_id, entry.target = obj["_id"], obj
                self._link(entry)
            else:
                self._unlink(entry)
            pending["performed"] = True
        pending["perform"] = perform
        return pending

    def _create(self, entry):
        if entry.source is None:
            raise EntryFailure("no source object to create target from")
        target = self._apply_properties(entry.source, {}, entry.qualifier, old_source=entry.old_source)
        script = self.mapping.scripts.get("onCreate")
        if script:
            started = time.perf_counter()
            target = self.runner.run_modifying(script, self._script_bindings(entry, target), "target",
                                               f"{self.mapping.name} onCreate")
            self.run.timed("onCreateScript", started)
        new_id = target.pop("_id", None)
        pending = self._pending("LINK", entry)
        created = self.router.create(self.mapping.target, target, id=new_id,
                                     context={"pending": pending} if pending else None)
        self.run.target_counts["created"] += 1
        entry.target_id, entry.target = created["_id"], created
        if self.index is not None:
            self.index.put(created["_id"], created)
        self.seen_targets.add(created["_id"])
        if pending and pending["performed"]:
            return
        owner = self.by_target.get(entry.qualifier, {}).get(created["_id"])
        if owner is None or owner == entry.source_id:
            self._link(entry)

    def _update(self, entry):
        if entry.target_id is None:
            raise EntryFailure("no target object to link")
        if not entry.linked or self.by_source.get(entry.qualifier, {}).get(entry.source_id) != entry.target_id:
            self._link(entry)
        if entry.source is None or entry.target is None:
            return   # IDM applies the mappings only with both a source and a target (SyncOperation.java L522)
        old = entry.target
        new = self._apply_properties(entry.source, copy_json(old), entry.qualifier, old_source=entry.old_source,
                                     old_target=old)
        script = self.mapping.scripts.get("onUpdate")
        if script:
            started = time.perf_counter()
            new = self.runner.run_modifying(script, self._script_bindings(entry, new, old_target=old), "target",
                                            f"{self.mapping.name} onUpdate")
            self.run.timed("onUpdateScript", started)
        if same_target(new, old):
            self.run.target_counts["unchanged"] += 1
            return
        changed = {key: value for key, value in new.items()
                   if key not in ("_id", "_rev") and (key not in old or not strict_equal(value, old[key]))}
        removed = [key for key in old if key not in new and key not in ("_id", "_rev")]
        started = time.perf_counter()
        if self.mapping.target.startswith("system/"):
            changes = dict(changed, **{key: None for key in removed})
            updated = self.router.update(self.mapping.target, entry.target_id, changes) if changes else None
        else:
            operations = [{"operation": "replace", "field": "/" + key, "value": value}
                          for key, value in changed.items()]
            operations += [{"operation": "remove", "field": "/" + key} for key in removed]
            updated = self.router.patch(self.mapping.target, entry.target_id, operations) if operations else None
        self.run.timed("updateTargetObject", started)
        self.run.target_counts["updated"] += 1
        merged = dict(old)
        for key in removed:
            merged.pop(key, None)
        merged.update(updated or changed)
        entry.target = merged
        if self.index is not None:
            self.index.put(entry.target_id, merged)

    def _delete(self, entry):
        pending = None
        if entry.target_id is not None and entry.target is not None:
            script = self.mapping.scripts.get("onDelete")
            if script:   # before the delete, as SyncOperation.java L540-545
                started = time.perf_counter()
                self.runner.run(script, self._script_bindings(entry, entry.target), f"{self.mapping.name} onDelete")
                self.run.timed("onDeleteScript", started)
            started = time.perf_counter()
            pending = self._pending("UNLINK", entry) if entry.linked else None
            try:
                self.router.delete(self.mapping.target, entry.target_id,
                                   context={"pending": pending} if pending else None)
            except IdmError as exc:
                if exc.code != 404:   # a forgiving delete, as IDM's
                    raise
            self.run.timed("deleteTargetObject", started)
            self.run.target_counts["deleted"] += 1
            if self.index is not None:
                self.index.put(entry.target_id, None)
        if pending and pending["performed"]:
            return
        if entry.linked or entry.source_id is not None:
            self._unlink(entry)

    # ---- audit ---------------------------------------------------------------------------------------------
    def _audit_event(self, entry_type, message=None, detail=None, status=None):
        return {"transactionId": self.run.id, "timestamp": now_iso(), "eventName": "recon",
                "userId": self.run.initiator, "reconId": self.run.id, "mapping": self.mapping.name,
                "entryType": entry_type, "reconAction": self.run.action, "reconciling": None, "action": None,
                "situation": None, "status": status or "SUCCESS", "sourceObjectId": None, "targetObjectId": None,
                "linkQualifier": None, "ambiguousTargetObjectIds": None, "message": message,
                "messageDetail": detail, "exception": None}

    def _record(self, entry, status, failure):
        """Count the entry and write its audit event: ``audit/recon`` in a recon, ``audit/sync`` in an implicit
        sync. ``failure`` is a ``sync_failure()`` dict or None."""
        entry.status, entry.failure = status, failure
        self.run.statuses[status] += 1
        failure = failure or {}
        source_id = f"{self.mapping.source}/{entry.source_id}" if entry.source_id else None
        target_id = f"{self.mapping.target}/{entry.target_id}" if entry.target_id else None
        if self.implicit:
            self._audit_rows.append({
                "transactionId": self.run.id, "timestamp": now_iso(), "eventName": "sync",
                "userId": self.run.initiator, "mapping": self.mapping.name, "action": entry.action,
                "situation": entry.situation, "status": status, "sourceObjectId": source_id,
                "targetObjectId": target_id, "linkQualifier": entry.qualifier,
                "message": failure.get("message"), "messageDetail": failure.get("messageDetail"),
                "exception": failure.get("exception")})
            return
        row = self._audit_event("entry", message=failure.get("message"), detail=failure.get("messageDetail"),
                                status=status)
        row.update({"reconciling": entry.phase, "action": entry.action, "situation": entry.situation,
                    "sourceObjectId": source_id, "targetObjectId": target_id, "linkQualifier": entry.qualifier,
                    "ambiguousTargetObjectIds": ", ".join(entry.ambiguous) if entry.ambiguous else None,
                    "exception": failure.get("exception")})
        self._audit_rows.append(row)
        self._record_assoc(entry, status, failure.get("message"))

    def _record_assoc(self, entry, status, error):
        if not self.run.persist_associations:
            return
        self._assoc_rows.append({
            "reconId": self.run.id, "mapping": self.mapping.name, "phase": entry.phase,
            "linkQualifier": entry.qualifier, "situation": entry.situation, "action": entry.action,
            "status": status, "sourceObjectId": entry.source_id, "sourceResourceCollection": self.mapping.source,
            "targetObjectId": entry.target_id, "targetResourceCollection": self.mapping.target,
            "ambiguousTargetObjectIds": entry.ambiguous or [], "exception": error,
            "isAnalysis": self.analyze})
