"""Conversation rules: ``unanswered``, ``reciprocity``, ``meeting_follow_up``, ``nurture``.

These look at individual messages and meetings, so they ask the engine for
details (``mail``, ``meetings``, ``history``) and only over the window they
need. Event-driven findings (a message, a meeting, a nurture step) expire
``expire_days`` after they fall due, so a forgotten follow-up from years ago
is not shown for ever; ``expire_days = 0`` keeps them.
"""

from __future__ import annotations

from typing import Any

from rules.base import (
    DAY,
    HOUR,
    Explanation,
    Finding,
    Rule,
    Settings,
    Subject,
    day,
    days,
    plural,
    stamp,
)
from rules.threads import group_threads


def _lookback(s: Subject, span: int, expire_days: int) -> int | None:
    """The earliest instant an event-driven rule looks at (``None``: no limit)."""
    return s.now - span - expire_days * DAY if expire_days else None


def _expires(due: int, expire_days: int) -> int | None:
    return due + expire_days * DAY if expire_days else None


def _status(now: int, due: int) -> str:
    if now > due:
        return f"now {stamp(now)} is {days(now - due)} past due"
    return f"now {stamp(now)}: due in {days(due - now)}"


# -- unanswered ---------------------------------------------------------------------


def unanswered_applies(s: Subject, c: Settings) -> bool:
    """They wrote to me within the window."""
    since = _lookback(s, c["days"] * DAY, c["expire_days"])
    return s.agg.last_in is not None and (since is None or s.agg.last_in >= since)


def unanswered_needs(s: Subject, c: Settings) -> dict[str, int]:
    """Mail with them since the window start."""
    return {"mail": _lookback(s, c["days"] * DAY, c["expire_days"]) or 0}


def unanswered(s: Subject, c: Settings) -> list[Finding]:
    """Threads whose last message is theirs (to me directly) and older than ``days``."""
    assert s.mail is not None
    since = _lookback(s, c["days"] * DAY, c["expire_days"]) or 0
    out = []
    for thread in group_threads(m for m in s.mail if m.at >= since):
        last = thread[-1]
        if not last.inbound or (c["direct_only"] and not last.direct):
            continue
        due = last.at + c["days"] * DAY
        facts = {
            "subject": last.subject,
            "received": last.at,
            "days": c["days"],
            "messages": len(thread),
            "direct": last.direct,
        }
        out.append(
            Finding("unanswered", s.id, f"m{last.ref}", due, facts, _expires(due, c["expire_days"]))
        )
    return out


def explain_unanswered(f: dict[str, Any], now: int) -> Explanation:
    """Which message waits for a reply, and since when."""
    subject = f["subject"] or "(no subject)"
    return Explanation(
        f"Their message {subject!r} of {day(f['received'])} has had no reply for"
        f" {days(now - f['received'])}",
        [
            f"last of {plural(f['messages'], 'message')} in the thread: theirs, received"
            f" {stamp(f['received'])}" + (" (you in To)" if f.get("direct") else ""),
            f"received + {f['days']} days = due {stamp(f['due'])}; {_status(now, f['due'])}",
        ],
    )


# -- reciprocity --------------------------------------------------------------------


def reciprocity_applies(s: Subject, c: Settings) -> bool:
    """A covered tier, enough mail, some of it within the window."""
    a = s.agg
    recent = max(a.last_in or 0, a.last_out or 0)
    return (
        s.tier in c["tiers"]
        and a.n_in + a.n_out >= c["min_threads"]
        and recent >= s.now - c["window_days"] * DAY
    )


def reciprocity_needs(s: Subject, c: Settings) -> dict[str, int]:
    """Thread starts (mail that is not a reply) over the window."""
    return {"starts": s.now - c["window_days"] * DAY}


def _starts(s: Subject, c: Settings) -> list[tuple[int, bool]]:
    since = s.now - c["window_days"] * DAY
    assert s.starts is not None
    return [x for x in s.starts if x[0] >= since]


