"""The digest's figures about the whole network, as plain data (read-only over the store).

Network health (emails and meetings in the last 7 days against the average of
the 4 weeks before, how many messages you answered, who wrote to whom), the
weekly chart, tier sizes against their targets, organisations (domains)
represented, and new connections. A "touch" here is one touchpoint with one
person: a meeting with three people counts three times.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from rules.settings import load_config as load_rules_config
from syncd.core.home import Home
from syncd.mail.subjects import normalize_subject
from syncd.pipeline.identity import people_info
from syncd.report.chart import bars, text_chart
from syncd.store.db import select_in

DAY = 86400
WEEK = 7 * DAY
CHART_WEEKS = 12
TIERS = ("core", "active", "network")
TIER_LABEL = {"core": "Core", "active": "Active", "network": "Network"}
TIER_MEANING = {
    "core": "the people you are closest to",
    "active": "people you are in regular touch with",
    "network": "your wider network",
}
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.ru",
        "fastmail.com",
        "hey.com",
        "zoho.com",
    ]
)


def local(epoch: int, tz: ZoneInfo, fmt: str = "%a %-d %b %H:%M") -> str:
    """An instant as local wall-clock text."""
    return datetime.fromtimestamp(epoch, tz).strftime(fmt)


def touches(db: sqlite_utils.Database, start: int, end: int) -> list[tuple[str, int, int, int]]:
    """Distinct ``(kind, ref, person, at)`` touches in ``(start, end]``."""
    seen: dict[tuple[str, int, int], int] = {}
    for kind, ref, person, at in db.execute(
        "SELECT t.kind, t.ref, a.person_id, t.at FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address WHERE t.at > ? AND t.at <= ?",
        [start, end],
    ):
        seen.setdefault((kind, ref, person), at)
    return [(k, r, p, at) for (k, r, p), at in seen.items()]


def answered_pairs(
    db: sqlite_utils.Database, start: int, end: int, asked: str, answer: str
) -> list[tuple[int, int, bool]]:
    """``(message, person, answered)`` for each touchpoint of kind ``asked`` in ``(start, end]``.

    Answered means a later touchpoint of kind ``answer`` with the same person in the same
    thread (same thread root, or the same subject once Re:/Fwd: prefixes are dropped).
    """
    asked_rows = db.execute(
        "SELECT DISTINCT t.ref, a.person_id, t.at, m.subject, m.thread_root FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address JOIN messages m ON m.id = t.ref"
        " WHERE t.kind = ? AND t.at > ? AND t.at <= ?",
        [asked, start, end],
    ).fetchall()
    later: dict[int, list[tuple[int, str, str | None]]] = defaultdict(list)
    for person, at, subject, root in select_in(
        db,
        "SELECT DISTINCT a.person_id, t.at, m.subject, m.thread_root"
        " FROM touchpoints t JOIN addresses a ON a.address = t.address"
        " JOIN messages m ON m.id = t.ref WHERE t.kind = ? AND t.at > ?"
        " AND a.person_id IN (?...)",
        sorted({p for _, p, _, _, _ in asked_rows}),
        before=(answer, start),
    ):
        later[person].append((at, normalize_subject(subject), root))
    out = []
    for ref, person, at, subject, root in asked_rows:
        s = normalize_subject(subject)
        hit = any(
            o_at > at and ((root and o_root == root) or (s and o_subject == s))
            for o_at, o_subject, o_root in later.get(person, ())
        )
        out.append((ref, person, hit))
    return out


def reply_rate(db: sqlite_utils.Database, start: int, end: int) -> tuple[int, int]:
    """``(answered, received)``: direct inbound messages in ``(start, end]`` you replied to,
    counted per message and sender (see :func:`answered_pairs`)."""
    pairs = answered_pairs(db, start, end, "email_in", "email_out")
    return sum(hit for _, _, hit in pairs), len(pairs)


def health(db: sqlite_utils.Database, now: int, tz: ZoneInfo) -> dict[str, Any]:
    """This week against the four before, replies, and the weekly chart."""
    weeks = touches(db, now - CHART_WEEKS * WEEK, now)
    this_week = [t for t in weeks if t[3] > now - WEEK]
    before = [t for t in weeks if now - 5 * WEEK < t[3] <= now - WEEK]
    answered, inbound = reply_rate(db, now - 4 * WEEK, now)
    avg = len(before) / 4
    series = []
    for i in range(CHART_WEEKS - 1, -1, -1):
        lo, hi = now - (i + 1) * WEEK, now - i * WEEK
        series.append((local(hi - 1, tz, "%-d %b"), sum(1 for t in weeks if lo < t[3] <= hi)))
    return {
        "health": {
            "touches": len(this_week),
            "average": round(avg, 1),
            "change": None if not avg else round(100 * (len(this_week) - avg) / avg),
            "people": len({t[2] for t in this_week}),
            "given": sum(1 for t in this_week if t[0] == "email_out"),
            "received": sum(1 for t in this_week if t[0] == "email_in"),
            "meetings": sum(1 for t in this_week if t[0] == "meeting"),
            "given_avg": round(sum(1 for t in before if t[0] == "email_out") / 4, 1),
            "received_avg": round(sum(1 for t in before if t[0] == "email_in") / 4, 1),
            "answered": answered,
            "inbound": inbound,
            "reply_rate": None if not inbound else round(100 * answered / inbound),
        },
        "chart": bars(series),
        "chart_text": text_chart(series),
    }


def _tier_sizes(home: Home | None) -> dict[str, int]:
    try:
        return dict(load_rules_config(home.config_path if home else None).sizes)
    except Exception:  # the rules package validates its own config; show the defaults here
        return {"core": 15, "active": 50, "network": 85}


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def tiers_and_organisations(db: sqlite_utils.Database, home: Home | None) -> dict[str, Any]:
    """Tier sizes against their targets, and the organisations of the tiered people."""
    counts = Counter(
        tier
        for (tier,) in db.execute(
            "SELECT coalesce(p.tier_pin, r.tier) FROM rules_people r"
            " JOIN people p ON p.id = r.person_id"
        )
    )
    sizes = _tier_sizes(home)
    rows = [
        {
            "tier": TIER_LABEL[t],
            "meaning": TIER_MEANING[t],
            "count": counts.get(t, 0),
            "target": sizes.get(t, 0),
        }
        for t in TIERS
    ]
    network = {
        p
        for (p,) in db.execute(
            "SELECT r.person_id FROM rules_people r JOIN people p ON p.id = r.person_id"
            " WHERE coalesce(p.tier_pin, r.tier) != 'acquaintance'"
        )
    }
    domains: Counter[str] = Counter()
    personal = 0
    for info in people_info(db, network, unnamed="someone").values():
        ds = {_domain(e) for e in info["emails"]} - FREE_MAIL
        if ds:
            domains[min(ds)] += 1
        elif info["emails"]:
            personal += 1
    return {
        "tiers": rows,
        "tier_total": {
            "count": sum(r["count"] for r in rows),
            "target": sum(r["target"] for r in rows),
        },
        "domains": sorted(domains.items(), key=lambda d: (-d[1], d[0]))[:10],
        "domain_total": len(domains),
        "personal": personal,
        "network_size": len(network),
    }


def new_connections(
    db: sqlite_utils.Database, now: int, tz: ZoneInfo, limit: int = 10
) -> dict[str, Any]:
    """People first touched in the last 30 days, newest first, with how you met."""
    rows = db.execute(
        "SELECT a.person_id, min(t.at) AS first FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.at <= ? GROUP BY a.person_id"
        " HAVING first > ? ORDER BY first DESC, a.person_id",
        [now, now - 30 * DAY],
    ).fetchall()
    shown = rows[:limit]
    kinds: dict[int, set[str]] = defaultdict(set)
    for pid, kind in select_in(
        db,
        "SELECT DISTINCT a.person_id, t.kind FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.at <= ? AND a.person_id IN (?...)",
        [p for p, _ in shown],
        before=(now,),
    ):
        kinds[pid].add(kind)
    info = people_info(db, {p for p, _ in shown}, unnamed="someone")
    how = {"meeting": "met", "email_in": "wrote to you", "email_out": "you wrote"}
    people = [
        {
            "name": info[pid]["name"],
            "email": info[pid]["emails"][0] if info[pid]["emails"] else "",
            "first": local(first, tz, "%-d %b"),
            "how": ", ".join(
                how[k] for k in ("meeting", "email_in", "email_out") if k in kinds[pid]
            ),
        }
        for pid, first in shown
    ]
    return {"new_people": people, "new_total": len(rows)}
