"""``DIR/access.log`` of the sandbox IDM: one line per request, ``<iso-time> <method> <path> <status> <ms>``
(``reset`` for a dropped connection). Never a header, body or query string."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class AccessLog:
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self._handle = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()

    def write(self, method: str, path: str, status: int | str, started: float) -> None:
        """One line for a request that began at ``time.perf_counter()`` value ``started``."""
        elapsed_ms = int((time.perf_counter() - started) * 1000)
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self._lock:
            if not self._handle.closed:
                self._handle.write(f"{stamp} {method} {path} {status} {elapsed_ms}\n")

    def close(self) -> None:
        with self._lock:
            if not self._handle.closed:
                self._handle.close()
