"""``/openidm/recon``: start, list, read, cancel and purge reconciliation runs; ``recon/assoc`` analysis data
(contract §4, §4.1).

* ``POST recon?_action=recon&mapping=<m>`` answers ``{"_id", "state": "ACTIVE"}`` at once; the run goes on in a
  background thread. ``waitForCompletion=true`` blocks and answers ``{"_id", "state"}`` with the final state, or
  409 "Synchronization failed" when the run throws (an empty source set is not a throw: 200 ``FAILED``).
* ``_action=reconById`` takes ``id`` (7.x) or ``ids`` (5.x, comma separated).
* The optional JSON body overrides mapping settings for that run (``sourceQuery``, ``targetQuery``,
  ``runTargetPhase``, ...).
* Run summaries are kept in SQLite (progress saved after every batch), so ``GET recon`` and ``GET recon/<id>``
  survive a restart; a run that was ACTIVE when the server died is marked FAILED (``COMPLETED_FAILED``) on start.
* ``analyze=true`` needs ``persistAssociations=true`` (400 otherwise, as IDM 7.5+); such a run decides every
  situation and action but changes nothing.

As IDM (OpenIDM ReconciliationService.java, ReconciliationContext.java):

* Unknown mapping: 409 ``"No such mapping: <name>"`` (SyncMappings.getMapping() throws a SynchronizationException,
  a ConflictException; handleAction L270-288); no ``mapping`` parameter: 400 ``"/mapping: Expecting a value"``.
* ``GET recon`` answers ``{"_id": "", "reconciliations": [...]}`` (handleRead L165-175).
* ``cancel`` (L294-309, ReconciliationContext.cancel()/setStage() L164-167, L361-383): the stage becomes
  ``ACTIVE_CANCELING`` at once, and any later completion of that run is ``COMPLETED_CANCELED``; a run that already
  completed is left alone (200 ``SUCCESS`` all the same); a run this server process does not hold in memory (an
  unknown id, or a run from before a restart) is 404 ``"Reconciliation with id <id> not found."``.

Choices where the contract says UNCONFIRMED (documented on purpose):

* A second run of a mapping that is already ACTIVE starts anyway (IDM 5.x code has no guard); callers decide.
* ``DELETE recon/<id>`` purges the run, its association data and its audit events and answers 200 with the last
  summary; purging an ACTIVE run is 409.
* Unlike IDM, whose run list lives in memory, ``GET recon`` and ``GET recon/<id>`` also show the runs of earlier
  server processes (kept in SQLite; IDM reads ``recon/<id>`` of an old run from its audit summary).
* Association shapes: ``GET recon/assoc`` is a query envelope of ``{"_id": <reconId>, "reconId", "mapping",
  "sourceResourceCollection", "targetResourceCollection", "isAnalysis", "startTime", "finishTime",
  "state", "situationSummary", "totalEntries"}``; ``GET recon/assoc/<reconId>`` is one of them;
  ``GET recon/assoc/<reconId>/entry?_queryFilter=...`` lists entries ``{"_id", "reconId", "mapping", "phase",
  "linkQualifier", "situation", "action", "status", "sourceObjectId", "sourceResourceCollection",
  "targetObjectId", "targetResourceCollection", "ambiguousTargetObjectIds", "exception", "isAnalysis"}``.

Slowing runs down for tests: ``entry_delay`` seconds before each entry (the server passes
``IDM_SANDBOX_RECON_ENTRY_DELAY``; tests may set ``server.recon.entry_delay``).
"""

from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from typing import Any

from .. import queryfilter
from ..crest import project
from ..errors import IdmError
from ..router import ResourceProvider
from .engine import ReconEngine
from .mapping import MappingRegistry
from .runstate import RunState, now_iso
from .scope import SyncServices

log = logging.getLogger("sandbox.idm.recon")

SCHEMA = """
CREATE TABLE IF NOT EXISTS recon_runs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    mapping TEXT NOT NULL,
    state TEXT NOT NULL,
    summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recon_assoc (
    recon_id TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS recon_assoc_entries (
    id TEXT PRIMARY KEY,
    recon_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recon_assoc_entries_run ON recon_assoc_entries (recon_id, seq);
"""
MAX_COMPLETED_RUNS = 100