def reciprocity(s: Subject, c: Settings) -> list[Finding]:
    """One side started at least ``max_share`` of the threads of the window.

    ``starts`` are ``(at, mine)`` for each message with them that is not a
    reply (no In-Reply-To / References, no Re:-style subject), oldest first.
    """
    starts = _starts(s, c)
    n = len(starts)
    if n < c["min_threads"]:
        return []
    mine = sum(1 for _, me in starts if me)
    if mine / n >= c["max_share"]:
        direction, rare = "you_start", [at for at, me in starts if not me]
    elif (n - mine) / n >= c["max_share"]:
        direction, rare = "they_start", [at for at, me in starts if me]
    else:
        return []
    facts = {
        "direction": direction,
        "mine": mine,
        "threads": n,
        "max_share": c["max_share"],
        "window_days": c["window_days"],
        "rare_last": rare[-1] if rare else None,
        "since": starts[0][0],
    }
    cycle = f"{direction}-{rare[-1] if rare else 0}"
    return [Finding("reciprocity", s.id, cycle, starts[-1][0], facts)]


def reciprocity_recheck(s: Subject, c: Settings) -> int | None:
    """When the oldest thread start leaves the window (the balance may change then)."""
    starts = _starts(s, c)
    return starts[0][0] + c["window_days"] * DAY + 1 if starts else None


def explain_reciprocity(f: dict[str, Any], now: int) -> Explanation:
    """The share of threads each side started."""
    n, mine = f["threads"], f["mine"]
    if f["direction"] == "they_start":
        reason = (
            f"They started {n - mine} of the last {n} threads; you rarely reach out first"
            f" (last time: {day(f['rare_last'])})"
        )
    else:
        reason = (
            f"You started {mine} of the last {n} threads; they rarely reach out first"
            f" (last time: {day(f['rare_last'])})"
        )
    share = max(mine, n - mine) / n
    return Explanation(
        reason,
        [
            f"threads started in the {f['window_days']} days to {day(f['due'])}: you {mine},"
            f" they {n - mine}",
            f"share {max(mine, n - mine)}/{n} = {share:.0%} >= {f['max_share']:.0%}",
        ],
    )


# -- meeting_follow_up --------------------------------------------------------------


def meeting_follow_up_applies(s: Subject, c: Settings) -> bool:
    """Outside the skipped tiers, with a meeting in the window."""
    since = _lookback(s, c["hours"] * HOUR, c["expire_days"])
    last = s.agg.last_meet
    return s.tier not in c["skip_tiers"] and last is not None and (since is None or last >= since)


def meeting_follow_up_needs(s: Subject, c: Settings) -> dict[str, int]:
    """Meetings in the window, with the mail that followed them."""
    return {"meetings": _lookback(s, c["hours"] * HOUR, c["expire_days"]) or 0}


def meeting_follow_up(s: Subject, c: Settings) -> list[Finding]:
    """Meetings after which no mail of mine went to any attendee within ``hours``.

    Mail later than that still closes the flag (a late follow-up is a follow-up).
    """
    assert s.meetings is not None
    since = _lookback(s, c["hours"] * HOUR, c["expire_days"]) or 0
    out = []
    for m in s.meetings:
        due = m.end + c["hours"] * HOUR
        if m.end < since or m.followed_at is not None:
            continue
        facts = {"title": m.title, "end": m.end, "attendees": m.attendees, "hours": c["hours"]}
        out.append(
            Finding(
                "meeting_follow_up", s.id, f"e{m.ref}", due, facts, _expires(due, c["expire_days"])
            )
        )
    return out


def explain_meeting_follow_up(f: dict[str, Any], now: int) -> Explanation:
    """Which meeting, and the follow-up window that passed."""
    title = f["title"] or "(untitled)"
    return Explanation(
        f"No follow-up to the meeting {title!r} of {day(f['end'])} within {f['hours']} hours",
        [
            f"meeting ended {stamp(f['end'])} with {plural(f['attendees'], 'other attendee')};"
            f" no mail from you to any of them since",
            f"end + {f['hours']} hours = due {stamp(f['due'])}; {_status(now, f['due'])}",
        ],
    )


