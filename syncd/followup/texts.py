"""The words a person reads about a follow-up: pure functions of the flags, the person and ``now``.

One vocabulary for the calendar event (:func:`title_for`, :func:`description_for`)
and the weekly digest (:func:`plain_reason`, :func:`mailto`, :func:`done_command`,
:func:`snooze_command`): who, why in plain words with whole days ("silent for
239 days", never "239.7"), and what to do. No rule keys and no arithmetic:
those stay in the event's UID / ``X-SYNCD-KEY`` and in ``syncd why``.

Names and subjects come from mail headers: every value is put on one line
with its control characters replaced (:func:`syncd.core.text.one_line`).
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from rules.base import Explanation
from rules.flags import Flag
from syncd.core.text import bounded, one_line
from syncd.followup.settings import DAY

log = logging.getLogger(__name__)

SUBJECT_CHARS = 80  # a quoted subject or meeting title, at most
TITLE_CHARS = 120  # an event title, at most
UTC = ZoneInfo("UTC")
TIER_WORDS = {
    "core": "your closest contacts",
    "active": "your active contacts",
    "network": "your wider network",
}
# Rules that all say "it has been quiet": one of them in a description is enough.
SILENCE_RULES = frozenset({"dormant", "reactivate", "three_touches"})
KIND_WORDS = {"email_in": "their email", "email_out": "your email", "meeting": "the meeting"}


@dataclass(frozen=True, slots=True)
class LastTouch:
    """A person's latest touch: when, what kind (``email_in`` / ``email_out`` / ``meeting``),
    and the message's subject or the meeting's title."""

    at: int
    kind: str
    subject: str


# -- small words ---------------------------------------------------------------------------


def whole_days(then: int | float, now: int, tz: ZoneInfo = UTC) -> int:
    """Whole days from ``then`` to ``now``: calendar days between their dates in ``tz``, so
    the figure agrees with the dates shown beside it (never negative)."""
    a = datetime.fromtimestamp(int(then), tz).date()
    b = datetime.fromtimestamp(now, tz).date()
    return max(0, (b - a).days)


def days_text(n: int) -> str:
    """``1 day`` / ``239 days``."""
    return f"{n} day" if n == 1 else f"{n} days"


def date_text(epoch: int, tz: ZoneInfo) -> str:
    """``Fri 10 Apr 2026``: a date in the user's time zone."""
    return datetime.fromtimestamp(epoch, tz).strftime("%a %-d %b %Y")


def quoted(subject: object, empty: str = "(no subject)") -> str:
    """A subject or title between curly quotes, on one line and at most :data:`SUBJECT_CHARS`."""
    text = " ".join(one_line(subject).split())
    return f"“{bounded(text, SUBJECT_CHARS)}”" if text else empty


def first_name(who: Mapping[str, Any]) -> str:
    """The first word of the person's name (their address when they have no name)."""
    name = one_line(who.get("name") or "")
    emails = who.get("emails") or []
    if not name or "@" in name:
        return emails[0] if emails else "them"
    return name.split()[0]


# -- why, in plain words ---------------------------------------------------------------------


def _f(flag: Flag, key: str) -> Any:
    value = flag.facts.get(key)
    if value is None:
        raise KeyError(key)
    return value


