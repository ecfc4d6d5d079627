"""The ``intro_followup`` rule: "did Ana and Bo connect?", two weeks after you introduced them.

Introductions are detected from stored headers by the pipeline (table
``introductions``, owner ``syncd.pipeline.introductions``); the rules only read
them, by SQL (:func:`introductions_of`), as they read ``manual_touches``. Each one
is flagged on the first of the two people (by address) at ``at + days``; once the two
appear together in a later message that one of them wrote, the finding is no longer
made and the flag is withdrawn (``cleared``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from rules.base import DAY, Explanation, Finding, Rule, Settings, Subject, day, days

RULE = "intro_followup"


@dataclass(frozen=True, slots=True)
class Introduction:
    """One introduction as the rule sees it (``person_a`` carries the flag)."""

    message_id: int
    at: int
    person_a: int
    person_b: int
    name_a: str
    name_b: str
    subject: str
    connected_at: int | None


def introductions_of(
    db: sqlite_utils.Database, people: Iterable[int], now: int
) -> dict[int, list[Introduction]]:
    """The introductions made up to ``now`` whose first person is one of ``people``."""
    wanted = set(people)
    if not wanted:
        return {}
    out: dict[int, list[Introduction]] = defaultdict(list)
    for mid, at, pa, pb, na, nb, subject, connected in db.execute(
        "SELECT i.message_id, i.at, a.person_id, b.person_id,"
        " coalesce(pa.name, (SELECT json_extract(m.names, '$.\"' || i.address_a || '\"')"
        "   FROM messages m WHERE m.id = i.message_id), i.address_a),"
        " coalesce(pb.name, (SELECT json_extract(m.names, '$.\"' || i.address_b || '\"')"
        "   FROM messages m WHERE m.id = i.message_id), i.address_b),"
        " i.subject, i.connected_at FROM introductions i"
        " JOIN addresses a ON a.address = i.address_a JOIN addresses b ON b.address = i.address_b"
        " JOIN people pa ON pa.id = a.person_id JOIN people pb ON pb.id = b.person_id"
        " WHERE i.at <= ? ORDER BY i.at, i.message_id",
        [now],
    ):
        if pa in wanted and pa != pb:
            out[pa].append(Introduction(mid, at, pa, pb, na, nb, subject, connected))
    return dict(out)


def intro_applies(s: Subject, c: Settings) -> bool:
    """The person is the first of an introduction you made."""
    return bool(s.intros)


def intro_followup(s: Subject, c: Settings) -> list[Finding]:
    """Each introduction not yet followed by a message between the two, ``days`` after it."""
    out = []
    for i in s.intros or ():
        if i.connected_at is not None and i.connected_at <= s.now:
            continue
        due = i.at + c["days"] * DAY
        facts = {
            "introduced": i.at,
            "other": i.person_b,
            "name_a": i.name_a,
            "name_b": i.name_b,
            "subject": i.subject,
            "days": c["days"],
        }
        expires = due + c["expire_days"] * DAY if c["expire_days"] else None
        out.append(Finding(RULE, s.id, str(i.message_id), due, facts, expires))
    return out


def intro_recheck(s: Subject, c: Settings) -> int | None:
    """A connection recorded after ``now`` withdraws the flag once ``now`` passes it."""
    later = [i.connected_at for i in s.intros or () if i.connected_at and i.connected_at > s.now]
    return min(later, default=None)


def explain_intro(f: dict[str, Any], now: int) -> Explanation:
    """Who was introduced when, and that they have not written to each other since."""
    pair = f"{f['name_a']} and {f['name_b']}"
    if now <= f["due"]:
        reason = f"You introduced {pair} on {day(f['introduced'])}; check on {day(f['due'])}"
    else:
        reason = (
            f"You introduced {pair} {days(now - f['introduced'])} ago and they have not"
            " written to each other since: did they connect?"
        )
    return Explanation(
        reason,
        [
            f"introduction {day(f['introduced'])} (“{f['subject']}”) + {f['days']} days"
            f" = due {day(f['due'])}",
            "no later message with both of them (withdrawn when one appears)",
        ],
    )


RULES = (
    Rule(
        RULE,
        "An introduction you made: did the two connect?",
        intro_applies,
        intro_followup,
        explain_intro,
        recheck=intro_recheck,
    ),
)
