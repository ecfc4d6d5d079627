"""The follow-up ledger: the one module that writes the ``followups`` table.

A row is the planner's view of one follow-up event: which flags it covers,
where and when it is, and its state::

    planned ──(outbox create done)──▶ placed ──(user moved it)──▶ moved
       │                                 │ └──(user deleted it)──▶ deleted
       │                                 └──(withdraw)──▶ withdrawing ──(remove done)──▶ withdrawn
       └──(withdraw before the create ran: cancelled)──────────────────────────────────▶ withdrawn
    any write that died in the outbox ──▶ failed ──(syncd outbox retry)──▶ planned / withdrawing

The planner (:mod:`syncd.followup.apply`) records and marks rows as it
decides; the outbox (:mod:`syncd.followup.outbox`) marks them when their
calendar write is done or dead. Everyone else reads through :func:`followups`.
Callers own the transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

ACTIVE = ("planned", "placed", "moved")
_COLUMNS = (
    "key, flag_id, person_id, covers, target, start, end, week, title, state, remote_ref,"
    " reason, created, updated, basis"
)


@dataclass(slots=True)
class FollowUp:
    """One follow-up event the planner placed (or tried to).

    ``basis`` is the person's latest touch when it was planned (None: no touch
    then, or a row from before that was recorded): a later touch means the
    user got in touch first.
    """

    key: str
    flag_id: str
    person_id: int
    covers: list[str]
    target: str
    start: int
    end: int
    week: str
    title: str
    state: str
    remote_ref: str | None
    reason: str | None
    created: int
    updated: int
    basis: int | None = None

    @classmethod
    def from_row(cls, row: tuple) -> FollowUp:
        """A follow-up from a ``followups`` row in :data:`_COLUMNS` order."""
        values = list(row)
        values[3] = json.loads(values[3])
        return cls(*values)


def followups(
    db: sqlite_utils.Database, states: tuple[str, ...] | None = None, target: str | None = None
) -> list[FollowUp]:
    """Stored follow-ups (optionally in ``states`` / for ``target``), by start."""
    sql = f"SELECT {_COLUMNS} FROM followups WHERE 1"
    params: list[Any] = []
    if states:
        sql += f" AND state IN ({','.join('?' * len(states))})"
        params += list(states)
    if target:
        sql += " AND target = ?"
        params.append(target)
    return [FollowUp.from_row(r) for r in db.execute(sql + " ORDER BY start, key", params)]


def keys(db: sqlite_utils.Database) -> set[str]:
    """Every key in the ledger (all targets): a new follow-up must not reuse one."""
    return {k for (k,) in db.execute("SELECT key FROM followups")}


def record(db: sqlite_utils.Database, fu: FollowUp) -> bool:
    """Store a new follow-up row; False (and nothing changed) when its key is taken already,
    as when a second planner decided the same follow-up at the same time."""
    cur = db.execute(
        f"INSERT OR IGNORE INTO followups({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            fu.key,
            fu.flag_id,
            fu.person_id,
            json.dumps(fu.covers),
            fu.target,
            fu.start,
            fu.end,
            fu.week,
            fu.title,
            fu.state,
            fu.remote_ref,
            fu.reason,
            fu.created,
            fu.updated,
            fu.basis,
        ],
    )
    return cur.rowcount > 0


def mark_deleted(db: sqlite_utils.Database, key: str, reason: str, now: int) -> None:
    """The user deleted the event: the choice stands (never re-created for its flags)."""
    db.execute(
        "UPDATE followups SET state = 'deleted', reason = ?, updated = ? WHERE key = ?",
        [reason, now, key],
    )


def mark_moved(
    db: sqlite_utils.Database, key: str, start: int, end: int, week: str, now: int
) -> None:
    """The user moved the event to ``[start, end)`` (ISO ``week``): the new time stands."""
    db.execute(
        "UPDATE followups SET state = 'moved', start = ?, end = ?, week = ?, reason = 'moved',"
        " updated = ? WHERE key = ?",
        [start, end, week, now, key],
    )


def mark_withdrawn(
    db: sqlite_utils.Database, key: str, reason: str, now: int, *, pending: bool
) -> None:
    """The follow-up is no longer wanted, for ``reason``.

    ``pending``: its removal is still to run in the outbox (``withdrawing``);
    otherwise it is gone already (its create was cancelled: ``withdrawn``).
    """
    db.execute(
        "UPDATE followups SET state = ?, reason = ?, updated = ? WHERE key = ?",
        ["withdrawing" if pending else "withdrawn", reason, now, key],
    )


def mark_placed(db: sqlite_utils.Database, key: str, remote_ref: str | None, now: int) -> None:
    """The outbox created the event (``remote_ref``); a planned or failed row is now placed."""
    db.execute(
        "UPDATE followups SET state = 'placed', remote_ref = ?, updated = ?"
        " WHERE key = ? AND state IN ('planned', 'failed')",
        [remote_ref, now, key],
    )


def mark_removed(db: sqlite_utils.Database, key: str, now: int) -> None:
    """The outbox removed the event: a withdrawing or failed row is now withdrawn."""
    db.execute(
        "UPDATE followups SET state = 'withdrawn', updated = ?"
        " WHERE key = ? AND state IN ('withdrawing', 'failed')",
        [now, key],
    )


def mark_failed(db: sqlite_utils.Database, key: str, error: str, now: int) -> None:
    """The outbox gave up on the row's calendar write (a dead letter, ``error``)."""
    db.execute(
        "UPDATE followups SET state = 'failed', reason = ?, updated = ? WHERE key = ?",
        [error, now, key],
    )


def mark_retrying(
    db: sqlite_utils.Database, creates: Iterable[str], removes: Iterable[str], now: int
) -> None:
    """Failed rows whose write is queued again: ``creates`` back to planned, ``removes``
    back to withdrawing."""
    db.conn.executemany(
        "UPDATE followups SET state = 'planned', reason = NULL, updated = ?"
        " WHERE state = 'failed' AND key = ?",
        [(now, k) for k in creates],
    )
    db.conn.executemany(
        "UPDATE followups SET state = 'withdrawing', updated = ?"
        " WHERE state = 'failed' AND key = ?",
        [(now, k) for k in removes],
    )