def _reason(flag: Flag, now: int, tz: ZoneInfo) -> str:
    rule = flag.rule
    if rule == "dormant":
        silent = whole_days(_f(flag, "last_touch"), now, tz)
        cadence = int(_f(flag, "cadence_days"))
        tag = flag.facts.get("tag")
        circle = (
            f"your '{tag}' contacts"
            if tag
            else TIER_WORDS.get(str(flag.facts.get("tier")), "this contact")
        )
        if now <= flag.due:
            return (
                f"Silent for {days_text(silent)}; on {date_text(flag.due, tz)} it will be more"
                f" than the {days_text(cadence)} you aim for with {circle}"
            )
        return (
            f"Silent for {days_text(silent)}, more than the {days_text(cadence)} you aim for"
            f" with {circle}"
        )
    if rule == "reactivate":
        silent = whole_days(_f(flag, "last_touch"), now, tz)
        return (
            f"A close tie gone quiet: {_f(flag, 'exchanges')} exchanges with you, then silent for"
            f" {days_text(silent)}"
        )
    if rule == "unanswered":
        waited = whole_days(_f(flag, "received"), now, tz)
        return (
            f"Their email {quoted(flag.facts.get('subject'))} of"
            f" {date_text(_f(flag, 'received'), tz)} has waited {days_text(waited)} for your reply"
        )
    if rule == "meeting_follow_up":
        title = quoted(flag.facts.get("title"), "your meeting")
        return f"You met at {title} on {date_text(_f(flag, 'end'), tz)} and have not written since"
    if rule == "nurture":
        origin = "first meeting" if _f(flag, "origin") == "first meeting" else "first exchange"
        return (
            f"A new connection: your {origin} was on {date_text(_f(flag, 'anchor'), tz)};"
            f" a note {days_text(int(_f(flag, 'step')))} later keeps it warm"
        )
    if rule == "three_touches":
        window = int(_f(flag, "window_days"))
        minimum = int(_f(flag, "min_touches"))
        count = sum(1 for t in _f(flag, "recent") if now - window * DAY <= t <= now)
        contacts = "contact" if count == 1 else "contacts"
        return (
            f"Only {count} {contacts} in the last {days_text(window)}; you aim for at least"
            f" {minimum} a year"
        )
    if rule == "reciprocity":
        n, mine = int(_f(flag, "threads")), int(_f(flag, "mine"))
        if _f(flag, "direction") == "they_start":
            return f"They started {n - mine} of your last {n} conversations: write first this time"
        return f"You started {mine} of your last {n} conversations; they rarely write first"
    if rule == "intro_followup":
        return (
            f"You introduced {_f(flag, 'name_a')} and {_f(flag, 'name_b')} on"
            f" {date_text(_f(flag, 'introduced'), tz)}; did they connect?"
        )
    if rule == "celebration":
        years = flag.facts.get("years")
        count = f" ({years} years)" if years else ""
        return f"Their {_f(flag, 'kind')} is on {date_text(_f(flag, 'on'), tz)}{count}"
    raise KeyError(rule)


def plain_reason(flag: Flag, now: int, tz: ZoneInfo = UTC) -> str:
    """Why ``flag`` asks for a follow-up, in one plain sentence with whole days."""
    try:
        return _reason(flag, now, tz)
    except (KeyError, TypeError, ValueError) as exc:  # a flag stored by an older rule pack
        log.warning("cannot word flag %s: %s", flag.id, exc)
        return "Worth getting in touch"


def explain(flag: Flag, now: int) -> Explanation:
    """``flag.explain(now)``, or a plain fallback if the rule cannot explain these facts."""
    try:
        return flag.explain(now)
    except Exception as exc:  # a flag stored by an older rule pack: still show something
        log.warning("cannot explain flag %s: %s", flag.id, exc)
        return Explanation(f"{flag.rule.replace('_', ' ')} (see syncd why)", [])


def what_to_do(flag: Flag, who: Mapping[str, Any]) -> str:
    """The next step, as an instruction."""
    name = first_name(who)
    if flag.rule == "unanswered":
        return f"Reply to {name}"
    if flag.rule == "meeting_follow_up":
        return f"Send {name} a short thank-you or the next step"
    if flag.rule == "nurture":
        return f"Send {name} a short note to keep in touch"
    if flag.rule == "reciprocity":
        return f"Write to {name} first, with a question or a piece of news"
    if flag.rule == "intro_followup":
        return f"Ask {name} whether the introduction led anywhere"
    if flag.rule == "celebration":
        return f"Send {name} a short note for the day"
    return f"Send {name} a short note or suggest a call"


# -- the calendar event ----------------------------------------------------------------------