# -- nurture ------------------------------------------------------------------------


def nurture_anchor(s: Subject) -> tuple[int, str] | None:
    """The first meeting or the first two-way exchange, whichever came first."""
    a = s.agg
    options = []
    if a.first_meet is not None:
        options.append((a.first_meet, "first meeting"))
    if a.first_in is not None and a.first_out is not None:
        options.append((max(a.first_in, a.first_out), "first two-way exchange"))
    return min(options) if options else None


def nurture_applies(s: Subject, c: Settings) -> bool:
    """A new connection: the anchor lies within the last step (plus expiry)."""
    # nurture_anchor's instant, without building its options (this runs for everyone)
    a = s.agg
    at = a.first_meet
    if a.first_in is not None and a.first_out is not None:
        two_way = max(a.first_in, a.first_out)
        if at is None or two_way < at:
            at = two_way
    if at is None:
        return False
    since = _lookback(s, c["steps_days"][-1] * DAY, c["expire_days"])
    return since is None or at >= since


def nurture_needs(s: Subject, c: Settings) -> dict[str, int]:
    """All past touch times (with kinds)."""
    return {"history": 0}


def nurture(s: Subject, c: Settings) -> list[Finding]:
    """Follow-ups at each step after the anchor; a touch of mine after the step's start does it.

    Step ``i`` (at ``anchor + steps[i]``) is done by any outbound mail or
    meeting after the anchor (first step) or after the midpoint between the
    previous step and this one; it is shown until the next step falls due.
    """
    anchor = nurture_anchor(s)
    assert anchor is not None and s.history is not None
    at0, origin = anchor
    steps = c["steps_days"]
    mine = []
    for at, kind in s.history:  # newest first: stop at the anchor
        if at <= at0:
            break
        if kind in ("email_out", "meeting"):
            mine.append(at)
    out = []
    for i, step in enumerate(steps):
        due = at0 + step * DAY
        start = at0 if i == 0 else at0 + (steps[i - 1] + step) * DAY // 2
        done = [t for t in mine if t > start]
        if done:
            continue
        if i + 1 < len(steps):
            expires: int | None = at0 + steps[i + 1] * DAY
        else:
            expires = _expires(due, c["expire_days"])
        facts = {
            "anchor": at0,
            "origin": origin,
            "step": step,
            "index": i + 1,
            "steps": len(steps),
            "window_start": start,
        }
        out.append(Finding("nurture", s.id, f"{at0}+{step}d", due, facts, expires))
    return out


def explain_nurture(f: dict[str, Any], now: int) -> Explanation:
    """Which step of the nurture schedule is due, counted from which event."""
    return Explanation(
        f"New connection: follow up {f['step']} days after the {f['origin']} of"
        f" {day(f['anchor'])} (step {f['index']} of {f['steps']})",
        [
            f"{f['origin']} {stamp(f['anchor'])} + {f['step']} days = due {stamp(f['due'])};"
            f" {_status(now, f['due'])}",
            f"no mail or meeting from you since {stamp(f['window_start'])}",
        ],
    )


RULES = (
    Rule(
        "meeting_follow_up",
        "no mail to the attendees within 48 hours of a meeting",
        meeting_follow_up_applies,
        meeting_follow_up,
        explain_meeting_follow_up,
        meeting_follow_up_needs,
    ),
    Rule(
        "unanswered",
        "their message has waited for your reply for 3 days",
        unanswered_applies,
        unanswered,
        explain_unanswered,
        unanswered_needs,
    ),
    Rule(
        "reciprocity",
        "one side starts nearly all threads",
        reciprocity_applies,
        reciprocity,
        explain_reciprocity,
        reciprocity_needs,
        reciprocity_recheck,
    ),
    Rule(
        "nurture",
        "follow-ups 2 days, 2 weeks and 3 months into a new connection",
        nurture_applies,
        nurture,
        explain_nurture,
        nurture_needs,
    ),
)
