"""The digest's maintenance schedule, give vs take and monthly audit (issue 18, items 3, 5, 6).

**Schedule.** Besides the (at most 5) high-priority follow-ups on this week's calendar,
the digest lists the month's :data:`MONTHLY` check-ins and the quarter's
:data:`QUARTERLY` broader ones. Both are chosen as of the first instant of their month /
quarter (local time), from the figures of ``syncd people`` at that instant: humans in
the tiers who had not been in touch for :data:`MONTH_QUIET_DAYS` /
:data:`QUARTER_QUIET_DAYS` days, strongest tie first (the tier score). So the lists stay
the same all month (all quarter) whatever happens in between, no one is in both, and a
person on this week's calendar is left out of them that week.

**Give vs take** over the last 30 days, and **the month's audit** (ties, dormant strong
ties, new people, replies both ways) from :mod:`syncd.report.audit`.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from rules.settings import RulesConfig
from syncd.followup.ledger import ACTIVE, followups
from syncd.followup.texts import mailto, whole_days
from syncd.report.audit import compute, gather
from syncd.report.digest_figures import DAY, WEEK
from syncd.report.give_take import give_take
from syncd.report.people import PersonFigures, compute_people

MONTHLY = 15
QUARTERLY = 50
MONTH_QUIET_DAYS = 30
QUARTER_QUIET_DAYS = 90
MONTH_TIERS = ("core", "active")
QUARTER_TIERS = ("core", "active", "network")


def period_starts(now: int, tz: ZoneInfo) -> tuple[int, int]:
    """The first instant of the month and of the quarter of ``now`` in ``tz``."""
    d = datetime.fromtimestamp(now, tz).date()
    month = d.replace(day=1)
    quarter = month.replace(month=3 * ((d.month - 1) // 3) + 1)
    return (
        int(datetime.combine(month, time(0), tz).timestamp()),
        int(datetime.combine(quarter, time(0), tz).timestamp()),
    )


def chosen(
    db: sqlite_utils.Database,
    start: int,
    config: RulesConfig,
    tiers: tuple[str, ...],
    quiet_days: int,
    limit: int,
    exclude: frozenset[int] = frozenset(),
) -> list[int]:
    """The ``limit`` strongest humans of ``tiers`` as of ``start`` who had not been in touch
    for ``quiet_days`` then (people in ``exclude`` aside), strongest first."""
    people = compute_people(db, start, half_life_days=config.half_life_days, sizes=config.sizes)
    ranked = [
        p
        for p in people
        if p.kind == "human"
        and p.tier in tiers
        and p.id not in exclude
        and p.last_touch is not None
        and start - p.last_touch >= quiet_days * DAY
    ]
    ranked.sort(key=lambda p: (-p.score.total, p.id))
    return [p.id for p in ranked[:limit]]


def schedule(
    db: sqlite_utils.Database, now: int, tz: ZoneInfo, config: RulesConfig
) -> dict[str, list[int]]:
    """Person ids: this week's calendar follow-ups, the month's check-ins and the quarter's
    broader ones, no person in two lists."""
    month_start, quarter_start = period_starts(now, tz)
    since = now - (now % DAY) - DAY  # as the digest's follow-ups section
    week = list(
        dict.fromkeys(f.person_id for f in followups(db, ACTIVE) if since <= f.start < now + WEEK)
    )
    month = chosen(db, month_start, config, MONTH_TIERS, MONTH_QUIET_DAYS, MONTHLY)
    quarter = chosen(
        db, quarter_start, config, QUARTER_TIERS, QUARTER_QUIET_DAYS, QUARTERLY, frozenset(month)
    )
    busy = set(week)
    return {
        "week": week,
        "month": [p for p in month if p not in busy],
        "quarter": [p for p in quarter if p not in busy],
    }


def _rows(ids: list[int], people: dict[int, Any], now: int, tz: ZoneInfo) -> list[dict]:
    rows = []
    for pid in ids:
        p = people[pid]
        email = p.emails[0] if p.emails else ""
        rows.append(
            {
                "id": pid,
                "name": p.name or email or f"person {pid}",
                "email": email,
                "tier": p.tier,
                "days": whole_days(p.last_touch, now, tz) if p.last_touch else None,
                "mailto": mailto(email, "Catching up") if email else "",
            }
        )
    return rows


def maintenance(
    db: sqlite_utils.Database,
    now: int,
    tz: ZoneInfo,
    config: RulesConfig,
    figures: list[PersonFigures],
    shown: frozenset[int] = frozenset(),
) -> dict[str, Any]:
    """The schedule's rows for the templates, described from ``figures`` (:func:`compute_people`
    at ``now``); people ``shown`` elsewhere in the digest (follow-ups, waiting, worth
    reconnecting) are left out so no one appears twice."""
    plan = schedule(db, now, tz, config)
    plan = {k: [p for p in v if p not in shown] for k, v in plan.items()}
    people = {p.id: p for p in figures}
    month_name = datetime.fromtimestamp(now, tz).strftime("%B")
    quarter = f"Q{(datetime.fromtimestamp(now, tz).month - 1) // 3 + 1}"
    return {
        "checkins": _rows([p for p in plan["month"] if p in people], people, now, tz),
        "checkins_month": month_name,
        "broader": _rows([p for p in plan["quarter"] if p in people], people, now, tz),
        "broader_quarter": quarter,
    }


def give_and_take(db: sqlite_utils.Database, now: int) -> dict[str, Any]:
    """Give vs take over the last 30 days."""
    return {"give_take": asdict(give_take(db, now - 30 * DAY, now))}


def monthly_audit(
    db: sqlite_utils.Database, now: int, config: RulesConfig, figures: list[PersonFigures]
) -> dict[str, Any]:
    """The audit's headline figures (ties, dormant strong ties, new people this month,
    replies both ways over 12 months), without the geography scan; ``figures`` as for
    :func:`maintenance`."""
    a = compute(gather(db, now, config, geography=False, people=figures))
    return {
        "audit": {
            "ties": a.ties,
            "dormant_days": a.dormant_days,
            "reactivate": [s.name for s in a.reactivate[:3]],
            "reactivate_total": a.reactivate_total,
            "new_this_month": a.growth[-1][1] if a.growth else 0,
            "organisations": a.organisation_total,
            "yours": a.response["yours"]["percent"],
            "theirs": a.response["theirs"]["percent"],
        }
    }
