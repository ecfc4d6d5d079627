"""What the digest asks the reader to do, as plain data (read-only over the store).

- **This week's follow-ups**: the follow-up events on the calendar from today
  to a week ahead, each with its reason in plain words and its actions: a
  ``mailto:`` link with a prefilled subject, and the commands that mark it
  done or snooze it for a week.
- **Also waiting**: open flags no follow-up covers, one line per person, the
  most urgent first (the planner's :func:`~syncd.followup.decide.priority`).
- **Worth reconnecting**: people whose tie went quiet (``dormant`` and
  ``reactivate`` flags), the strongest ties first -- two-way exchanges, then
  the tier, then the longest silence -- so that the cut at :data:`RECONNECT_SHOWN`
  keeps the most valuable ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from rules.aggregates import load_cache
from rules.flags import Flag, shown_flags
from syncd.followup.decide import priority
from syncd.followup.ledger import ACTIVE, followups
from syncd.followup.texts import (
    done_command,
    mail_subject,
    mailto,
    plain_reason,
    snooze_command,
    whole_days,
)
from syncd.pipeline.identity import people_info
from syncd.report.digest_figures import DAY, WEEK, local

WAITING_SHOWN = 10
RECONNECT_SHOWN = 8
TIER_RANK = {"core": 0, "active": 1, "network": 2}


def _who(info: dict[str, Any], pid: int) -> dict[str, Any]:
    return {
        "id": pid,
        "name": info["name"],
        "email": info["emails"][0] if info["emails"] else "",
        "tier": info["tier"],
    }


def _links(email: str, flag: Flag | None, now: int, tz: ZoneInfo) -> dict[str, str]:
    """The actions on one person: write to them, mark it done, snooze it for a week."""
    if not email:
        return {"mailto": "", "done": "", "snooze": ""}
    subject = mail_subject(flag) if flag is not None else "Catching up"
    return {
        "mailto": mailto(email, subject),
        "done": done_command(email),
        "snooze": snooze_command(email, now + WEEK, tz),
    }


def _followups(
    db: sqlite_utils.Database, flags: dict[str, Flag], now: int, tz: ZoneInfo
) -> tuple[list[dict[str, Any]], set[str]]:
    """This week's follow-up rows, and every flag some follow-up covers."""
    start_of_yesterday = now - (now % DAY) - DAY
    planned = [fu for fu in followups(db, ACTIVE) if start_of_yesterday <= fu.start < now + WEEK]
    covered = {fid for fu in followups(db) for fid in fu.covers}
    info = people_info(db, {fu.person_id for fu in planned}, unnamed="someone")
    rows = []
    for fu in planned:
        flag = next((flags[f] for f in [fu.flag_id, *fu.covers] if f in flags), None)
        who = _who(info[fu.person_id], fu.person_id)
        rows.append(
            {
                **who,
                "when": local(fu.start, tz),
                "title": fu.title,
                "reason": plain_reason(flag, now, tz) if flag is not None else fu.title,
                "moved": fu.state == "moved",
                **_links(who["email"], flag, now, tz),
            }
        )
    return rows, covered


def _waiting(
    db: sqlite_utils.Database, flags: Iterable[Flag], covered: set[str], now: int, tz: ZoneInfo
) -> tuple[list[dict[str, Any]], int]:
    """The most urgent person-level rows among flags no follow-up covers, and how many."""
    by_person: dict[int, list[Flag]] = defaultdict(list)
    for f in flags:
        if f.id not in covered:
            by_person[f.person_id].append(f)
    info = people_info(db, set(by_person), unnamed="someone")
    ranked = []
    for pid, fl in by_person.items():
        tier = info[pid]["tier"]
        fl.sort(key=lambda f: (-priority(f, tier, now), f.id))
        ranked.append((priority(fl[0], tier, now), pid, fl))
    ranked.sort(key=lambda w: (-w[0], w[1]))
    rows = []
    for _, pid, fl in ranked[:WAITING_SHOWN]:
        who = _who(info[pid], pid)
        rows.append(
            {
                **who,
                "reason": plain_reason(fl[0], now, tz),
                "more": len(fl) - 1,
                **_links(who["email"], fl[0], now, tz),
            }
        )
    return rows, len(ranked)


def _reconnect(
    db: sqlite_utils.Database, flags: Iterable[Flag], now: int, tz: ZoneInfo
) -> tuple[list[dict[str, Any]], int]:
    """Quiet ties, the strongest first, and how many there are."""
    chosen: dict[int, Flag] = {}
    for f in sorted(flags, key=lambda f: (f.rule != "reactivate", f.due, f.id)):
        if f.rule in ("reactivate", "dormant") and f.person_id not in chosen:
            chosen[f.person_id] = f
    cache = load_cache(db, chosen)
    info = people_info(db, set(chosen), unnamed="someone")
    rows = []
    for pid, f in chosen.items():
        last = f.facts.get("last_touch")
        who = _who(info[pid], pid)
        rows.append(
            {
                **who,
                "days": whole_days(last, now, tz) if isinstance(last, int) else None,
                "exchanges": cache[pid].agg.exchanges if pid in cache else 0,
                "reason": plain_reason(f, now, tz),
                **_links(who["email"], f, now, tz),
            }
        )
    rows.sort(
        key=lambda r: (
            -r["exchanges"],
            TIER_RANK.get(r["tier"], 3),
            -(r["days"] or 0),
            r["name"],
        )
    )
    return rows[:RECONNECT_SHOWN], len(rows)


def actions(db: sqlite_utils.Database, now: int, tz: ZoneInfo) -> dict[str, Any]:
    """The follow-ups, the waiting flags and the quiet ties, as the templates show them."""
    flags = shown_flags(db, now)
    follow_rows, covered = _followups(db, {f.id: f for f in flags}, now, tz)
    waiting, waiting_total = _waiting(db, flags, covered, now, tz)
    reconnect, reconnect_total = _reconnect(db, flags, now, tz)
    return {
        "followups": follow_rows,
        "waiting": waiting,
        "waiting_total": waiting_total,
        "dormant": reconnect,
        "dormant_total": reconnect_total,
    }
