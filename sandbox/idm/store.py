"""SQLite persistence of the sandbox IDM (``DIR/idm.sqlite3``).

One connection shared by all threads behind a re-entrant lock: SQLite serialises writers anyway, and the hot read
paths (managed objects, config) are served from memory by their services, so the lock is rarely contended.
Statements autocommit unless they run inside ``store.batch()``, which wraps them in one transaction; batches nest.
WAL + ``synchronous=NORMAL`` keeps single writes cheap while surviving a process kill (not a power cut).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

_CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS config (
    id TEXT PRIMARY KEY,
    pid TEXT NOT NULL,
    factory_pid TEXT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS managed (
    type TEXT NOT NULL,
    id TEXT NOT NULL,
    rev TEXT NOT NULL,
    body TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (type, id)
);
CREATE TABLE IF NOT EXISTS relationships (
    id TEXT PRIMARY KEY,
    rev TEXT NOT NULL,
    first_resource TEXT NOT NULL,
    first_id TEXT NOT NULL,
    first_property TEXT NOT NULL,
    second_resource TEXT NOT NULL,
    second_id TEXT NOT NULL,
    second_property TEXT NOT NULL,
    properties TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS relationships_first ON relationships (first_resource, first_id);
CREATE INDEX IF NOT EXISTS relationships_second ON relationships (second_resource, second_id);
"""


class Store:
    """The sandbox IDM's SQLite database. ``path`` may be ``":memory:"`` for throw-away tests."""

    def __init__(self, path: str) -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._batch_depth = 0
        self._dirty = False
        self._rollback_listeners = []
        self._conn.executescript(_CORE_SCHEMA)

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """``callback()`` runs after a batch that wrote something was rolled back (services reload memory)."""
        self._rollback_listeners.append(callback)

    def ensure_schema(self, sql: str) -> None:
        """Create tables/indexes owned by another service (idempotent ``CREATE ... IF NOT EXISTS`` script)."""
        with self.lock:
            self._conn.executescript(sql)

    @contextlib.contextmanager
    def batch(self) -> Iterator[Store]:
        """One transaction for every write inside the block (re-entrant); rolled back if the block raises."""
        with self.lock:
            outer = self._batch_depth == 0
            if outer:
                self._conn.execute("BEGIN")
                self._dirty = False
            self._batch_depth += 1
            try:
                yield self
            except BaseException:
                self._batch_depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                    if self._dirty:
                        for callback in self._rollback_listeners:
                            callback()
                raise
            self._batch_depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self.lock:
            self._dirty = True
            return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        with self.lock:
            self._dirty = True
            return self._conn.executemany(sql, rows).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """All rows of a SELECT as tuples."""
        with self.lock:
            return self._conn.execute(sql, params).fetchall()

    def close(self) -> None:
        with self.lock:
            self._conn.close()
