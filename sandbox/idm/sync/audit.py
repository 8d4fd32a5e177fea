"""``/openidm/audit/recon`` and ``/openidm/audit/sync``: the reconciliation and implicit-sync audit events
(contract §4.2), persisted in SQLite.

Recon events: ``start`` ("Reconciliation initiated by <user>"), one ``entry`` per reconciled entry (every action
but NOREPORT), and ``summary`` whose ``messageDetail`` is the run summary. An entry that failed, or whose action
was EXCEPTION, carries ``message``/``messageDetail``/``exception`` as IDM's ``setLogEntryMessage()`` sets them.
Sync events (``eventName: "sync"``): one per mapping and link qualifier an implicit sync of a managed-object change
went through (none for NOREPORT), with ``mapping, action, situation, status, sourceObjectId, targetObjectId,
linkQualifier, message, messageDetail, exception`` (PingIDM 8 audit guide, "Synchronization event topic
properties").
Object ids are full resource paths. Queries take ``_queryFilter`` (case-sensitive, like IDM's audit repository),
``_fields``, ``_pageSize``, ``_pagedResultsCookie``/``_pagedResultsOffset``, ``_sortKeys`` (default: write order)
and ``_totalPagedResultsPolicy``. Other audit topics are not recorded by the sandbox: ``audit/<topic>`` answers 404.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from collections.abc import Iterable
from typing import Any

from .. import queryfilter
from ..crest import page, project
from ..errors import IdmError
from ..router import ResourceProvider
from ..store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_recon (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    recon_id TEXT,
    entry_type TEXT,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_recon_recon ON audit_recon (recon_id, seq);
CREATE TABLE IF NOT EXISTS audit_sync (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL
);
"""
TOPICS = ("recon", "sync")


def _recon_id_of(node: queryfilter.Node) -> str | None:
    """The reconId a filter pins with a top-level ``reconId eq "x"`` (possibly inside an ``and``)."""
    if node[0] == "eq" and node[1] == ["reconId"] and isinstance(node[2], str):
        return node[2]
    if node[0] == "and":
        for child in node[1]:
            found = _recon_id_of(child)
            if found:
                return found
    return None


class AuditService(ResourceProvider):
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)
        # one sequence for both topics: after a restart it goes on after the last event of either
        last = store.query("SELECT MAX(seq) FROM (SELECT seq FROM audit_recon UNION ALL SELECT seq FROM audit_sync)")
        self._seq = itertools.count((last[0][0] or 0) + 1)
        self._lock = threading.Lock()

    def add_many(self, events: Iterable[dict[str, Any]], topic: str = "recon") -> None:
        rows = []
        with self._lock:
            for event in events:
                event_id = str(uuid.uuid4())
                body = {"_id": event_id, "_rev": "0"}
                body.update(event)
                if topic == "recon":
                    rows.append(
                        (event_id, next(self._seq), event.get("reconId"), event.get("entryType"), json.dumps(body))
                    )
                else:
                    rows.append((event_id, next(self._seq), json.dumps(body)))
        with self.store.batch():
            if topic == "recon":
                self.store.executemany(
                    "INSERT INTO audit_recon (id, seq, recon_id, entry_type, body) VALUES (?, ?, ?, ?, ?)", rows
                )
            else:
                self.store.executemany("INSERT INTO audit_sync (id, seq, body) VALUES (?, ?, ?)", rows)

    def delete_run(self, recon_id: str) -> None:
        self.store.execute("DELETE FROM audit_recon WHERE recon_id = ?", (recon_id,))

    def summary_of(self, recon_id: str) -> dict[str, Any] | None:
        rows = self.store.query(
            "SELECT body FROM audit_recon WHERE recon_id = ? AND entry_type = 'summary' ORDER BY seq DESC LIMIT 1",
            (recon_id,),
        )
        return json.loads(rows[0][0])["messageDetail"] if rows else None

    def search(self, query_filter: str, topic: str = "recon") -> list[dict[str, Any]]:
        node = queryfilter.parse(query_filter)
        if topic == "sync":
            events = (json.loads(row[0]) for row in self.store.query("SELECT body FROM audit_sync ORDER BY seq"))
            return [event for event in events if queryfilter.matches(node, event, case_insensitive=False)]
        recon_id = _recon_id_of(node)
        if recon_id is not None:
            rows = self.store.query("SELECT body FROM audit_recon WHERE recon_id = ? ORDER BY seq", (recon_id,))
        else:
            rows = self.store.query("SELECT body FROM audit_recon ORDER BY seq")
        events = (json.loads(row[0]) for row in rows)
        return [event for event in events if queryfilter.matches(node, event, case_insensitive=False)]

    # ---- internal router ("audit/recon") ---------------------------------------------------------------------
    @staticmethod
    def topic(resource: str) -> str:
        parts = resource.strip("/").split("/")
        if len(parts) < 2 or parts[1] not in TOPICS:
            raise IdmError(404, f"Audit topic {'/'.join(parts[1:]) or '(none)'} not found")
        return parts[1]

    def read(self, resource, id, fields=None, context=None):
        topic = self.topic(resource)
        rows = self.store.query(f"SELECT body FROM audit_{topic} WHERE id = ?", (id,))
        if not rows:
            raise IdmError(404, "Not Found")
        return project(json.loads(rows[0][0]), fields)

    def query(self, resource, query_filter="true", fields=None, page_size=None, cookie=None, context=None):
        topic = self.topic(resource)
        envelope = page(self.search(query_filter, topic), page_size, cookie)
        envelope["result"] = [project(event, fields) for event in envelope["result"]]
        return envelope
