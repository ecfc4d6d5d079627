"""Per-person figures (design.md §2 rule 11) as ``syncd people`` reports them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import sqlite_utils

from rules.tiers import DEFAULT_HALF_LIFE_DAYS, Score, add_touch, assign_tiers
from syncd.identity import display_names
from syncd.timeutil import iso


@dataclass(slots=True)
class PersonFigures:
    """One person's touch counts and times as of an instant."""

    id: int
    name: str | None
    emails: list[str]
    tier: str = "acquaintance"
    first_touch: int | None = None
    last_touch: int | None = None
    touches_in: int = 0
    touches_out: int = 0
    meetings: int = 0
    upcoming: int | None = None
    score: Score = field(default_factory=Score)

    def as_json(self) -> dict:
        """The object ``syncd people --json`` prints."""
        return {
            "id": self.id,
            "name": self.name or (self.emails[0] if self.emails else None),
            "emails": self.emails,
            "tier": self.tier,
            "first_touch": iso(self.first_touch),
            "last_touch": iso(self.last_touch),
            "touches_in": self.touches_in,
            "touches_out": self.touches_out,
            "meetings": self.meetings,
            "next_meeting": iso(self.upcoming),
            "score": round(self.score.total, 4),
        }


def compute_people(
    db: sqlite_utils.Database,
    now: int,
    include_untouched: bool = False,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> list[PersonFigures]:
    """Figures for every person with a touchpoint at or before ``now`` (or everyone)."""
    # A person's emails (and default name) come from the addresses that carry
    # touchpoints; an address seen only on copies that merged away does not count.
    touched = "EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
    emails: dict[int, list[str]] = defaultdict(list)
    for address, person in db.execute(
        f"SELECT address, person_id FROM addresses a WHERE {touched} ORDER BY person_id, address"
    ):
        emails[person].append(address)
    names = display_names(db)
    if include_untouched:
        for address, person in db.execute(
            f"SELECT address, person_id FROM addresses a WHERE NOT {touched} ORDER BY address"
        ):
            emails[person].append(address)
    people: dict[int, PersonFigures] = {}
    for (pid,) in db.execute("SELECT id FROM people ORDER BY id"):
        people[pid] = PersonFigures(id=pid, name=names.get(pid), emails=emails.get(pid, []))
    seen: dict[tuple[str, int], set[int]] = defaultdict(set)
    rows = db.execute(
        "SELECT a.person_id, t.kind, t.ref, t.at FROM touchpoints t "
        "JOIN addresses a ON a.address = t.address"
    )
    for pid, kind, ref, at in rows:
        p = people[pid]
        if at > now:
            if kind == "meeting" and (p.upcoming is None or at < p.upcoming):
                p.upcoming = at
            continue
        refs = seen[(kind, pid)]
        if ref in refs:
            continue
        refs.add(ref)
        if kind == "email_in":
            p.touches_in += 1
        elif kind == "email_out":
            p.touches_out += 1
        else:
            p.meetings += 1
        if p.first_touch is None or at < p.first_touch:
            p.first_touch = at
        if p.last_touch is None or at > p.last_touch:
            p.last_touch = at
        add_touch(p.score, kind, now - at, half_life_days)
    pins = {
        pid: pin
        for pid, pin in db.execute("SELECT id, tier_pin FROM people WHERE tier_pin IS NOT NULL")
    }
    tiers = assign_tiers(
        {pid: p.score.total for pid, p in people.items()},
        {pid: p.last_touch or 0 for pid, p in people.items()},
        pins,
    )
    for pid, tier in tiers.items():
        people[pid].tier = tier
    out = [p for p in people.values() if include_untouched or p.last_touch is not None]
    out.sort(key=lambda p: (-(p.score.total), p.id))
    return out
