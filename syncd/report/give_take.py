"""Give vs take (issue 18): what you give your network against what you receive, over a
window: introductions made, replies given and received, conversations you started and
conversations started by others. Read-only over the store; mail only (headers)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import sqlite_utils

from syncd.report.digest_figures import _norm, reply_rate
from syncd.store.db import chunks


@dataclass(frozen=True, slots=True)
class GiveTake:
    """Counts over one window (``start``, ``end``]."""

    introductions: int = 0
    introductions_connected: int = 0
    replies_given: int = 0
    replies_received: int = 0
    initiated: int = 0
    received: int = 0


def answered_by_them(db: sqlite_utils.Database, start: int, end: int) -> tuple[int, int]:
    """``(answered, sent)``: your messages in ``(start, end]`` that a recipient answered
    (a later message from them in the same thread, or with the same subject once Re:/Fwd:
    prefixes are dropped)."""
    outbound = db.execute(
        "SELECT t.ref, a.person_id, t.at, m.subject, m.thread_root FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address JOIN messages m ON m.id = t.ref"
        " WHERE t.kind = 'email_out' AND t.at > ? AND t.at <= ?",
        [start, end],
    ).fetchall()
    if not outbound:
        return 0, 0
    replies: dict[int, list[tuple[int, str, str | None]]] = defaultdict(list)
    for chunk in chunks(sorted({p for _, p, _, _, _ in outbound})):
        marks = ",".join("?" * len(chunk))
        for person, at, subject, root in db.execute(
            "SELECT a.person_id, t.at, m.subject, m.thread_root FROM touchpoints t"
            " JOIN addresses a ON a.address = t.address JOIN messages m ON m.id = t.ref"
            f" WHERE t.kind = 'email_in' AND t.at > ? AND a.person_id IN ({marks})",
            [start, *chunk],
        ):
            replies[person].append((at, _norm(subject), root))
    answered: set[int] = set()
    for ref, person, at, subject, root in outbound:
        s = _norm(subject)
        if any(
            r_at > at and ((root and r_root == root) or (s and r_subject == s))
            for r_at, r_subject, r_root in replies.get(person, ())
        ):
            answered.add(ref)
    return len(answered), len({ref for ref, *_ in outbound})


def _started(db: sqlite_utils.Database, kind: str, start: int, end: int) -> int:
    """Distinct messages of ``kind`` in the window that start a conversation (no
    In-Reply-To, no Re:/Fwd: prefix)."""
    count = 0
    for (subject,) in db.execute(
        "SELECT m.subject FROM messages m WHERE m.in_reply_to IS NULL AND m.id IN"
        " (SELECT ref FROM touchpoints WHERE kind = ? AND at > ? AND at <= ?)",
        [kind, start, end],
    ):
        if _norm(subject) == " ".join((subject or "").split()).lower():
            count += 1
    return count


def give_take(db: sqlite_utils.Database, start: int, end: int) -> GiveTake:
    """Give vs take over ``(start, end]``."""
    intros, connected = db.execute(
        "SELECT count(*), count(connected_at) FROM introductions WHERE at > ? AND at <= ?",
        [start, end],
    ).fetchone()
    return GiveTake(
        introductions=intros,
        introductions_connected=connected,
        replies_given=reply_rate(db, start, end)[0],
        replies_received=answered_by_them(db, start, end)[0],
        initiated=_started(db, "email_out", start, end),
        received=_started(db, "email_in", start, end),
    )
