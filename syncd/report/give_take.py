"""Give vs take (issue 18): what you give your network against what you receive, over a
window: introductions made, replies given and received, conversations you started and
conversations started by others. Read-only over the store; mail only (headers)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from syncd.mail.subjects import prefixed_subject
from syncd.report.digest_figures import answered_pairs, reply_rate


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
    (see :func:`syncd.report.digest_figures.answered_pairs`)."""
    pairs = answered_pairs(db, start, end, "email_out", "email_in")
    return len({ref for ref, _, hit in pairs if hit}), len({ref for ref, _, _ in pairs})


def _started(db: sqlite_utils.Database, kind: str, start: int, end: int) -> int:
    """Distinct messages of ``kind`` in the window that start a conversation (no
    In-Reply-To, no Re:/Fwd: prefix)."""
    count = 0
    for (subject,) in db.execute(
        "SELECT m.subject FROM messages m WHERE m.in_reply_to IS NULL AND m.id IN"
        " (SELECT ref FROM touchpoints WHERE kind = ? AND at > ? AND at <= ?)",
        [kind, start, end],
    ):
        if not prefixed_subject(subject):
            count += 1
    return count


def give_take(
    db: sqlite_utils.Database,
    start: int,
    end: int,
    replies: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> GiveTake:
    """Give vs take over ``(start, end]``. ``replies``: :func:`reply_rate` and
    :func:`answered_by_them` over the same window, when the caller has them already."""
    yours, theirs = replies or (reply_rate(db, start, end), answered_by_them(db, start, end))
    intros, connected = db.execute(
        "SELECT count(*), count(connected_at) FROM introductions WHERE at > ? AND at <= ?",
        [start, end],
    ).fetchone()
    return GiveTake(
        introductions=intros,
        introductions_connected=connected,
        replies_given=yours[0],
        replies_received=theirs[0],
        initiated=_started(db, "email_out", start, end),
        received=_started(db, "email_in", start, end),
    )