class ReconService(ResourceProvider):
    def __init__(self, services: SyncServices, mappings: MappingRegistry, entry_delay: float = 0.0) -> None:
        self.services = services
        self.readings = services.readings
        self.store = store = services.store  # the runs and their association data are tables of this service
        self.audit = services.audit
        self.mappings = mappings
        self.entry_delay = float(entry_delay)
        self._lock = threading.Lock()
        self._active = {}  # id -> (RunState, Thread)
        self._in_memory = {}  # id -> RunState of the runs this process started (IDM's reconRuns, pruned at 100)
        self._outcome = {}  # id -> exception message when the run threw
        store.ensure_schema(SCHEMA)
        self._counter = itertools.count(1)
        self._seq = itertools.count((store.query("SELECT MAX(seq) FROM recon_runs")[0][0] or 0) + 1)
        self._assoc_seq = itertools.count((store.query("SELECT MAX(seq) FROM recon_assoc_entries")[0][0] or 0) + 1)
        self._mark_interrupted_runs()

    # ---- persistence ---------------------------------------------------------------------------------------
    def _mark_interrupted_runs(self):
        ended = now_iso()
        for recon_id, summary in self.store.query("SELECT id, summary FROM recon_runs WHERE state = 'ACTIVE'"):
            summary = json.loads(summary)
            summary.update(
                {
                    "state": "FAILED",
                    "stage": "COMPLETED_FAILED",
                    "stageDescription": "reconciliation failed",
                    "ended": ended,
                }
            )
            self.store.execute(
                "UPDATE recon_runs SET state = ?, summary = ? WHERE id = ?", ("FAILED", json.dumps(summary), recon_id)
            )

    def _save(self, run, insert=False):
        summary = run.summary()
        if insert:
            self.store.execute(
                "INSERT INTO recon_runs (id, seq, mapping, state, summary) VALUES (?, ?, ?, ?, ?)",
                (run.id, next(self._seq), run.mapping, run.state, json.dumps(summary)),
            )
        else:
            self.store.execute(
                "UPDATE recon_runs SET state = ?, summary = ? WHERE id = ?", (run.state, json.dumps(summary), run.id)
            )

    def _prune(self):
        rows = self.store.query("SELECT id FROM recon_runs WHERE state != 'ACTIVE' ORDER BY seq DESC")
        for (recon_id,) in rows[MAX_COMPLETED_RUNS:]:
            self.store.execute("DELETE FROM recon_runs WHERE id = ?", (recon_id,))

    def _save_assoc_entries(self, rows):
        records = []
        for row in rows:
            entry_id = str(uuid.uuid4())
            records.append((entry_id, row["reconId"], next(self._assoc_seq), json.dumps({"_id": entry_id, **row})))
        self.store.executemany("INSERT INTO recon_assoc_entries (id, recon_id, seq, body) VALUES (?, ?, ?, ?)", records)

    def _save_assoc_summary(self, run, mapping):
        summary = run.summary()
        body = {
            "_id": run.id,
            "reconId": run.id,
            "mapping": run.mapping,
            "sourceResourceCollection": mapping.source,
            "targetResourceCollection": mapping.target,
            "isAnalysis": run.analyze,
            "startTime": run.started,
            "finishTime": run.ended,
            "state": run.state,
            "situationSummary": summary["situationSummary"],
            "totalEntries": sum(summary["statusSummary"].values()),
        }
        self.store.execute(
            "INSERT OR REPLACE INTO recon_assoc (recon_id, body) VALUES (?, ?)", (run.id, json.dumps(body))
        )

    # ---- runs ----------------------------------------------------------------------------------------------
    def start(
        self,
        mapping_name: str | None,
        action: str = "recon",
        source_ids: list[str] | None = None,
        overrides: Any = None,
        analyze: bool = False,
        persist: bool = False,
        wait: bool = False,
        initiator: str = "openidm-admin",
    ) -> dict[str, Any]:
        if not mapping_name:
            raise IdmError(400, "/mapping: Expecting a value")
        if analyze and not persist:
            raise IdmError(400, "analyze=true requires persistAssociations=true")
        if overrides is not None and not isinstance(overrides, dict):
            raise IdmError(400, "The request body must be a JSON object of mapping overrides")
        if not self.mappings.available:
            # the stored mapping set could not be activated at start: IDM has no mapping service (NPE -> 500)
            raise IdmError(500, "Internal Server Error")
        mapping = self.mappings.get(mapping_name, overrides)
        if mapping is None:
            raise IdmError(409, f"No such mapping: {mapping_name}")
        run = RunState(
            f"{uuid.uuid4()}-{next(self._counter)}", mapping_name, action, source_ids, analyze, persist, initiator
        )
        self._save(run, insert=True)
        thread = threading.Thread(target=self._execute, args=(run, mapping), name=f"recon-{run.id}", daemon=True)
        with self._lock:
            self._active[run.id] = (run, thread)
            self._in_memory[run.id] = run
            done = [rid for rid, r in self._in_memory.items() if not r.stage.startswith("ACTIVE")]
            for rid in done[: max(0, len(done) - MAX_COMPLETED_RUNS)]:
                self._in_memory.pop(rid, None)
        thread.start()
        if wait:
            thread.join()
            if self._outcome.pop(run.id, None) is not None:
                # IDM's answer names neither the run nor the cause (ReconciliationService L287; the log has it)
                raise IdmError(409, "Synchronization failed")
        return {"_id": run.id, "state": run.state}

    def _execute(self, run, mapping):
        engine = ReconEngine(
            self.services,
            mapping,
            run,
            self.entry_delay,
            self._save_assoc_entries if run.persist_associations else None,
            on_flush=lambda: self._save(run),
        )
        try:
            engine.execute()
        except Exception as exc:
            message = exc.message if isinstance(exc, IdmError) else str(exc)
            log.warning("reconciliation %s of %s failed: %s", run.id, run.mapping, message)
            run.error = message
            self._outcome[run.id] = message
            try:
                engine.finish("COMPLETED_FAILED", message)
            except Exception:
                run.finish("COMPLETED_FAILED")
        finally:
            if run.persist_associations:
                self._save_assoc_summary(run, mapping)
            self._save(run)
            self._prune()
            with self._lock:
                self._active.pop(run.id, None)

    def summary(self, recon_id: str) -> dict[str, Any]:
        with self._lock:
            active = self._active.get(recon_id)
        if active:
            return active[0].summary()
        rows = self.store.query("SELECT summary FROM recon_runs WHERE id = ?", (recon_id,))
        if rows:
            return json.loads(rows[0][0])
        detail = self.audit.summary_of(recon_id)
        if detail:
            return detail
        raise IdmError(404, f"Reconciliation with id {recon_id} not found.")

    def list_runs(self) -> list[dict[str, Any]]:
        with self._lock:
            active = {rid: run.summary() for rid, (run, _t) in self._active.items()}
        runs = []
        for recon_id, summary in self.store.query("SELECT id, summary FROM recon_runs ORDER BY seq"):
            runs.append(active.get(recon_id) or json.loads(summary))
        return runs

    def cancel(self, recon_id: str) -> dict[str, Any]:
        with self._lock:
            run = self._in_memory.get(recon_id)
        if run is None:
            raise IdmError(404, f"Reconciliation with id {recon_id} not found.")
        run.request_cancel()
        return {"_id": recon_id, "action": "cancel", "status": "SUCCESS"}

    def purge(self, recon_id: str) -> dict[str, Any]:
        with self._lock:
            if recon_id in self._active:
                raise IdmError(409, f"Reconciliation {recon_id} is still running")
        last = self.summary(recon_id)
        with self.store.batch():
            self.store.execute("DELETE FROM recon_runs WHERE id = ?", (recon_id,))
            self.store.execute("DELETE FROM recon_assoc WHERE recon_id = ?", (recon_id,))
            self.store.execute("DELETE FROM recon_assoc_entries WHERE recon_id = ?", (recon_id,))
            self.audit.delete_run(recon_id)
        return last

    def wait_idle(self, timeout: float | None = None) -> None:
        """Join every running reconciliation (tests, shutdown)."""
        with self._lock:
            threads = [thread for _run, thread in self._active.values()]
        for thread in threads:
            thread.join(timeout)

    def close(self) -> None:
        with self._lock:
            runs = list(self._active.values())
        for run, _thread in runs:
            run.cancel.set()
        self.wait_idle(10)

    # ---- associations --------------------------------------------------------------------------------------
    def assoc_summaries(self, query_filter: str = "true") -> list[dict[str, Any]]:
        node = queryfilter.parse(query_filter)
        rows = [json.loads(body) for (body,) in self.store.query("SELECT body FROM recon_assoc")]
        rows.sort(key=lambda r: r.get("startTime") or "")
        return [row for row in rows if queryfilter.matches(node, row)]

    def assoc_summary(self, recon_id: str) -> dict[str, Any]:
        rows = self.store.query("SELECT body FROM recon_assoc WHERE recon_id = ?", (recon_id,))
        if not rows:
            raise IdmError(404, f"No association data for reconciliation {recon_id}")
        return json.loads(rows[0][0])

    def assoc_entries(self, recon_id: str, query_filter: str = "true") -> list[dict[str, Any]]:
        self.assoc_summary(recon_id)
        node = queryfilter.parse(query_filter)
        entries = (
            json.loads(body)
            for (body,) in self.store.query(
                "SELECT body FROM recon_assoc_entries WHERE recon_id = ? ORDER BY seq", (recon_id,)
            )
        )
        return [entry for entry in entries if queryfilter.matches(node, entry)]

    # ---- internal router (openidm.action("recon", ...)) ----------------------------------------------------
    def action(self, resource, action, params=None, body=None, context=None):
        params = params or {}
        parts = resource.strip("/").split("/")
        if len(parts) == 2:
            if action != "cancel":
                raise IdmError(400, f"Action {action} on reconciliation not supported")
            return self.cancel(parts[1])
        return self.start_action(action, params, body)

    def read(self, resource, id, fields=None, context=None):
        return project(self.summary(id), fields)

    def start_action(
        self, action: str | None, params: dict[str, Any], body: Any, initiator: str = "openidm-admin"
    ) -> dict[str, Any]:
        if action not in ("recon", "reconById"):
            raise IdmError(400, f"Action {action} on reconciliation not supported")

        def flag(name: str) -> bool:
            value = params.get(name)
            return str(value).lower() == "true" if value is not None else False

        source_ids = None
        if action == "reconById":
            raw = params.get("id") or params.get("ids")
            if not raw:
                raise IdmError(400, "reconById needs the id (or ids) parameter")
            source_ids = [i for i in str(raw).split(",") if i]
        return self.start(
            params.get("mapping"),
            action,
            source_ids,
            body,
            flag("analyze"),
            flag("persistAssociations"),
            flag("waitForCompletion"),
            initiator,
        )
