"""Person kinds as stored, and as a forced full pass would store them (the reference the
incremental inference is held to)."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from syncd.pipeline import kinds


def stored_kinds(db: sqlite_utils.Database) -> list[tuple]:
    """``person_kinds`` rows (person, kind, source, evidence) by person."""
    return list(db.execute("SELECT person_id, kind, source, evidence FROM person_kinds ORDER BY 1"))


def full_pass_kinds(db: sqlite_utils.Database, thresholds: dict) -> list[tuple]:
    """:func:`stored_kinds` after a forced full classify (with ``thresholds``) of an
    in-memory copy of ``db``."""
    clone = sqlite_utils.Database(sqlite3.connect(":memory:"))
    db.conn.backup(clone.conn)
    with clone.atomic():
        kinds.classify(clone, thresholds, force=True)
    return stored_kinds(clone)
