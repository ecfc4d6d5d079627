"""The planner's inputs, read from the store and the target calendar as plain data.

Everything :func:`syncd.followup.decide.decide` needs: the open flags, who
they are about, each person's latest touch, the target's follow-ups in the
ledger with what the calendar says about them now (the writer's ``lookup``),
and the busy time.

Free/busy: the target calendar's own busy intervals (the writer's ``busy``:
for a local .ics file the events in it, for a remote calendar its free/busy
API) plus, with ``busy_from_imported``, the user's imported calendar events
(``events`` table: not cancelled, not all-day, not declined by me) -- the
meetings the user really has, whichever calendar they live in.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from connectors.base import CalendarWriter
from rules.flags import Flag, get_flag, open_flags
from syncd.followup import ledger, outbox
from syncd.followup.decide import Placed
from syncd.followup.ledger import ACTIVE
from syncd.followup.settings import PlannerSettings
from syncd.followup.texts import LastTouch
from syncd.mail.addresses import match_key
from syncd.pipeline.identity import my_keys, people_info, people_tiers
from syncd.store.db import select_in

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Inputs:
    """One run's inputs (see :func:`syncd.followup.decide.decide`) and what could not be read.

    When the calendar's ``busy`` fails, ``errors`` says so and ``flags`` is
    empty: nothing is placed blind.
    """

    flags: list[Flag] = field(default_factory=list)
    busy: list[tuple[int, int]] = field(default_factory=list)
    placed: list[Placed] = field(default_factory=list)
    people: dict[int, dict[str, Any]] = field(default_factory=dict)
    touched: dict[int, int | None] = field(default_factory=dict)
    taken: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


class LookupFailed(Exception):
    """The calendar could not say where a follow-up is: decide nothing now."""


def last_touch(db: sqlite_utils.Database, person: int, now: int) -> int | None:
    """The person's latest touchpoint at or before ``now``."""
    return last_touches(db, [person], now)[person]


def last_touches(
    db: sqlite_utils.Database, people: Iterable[int], now: int
) -> dict[int, int | None]:
    """Each person's latest touchpoint at or before ``now`` (None: never touched)."""
    out: dict[int, int | None] = dict.fromkeys(people)
    out.update(
        select_in(
            db,
            "SELECT a.person_id, max(t.at) FROM touchpoints t"
            " JOIN addresses a ON a.address = t.address"
            " WHERE a.person_id IN (?...) AND t.at <= ? GROUP BY a.person_id",
            sorted(out),
            after=(now,),
        )
    )
    return out


def latest_touches(
    db: sqlite_utils.Database, people: Iterable[int], now: int
) -> dict[int, LastTouch]:
    """Each person's latest touch at or before ``now``, with its subject or meeting title."""
    found: dict[int, tuple[str, int, int]] = {}
    for pid, kind, ref, at in select_in(
        db,
        "SELECT person_id, kind, ref, at FROM (SELECT a.person_id, t.kind, t.ref, t.at,"
        " row_number() OVER (PARTITION BY a.person_id ORDER BY t.at DESC, t.ref DESC) AS n"
        " FROM touchpoints t JOIN addresses a ON a.address = t.address"
        " WHERE a.person_id IN (?...) AND t.at <= ?) WHERE n = 1",
        sorted(set(people)),
        after=(now,),
    ):
        found[pid] = (kind, ref, at)
    out = {}
    for pid, (kind, ref, at) in found.items():
        if kind == "meeting":
            row = db.execute("SELECT summary FROM events WHERE id = ?", [ref]).fetchone()
        else:
            row = db.execute("SELECT subject FROM messages WHERE id = ?", [ref]).fetchone()
        out[pid] = LastTouch(at, kind, row[0] if row and row[0] else "")
    return out


def imported_busy(db: sqlite_utils.Database, start: int, end: int) -> list[tuple[int, int]]:
    """The user's imported events in ``[start, end)`` that make them busy."""
    me = my_keys(db)
    out = []
    for s, e, status, attendees in db.execute(
        "SELECT start, end, status, attendees FROM events WHERE all_day = 0 AND end > ?"
        " AND start < ?",
        [start, end],
    ):
        if (status or "").upper() == "CANCELLED":
            continue
        declined = False
        for item in json.loads(attendees or "[]"):
            address, partstat = item[0], (item[2] or "").upper()
            if partstat == "DECLINED" and address and match_key(address) in me:
                declined = True
        if not declined:
            out.append((s, e))
    return out


def placed_followups(
    db: sqlite_utils.Database, writer: CalendarWriter, settings: PlannerSettings, now: int
) -> list[Placed]:
    """The target's follow-ups, each future one with the calendar's and the flags' view.

    Raises :class:`LookupFailed` when the calendar's ``lookup`` fails.
    """
    out = []
    for fu in ledger.followups(db, target=settings.target):
        future = fu.end > now  # past events are history: what the user did changes nothing
        checked = future and fu.state in ("placed", "moved")
        try:
            remote = writer.lookup(fu.key) if checked else None
        except Exception as exc:
            raise LookupFailed(f"lookup {fu.key}: {exc}") from exc
        live = future and fu.state in ACTIVE
        flags = tuple(get_flag(db, fid) for fid in fu.covers) if live else ()
        action = outbox.get(db, f"create:{fu.key}") if fu.state == "planned" else None
        pending = action is not None and action.state == "pending"
        out.append(Placed(fu, checked, remote, flags, pending))
    return out


def gather(
    db: sqlite_utils.Database, writer: CalendarWriter, settings: PlannerSettings, now: int
) -> Inputs:
    """Read one run's inputs (see :class:`Inputs`); raises :class:`LookupFailed`.

    ``people`` holds only each flagged person's tier and ``touched`` only the people
    with an active follow-up: all :func:`syncd.followup.decide.decide` needs to choose
    what to place; :func:`describe` then reads the rest for the people chosen."""
    inputs = Inputs(placed=placed_followups(db, writer, settings, now))
    horizon_end = now + settings.horizon
    flags = open_flags(db, settings.rules, horizon_end, now)
    if flags:
        try:
            inputs.busy = list(writer.busy(now, horizon_end))
        except Exception as exc:
            inputs.errors.append(f"free/busy: {exc}")
            log.warning("cannot read free/busy of %s: %s", settings.target, exc)
            flags = []
    if flags and settings.busy_from_imported:
        inputs.busy += imported_busy(db, now, horizon_end)
    inputs.flags = flags
    people = {f.person_id for f in flags}
    active = {
        p.followup.person_id
        for p in inputs.placed
        if p.followup.state in ACTIVE and p.followup.end > now
    }
    # Ranking needs only tiers; who they are and their latest touch are read by
    # describe() for the people a follow-up goes to (a few of possibly thousands).
    inputs.people = {
        pid: {"name": "someone", "emails": [], "tier": tier}
        for pid, tier in people_tiers(db, people).items()
    }
    inputs.touched = last_touches(db, active, now)
    inputs.taken = ledger.keys(db)
    return inputs


def describe(db: sqlite_utils.Database, inputs: Inputs, people: set[int], now: int) -> None:
    """Complete ``inputs`` for ``people``: name, addresses, tier and latest touch
    (``people``) and the instant of that touch (``touched``), as :func:`gather` reads
    them for nobody else."""
    info = people_info(db, people, unnamed="someone")
    for pid, last in latest_touches(db, people, now).items():
        info[pid]["last"] = last
    inputs.people.update(info)
    inputs.touched.update(last_touches(db, people - set(inputs.touched), now))
