"""Per-person figures (design.md §2 rule 11) as ``syncd people`` reports them."""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

import sqlite_utils

from rules.aggregates import Aggregates, load_cache, scan, top_ranked
from rules.engine import STATE_KEY
from rules.settings import RulesConfig
from rules.tiers import (
    ACQUAINTANCE,
    DEFAULT_HALF_LIFE_DAYS,
    Score,
    rank_score,
    score_at,
    tiers_from_ranking,
)
from syncd.core.timeutil import iso
from syncd.pipeline.identity import display_names, tier_pins
from syncd.pipeline.kinds import kinds_of, nonhuman
from syncd.pipeline.tags import tags_for
from syncd.store.db import get_setting, select_in


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
    kind: str = "human"
    tags: tuple[str, ...] = ()

    def as_json(self) -> dict:
        """The object ``syncd people --json`` prints."""
        return {
            "id": self.id,
            "name": self.name or (self.emails[0] if self.emails else None),
            "emails": self.emails,
            "tier": self.tier,
            "kind": self.kind,
            "first_touch": iso(self.first_touch),
            "last_touch": iso(self.last_touch),
            "touches_in": self.touches_in,
            "touches_out": self.touches_out,
            "meetings": self.meetings,
            "next_meeting": iso(self.upcoming),
            "score": round(self.score.total, 4),
            "tags": list(self.tags),
        }


def compute_people(
    db: sqlite_utils.Database,
    now: int,
    include_untouched: bool = False,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    sizes: dict[str, int] | None = None,
    tag: str | None = None,
) -> list[PersonFigures]:
    """Figures for every person with a touchpoint at or before ``now`` (or everyone);
    with ``tag`` (normalised), for every person carrying it, touched or not.

    Only humans are tiered: every other kind (and every ignored person) is an
    acquaintance, as in the rules engine. The counts come from one SQL pass
    (:func:`rules.aggregates.scan`, each logical message or meeting once per person)
    and the tiers from the ranking the rules engine uses, so ``syncd people`` and
    ``syncd flags`` always agree.
    """
    # A person's emails (and default name) come from the addresses that carry
    # touchpoints; an address seen only on copies that merged away does not count.
    touched = "EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
    emails: dict[int, list[str]] = defaultdict(list)
    for address, person in db.execute(
        f"SELECT address, person_id FROM addresses a WHERE {touched} ORDER BY person_id, address"
    ):
        emails[person].append(address)
    names = display_names(db)
    if include_untouched or tag is not None:
        for address, person in db.execute(
            f"SELECT address, person_id FROM addresses a WHERE NOT {touched} ORDER BY address"
        ):
            emails[person].append(address)
    k = 1.0 / (half_life_days * 86400.0)
    aggs = scan(db, now, k, parallel=not db.conn.in_transaction)
    people: dict[int, PersonFigures] = {}
    for (pid,) in db.execute("SELECT id FROM people ORDER BY id"):
        a = aggs.get(pid) or Aggregates(pid)
        people[pid] = PersonFigures(
            id=pid,
            name=names.get(pid),
            emails=emails.get(pid, []),
            first_touch=a.first_touch,
            last_touch=a.last_touch,
            touches_in=a.n_in,
            touches_out=a.n_out,
            meetings=a.n_meet,
            upcoming=a.next_meeting,
            score=score_at(a.given, a.received, now, k),
        )
    pins = tier_pins(db)
    others = nonhuman(db)
    pins.update((p, ACQUAINTANCE) for p in others)
    for pid, info in kinds_of(db, people).items():
        people[pid].kind = info.kind
    for pid, tags in tags_for(db).items():
        if pid in people:
            people[pid].tags = tags
    scored = {p: a for p, a in aggs.items() if a.touches and p in people}
    ranks = {p: rank_score(a.given, a.received) for p, a in scored.items()}
    ranked = sorted(scored, key=lambda p: (-ranks[p], -(scored[p].last_touch or 0), p))
    tiers = tiers_from_ranking(ranked, pins, sizes)
    for pid, p in people.items():
        p.tier = tiers.get(pid, ACQUAINTANCE)
    out = [
        p
        for p in people.values()
        if (tag in p.tags if tag is not None else include_untouched or p.last_touch is not None)
    ]
    out.sort(key=lambda p: (-(p.score.total), p.id))
    return out


def top_people(
    db: sqlite_utils.Database, now: int, config: RulesConfig, limit: int
) -> tuple[int, list[PersonFigures]] | None:
    """``(n, first)``: how many people :func:`compute_people` lists (touched, untagged
    view) and its first ``limit`` figures, read from the rules engine's cache.

    Only when the cache holds exactly those figures: evaluated as of ``now`` with
    ``config``'s half-life and nothing changed since (else None: use
    :func:`compute_people`). The cache's rows are :func:`rules.aggregates.scan`'s
    aggregates and its ranks the same ranking, so the figures, order and tiers are
    identical; only ``limit`` people are described (names, addresses, kinds, tags).
    """
    state = get_setting(db, STATE_KEY)
    if not state or state.get("now") != now or state.get("k") != config.k:
        return None
    if db.execute(
        "SELECT EXISTS (SELECT 1 FROM rules_dirty) OR EXISTS (SELECT 1 FROM rules_dirty_people)"
    ).fetchone()[0]:
        return None
    k = config.k
    totals = [
        (-score_at(g, r, now, k).total, pid)
        for pid, g, r in db.execute("SELECT person_id, given, received FROM rules_people")
    ]
    best = heapq.nsmallest(limit, totals) if limit >= 0 else sorted(totals)[:limit]
    first = [pid for _, pid in best]
    pins = tier_pins(db)
    pins.update((p, ACQUAINTANCE) for p in nonhuman(db))
    tiers = tiers_from_ranking(
        top_ranked(db, sum(config.sizes.values()) + len(pins)), pins, config.sizes
    )
    cached = load_cache(db, first)
    names = display_names(db, first)
    emails: dict[int, list[str]] = defaultdict(list)
    for address, person in select_in(
        db,
        "SELECT address, person_id FROM addresses a WHERE person_id IN (?...)"
        " AND EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
        " ORDER BY person_id, address",
        sorted(first),
    ):
        emails[person].append(address)
    kinds = kinds_of(db, first)
    tags = tags_for(db, first)
    out = []
    for pid in first:
        a = cached[pid].agg
        out.append(
            PersonFigures(
                id=pid,
                name=names.get(pid),
                emails=emails.get(pid, []),
                tier=tiers.get(pid, ACQUAINTANCE),
                first_touch=a.first_touch,
                last_touch=a.last_touch,
                touches_in=a.n_in,
                touches_out=a.n_out,
                meetings=a.n_meet,
                upcoming=a.next_meeting,
                score=score_at(a.given, a.received, now, k),
                kind=kinds[pid].kind,
                tags=tags.get(pid, ()),
            )
        )
    return len(totals), out
