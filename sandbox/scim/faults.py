"""Fault injection for tests of the sandbox SCIM provider (not SCIM; see docs/architecture.md).

``POST /__sandbox/faults`` with JSON ``{"down": bool, "latency": seconds, "error_rate": 0..1, "error_status": 500}``
merges the given fields into the current settings, ``GET`` shows them, ``DELETE`` resets them. The hook needs no
auth but answers loopback clients only. Faults apply to ``/scim/...`` and ``/oauth2/...`` only, never to the hook:

* ``down``: every request answers 503 (SCIM error body, ``Retry-After: 1``);
* ``latency``: sleep that many seconds before serving;
* ``error_rate``: that share of requests answers ``error_status`` (default 500) without touching the store.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass
from typing import Any

FAULT_PATH = "/__sandbox/faults"
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


@dataclass
class FaultSettings:
    down: bool = False
    latency: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500

    def active(self) -> bool:
        return self.down or self.latency > 0 or self.error_rate > 0


class FaultInjector:
    """Holds the fault settings and decides, per request, whether to fail it."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.settings = FaultSettings()
        self._lock = threading.Lock()
        self._rng = rng or random.Random()

    def update(self, changes: dict[str, Any]) -> FaultSettings:
        """Validate and merge changes; raise ValueError on a bad field."""
        allowed = {"down", "latency", "error_rate", "error_status"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        with self._lock:
            current = asdict(self.settings)
            if "down" in changes:
                if not isinstance(changes["down"], bool):
                    raise ValueError("down must be a boolean")
                current["down"] = changes["down"]
            if "latency" in changes:
                latency = changes["latency"]
                if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= 60:
                    raise ValueError("latency must be a number of seconds between 0 and 60")
                current["latency"] = float(latency)
            if "error_rate" in changes:
                rate = changes["error_rate"]
                if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
                    raise ValueError("error_rate must be between 0 and 1")
                current["error_rate"] = float(rate)
            if "error_status" in changes:
                status = changes["error_status"]
                if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
                    raise ValueError("error_status must be an HTTP error status (400-599)")
                current["error_status"] = status
            self.settings = FaultSettings(**current)
            return self.settings

    def reset(self) -> FaultSettings:
        with self._lock:
            self.settings = FaultSettings()
            return self.settings

    def decide(self) -> tuple[float, int | None]:
        """Return (seconds to sleep, status to fail with or None) for one request."""
        settings = self.settings
        if settings.down:
            return 0.0, 503
        failing = settings.error_rate > 0 and self._rng.random() < settings.error_rate
        return settings.latency, settings.error_status if failing else None

    def admin(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        """WSGI handler of the hook itself."""

        def answer(status: str, body: dict[str, Any]) -> list[bytes]:
            payload = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
            return [payload]

        if environ.get("REMOTE_ADDR") not in LOOPBACK:
            return answer("403 Forbidden", {"error": "the fault hook answers loopback clients only"})
        method = environ["REQUEST_METHOD"]
        if method == "GET":
            return answer("200 OK", asdict(self.settings))
        if method == "DELETE":
            return answer("200 OK", asdict(self.reset()))
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                changes = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                return answer("200 OK", asdict(self.update(changes)))
            except ValueError as exc:
                return answer("400 Bad Request", {"error": str(exc)})
        return answer("405 Method Not Allowed", {"error": "use GET, POST or DELETE"})
