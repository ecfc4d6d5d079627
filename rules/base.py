"""What a rule is: a small pure function from one person's facts and its settings to findings.

A :class:`Rule` has

- ``applies(subject, settings)``: a cheap test on aggregates and tier only;
- ``needs(subject, settings)``: which details the engine must load for it
  (``{"history": since, "mail": since, "meetings": since}``, ``since`` being
  the earliest instant the rule looks at);
- ``evaluate(subject, settings)``: the findings, each with a due instant, an
  optional expiry and the facts behind it;
- ``explain(facts, now)``: the human reason and the arithmetic, computed when
  shown, so "97 days ago" is always relative to the instant asked about.

A finding is *due* once ``now`` is past its ``due`` instant, and stays shown
until ``expires`` (if any). Findings with a future due date are kept too, so
that the passage of time alone never requires re-evaluating anyone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rules.aggregates import Aggregates

DAY = 86400
HOUR = 3600

Settings = dict[str, Any]


@dataclass(slots=True)
class Finding:
    """One thing to act on: ``rule`` about ``person`` in episode ``cycle``."""

    rule: str
    person: int
    cycle: str
    due: int
    facts: dict[str, Any]
    expires: int | None = None

    @property
    def id(self) -> str:
        """The deterministic flag identity (rule, person, cycle)."""
        return flag_id(self.rule, self.person, self.cycle)


def flag_id(rule: str, person: int, cycle: str) -> str:
    """``rule:person:cycle``: stable across evaluations, the key for idempotent actions."""
    return f"{rule}:{person}:{cycle}"


@dataclass(slots=True)
class Mail:
    """A logical message exchanged with the person (one of their touchpoints)."""

    ref: int
    at: int
    inbound: bool
    subject: str
    direct: bool
    in_reply_to: str | None = None
    thread_root: str | None = None
    msgids: tuple[str, ...] = ()


@dataclass(slots=True)
class Meeting:
    """A past meeting with the person, and whether mail to any attendee followed it."""

    ref: int
    end: int
    title: str
    attendees: int
    followed_at: int | None = None
    followed_to: str | None = None


@dataclass(slots=True)
class Subject:
    """Everything a rule may look at for one person, as of ``now``."""

    id: int
    now: int
    tier: str
    pinned: bool
    agg: Aggregates
    manual_touch: int | None = None
    history: list[tuple[int, str]] | None = None
    mail: list[Mail] | None = None
    meetings: list[Meeting] | None = None
    needs: dict[str, int] = field(default_factory=dict)

    @property
    def last_touch(self) -> int | None:
        """The latest past touchpoint, or a later touch the user recorded with ``syncd done``."""
        values = [v for v in (self.agg.last_touch, self.manual_touch) if v is not None]
        return max(values) if values else None


@dataclass(slots=True)
class Explanation:
    """What ``syncd flags`` and ``syncd why`` show for a finding."""

    reason: str
    arithmetic: list[str]


@dataclass(frozen=True)
class Rule:
    """One rule of the pack (see the module docstring)."""

    id: str
    summary: str
    applies: Callable[[Subject, Settings], bool]
    evaluate: Callable[[Subject, Settings], list[Finding]]
    explain: Callable[[dict[str, Any], int], Explanation]
    needs: Callable[[Subject, Settings], dict[str, int]] = lambda s, c: {}
    recheck: Callable[[Subject, Settings], int | None] = lambda s, c: None


def day(epoch: int | None) -> str:
    """``YYYY-MM-DD`` (UTC) of an instant."""
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d")


def stamp(epoch: int | None) -> str:
    """``YYYY-MM-DD HH:MM`` (UTC) of an instant."""
    if epoch is None:
        return "never"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M UTC")


def days(seconds: float) -> str:
    """A duration in days, one decimal (``97.3 days``)."""
    value = seconds / DAY
    return f"{value:.1f} days" if abs(value - round(value)) > 0.05 else f"{round(value)} days"


def plural(n: int, word: str) -> str:
    """``1 touch`` / ``3 touches``."""
    if n == 1:
        return f"{n} {word}"
    return f"{n} {word}es" if word.endswith(("ch", "sh", "s", "x")) else f"{n} {word}s"
