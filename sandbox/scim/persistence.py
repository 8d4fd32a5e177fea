"""Debounced JSON state file of the sandbox SCIM provider.

Writing the whole store after every request made creation O(n^2) in the research notes, so writes are coalesced:
a change marks the state dirty, a background thread writes at most once per ``min_interval`` seconds (less often
when a write itself takes long: the pause is at least four times the last write), and
``flush()`` (called on shutdown, SIGTERM and SIGINT included) writes whatever is pending. Each write goes to a
temporary file in the same directory and is renamed over the old one, so a crash never leaves half a file. The file
is created with mode 0600: it may hold user passwords.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def read_state(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Return the saved state, or None when the file does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def write_atomically(path: str | os.PathLike[str], data: dict[str, Any] | str) -> None:
    """Write JSON (a dict, or text already encoded) to a temporary file and rename it over ``path``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            # dumps, not dump: json.dump streams through the pure-Python encoder, ~10x slower on a big state,
            # and it holds the GIL the request threads need.
            handle.write(data if isinstance(data, str) else json.dumps(data, separators=(",", ":")))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class StateWriter:
    """Writes ``export()`` to ``path`` at most once per ``min_interval`` seconds after ``mark_dirty()``."""

    def __init__(
        self, path: str | os.PathLike[str], export: Callable[[], dict[str, Any] | str], min_interval: float = 1.0
    ):
        self.path = Path(path)
        self.export = export
        self.min_interval = min_interval
        self.writes = 0
        self._dirty = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scim-state-writer", daemon=True)
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._stopping.is_set():
                return
            started = time.monotonic()
            try:
                self.flush()
            except OSError as exc:  # keep serving; the next change or the shutdown flush retries
                print(f"scim provider: cannot write state file {self.path}: {exc}", file=sys.stderr, flush=True)
            took = time.monotonic() - started
            # Debounce: changes arriving meanwhile are written together on the next round. A big store makes
            # writes slow; waiting a multiple of the write time keeps them from eating the request threads' CPU.
            if self._stopping.wait(max(self.min_interval, 4 * took) - took):
                return

    def flush(self) -> bool:
        """Write now if something changed since the last write. Returns whether it wrote."""
        with self._write_lock:
            if not self._dirty.is_set():
                return False
            self._dirty.clear()
            try:
                write_atomically(self.path, self.export())
            except BaseException:
                self._dirty.set()
                raise
            self.writes += 1
            return True

    def close(self) -> None:
        """Stop the thread, then write pending changes."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
