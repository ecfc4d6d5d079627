"""What the planner does, decided without touching anything: plain data in, typed steps out.

:func:`decide` is a pure function (vdirsyncer's ``_get_actions``): it reads the
open flags, the people they are about, the busy time, the follow-ups already
in the ledger (with what the calendar says about them now) and the settings,
and returns the :data:`Step` list that :func:`syncd.followup.apply.apply`
then performs, one transaction per step. In order:

1. **The user's choices.** A future follow-up the calendar no longer has was
   deleted by the user (:class:`UserDeleted`: never re-created for its flags);
   one at another time was moved (:class:`UserMoved`: the new time stands and
   counts).
2. **Withdrawals.** A future follow-up goes (:class:`WithdrawFollowUp`) when
   the person was touched after it was planned (any touch newer than the
   ``basis`` recorded then), or when none of its flags still asks for it
   (closed, expired, or snoozed past it); otherwise it stays
   (:class:`KeepFollowUp`). Past follow-ups are history and are not looked at.
3. **Placements.** Open flags (not snoozed, of a rule in ``settings.rules``,
   due within the horizon) not covered by a follow-up yet, of people without a
   future one, are ranked (:func:`priority`), one event per person covering
   all their flags. Each goes on a working day on or after its due date (and
   before it expires), in a week holding fewer than ``per_week`` follow-ups and
   on a day with fewer than ``per_day``: the day holding the fewest follow-ups
   so far (the earliest of those), so a week's follow-ups spread over its days
   rather than stacking on the first; within the day, the free slot of
   ``settings.length`` nearest to ``settings.preferred`` (:class:`PlaceFollowUp`).
   The rest wait for the digest (:class:`Wait`). A follow-up withdrawn because
   its flag was snoozed does not cover that flag: it is placed again, keyed
   ``FLAG~N``. A withdrawn follow-up frees its place in the caps and its time
   at once, so the run that withdraws it can fill the place again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from connectors.base import RemoteEvent
from rules.flags import Flag
from rules.value import flag_value, values_of
from syncd.followup.ledger import ACTIVE, FollowUp
from syncd.followup.settings import PlannerSettings
from syncd.followup.slots import Busy, free_days, nearest_slot, week_of
from syncd.followup.texts import description_for, title_for

DELETED = "deleted in the calendar"
TOUCHED = "you were in touch"
# States that take a place in the weekly and daily caps: a withdrawn follow-up (its removal
# done or still queued) frees its place; one the user deleted keeps it (their choice stands).
COUNTED = (*ACTIVE, "deleted", "failed")
NOBODY: Mapping[str, Any] = {"name": "someone", "emails": [], "tier": "acquaintance"}
_CLOSURES = {
    "touch": TOUCHED,
    "expired": "it expired",
    "cleared": "the reason went away",
    "merged": "the person was merged",
    "not a person": "it is not a person (syncd why shows its kind)",
}


# -- inputs and steps ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placed:
    """A follow-up in the ledger, with what the calendar and the store say about it now.

    ``checked``: the calendar was asked about it (future ``placed`` / ``moved``
    rows); ``remote`` is then the event as the calendar holds it (None: the
    user deleted it). ``flags``: the current state of each flag it covers
    (None: the flag is gone), needed for future active rows.
    ``create_pending``: its create still waits, unclaimed, in the outbox.
    """

    followup: FollowUp
    checked: bool = False
    remote: RemoteEvent | None = None
    flags: tuple[Flag | None, ...] = ()
    create_pending: bool = False


@dataclass(frozen=True, slots=True)
class UserDeleted:
    """The user deleted the event: record it; the choice stands."""

    key: str
    reason: str = DELETED


@dataclass(frozen=True, slots=True)
class UserMoved:
    """The user moved the event to ``[start, end)`` (in ISO ``week``): record the new time."""

    key: str
    start: int
    end: int
    week: str


@dataclass(frozen=True, slots=True)
class KeepFollowUp:
    """The follow-up is still wanted: nothing to do."""

    key: str


@dataclass(frozen=True, slots=True)
class WithdrawFollowUp:
    """Remove the follow-up's event, for ``reason``.

    ``cancel_create``: its create has not run yet, so cancelling it is enough.
    """

    key: str
    target: str
    remote_ref: str | None
    reason: str
    cancel_create: bool = False


@dataclass(frozen=True, slots=True)
class PlaceFollowUp:
    """Put a new follow-up event (idempotency ``key``) at ``[start, end)``.

    It covers the flags ``covers`` (the first one, ``flag_id``, named the
    title); ``basis`` is the person's latest touch now.
    """

    key: str
    flag_id: str
    person_id: int
    covers: tuple[str, ...]
    target: str
    start: int
    end: int
    week: str
    title: str
    description: str
    timezone: str
    basis: int | None
    created: int

    def followup(self) -> FollowUp:
        """The ledger row this step records (state ``planned``)."""
        return FollowUp(
            key=self.key,
            flag_id=self.flag_id,
            person_id=self.person_id,
            covers=list(self.covers),
            target=self.target,
            start=self.start,
            end=self.end,
            week=self.week,
            title=self.title,
            state="planned",
            remote_ref=None,
            reason=None,
            created=self.created,
            updated=self.created,
            basis=self.basis,
        )

    def payload(self) -> dict[str, Any]:
        """The outbox ``event.create`` payload (:class:`connectors.base.CalendarWriter`)."""
        return {
            "title": self.title,
            "description": self.description,
            "start": self.start,
            "end": self.end,
            "timezone": self.timezone,
            "created": self.created,
            "person": self.person_id,
            "flags": list(self.covers),
        }


@dataclass(frozen=True, slots=True)
class Wait:
    """No free slot for the flag (and its person's others): it waits in the digest."""

    flag_id: str


Step = UserDeleted | UserMoved | KeepFollowUp | WithdrawFollowUp | PlaceFollowUp | Wait


# -- ranking ---------------------------------------------------------------------------


def priority(flag: Flag, tier: str, now: int) -> float:
    """Higher first: tie strength × urgency (:func:`rules.value.flag_value`), the order of
    ``syncd flags`` and the digest too."""
    return flag_value(flag.rule, tier, flag.due, now).value


def wanted(flag: Flag, settings: PlannerSettings, now: int) -> bool:
    """Whether ``flag`` asks for a follow-up now: open, of a planned rule, due within the
    horizon, not expired, not snoozed."""
    return (
        flag.status == "open"
        and flag.rule in settings.rules
        and flag.due <= now + settings.horizon
        and (flag.expires is None or flag.expires >= now)
        and (flag.snoozed_until is None or flag.snoozed_until <= now)
    )


def _flag_live(flag: Flag | None, at: int, now: int) -> bool:
    """Whether ``flag`` still asks for the event at ``at``."""
    if flag is None or flag.status != "open":
        return False
    if flag.expires is not None and flag.expires < now:
        return False
    return not (flag.snoozed_until is not None and flag.snoozed_until > at)


def _closure(flags: Iterable[Flag | None]) -> str:
    """Why none of ``flags`` asks for the event any more, in words."""
    flags = list(flags)
    for f in flags:
        if f is not None and f.status != "open":
            if f.resolution == "user":
                return f"you marked it {f.status}"
            return _CLOSURES.get(f.resolution or "", f"closed ({f.resolution})")
    if any(f is not None for f in flags):
        return "snoozed"
    return "the flag went away"


# -- the decision ------------------------------------------------------------------------


def _user_choices(
    placed: Sequence[Placed], settings: PlannerSettings, now: int, steps: list[Step]
) -> list[tuple[FollowUp, Placed]]:
    """Step 1; returns each row as it stands afterwards (copies), with its inputs."""
    rows = []
    for p in placed:
        fu = replace(p.followup, covers=list(p.followup.covers))
        if p.checked and fu.state in ("placed", "moved") and fu.end > now:
            if p.remote is None:
                steps.append(UserDeleted(fu.key))
                fu.state, fu.reason = "deleted", DELETED
            elif (p.remote.start, p.remote.end) != (fu.start, fu.end):
                week = week_of(p.remote.start, settings.hours.tz)
                steps.append(UserMoved(fu.key, p.remote.start, p.remote.end, week))
                fu.state, fu.reason = "moved", "moved"
                fu.start, fu.end, fu.week = p.remote.start, p.remote.end, week
        rows.append((fu, p))
    return rows


def _withdrawals(
    rows: list[tuple[FollowUp, Placed]],
    touched: Mapping[int, int | None],
    now: int,
    steps: list[Step],
) -> None:
    """Step 2, updating the rows' states."""
    for fu, p in sorted(rows, key=lambda r: (r[0].start, r[0].key)):
        if fu.state not in ACTIVE or fu.end <= now:
            continue  # gone already, or history
        latest = touched.get(fu.person_id)
        if latest is not None and latest > (fu.created if fu.basis is None else fu.basis):
            why = TOUCHED
        elif any(_flag_live(f, fu.start, now) for f in p.flags):
            steps.append(KeepFollowUp(fu.key))
            continue
        else:
            why = _closure(p.flags)
        cancel = fu.state == "planned" and p.create_pending
        steps.append(WithdrawFollowUp(fu.key, fu.target, fu.remote_ref, why, cancel))
        fu.state, fu.reason = ("withdrawn" if cancel else "withdrawing"), why


def _new_key(flag_id: str, taken: set[str]) -> str:
    key, n = flag_id, 1
    while key in taken:
        n += 1
        key = f"{flag_id}~{n}"
    taken.add(key)
    return key


def _ranked(
    flags: Iterable[Flag], people: Mapping[int, Mapping[str, Any]], now: int
) -> list[list[Flag]]:
    """The flags grouped by person, each group and the groups by priority."""

    flags = list(flags)
    # priority() of every flag, in one loop
    tiers = ((f.rule, people.get(f.person_id, NOBODY)["tier"], f.due) for f in flags)
    value = dict(zip((f.id for f in flags), values_of(tiers, now), strict=True))

    def rank(f: Flag) -> tuple[float, int, str]:
        return (-value[f.id], f.due, f.id)

    by_person: dict[int, list[Flag]] = defaultdict(list)
    for f in sorted(flags, key=lambda f: (f.due, f.id)):
        by_person[f.person_id].append(f)
    groups = [sorted(group, key=rank) for group in by_person.values()]
    return sorted(groups, key=lambda group: rank(group[0]))


def _slot(
    settings: PlannerSettings,
    free: Busy,
    earliest: int,
    latest: int,
    day_ok: Callable[[date], bool],
    per_day: Mapping[date, int],
) -> tuple[int, int] | None:
    """The slot of one follow-up: on the least-filled allowed day (the earliest of those),
    as near the preferred time as is free."""
    hours = settings.hours
    days = sorted(free_days(hours, earliest, latest, day_ok), key=lambda d: (per_day.get(d, 0), d))
    for day in days:
        slot = nearest_slot(
            hours, free, day, settings.preferred, earliest, latest, settings.length, settings.step
        )
        if slot is not None:
            return slot
    return None


def decide(
    flags: Iterable[Flag],
    busy: Iterable[tuple[int, int]],
    placed: Sequence[Placed],
    settings: PlannerSettings,
    now: int,
    *,
    people: Mapping[int, Mapping[str, Any]],
    touched: Mapping[int, int | None],
    taken: Collection[str] = (),
) -> list[Step]:
    """The steps of one planning run as of ``now`` (see the module docstring).

    ``flags``: the open flags (others are ignored); ``busy``: busy intervals
    ``[s, e)`` from ``now`` to the horizon; ``placed``: the target's follow-ups
    in the ledger; ``people``: name, ``emails`` and ``tier`` by person id (as
    :func:`syncd.followup.gather.people_info` returns); ``touched``: each
    person's latest touch at or before ``now``; ``taken``: every key in the
    ledger (a new follow-up gets a fresh one).
    """
    steps: list[Step] = []
    rows = _user_choices(placed, settings, now, steps)
    _withdrawals(rows, touched, now, steps)

    hours, tz = settings.hours, settings.hours.tz
    covered: set[str] = set()
    busy_people: set[int] = set()
    per_week: dict[str, int] = defaultdict(int)
    per_day: dict[date, int] = defaultdict(int)
    intervals = list(busy)
    for fu, _ in rows:
        if not (fu.state == "withdrawn" and fu.reason == "snoozed"):
            covered.update(fu.covers)
        if fu.state in ACTIVE and fu.end > now:
            busy_people.add(fu.person_id)
            intervals.append((fu.start, fu.end))  # a create may not have run yet
        if fu.state == "withdrawing" and (fu.start, fu.end) in intervals:
            intervals.remove((fu.start, fu.end))  # its removal runs before any new create
        if fu.state in COUNTED:
            per_week[fu.week] += 1
            per_day[hours.local_day(fu.start)] += 1
    candidates = [
        f
        for f in flags
        if wanted(f, settings, now) and f.id not in covered and f.person_id not in busy_people
    ]
    if not candidates:
        return steps

    def day_ok(day: date) -> bool:
        if per_day[day] >= settings.per_day:
            return False
        year, week, _ = day.isocalendar()
        return per_week[f"{year}-W{week:02d}"] < settings.per_week

    free = Busy(intervals)
    keys = set(taken)
    horizon_end = now + settings.horizon
    open_days: list[date] | None = None  # the allowed days left in the horizon
    for group in _ranked(candidates, people, now):
        first = group[0]
        if open_days is None:
            open_days = free_days(hours, now, horizon_end, day_ok)
        if not open_days:  # the caps fill every day: a group's own days are fewer still
            steps.append(Wait(first.id))
            continue
        latest = horizon_end if first.expires is None else min(horizon_end, first.expires)
        slot = _slot(settings, free, max(now, first.due), latest, day_ok, per_day)
        if slot is None:
            steps.append(Wait(first.id))
            continue
        start, end = slot
        who = dict(people.get(first.person_id, NOBODY))
        steps.append(
            PlaceFollowUp(
                key=_new_key(first.id, keys),
                flag_id=first.id,
                person_id=first.person_id,
                covers=tuple(f.id for f in group),
                target=settings.target,
                start=start,
                end=end,
                week=week_of(start, tz),
                title=title_for(first, who, now, tz),
                description=description_for(group, who, now, tz),
                timezone=tz.key,
                basis=touched.get(first.person_id),
                created=now,
            )
        )
        free.add(start, end)
        per_week[week_of(start, tz)] += 1
        per_day[hours.local_day(start)] += 1
        open_days = None
    return steps
