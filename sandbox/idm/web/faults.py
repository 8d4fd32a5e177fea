"""Fault injection for tests of clients of the sandbox IDM (not IDM; see sandbox/README.md).

``/openidm/__sandbox/faults`` (admin) sets, per request path matching ``paths`` (a regex; default every path but
``__sandbox``): ``error_rate`` (share of requests answered ``error_status``, default 503, "Injected fault"),
``reset_rate`` (share of connections dropped without an answer), ``latency`` (seconds slept first) and ``spread``
(``random``: each request is hit with the rate's probability; ``even``: exactly the rate, evenly spaced from the
first matching request on). ``--faults JSON`` sets them at start. The SCIM provider's hook is
``sandbox.scim.faults``.
"""

from __future__ import annotations

import random
import re
import threading
from typing import Any, ClassVar

from ..errors import IdmError


class Faults:
    """Fault switches of ``/openidm/__sandbox/faults``."""

    KEYS: ClassVar[dict[str, type]] = {
        "error_rate": float,
        "error_status": int,
        "reset_rate": float,
        "latency": float,
        "paths": str,
        "spread": str,
    }
    # "random": each matching request is hit with the rate's probability (real-world like, but a test relying
    # on it can fail by chance). "even": exactly the rate, evenly spaced from the first matching request on
    # (0.25 = the 1st, 5th, 9th ...), so with a rate <= 0.5 no two requests in a row are hit and a test of a
    # retrying client is deterministic.
    SPREADS = ("random", "even")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._state = {
                "error_rate": 0.0,
                "error_status": 503,
                "reset_rate": 0.0,
                "latency": 0.0,
                "paths": None,
                "spread": "random",
            }
            self._pattern = None
            self._seen = 0

    def update(self, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise IdmError(400, "Faults must be a JSON object")
        unknown = set(values) - set(self.KEYS)
        if unknown:
            raise IdmError(400, f"Unknown fault keys: {', '.join(sorted(unknown))}")
        state = dict(self._state)
        for key, value in values.items():
            try:
                state[key] = None if value is None and key == "paths" else self.KEYS[key](value)
            except (TypeError, ValueError):
                raise IdmError(400, f"Invalid value for fault {key}") from None
        for key in ("error_rate", "reset_rate"):
            if not 0.0 <= state[key] <= 1.0:
                raise IdmError(400, f"{key} must be between 0 and 1")
        if not 100 <= state["error_status"] <= 599 or state["latency"] < 0:
            raise IdmError(400, "error_status must be an HTTP status and latency >= 0")
        if state["spread"] not in self.SPREADS:
            raise IdmError(400, f"spread must be one of: {', '.join(self.SPREADS)}")
        try:
            pattern = re.compile(state["paths"]) if state["paths"] else None
        except re.error as exc:
            raise IdmError(400, f"Invalid paths regex: {exc}") from None
        with self._lock:
            self._state, self._pattern, self._seen = state, pattern, 0
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)

    def decide(self, path: str) -> tuple[float, str | int | None]:
        """``(latency, action)`` for a request path; action is None, ``"reset"`` or an error status."""
        with self._lock:
            state, pattern = self._state, self._pattern
            if pattern is not None and not pattern.search(path):
                return 0.0, None
            self._seen += 1
            seen = self._seen
        action = None
        if self._hit(state["reset_rate"], state["spread"], seen):
            action = "reset"
        elif self._hit(state["error_rate"], state["spread"], seen):
            action = state["error_status"]
        return state["latency"], action

    @staticmethod
    def _hit(rate: float, spread: str, seen: int) -> bool:
        if not rate:
            return False
        if spread == "even":
            # Hits so far = floor(seen * rate + 1 - rate): the first matching request is hit, then every 1/rate-th.
            return int(seen * rate + 1 - rate + 1e-9) > int((seen - 1) * rate + 1 - rate + 1e-9)
        return random.random() < rate
