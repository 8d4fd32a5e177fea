"""What ``GET recon/<id>`` reports about a run (``RunState``), its stages and timing metrics
(``durationSummary``). The engine updates the state while it runs; the recon service persists its summary.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ..crest import copy_json
from .mapping import SITUATIONS

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


def now_iso() -> str:
    """UTC ISO-8601 with milliseconds and ``Z``, as IDM writes timestamps."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class Metric:
    __slots__ = ("count", "maximum", "minimum", "squares", "total")

    def __init__(self) -> None:
        self.count, self.total, self.minimum, self.maximum, self.squares = 0, 0.0, None, None, 0.0

    def add(self, millis: float) -> None:
        self.count += 1
        self.total += millis
        self.squares += millis * millis
        self.minimum = millis if self.minimum is None else min(self.minimum, millis)
        self.maximum = millis if self.maximum is None else max(self.maximum, millis)

    def as_dict(self) -> dict[str, int]:
        mean = self.total / self.count if self.count else 0
        variance = max(0.0, self.squares / self.count - mean * mean) if self.count else 0
        return {
            "min": round(self.minimum or 0),
            "max": round(self.maximum or 0),
            "mean": round(mean),
            "count": self.count,
            "sum": round(self.total),
            "stdDev": round(math.sqrt(variance)),
        }


class RunState:
    """Everything ``GET recon/<id>`` reports about a run; the engine updates it while running."""

    def __init__(
        self,
        recon_id: str,
        mapping: str,
        action: str = "recon",
        source_ids: list[str] | None = None,
        analyze: bool = False,
        persist: bool = False,
        initiator: str = "openidm-admin",
    ) -> None:
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
    def stage(self) -> str:
        return self._stage

    @stage.setter
    def stage(self, new_stage: str) -> None:
        """``ReconciliationContext.setStage()``: a completed run keeps its stage; once canceled, an active stage
        is ACTIVE_CANCELING and any completion COMPLETED_CANCELED (OpenIDM ReconciliationContext.java L361-383)."""
        if self._stage.startswith("COMPLETED"):
            return
        if self.canceled:
            new_stage = "COMPLETED_CANCELED" if new_stage.startswith("COMPLETED") else "ACTIVE_CANCELING"
        self._stage = new_stage

    def request_cancel(self) -> None:
        """``ReconciliationContext.cancel()``: ACTIVE_CANCELING at once (unless already completed)."""
        self.stage = "ACTIVE_CANCELING"
        self.canceled = True
        self.cancel.set()

    @property
    def state(self) -> str:
        if self.stage.startswith("ACTIVE"):
            return "ACTIVE"
        return {"COMPLETED_SUCCESS": "SUCCESS", "COMPLETED_CANCELED": "CANCELED"}.get(self.stage, "FAILED")

    def timed(self, name: str, started: float) -> None:
        self.metrics.setdefault(name, Metric()).add((time.perf_counter() - started) * 1000)

    def finish(self, stage: str) -> None:
        if self.stage.startswith("COMPLETED"):
            return
        self.stage = stage
        self.ended = now_iso()
        self.duration_ms = int((time.monotonic() - self.started_clock) * 1000)

    def summary(self) -> dict[str, Any]:
        duration = (
            self.duration_ms if self.duration_ms is not None else int((time.monotonic() - self.started_clock) * 1000)
        )

        def total(value: int | None) -> str:
            return "?" if value is None else str(value)

        return {
            "_id": self.id,
            "mapping": self.mapping,
            "state": self.state,
            "stage": self.stage,
            "stageDescription": STAGES[self.stage],
            "progress": {
                "source": {"existing": {"processed": self.source_processed, "total": total(self.source_total)}},
                "target": {
                    "existing": {"processed": self.target_processed, "total": total(self.target_total)},
                    **self.target_counts,
                },
                "links": {
                    "existing": {"processed": self.links_processed, "total": total(self.links_total)},
                    "created": self.links_created,
                },
            },
            "situationSummary": dict(self.situations),
            "statusSummary": dict(self.statuses),
            "durationSummary": {name: metric.as_dict() for name, metric in sorted(self.metrics.items())},
            "parameters": copy_json(self.parameters),
            "started": self.started,
            "ended": self.ended,
            "duration": duration,
        }
