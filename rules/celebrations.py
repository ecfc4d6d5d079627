"""The ``celebration`` rule: a birthday or work anniversary coming up, from contact cards.

The dates come from imported contacts (table ``contacts``, owner
``syncd.pipeline.contacts``); the rules only read them, by SQL
(:func:`contact_dates`), as they read ``manual_touches``. Each date is flagged
``days_before`` days ahead of its next occurrence (UTC days) and expires at the
end of the day itself; the cycle is ``birthday-YEAR`` / ``anniversary-YEAR``, so a
person gets one flag per date per year, and next year's is made once this year's
has passed. 29 February falls on 28 February in other years. Only people the rules
evaluate (touched humans) get one: contacts without touches are network candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import sqlite_utils

from rules.base import DAY, Explanation, Finding, Rule, Settings, Subject, day
from syncd.store.db import select_in

RULE = "celebration"
KINDS = ("birthday", "anniversary")


@dataclass(frozen=True, slots=True)
class ContactDate:
    """A date from a person's cards: ``kind`` (birthday / anniversary), ``month``,
    ``day`` and ``year`` (None when the card gives none)."""

    kind: str
    month: int
    day: int
    year: int | None


def parse_card_date(kind: str, text: str | None) -> ContactDate | None:
    """A :class:`ContactDate` from ``YYYY-MM-DD`` or ``--MM-DD`` (None otherwise)."""
    if not text:
        return None
    year: int | None
    try:
        if text.startswith("--"):
            year, (month, dd) = None, map(int, text[2:].split("-"))
        else:
            y, month, dd = map(int, text.split("-"))
            year = y
        date(2000, month, dd)
    except ValueError:
        return None
    return ContactDate(kind, month, dd, year)


def contact_dates(
    db: sqlite_utils.Database, people: Iterable[int]
) -> dict[int, tuple[ContactDate, ...]]:
    """The birthday and anniversary of each of ``people`` that has a card with one (the
    newest card's value per kind)."""
    out: dict[int, dict[str, ContactDate]] = {}
    # a person's cards are all in one chunk, so ORDER BY id makes the newest win
    for pid, birthday, anniversary in select_in(
        db,
        "SELECT person_id, birthday, anniversary FROM contacts"
        " WHERE person_id IN (?...) AND (birthday IS NOT NULL OR anniversary IS NOT NULL)"
        " ORDER BY id",
        sorted(set(people)),
    ):
        for kind, text in zip(KINDS, (birthday, anniversary), strict=True):
            parsed = parse_card_date(kind, text)
            if parsed is not None:
                out.setdefault(pid, {})[kind] = parsed
    return {pid: tuple(found.values()) for pid, found in out.items()}


def _on(year: int, d: ContactDate) -> int:
    """Midnight UTC of ``d`` in ``year`` (29 February on the 28th in a common year)."""
    dd = d.day
    if (d.month, dd) == (2, 29) and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
        dd = 28
    return int(datetime(year, d.month, dd, tzinfo=UTC).timestamp())


def next_occurrence(d: ContactDate, now: int) -> int:
    """Midnight UTC of the first occurrence of ``d`` whose day has not ended at ``now``."""
    year = datetime.fromtimestamp(now, UTC).year
    at = _on(year, d)
    return at if at + DAY > now else _on(year + 1, d)


def celebration_applies(s: Subject, c: Settings) -> bool:
    """A date from the person's contact cards, in a tier the rule covers."""
    return bool(s.dates) and s.tier in c["tiers"]


def celebration(s: Subject, c: Settings) -> list[Finding]:
    """Each date's next occurrence, due ``days_before`` days ahead, expiring with the day."""
    out = []
    for d in s.dates or ():
        if d.kind not in c["kinds"]:
            continue
        at = next_occurrence(d, s.now)
        year = datetime.fromtimestamp(at, UTC).year
        facts = {
            "kind": d.kind,
            "on": at,
            "born": d.year,
            "years": year - d.year if d.year is not None and year > d.year else None,
            "days_before": c["days_before"],
        }
        due = at - c["days_before"] * DAY
        out.append(Finding(RULE, s.id, f"{d.kind}-{year}", due, facts, at + DAY - 1))
    return out


def celebration_recheck(s: Subject, c: Settings) -> int | None:
    """The end of the earliest coming date: next year's flag is made then."""
    ends = [next_occurrence(d, s.now) + DAY for d in s.dates or () if d.kind in c["kinds"]]
    return min(ends, default=None)


def explain_celebration(f: dict[str, Any], now: int) -> Explanation:
    """Whose date, when, and how many years it makes when the year is known."""
    what = f["kind"]
    years = f" ({f['years']} years)" if f.get("years") else ""
    when = "today" if f["on"] <= now < f["on"] + DAY else f"on {day(f['on'])}"
    return Explanation(
        f"Their {what} is {when}{years}: a good moment for a short note",
        [
            f"{what} {day(f['on'])} − {f['days_before']} days = due {day(f['due'])}"
            " (from their contact card)",
            f"expires at the end of {day(f['on'])}; once a year",
        ],
    )


RULES = (
    Rule(
        RULE,
        "A birthday or work anniversary from their contact card is coming up.",
        celebration_applies,
        celebration,
        explain_celebration,
        recheck=celebration_recheck,
    ),
)
