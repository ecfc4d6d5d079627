"""Change marks for incremental evaluation: the owner of ``rules_dirty`` (addresses whose
touchpoints changed) and ``rules_dirty_people`` (people whose addresses, pin, flags or
existence changed).

Writers of touchpoints mark the addresses they wrote through :func:`mark_addresses`
(triggers from migration ``m002`` mark deletes, updates, address moves, pins and
deleted people); the engine reads the marks and clears them once it has evaluated.
Every function runs inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils


def mark_addresses(db: sqlite_utils.Database, addresses: Iterable[str]) -> None:
    """Mark ``addresses`` as changed since the last evaluation."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO rules_dirty(address) VALUES (?)",
        [(address,) for address in sorted(set(addresses))],
    )


def mark_people(db: sqlite_utils.Database, people: Iterable[int]) -> None:
    """Mark ``people`` for re-evaluation."""
    db.conn.executemany(
        "INSERT OR IGNORE INTO rules_dirty_people(person_id) VALUES (?)",
        [(person,) for person in sorted(set(people))],
    )


def marked_people(db: sqlite_utils.Database) -> set[int]:
    """The people marked since the last evaluation."""
    return {p for (p,) in db.execute("SELECT person_id FROM rules_dirty_people")}


def marked_addresses(db: sqlite_utils.Database) -> set[str]:
    """The addresses marked since the last evaluation."""
    return {a for (a,) in db.execute("SELECT address FROM rules_dirty")}


def clear_marks(db: sqlite_utils.Database) -> None:
    """Forget every mark (the evaluation that read them is being committed)."""
    db.execute("DELETE FROM rules_dirty")
    db.execute("DELETE FROM rules_dirty_people")
