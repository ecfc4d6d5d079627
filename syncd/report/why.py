"""What ``syncd flags`` and ``syncd why`` show about people and their flags (read-only)."""

from __future__ import annotations

import sqlite_utils

from rules.aggregates import load_cache, rank_position, top_ranked
from rules.flags import Flag, person_flags
from rules.settings import RulesConfig
from rules.tiers import (
    ACQUAINTANCE,
    explain_score,
    score_at,
    tier_rule_text,
    tiers_from_ranking,
)
from rules.value import flag_value, values_of
from syncd.core.timeutil import iso
from syncd.pipeline.contacts import contact_details
from syncd.pipeline.identity import people_info, tier_pins
from syncd.pipeline.kinds import kinds_of, nonhuman
from syncd.pipeline.manual import person_touches
from syncd.pipeline.tags import tags_for


def by_value(flags: list[Flag], info: dict[int, dict], now: int) -> list[Flag]:
    """``flags`` most valuable first (tie strength × urgency; then due date, id)."""
    tiers = {p: (i.get("tier") or ACQUAINTANCE) for p, i in info.items()}
    order = keys_by_value([(f.id, f.rule, f.person_id, f.due) for f in flags], tiers, now)
    rank = {k[0]: i for i, k in enumerate(order)}
    return sorted(flags, key=lambda f: rank[f.id])


def keys_by_value(
    keys: list[tuple[str, str, int, int]], tiers: dict[int, str], now: int
) -> list[tuple[str, str, int, int]]:
    """Flag keys ``(id, rule, person, due)`` in :func:`by_value`'s order, given each
    person's tier (acquaintance when missing)."""

    values = values_of(((k[1], tiers.get(k[2]) or ACQUAINTANCE, k[3]) for k in keys), now)
    # (-value, due, id) is unique (ids are), so the key itself is never compared
    ranked = sorted((-v, k[3], k[0], k) for v, k in zip(values, keys, strict=True))
    return [r[3] for r in ranked]


def flag_json(flag: Flag, now: int, who: dict) -> dict:
    """The object ``syncd flags --json`` prints for one flag."""
    text = flag.explain(now)
    tier = who.get("tier") or ACQUAINTANCE
    value = flag_value(flag.rule, tier, flag.due, now)
    return {
        "id": flag.id,
        "person": flag.person_id,
        "name": who.get("name"),
        "email": who["emails"][0] if who.get("emails") else None,
        "tier": who.get("tier"),
        "rule": flag.rule,
        "due": iso(flag.due),
        "reason": text.reason,
        "explanation": [*text.arithmetic, value.explain(flag.rule, tier)],
        "value": value.value,
        "state": flag.state(now),
        "cycle": flag.cycle,
        "expires": iso(flag.expires),
        "snoozed_until": iso(flag.snoozed_until),
        "resolution": flag.resolution,
        "first_seen": iso(flag.first_seen),
    }


def last_touches(db: sqlite_utils.Database, person: int, now: int, limit: int = 5) -> list[dict]:
    """The person's latest touches up to ``now``: kind, instant and subject (or event title);
    touches recorded with ``syncd log`` carry their note as subject and their id as ``logged``."""
    rows = db.execute(
        "SELECT t.kind, t.ref, max(t.at) FROM addresses a JOIN touchpoints t"
        " ON t.address = a.address WHERE a.person_id = ? AND t.at <= ?"
        " GROUP BY t.kind, t.ref ORDER BY max(t.at) DESC, t.ref DESC LIMIT ?",
        [person, now, limit],
    ).fetchall()
    out = []
    for kind, ref, at in rows:
        if kind == "meeting":
            row = db.execute("SELECT summary FROM events WHERE id = ?", [ref]).fetchone()
        else:
            row = db.execute("SELECT subject FROM messages WHERE id = ?", [ref]).fetchone()
        out.append({"kind": kind, "at": iso(at), "subject": row[0] if row else None})
    for m in person_touches(db, person, now, limit):
        out.append({"kind": m.kind, "at": iso(m.at), "subject": m.note, "logged": m.id})
    out.sort(key=lambda t: t["at"], reverse=True)
    return out[:limit]


def _card(db: sqlite_utils.Database, person: int) -> dict | None:
    """What the person's contact cards say (``syncd import vcard|linkedin``), or None."""
    details = contact_details(db, [person]).get(person)
    if details is None:
        return None
    fields = ("full_name", "organization", "title", "birthday", "anniversary", "location")
    return {f: getattr(details, f) for f in fields} | {"sources": list(details.sources)}


def why_data(db: sqlite_utils.Database, now: int, config: RulesConfig, person: int) -> dict:
    """Everything ``syncd why`` shows about ``person`` as of ``now``, as JSON-able data."""
    info = people_info(db, {person})[person]
    cached = load_cache(db, [person]).get(person)
    pins = tier_pins(db)
    pins.update((p, ACQUAINTANCE) for p in nonhuman(db))
    kind = kinds_of(db, [person])[person]
    # The ranking the engine tiers by (the stored rank order), read from its index:
    # the person's place, and the few people at the top who fill the tiers.
    rank, ranked_people = rank_position(db, person, frozenset(pins))
    top = [p for p in top_ranked(db, sum(config.sizes.values()) + len(pins)) if p not in pins]
    tiers = tiers_from_ranking(top, pins, config.sizes)
    scores = {
        p: score_at(c.agg.given, c.agg.received, now, config.k).total
        for p, c in load_cache(db, top).items()
    }
    cutoffs = {}
    for tier in ("core", "active", "network"):
        members = [scores[p] for p in top if tiers.get(p) == tier]
        if members:
            cutoffs[tier] = round(min(members), 4)
    data: dict = {
        "person": person,
        "name": info["name"],
        "emails": info["emails"],
        "tier": info["tier"],
        "pinned": person in pins and kind.kind == "human" and not kind.ignored,
        "kind": kind.kind,
        "kind_source": kind.source,
        "kind_evidence": kind.evidence,
        "ignored": kind.ignored,
        "rank": rank,
        "ranked_people": ranked_people,
        "tier_rule": tier_rule_text(config.sizes),
        "tier_cutoffs": cutoffs,
        "tags": list(tags_for(db, [person]).get(person, ())),
        "card": _card(db, person),
    }
    if cached is not None:
        a = cached.agg
        score = score_at(a.given, a.received, now, config.k)
        data.update(
            {
                "score": round(score.total, 4),
                "given": round(score.given, 4),
                "received": round(score.received, 4),
                "score_arithmetic": explain_score(score, config.half_life_days),
                "touches_in": a.n_in,
                "touches_out": a.n_out,
                "meetings": a.n_meet,
                "first_touch": iso(a.first_touch),
                "last_touch": iso(a.last_touch),
                "next_meeting": iso(a.next_meeting),
            }
        )
    data["last_touches"] = last_touches(db, person, now)
    flags = person_flags(db, person)
    data["flags"] = [flag_json(f, now, info) for f in flags if f.state(now) == "shown"]
    data["other_flags"] = [
        flag_json(f, now, info)
        for f in flags
        if f.state(now) in ("pending", "snoozed") or (f.resolved_at or 0) >= now - 90 * 86400
    ]
    return data
