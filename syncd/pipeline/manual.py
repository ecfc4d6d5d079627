"""Manual touchpoints: the owner of ``manual_touches`` (``syncd log``).

The coffees, calls and intros that never reach email or a calendar are recorded
by the user against a person. They are not rows of ``touchpoints``: design.md §2
counts mail and meetings, and those numbers (``people --json``) do not move. The
rules engine reads the latest one as a touch (:func:`rules.flags.manual_touches`),
so it restarts cadences like any touch; ``syncd why`` lists them among the last
touches. Each change marks its person for re-evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from rules.dirty import mark_people
from syncd.core.errors import UserError

KINDS = ("call", "coffee", "meeting", "message", "intro", "note")


@dataclass(frozen=True, slots=True)
class ManualTouch:
    """One recorded touch: its id, person, kind, instant (epoch seconds) and note."""

    id: int
    person_id: int
    kind: str
    at: int
    note: str | None


def log_touch(
    db: sqlite_utils.Database, person: int, kind: str, at: int, note: str | None = None
) -> ManualTouch:
    """Record a touch of ``kind`` with ``person`` at ``at``; returns it with its id."""
    if kind not in KINDS:
        raise UserError(f"unknown touch kind {kind!r}; use one of {', '.join(KINDS)}")
    with db.atomic():
        cur = db.execute(
            "INSERT INTO manual_touches(person_id, kind, at, note) VALUES (?, ?, ?, ?)",
            [person, kind, at, note or None],
        )
        mark_people(db, [person])
    return ManualTouch(int(cur.lastrowid or 0), person, kind, at, note or None)


def undo_touch(db: sqlite_utils.Database, touch_id: int) -> ManualTouch:
    """Delete the recorded touch ``touch_id`` and return what it was."""
    row = db.execute(
        "SELECT id, person_id, kind, at, note FROM manual_touches WHERE id = ?", [touch_id]
    ).fetchone()
    if row is None:
        raise UserError(f"no logged touch with id {touch_id}; see syncd why PERSON for ids")
    with db.atomic():
        db.execute("DELETE FROM manual_touches WHERE id = ?", [touch_id])
        mark_people(db, [row[1]])
    return ManualTouch(*row)


def person_touches(
    db: sqlite_utils.Database, person: int, now: int, limit: int = 5
) -> list[ManualTouch]:
    """The person's latest recorded touches up to ``now``, newest first."""
    rows = db.execute(
        "SELECT id, person_id, kind, at, note FROM manual_touches WHERE person_id = ?"
        " AND at <= ? ORDER BY at DESC, id DESC LIMIT ?",
        [person, now, limit],
    ).fetchall()
    return [ManualTouch(*r) for r in rows]


def move_touches(db: sqlite_utils.Database, keep: int, other: int) -> None:
    """Give ``other``'s recorded touches to ``keep`` (a merge of people; in its transaction)."""
    db.execute("UPDATE manual_touches SET person_id = ? WHERE person_id = ?", [keep, other])
    mark_people(db, [keep])


def touch_ids(db: sqlite_utils.Database, person: int) -> list[int]:
    """The ids of ``person``'s recorded touches."""
    return [r[0] for r in db.execute("SELECT id FROM manual_touches WHERE person_id = ?", [person])]


def give_touches(db: sqlite_utils.Database, ids: list[int], person: int) -> None:
    """Give the recorded touches ``ids`` to ``person`` (the undo of a merge; in its
    transaction)."""
    db.conn.executemany(
        "UPDATE manual_touches SET person_id = ? WHERE id = ?", [(person, i) for i in ids]
    )
    mark_people(db, [person])
