"""The quarantine, read-only: what could not be understood, why, and where it came from.

Rows are written by :mod:`syncd.pipeline.ingest` (the table's owner); ``syncd
quarantine list|show`` reads them here. An item is a message, an event or a
whole file that could not be read, or a message imported without an unusable
part (an address with control characters, an implausible Date).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import sqlite_utils


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    """One quarantined item: its id, account, scope (folder, calendar or file), locator
    (where in the source: ``file:offset``, a file, ``file#uid``), reason and when it was
    set aside; ``excerpt`` (the headers or the start of the raw item) only for one item."""

    id: int
    account: str | None
    scope: str
    locator: str
    reason: str
    created_at: str
    excerpt: bytes | None = None

    def as_json(self) -> dict:
        """The item as JSON-ready data (the excerpt as text, invalid UTF-8 replaced)."""
        data = asdict(self)
        if self.excerpt is None:
            del data["excerpt"]
        else:
            data["excerpt"] = self.excerpt.decode("utf-8", "replace")
        return data


_SELECT = (
    "SELECT q.id, a.name, q.scope, q.locator, q.reason, q.created_at{excerpt}"
    " FROM quarantine q LEFT JOIN accounts a ON a.id = q.account_id"
)


def quarantined_items(db: sqlite_utils.Database) -> list[QuarantinedItem]:
    """Every quarantined item, oldest first (without excerpts)."""
    return [
        QuarantinedItem(*row)
        for row in db.execute(_SELECT.format(excerpt="") + " ORDER BY q.id").fetchall()
    ]


def quarantined_item(db: sqlite_utils.Database, item_id: int) -> QuarantinedItem | None:
    """The quarantined item ``item_id`` with its excerpt, or None."""
    row = db.execute(
        _SELECT.format(excerpt=", q.excerpt") + " WHERE q.id = ?", [item_id]
    ).fetchone()
    if row is None:
        return None
    *fields, excerpt = row
    if isinstance(excerpt, str):
        excerpt = excerpt.encode("utf-8", "surrogatepass")
    return QuarantinedItem(*fields, excerpt=excerpt or b"")