def title_for(flag: Flag, who: Mapping[str, Any], now: int, tz: ZoneInfo = UTC) -> str:
    """The event title: who and why, in a few words."""
    name, f = one_line(who["name"]), flag.facts
    last = f.get("last_touch")
    silent = whole_days(last, now, tz) if isinstance(last, int | float) else None
    if flag.rule == "dormant" and silent is not None:
        title = f"Reconnect with {name} — silent for {days_text(silent)}"
    elif flag.rule == "reactivate" and silent is not None:
        title = f"Reconnect with {name} — a close tie, silent for {days_text(silent)}"
    elif flag.rule == "unanswered":
        title = f"Reply to {name} — {quoted(f.get('subject'))}"
    elif flag.rule == "meeting_follow_up":
        title = f"Follow up with {name} after {quoted(f.get('title'), 'your meeting')}"
    elif flag.rule == "nurture":
        title = f"Follow up with {name} — a new connection"
    elif flag.rule == "three_touches":
        title = f"Check in with {name} — little contact this year"
    elif flag.rule == "reciprocity":
        title = f"Reach out to {name} first"
    elif flag.rule == "intro_followup":
        title = f"Ask {name} about your introduction"
    elif flag.rule == "celebration":
        title = f"Wish {name} a happy {f.get('kind', 'day')}"
    else:
        title = f"Get in touch with {name}"
    return bounded(title, TITLE_CHARS)


def last_touch_text(last: LastTouch | None, tz: ZoneInfo) -> str | None:
    """``your email “Re: plan” on Fri 10 Apr 2026`` (None: no touch known)."""
    if last is None:
        return None
    what = KIND_WORDS.get(last.kind, "your last contact")
    empty = "(untitled)" if last.kind == "meeting" else "(no subject)"
    return f"{what} {quoted(last.subject, empty)} on {date_text(last.at, tz)}"


def _same_touch(flag: Flag, last: LastTouch | None) -> bool:
    """Whether the reason already names the last touch (an unanswered message, the meeting)."""
    if last is None:
        return False
    return flag.facts.get("received") == last.at or flag.facts.get("end") == last.at


def description_for(
    flags: Sequence[Flag], who: Mapping[str, Any], now: int, tz: ZoneInfo = UTC
) -> str:
    """The event description: why and what to do, in two sentences, then how to reach them.

    ``who`` has ``name``, ``emails``, ``tier`` and ``last`` (a :class:`LastTouch` or None).
    """
    first = flags[0]
    why = plain_reason(first, now, tz)
    last = who.get("last")
    if not _same_touch(first, last) and (said := last_touch_text(last, tz)):
        why += f"; your last contact was {said}"
    lines = [f"{why}.", f"{what_to_do(first, who)}."]
    silence = first.rule in SILENCE_RULES
    others = [
        plain_reason(f, now, tz) for f in flags[1:] if not (silence and f.rule in SILENCE_RULES)
    ][:2]
    if others:
        lines.append("Also: " + "; ".join(others) + ".")
    emails = who.get("emails") or []
    if emails:
        lines.append("")
        lines.append(f"{one_line(who['name'])} <{one_line(emails[0])}>")
        lines.append(
            "Get in touch and syncd removes this reminder; if it is handled: "
            + done_command(emails[0])
        )
    return "\n".join(lines)


# -- actions the digest offers ---------------------------------------------------------------


def mail_subject(flag: Flag) -> str:
    """A subject to start the email with."""
    if flag.rule == "unanswered":
        subject = " ".join(one_line(flag.facts.get("subject") or "").split())
        if not subject:
            return "Re: your message"
        return subject if subject.lower().startswith("re:") else f"Re: {subject}"
    if flag.rule == "meeting_follow_up":
        title = " ".join(one_line(flag.facts.get("title") or "").split())
        return f"Following up on {title}" if title else "Following up on our meeting"
    if flag.rule == "nurture":
        return "Good to be in touch"
    return "Catching up"


def mailto(address: str, subject: str) -> str:
    """A ``mailto:`` URL with a prefilled subject (both percent-encoded)."""
    return f"mailto:{quote(address, safe='@')}?subject={quote(subject, safe='')}"


def done_command(address: str) -> str:
    """The command that marks the person's flags done."""
    return f"syncd done {shlex.quote(one_line(address))}"


def snooze_command(address: str, until: int, tz: ZoneInfo = UTC) -> str:
    """The command that snoozes the person's flags until the day of ``until``."""
    day = datetime.fromtimestamp(until, tz).strftime("%Y-%m-%d")
    return f"syncd snooze {shlex.quote(one_line(address))} --until {day}"
