"""Jobs (one per scheduled ``schedule/<name>`` object), the record of each fire, and the ``scheduler_triggers`` table
where persisted schedules keep their trigger across restarts (Quartz's JDBC job store in IDM).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from ..store import Store
from .schedule import ScheduleConfig, iso_utc

log = logging.getLogger("sandbox.idm.scheduler")

HISTORY = 20  # fires kept per job

SCHEMA = """
CREATE TABLE IF NOT EXISTS scheduler_triggers (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    next_fire REAL,
    previous_fire REAL
);
"""

# A trigger row: the schedule object as JSON, the next and the previous fire time (epoch seconds).
TriggerRow = tuple[str, float | None, float | None]


@dataclass
class Fire:
    scheduled: float
    started: float
    ended: float | None = None
    outcome: str = "running"  # running | SUCCESS | FAILED
    detail: Any = None  # recon id, script result or the error text


@dataclass
class Job:
    name: str
    raw: dict[str, Any]
    config: ScheduleConfig
    next_fire: float | None = None
    previous_fire: float | None = None
    fired: int = 0
    running: int = 0
    history: list[Fire] = field(default_factory=list)

    def record(self, fire: Fire) -> None:
        """Keep ``fire`` in the history (the newest ``HISTORY``)."""
        self.history.append(fire)
        del self.history[:-HISTORY]

    def describe(self) -> dict[str, Any]:
        """The job as ``scheduler/job/<name>`` shows it: the schedule as IDM reads it and ``nextRunDate``."""
        out: dict[str, Any] = {"_id": self.name}
        out.update(self.config.as_json())
        out["nextRunDate"] = iso_utc(self.next_fire)
        return out

    def trigger_row(self) -> TriggerRow:
        return json.dumps(self.raw), self.next_fire, self.previous_fire


def same_schedule(row: TriggerRow, raw: dict[str, Any]) -> bool:
    """Whether a stored trigger belongs to this very schedule object (a changed object gets a fresh trigger)."""
    return json.loads(row[0]) == raw


class TriggerStore:
    """The trigger rows of persisted jobs.

    Writes are queued (``save``/``forget``, called with the scheduler's lock held) and written by the dispatcher
    thread (``write``) outside that lock: a config write made inside a store batch (which holds the store's lock)
    then never waits for a scheduler that waits for the store.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: dict[str, TriggerRow | None] = {}  # name -> row to write, or None to delete
        store.ensure_schema(SCHEMA)

    def load(self) -> dict[str, TriggerRow]:
        rows = self._store.query("SELECT name, config, next_fire, previous_fire FROM scheduler_triggers")
        return {name: (config, next_fire, previous) for name, config, next_fire, previous in rows}

    def save(self, job: Job) -> None:
        """Queue the trigger row of a persisted job."""
        if job.config.persisted:
            self._pending[job.name] = job.trigger_row()

    def forget(self, name: str) -> None:
        """Queue the removal of a trigger row."""
        self._pending[name] = None

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def take(self) -> dict[str, TriggerRow | None]:
        """The queued writes, which the caller then hands to ``write``."""
        pending, self._pending = self._pending, {}
        return pending

    def write(self, pending: dict[str, TriggerRow | None]) -> None:
        for name, row in pending.items():
            try:
                if row is None:
                    self._store.execute("DELETE FROM scheduler_triggers WHERE name = ?", (name,))
                else:
                    self._store.execute(
                        "INSERT OR REPLACE INTO scheduler_triggers (name, config, next_fire, previous_fire) "
                        "VALUES (?, ?, ?, ?)",
                        (name, *row),
                    )
            except Exception:
                log.debug("could not write the trigger of %s", name, exc_info=True)
