"""What a rule is: a small pure function from one person's facts and its settings to findings.

A :class:`Rule` has

- ``applies(subject, settings)``: a cheap test on aggregates and tier only;
- ``needs(subject, settings)``: which details the engine must load for it
  (``{"history": 0, "mail": since, "meetings": since, "starts": since}``,
  ``since`` being the earliest instant the rule looks at);
- ``evaluate(subject, settings)``: the findings, each with a due instant, an
  optional expiry and the facts behind it;
- ``explain(facts, now)``: the human reason and the arithmetic, computed when
  shown, so "97 days ago" is always relative to the instant asked about.

A finding is *due* once ``now`` is past its ``due`` instant, and stays shown
until ``expires`` (if any), that instant included: it is shown while
``due < now <= expires``, a half-open interval like every other window here
(the engine closes it as expired only after ``expires``). Findings with a
future due date are kept too, so that the passage of time alone never
requires re-evaluating anyone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
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


class History(Sequence[tuple[int, str]]):
    """A person's past touchpoints ``(at, kind)``, newest first, loaded only as far as read.

    Most rules stop after the first few items; ``load_all`` fetches the rest on
    first need. ``len()`` is known up front (the aggregates count the touches).
    """

    def __init__(
        self,
        prefix: list[tuple[int, str]],
        total: int,
        load_all: Callable[[], list[tuple[int, str]]] | None = None,
    ):
        self._items = prefix
        self._total = total if load_all is not None else len(prefix)
        self._load = load_all if len(prefix) < self._total else None

    def _complete(self) -> None:
        if self._load is not None:
            self._items = self._load()
            self._total = len(self._items)
            self._load = None

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice) or index < 0 or index >= len(self._items):
            self._complete()
        return self._items[index]

    def __iter__(self) -> Iterator[tuple[int, str]]:
        i = 0
        while True:
            if i >= len(self._items):
                if self._load is None:
                    return
                self._complete()
                if i >= len(self._items):
                    return
            yield self._items[i]
            i += 1


@dataclass(slots=True)
class Subject:
    """Everything a rule may look at for one person, as of ``now``.

    ``last_touch`` is the latest past touchpoint, or a later touch the user
    recorded with ``syncd done`` (``manual_touch``). ``tags`` are the person's
    tags (``syncd tag``). Details (``history``, ``mail``, ``meetings``,
    ``starts``) are filled only when a rule asked.
    """

    id: int
    now: int
    tier: str
    pinned: bool
    agg: Aggregates
    manual_touch: int | None = None
    tags: tuple[str, ...] = ()
    last_touch: int | None = None
    history: Sequence[tuple[int, str]] | None = None
    mail: list[Mail] | None = None
    meetings: list[Meeting] | None = None
    starts: list[tuple[int, bool]] | None = None
    # introductions you made with this person first (rules.introductions.Introduction)
    intros: list[Any] | None = None
    # birthday / anniversary from their contact cards (rules.celebrations.ContactDate)
    dates: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        last, manual = self.agg.last_touch, self.manual_touch
        self.last_touch = (
            last if manual is None or (last is not None and last >= manual) else manual
        )


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
