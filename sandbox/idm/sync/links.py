"""IDM's links table (``repo/link``): ``linkType`` (the mapping name, or the ``links`` value of a reverse mapping),
``linkQualifier``, ``firstId`` (source id of the mapping that owns the link type) and ``secondId`` (its target id).
A reverse mapping reads the same rows with the ids swapped, so both directions share one set of links.

Like IDM's repository, (linkType, linkQualifier, firstId) and (linkType, linkQualifier, secondId) are unique.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from ..store import Store

SCHEMA = """
CREATE TABLE IF NOT EXISTS sync_links (
    id TEXT PRIMARY KEY,
    link_type TEXT NOT NULL,
    link_qualifier TEXT NOT NULL,
    first_id TEXT NOT NULL,
    second_id TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS sync_links_first ON sync_links (link_type, link_qualifier, first_id);
CREATE UNIQUE INDEX IF NOT EXISTS sync_links_second ON sync_links (link_type, link_qualifier, second_id);
"""


class LinkStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        store.ensure_schema(SCHEMA)

    def load(self, link_type: str, qualifiers: Iterable[str]) -> dict[str, dict[str, str]]:
        """All links of a type as ``{qualifier: {firstId: secondId}}`` (one query: IDM's prefetchLinks)."""
        result = {q: {} for q in qualifiers}
        for qualifier, first, second in self.store.query(
            "SELECT link_qualifier, first_id, second_id FROM sync_links WHERE link_type = ?", (link_type,)
        ):
            result.setdefault(qualifier, {})[first] = second
        return result

    def find(
        self, link_type: str, qualifier: str, first_id: str | None = None, second_id: str | None = None
    ) -> tuple[str, str] | None:
        column, value = ("first_id", first_id) if first_id is not None else ("second_id", second_id)
        rows = self.store.query(
            f"SELECT first_id, second_id FROM sync_links WHERE link_type = ? AND link_qualifier = ? AND {column} = ?",
            (link_type, qualifier, value),
        )
        return rows[0] if rows else None

    def create_many(self, rows: list[tuple[str, str, str, str]]) -> None:
        """``rows``: (link_type, qualifier, first_id, second_id). SQLite's REPLACE drops a link holding the same
        first or second id (both unique indexes), which is how a re-link moves a link."""
        self.store.executemany(
            "INSERT OR REPLACE INTO sync_links (id, link_type, link_qualifier, first_id, second_id) VALUES (?,?,?,?,?)",
            [(str(uuid.uuid4()), *row) for row in rows],
        )

    def delete_many(self, rows: list[tuple[str, str, str]]) -> None:
        """``rows``: (link_type, qualifier, first_id)."""
        self.store.executemany(
            "DELETE FROM sync_links WHERE link_type = ? AND link_qualifier = ? AND first_id = ?", rows
        )
