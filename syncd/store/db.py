"""The SQLite store: one file, WAL, foreign keys, versioned migrations.

All state lives here (config and secrets do not). Writers use
:meth:`sqlite_utils.Database.atomic` explicitly; a sync batch, its derived
touchpoints and its cursor are committed together.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from syncd.store.migrations import migrations


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) the store at ``path`` and apply pending migrations."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit at the driver level: every transaction is explicit (db.atomic()).
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    # A 16 MiB page cache (used only as needed) and a WAL checkpoint every 32 MiB
    # instead of 4: bulk imports rewrite fewer index pages and sync less often.
    db.execute("PRAGMA cache_size=-16384")
    db.execute("PRAGMA wal_autocheckpoint=8192")
    migrations.apply(db)
    return db


CHUNK = 500  # values per ``IN (...)`` list: well under SQLite's bound-parameter limit


def chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    """``items`` in slices of at most ``size``, for ``IN (...)`` look-ups."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


def messages_by_key(db: sqlite_utils.Database, keys: list[int]) -> dict[int, int]:
    """The live logical message of each stored key among ``keys`` (``key64`` values).

    A key stays with the message it was stored with; if that message was
    merged into another, ``message_aliases`` names the survivor.
    """
    found: dict[int, int] = {}
    for chunk in chunks(keys):
        marks = ",".join("?" * len(chunk))
        found.update(
            db.execute(
                f"SELECT key, message_id FROM message_keys WHERE key IN ({marks})", chunk
            ).fetchall()
        )
    if found:
        alias: dict[int, int] = {}
        for chunk in chunks(sorted(set(found.values()))):
            marks = ",".join("?" * len(chunk))
            alias.update(
                db.execute(
                    f"SELECT id, message_id FROM message_aliases WHERE id IN ({marks})", chunk
                ).fetchall()
            )
        if alias:
            found = {key: alias.get(mid, mid) for key, mid in found.items()}
    return found


def get_setting(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    """A JSON value from the ``settings`` table."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def put_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store a JSON value in the ``settings`` table (caller owns the transaction)."""
    db.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[bool]:
    """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``), so
    no other writer slips in between this one's reads and writes; a savepoint when the
    caller already has a transaction. Yields whether it is the outermost one (whether
    other connections see the same data)."""
    if db.conn.in_transaction:
        with db.atomic():
            yield False
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield True
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def rollback(db: sqlite_utils.Database) -> None:
    """Roll back the connection's open transaction, if there is one (on shutdown)."""
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def optimize(db: sqlite_utils.Database) -> None:
    """Let SQLite refresh the planner statistics that are stale (``PRAGMA optimize``)."""
    db.execute("PRAGMA optimize")
