"""The two write buffers of a run: the links it makes and breaks (``LinkBook``, also its in-memory view of the
mapping's links) and the audit events and analysis entries it records (``AuditBuffer``). Both are flushed after
every chunk of entries; links are written at once instead when an implicit sync may need to see them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from .audit import AuditService
from .entries import Entry
from .links import LinkStore
from .mapping import Mapping
from .runstate import RunState, now_iso


class LinkBook:
    """The links of one mapping as a run sees them: ``by_source[qualifier][source id] = target id`` and back.

    A recon loads them all at once (IDM's ``prefetchLinks``); an implicit sync reads the one it needs. Writes go
    to the link store on ``flush()``, or at once when ``eager`` (a managed write may trigger an implicit sync that
    has to see them, as IDM writes each link before it writes the target)."""

    def __init__(self, store: LinkStore, mapping: Mapping, eager: bool) -> None:
        self.store = store
        self.mapping = mapping
        self.eager = eager
        self.by_source: dict[str, dict[str, str]] = {}
        self.by_target: dict[str, dict[str, str]] = {}
        self._writes: list[tuple[str, str, str, str]] = []
        self._deletes: list[tuple[str, str, str]] = []

    def load_all(self, qualifiers: Iterable[str]) -> int:
        """Every link of the mapping's link type (one query); returns how many there are."""
        stored = self.store.load(self.mapping.link_type, qualifiers)
        for qualifier in qualifiers:
            forward, backward = {}, {}
            for first, second in stored.get(qualifier, {}).items():
                source_id, target_id = (second, first) if self.mapping.reversed else (first, second)
                forward[source_id] = target_id
                backward[target_id] = source_id
            self.by_source[qualifier], self.by_target[qualifier] = forward, backward
        return sum(len(v) for v in self.by_source.values())

    def load_one(self, qualifier: str, source_id: str | None = None, target_id: str | None = None) -> None:
        """The link of one source or one target (IDM's Link.getLinkForSource/ForTarget), for implicit sync."""
        forward = self.by_source.setdefault(qualifier, {})
        backward = self.by_target.setdefault(qualifier, {})
        by_first = (source_id is not None) != self.mapping.reversed
        wanted = source_id if source_id is not None else target_id
        if by_first:
            row = self.store.find(self.mapping.link_type, qualifier, first_id=wanted)
        else:
            row = self.store.find(self.mapping.link_type, qualifier, second_id=wanted)
        if row:
            first, second = row
            source, target = (second, first) if self.mapping.reversed else (first, second)
            forward[source] = target
            backward[target] = source

    def target_of(self, qualifier: str, source_id: str | None) -> str | None:
        return self.by_source.get(qualifier, {}).get(source_id)

    def source_of(self, qualifier: str, target_id: str | None) -> str | None:
        return self.by_target.get(qualifier, {}).get(target_id)

    def add(self, qualifier: str, source_id: str, target_id: str) -> bool:
        """Link a source to a target (replacing the source's previous link); False when it already was."""
        forward = self.by_source.setdefault(qualifier, {})
        backward = self.by_target.setdefault(qualifier, {})
        previous = forward.get(source_id)
        if previous == target_id:
            return False
        if previous is not None:
            backward.pop(previous, None)
        forward[source_id] = target_id
        backward[target_id] = source_id
        first, second = self.mapping.link_ids(source_id, target_id)
        self._writes.append((self.mapping.link_type, qualifier, first, second))
        if self.eager:
            self.flush()
        return True

    def remove(self, qualifier: str, source_id: str, target_id: str) -> None:
        self.by_source.get(qualifier, {}).pop(source_id, None)
        self.by_target.get(qualifier, {}).pop(target_id, None)
        first, _second = self.mapping.link_ids(source_id, target_id)
        # pending link writes of this run must not resurrect the link
        self._writes = [w for w in self._writes if not (w[1] == qualifier and w[2] == first)]
        self._deletes.append((self.mapping.link_type, qualifier, first))
        if self.eager:
            self.flush()

    def flush(self) -> None:
        if self._deletes:
            self.store.delete_many(self._deletes)
            self._deletes = []
        if self._writes:
            self.store.create_many(self._writes)
            self._writes = []


class AuditBuffer:
    """Audit events (``audit/recon`` for a recon, ``audit/sync`` for an implicit sync) and, with
    ``persistAssociations``, the analysis entries (``assoc(rows)`` stores them)."""

    def __init__(
        self,
        audit: AuditService,
        mapping: Mapping,
        run: RunState,
        implicit: bool,
        assoc: Callable[[list[dict]], None] | None,
    ) -> None:
        self.audit = audit
        self.mapping = mapping
        self.run = run
        self.implicit = implicit
        self.assoc = assoc
        self._rows: list[dict[str, Any]] = []
        self._assoc_rows: list[dict[str, Any]] = []

    def recon_event(
        self, entry_type: str, message: str | None = None, detail: Any = None, status: str | None = None
    ) -> dict[str, Any]:
        run = self.run
        return {
            "transactionId": run.id,
            "timestamp": now_iso(),
            "eventName": "recon",
            "userId": run.initiator,
            "reconId": run.id,
            "mapping": self.mapping.name,
            "entryType": entry_type,
            "reconAction": run.action,
            "reconciling": None,
            "action": None,
            "situation": None,
            "status": status or "SUCCESS",
            "sourceObjectId": None,
            "targetObjectId": None,
            "linkQualifier": None,
            "ambiguousTargetObjectIds": None,
            "message": message,
            "messageDetail": detail,
            "exception": None,
        }

    def write_now(self, event: dict[str, Any]) -> None:
        """A run's start or summary event, written at once."""
        self.audit.add_many([event])

    def entry(self, entry: Entry, status: str, failure: dict[str, Any] | None) -> None:
        """The event of a reconciled entry; ``failure`` is a ``sync_failure()`` dict or None."""
        failure = failure or {}
        source_id = f"{self.mapping.source}/{entry.source_id}" if entry.source_id else None
        target_id = f"{self.mapping.target}/{entry.target_id}" if entry.target_id else None
        if self.implicit:
            self._rows.append(
                {
                    "transactionId": self.run.id,
                    "timestamp": now_iso(),
                    "eventName": "sync",
                    "userId": self.run.initiator,
                    "mapping": self.mapping.name,
                    "action": entry.action,
                    "situation": entry.situation,
                    "status": status,
                    "sourceObjectId": source_id,
                    "targetObjectId": target_id,
                    "linkQualifier": entry.qualifier,
                    "message": failure.get("message"),
                    "messageDetail": failure.get("messageDetail"),
                    "exception": failure.get("exception"),
                }
            )
            return
        row = self.recon_event(
            "entry", message=failure.get("message"), detail=failure.get("messageDetail"), status=status
        )
        row.update(
            {
                "reconciling": entry.phase,
                "action": entry.action,
                "situation": entry.situation,
                "sourceObjectId": source_id,
                "targetObjectId": target_id,
                "linkQualifier": entry.qualifier,
                "ambiguousTargetObjectIds": ", ".join(entry.ambiguous) if entry.ambiguous else None,
                "exception": failure.get("exception"),
            }
        )
        self._rows.append(row)
        self.association(entry, status, failure.get("message"))

    def association(self, entry: Entry, status: str, error: str | None) -> None:
        if not self.run.persist_associations:
            return
        self._assoc_rows.append(
            {
                "reconId": self.run.id,
                "mapping": self.mapping.name,
                "phase": entry.phase,
                "linkQualifier": entry.qualifier,
                "situation": entry.situation,
                "action": entry.action,
                "status": status,
                "sourceObjectId": entry.source_id,
                "sourceResourceCollection": self.mapping.source,
                "targetObjectId": entry.target_id,
                "targetResourceCollection": self.mapping.target,
                "ambiguousTargetObjectIds": entry.ambiguous or [],
                "exception": error,
                "isAnalysis": self.run.analyze,
            }
        )

    def flush(self) -> None:
        if self._rows:
            started = time.perf_counter()
            self.audit.add_many(self._rows, topic="sync" if self.implicit else "recon")
            self.run.timed("auditLog", started)
            self._rows = []
        if self._assoc_rows and self.assoc:
            self.assoc(self._assoc_rows)
            self._assoc_rows = []
