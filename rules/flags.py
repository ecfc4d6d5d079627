"""Flags: the findings of the rules engine with their lifecycle, stored in SQLite.

A flag's id is ``rule:person:cycle`` (deterministic), so re-evaluating never
duplicates a flag and later actions (calendar follow-ups) can key on it.

Lifecycle (design.md §3)::

    open ──(due passes)──▶ shown ──▶ done       a touch arrived (detected), or `syncd done`
                              │  └──▶ dismissed `syncd dismiss`
                              └─────▶ snoozed   `syncd snooze --until DATE`: hidden until then

A flag is *shown* when it is open, its due instant has passed, it has not
expired and it is not snoozed past ``now``. Snoozing is a date, not a state,
so every view is a pure function of the stored flags and ``now``.

Closures the engine makes on its own (``touch``, ``cleared``, ``expired``,
``merged``) are undone when the rule finds the same cycle again (for example
when evaluating an earlier ``--now``); the user's ``done`` and ``dismiss`` stand.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from rules.aggregates import bulk_writes
from rules.base import Explanation, Finding, flag_id
from rules.dirty import mark_people
from rules.pack import RULES
from syncd.core.jsontext import acyclic_encoder
from syncd.store.db import select_in

AUTOMATIC = ("touch", "cleared", "expired", "merged", "not a person")
SHOWN_SQL = (
    "status = 'open' AND due < :now AND (expires IS NULL OR expires >= :now)"
    " AND (snoozed_until IS NULL OR snoozed_until <= :now)"
)
_COLUMNS = (
    "id, rule, person_id, cycle, due, expires, facts, status, snoozed_until, resolution,"
    " resolved_at, first_seen, updated"
)


@dataclass(slots=True)
class Flag:
    """One stored flag."""

    id: str
    rule: str
    person_id: int
    cycle: str
    due: int
    expires: int | None
    facts: dict[str, Any]
    status: str
    snoozed_until: int | None
    resolution: str | None
    resolved_at: int | None
    first_seen: int
    updated: int

    @classmethod
    def from_row(cls, row: tuple) -> Flag:
        """A flag from a ``flags`` row in :data:`_COLUMNS` order."""
        values = list(row)
        values[6] = json.loads(values[6])
        return cls(*values)

    def state(self, now: int) -> str:
        """``shown``, ``pending`` (not due), ``snoozed``, ``expired``, ``done`` or ``dismissed``."""
        if self.status != "open":
            return self.status
        if self.due >= now:
            return "pending"
        if self.expires is not None and self.expires < now:
            return "expired"
        if self.snoozed_until is not None and self.snoozed_until > now:
            return "snoozed"
        return "shown"

    def explain(self, now: int) -> Explanation:
        """The human reason and the arithmetic, as of ``now``."""
        rule = RULES.get(self.rule)
        facts = {**self.facts, "due": self.due, "expires": self.expires}
        if rule is None:
            return Explanation(f"{self.rule} (a rule no longer shipped)", [])
        return rule.explain(facts, now)


def _shown_query(
    columns: str, now: int, person: int | None, rule: str | None
) -> tuple[str, dict[str, Any]]:
    """The SQL and parameters of the flags shown at ``now`` (optionally of one person /
    rule), by due date."""
    sql = f"SELECT {columns} FROM flags WHERE {SHOWN_SQL}"
    params: dict[str, Any] = {"now": now}
    if person is not None:
        sql += " AND person_id = :person"
        params["person"] = person
    if rule is not None:
        sql += " AND rule = :rule"
        params["rule"] = rule
    return sql + " ORDER BY due, rule, person_id, id", params


def shown_flags(
    db: sqlite_utils.Database, now: int, person: int | None = None, rule: str | None = None
) -> list[Flag]:
    """Flags shown at ``now`` (optionally of one person / rule), by due date."""
    sql, params = _shown_query(_COLUMNS, now, person, rule)
    return [Flag.from_row(r) for r in db.execute(sql, params)]


def shown_keys(
    db: sqlite_utils.Database, now: int, person: int | None = None, rule: str | None = None
) -> list[tuple[str, str, int, int]]:
    """``(id, rule, person_id, due)`` of the flags :func:`shown_flags` returns, in its
    order, without decoding their facts (ranking thousands needs only these)."""
    sql, params = _shown_query("id, rule, person_id, due", now, person, rule)
    return db.execute(sql, params).fetchall()


def flags_by_id(db: sqlite_utils.Database, ids: list[str]) -> list[Flag]:
    """The stored flags with ``ids``, in that order (unknown ids left out)."""
    found: dict[str, Flag] = {}
    for row in select_in(db, f"SELECT {_COLUMNS} FROM flags WHERE id IN (?...)", ids):
        found[row[0]] = Flag.from_row(row)
    return [found[i] for i in ids if i in found]


def open_flags(
    db: sqlite_utils.Database, rules: tuple[str, ...], until: int, now: int
) -> list[Flag]:
    """Open flags of ``rules`` due by ``until``, not expired or snoozed at ``now``."""
    marks = ",".join("?" * len(rules))
    return [
        Flag.from_row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM flags WHERE status = 'open' AND due <= ?"
            " AND (expires IS NULL OR expires >= ?)"
            " AND (snoozed_until IS NULL OR snoozed_until <= ?)"
            f" AND rule IN ({marks}) ORDER BY due, id",
            [until, now, now, *rules],
        )
    ]


def all_flags(db: sqlite_utils.Database) -> list[Flag]:
    """Every stored flag."""
    return [Flag.from_row(r) for r in db.execute(f"SELECT {_COLUMNS} FROM flags")]


def person_flags(db: sqlite_utils.Database, person: int) -> list[Flag]:
    """Every stored flag of ``person``, by due date."""
    return [
        Flag.from_row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM flags WHERE person_id = ? ORDER BY due, rule, id", [person]
        )
    ]


def get_flag(db: sqlite_utils.Database, flag_id: str) -> Flag | None:
    """The flag with id ``flag_id``, if any."""
    row = db.execute(f"SELECT {_COLUMNS} FROM flags WHERE id = ?", [flag_id]).fetchone()
    return Flag.from_row(row) if row else None


# Facts dicts are built in a fixed key order by the rules, so no sorting is needed; they
# are flat values and lists (no cycles).
_facts_json = acyclic_encoder(",", ":")


@dataclass(slots=True)
class _Stored:
    """The columns of a stored flag that syncing needs (facts kept as JSON text)."""

    id: str
    person_id: int
    due: int
    expires: int | None
    facts: str
    status: str
    resolution: str | None
    snoozed_until: int | None


_STORED = "id, person_id, due, expires, facts, status, resolution, snoozed_until"


def stored_flags(db: sqlite_utils.Database, people: Iterable[int] | None = None) -> list[_Stored]:
    """Stored flags of ``people`` (default: all), for :func:`apply_findings`."""
    if people is None:
        return [_Stored(*r) for r in db.execute(f"SELECT {_STORED} FROM flags")]
    sql = f"SELECT {_STORED} FROM flags WHERE person_id IN (?...)"
    return [_Stored(*r) for r in select_in(db, sql, sorted(set(people)))]


def apply_findings(
    db: sqlite_utils.Database,
    people: Iterable[int],
    findings: Iterable[Finding],
    now: int,
    touched: set[int],
    gone: set[int] = frozenset(),  # type: ignore[assignment]
    existing: list[_Stored] | None = None,
    excluded: frozenset[int] = frozenset(),
) -> tuple[int, int]:
    """Make the stored flags of ``people`` match ``findings`` (the caller owns the transaction).

    New findings open flags; findings no longer made close their open flags as
    ``done`` (resolution ``touch`` when the person was ``touched`` since the last
    evaluation, ``merged`` when the person is ``gone``, ``not a person`` when the
    person is ``excluded`` (not a human, or ignored), ``expired`` past expiry, else
    ``cleared``), or are dropped when they never fell due. Findings already
    expired are not stored. ``existing`` may pass :func:`stored_flags` (all
    people) to save queries. Returns ``(opened, closed)``.
    """
    people = set(people)
    if existing is None:
        existing = stored_flags(db, people)
    current = {f.id: f for f in existing if f.person_id in people}
    inserts, updates, reopen, closes, deletes = [], [], [], [], []
    wanted = {f.id: f for f in findings if f.expires is None or f.expires >= now}
    for fid, f in wanted.items():
        facts = _facts_json(f.facts)
        row = current.get(fid)
        if row is None:
            inserts.append((fid, f.rule, f.person, f.cycle, f.due, f.expires, facts, now, now))
            continue
        if (row.due, row.expires, row.facts) != (f.due, f.expires, facts):
            updates.append((f.due, f.expires, facts, now, fid))
        if row.status == "done" and row.resolution in AUTOMATIC:
            reopen.append((now, fid))
    for fid, row in current.items():
        if fid in wanted or row.status != "open":
            continue
        if row.due >= now and row.snoozed_until is None:
            deletes.append((fid,))
            continue
        if row.person_id in gone:
            why = "merged"
        elif row.person_id in excluded:
            why = "not a person"
        elif row.expires is not None and row.expires < now:
            why = "expired"
        elif row.person_id in touched:
            why = "touch"
        else:
            why = "cleared"
        closes.append((why, now, now, fid))
    conn = db.conn
    inserts.sort()  # B-tree order: much faster bulk inserts
    with bulk_writes(db, "flags", len(inserts)):
        conn.executemany(
            "INSERT INTO flags(id, rule, person_id, cycle, due, expires, facts, first_seen,"
            " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            inserts,
        )
    conn.executemany(
        "UPDATE flags SET due = ?, expires = ?, facts = ?, updated = ? WHERE id = ?", updates
    )
    conn.executemany(
        "UPDATE flags SET status = 'open', resolution = NULL, resolved_at = NULL, updated = ?"
        " WHERE id = ?",
        reopen,
    )
    conn.executemany(
        "UPDATE flags SET status = 'done', resolution = ?, resolved_at = ?, updated = ?"
        " WHERE id = ?",
        closes,
    )
    conn.executemany("DELETE FROM flags WHERE id = ?", deletes)
    return len(inserts) + len(reopen), len(closes)


def expire_flags(db: sqlite_utils.Database, now: int) -> int:
    """Close open flags whose expiry has passed (resolution ``expired``)."""
    cur = db.execute(
        "UPDATE flags INDEXED BY flags_expiry SET status = 'done', resolution = 'expired',"
        " resolved_at = ?, updated = ? WHERE status = 'open' AND expires IS NOT NULL"
        " AND expires < ?",
        [now, now, now],
    )
    return cur.rowcount


def manual_touches(db: sqlite_utils.Database, people: Iterable[int], now: int) -> dict[int, int]:
    """The latest manual touch per person, up to ``now``: a ``syncd done`` on a silence flag
    (dormant / reactivate) or a touch recorded with ``syncd log`` (``manual_touches``).

    Either means "I was in touch": cadences restart then.
    """
    ids = sorted(set(people))
    out: dict[int, int] = dict(
        select_in(
            db,
            "SELECT person_id, max(resolved_at) FROM flags WHERE status = 'done'"
            " AND resolution = 'user' AND rule IN ('dormant', 'reactivate')"
            " AND resolved_at <= ? AND person_id IN (?...) GROUP BY person_id",
            ids,
            before=(now,),
        )
    )
    for pid, at in select_in(
        db,
        "SELECT person_id, max(at) FROM manual_touches WHERE at <= ?"
        " AND person_id IN (?...) GROUP BY person_id",
        ids,
        before=(now,),
    ):
        out[pid] = max(at, out.get(pid, at))
    return out


def set_status(db: sqlite_utils.Database, flags: list[Flag], action: str, now: int) -> None:
    """Apply a user action (``done`` or ``dismiss``) to ``flags``."""
    status = {"done": "done", "dismiss": "dismissed"}[action]
    with db.atomic():
        db.conn.executemany(
            "UPDATE flags SET status = ?, resolution = 'user', resolved_at = ?, updated = ?"
            " WHERE id = ?",
            [(status, now, now, f.id) for f in flags],
        )
        # The person is re-evaluated: a manual "done" restarts their cadence.
        mark_people(db, (f.person_id for f in flags))


def snooze(db: sqlite_utils.Database, flags: list[Flag], until: int, now: int) -> None:
    """Hide ``flags`` until ``until``; they come back then unless a touch closed them first."""
    with db.atomic():
        db.conn.executemany(
            "UPDATE flags SET snoozed_until = ?, updated = ? WHERE id = ?",
            [(until, now, f.id) for f in flags],
        )


def move_decisions(db: sqlite_utils.Database, keep: int, other: int) -> list[str]:
    """Give ``keep`` the flags of ``other`` that hold a decision of the user (done or
    dismissed by the user, or snoozed), under ``keep``'s flag ids, unless ``keep`` has
    that flag already (a merge of people; in its transaction). ``other``'s remaining
    flags are closed as ``merged`` by the next evaluation. Returns the new ids."""
    rows = [
        Flag.from_row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM flags WHERE person_id = ?"
            " AND (resolution = 'user' OR snoozed_until IS NOT NULL)",
            [other],
        )
    ]
    moved = []
    for f in rows:
        new_id = flag_id(f.rule, keep, f.cycle)
        cur = db.execute(
            f"INSERT OR IGNORE INTO flags({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " ?, ?)",
            [
                new_id, f.rule, keep, f.cycle, f.due, f.expires, _facts_json(f.facts), f.status,
                f.snoozed_until, f.resolution, f.resolved_at, f.first_seen, f.updated,
            ],
        )  # fmt: skip
        if cur.rowcount:
            db.execute("DELETE FROM flags WHERE id = ?", [f.id])
            moved.append(new_id)
    mark_people(db, [keep, other])
    return moved
