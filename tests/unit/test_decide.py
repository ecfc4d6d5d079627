"""The planner's decision as a pure function: plain flags, people, busy time and ledger rows
in, typed steps out -- no store, no calendar."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from connectors.base import RemoteEvent
from rules.flags import Flag
from syncd.followup.decide import (
    KeepFollowUp,
    Placed,
    PlaceFollowUp,
    UserDeleted,
    UserMoved,
    Wait,
    WithdrawFollowUp,
    decide,
)
from syncd.followup.ledger import FollowUp
from syncd.followup.settings import PlannerSettings
from syncd.followup.slots import WorkingHours, parse_hours, week_of

TZ = ZoneInfo("Europe/London")
DAY = 86400
MON = date(2026, 6, 1)
NOW = int(datetime(2026, 6, 1, 7, 30, tzinfo=TZ).timestamp())  # Monday 07:30 London
TARGET = "ics:/cal/followups.ics"
HOURS = WorkingHours(frozenset(range(5)), *parse_hours("09:00-17:00"), TZ)
SETTINGS = PlannerSettings(
    enabled=True, target=TARGET, hours=HOURS, per_week=5, per_day=1, horizon=7 * DAY
)


def at(day: date, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm), TZ).timestamp())


def dormant(pid: int, due: int, **changes) -> Flag:
    last = due - 90 * DAY
    facts = {"tier": "active", "pinned": False, "cadence_days": 90, "last_touch": last}
    flag = Flag(
        id=f"dormant:{pid}:{last}",
        rule="dormant",
        person_id=pid,
        cycle=str(last),
        due=due,
        expires=None,
        facts=facts,
        status="open",
        snoozed_until=None,
        resolution=None,
        resolved_at=None,
        first_seen=due,
        updated=due,
    )
    return replace(flag, **changes)


def person(pid: int, tier: str = "active") -> dict:
    return {"name": f"Person {pid}", "emails": [f"p{pid}@x.example"], "tier": tier}


def row(flag: Flag, start: int, state: str = "placed", **changes) -> FollowUp:
    fu = FollowUp(
        key=flag.id,
        flag_id=flag.id,
        person_id=flag.person_id,
        covers=[flag.id],
        target=TARGET,
        start=start,
        end=start + 900,
        week=week_of(start, TZ),
        title="Reconnect",
        state=state,
        remote_ref=f"uid-{flag.id}",
        reason=None,
        created=NOW - DAY,
        updated=NOW - DAY,
        basis=NOW - 100 * DAY,
    )
    return replace(fu, **changes)


def run(flags, placed=(), busy=(), settings=SETTINGS, now=NOW, touched=None, taken=()):
    people = {f.person_id: person(f.person_id) for f in flags}
    return decide(
        flags,
        busy,
        list(placed),
        settings,
        now,
        people=people,
        touched=touched or {},
        taken=taken,
    )


def of(steps, kind):
    return [s for s in steps if isinstance(s, kind)]


def test_at_most_per_week_a_week_and_per_day_a_day():
    settings = replace(SETTINGS, horizon=21 * DAY, per_week=5, per_day=2)
    flags = [dormant(pid, NOW - pid * DAY) for pid in range(1, 31)]
    steps = run(flags, settings=settings)
    placed = of(steps, PlaceFollowUp)
    assert Counter(p.week for p in placed) == {"2026-W23": 5, "2026-W24": 5, "2026-W25": 5}
    assert max(Counter(HOURS.local_day(p.start) for p in placed).values()) <= 2
    assert len(of(steps, Wait)) == 30 - 15
    # one follow-up per person, each with a fresh key and the create payload
    assert len({p.person_id for p in placed}) == len({p.key for p in placed}) == 15
    first = placed[0]
    assert first.payload()["flags"] == [first.flag_id] and first.payload()["timezone"] == TZ.key
    assert first.title.startswith("Reconnect with Person ")


def test_slots_avoid_busy_time_keep_to_working_hours_and_wait_for_the_due_date():
    busy = [(at(MON + timedelta(d), 9), at(MON + timedelta(d), 12)) for d in range(7)]
    late_due = at(MON + timedelta(2), 14, 20)
    flags = [dormant(1, NOW - DAY), dormant(2, late_due)]
    steps = run(flags, busy=busy, settings=replace(SETTINGS, per_day=5))
    placed = {p.person_id: p for p in of(steps, PlaceFollowUp)}
    assert placed[1].start == at(MON, 12)  # the first free working minute on Monday
    assert placed[2].start == at(MON + timedelta(2), 14, 30)  # on the grid after the due time
    for p in placed.values():
        assert HOURS.contains(p.start, p.end) and p.end - p.start == SETTINGS.length
        assert all(p.end <= b0 or p.start >= b1 for b0, b1 in busy)
    # two follow-ups of one run never overlap each other either
    one_day = [(at(MON, 9), at(MON, 17))]
    steps = run([dormant(3, NOW), dormant(4, NOW)], busy=one_day, settings=SETTINGS)
    starts = sorted(p.start for p in of(steps, PlaceFollowUp))
    # per_day = 1, each at the preferred time (10:00)
    assert starts == [at(MON + timedelta(1), 10), at(MON + timedelta(2), 10)]


def test_a_flag_already_placed_is_kept_not_duplicated():
    flag = dormant(1, NOW - DAY)
    fu = row(flag, at(MON, 10))
    remote = RemoteEvent(fu.remote_ref or "", fu.start, fu.end)
    steps = run([flag], [Placed(fu, checked=True, remote=remote, flags=(flag,))], taken={fu.key})
    assert steps == [KeepFollowUp(flag.id)]
    # another open flag of the same person waits for that event rather than a second one
    other = dormant(1, NOW - 2 * DAY, id="three_touches:1:x", rule="three_touches")
    steps = run([flag, other], [Placed(fu, checked=True, remote=remote, flags=(flag,))])
    assert steps == [KeepFollowUp(flag.id)]


def test_a_flag_no_longer_open_withdraws_its_follow_up():
    flag = dormant(1, NOW - DAY)
    done = replace(flag, status="done", resolution="user")
    fu = row(flag, at(MON, 10))
    remote = RemoteEvent(fu.remote_ref or "", fu.start, fu.end)
    steps = run([], [Placed(fu, checked=True, remote=remote, flags=(done,))])
    assert steps == [WithdrawFollowUp(fu.key, TARGET, fu.remote_ref, "you marked it done")]
    # a create still waiting in the outbox is cancelled instead of removed
    planned = row(flag, at(MON, 10), state="planned", remote_ref=None)
    gone = Placed(planned, flags=(None,), create_pending=True)
    (step,) = run([], [gone])
    assert step == WithdrawFollowUp(fu.key, TARGET, None, "the flag went away", True)
    # a touch after planning withdraws it even with the flag still open
    steps = run([flag], [Placed(fu, checked=True, remote=remote, flags=(flag,))], touched={1: NOW})
    assert of(steps, WithdrawFollowUp)[0].reason == "you were in touch"
    assert not of(steps, PlaceFollowUp)  # the flag stays covered: no new event


def test_a_follow_up_the_user_deleted_is_left_alone():
    flag = dormant(1, NOW - DAY)
    fu = row(flag, at(MON, 10))
    steps = run([flag], [Placed(fu, checked=True, remote=None, flags=(flag,))])
    assert steps == [UserDeleted(fu.key)]  # recorded once, never re-created
    deleted = replace(fu, state="deleted", reason="deleted in the calendar")
    assert run([flag], [Placed(deleted)]) == []
    # the deleted one still takes its place in the week's cap
    settings = replace(SETTINGS, per_week=1)
    assert of(run([dormant(2, NOW)], [Placed(deleted)], settings=settings), Wait)


def test_a_follow_up_the_user_moved_keeps_its_new_time():
    flag = dormant(1, NOW - DAY)
    fu = row(flag, at(MON, 10))
    new = at(MON + timedelta(8), 16)  # next week
    remote = RemoteEvent(fu.remote_ref or "", new, new + 1800)
    steps = run([flag], [Placed(fu, checked=True, remote=remote, flags=(flag,))])
    assert steps == [UserMoved(fu.key, new, new + 1800, "2026-W24"), KeepFollowUp(fu.key)]
    # this week's place is free again; next week's is taken by the moved event
    settings = replace(SETTINGS, per_week=1, horizon=14 * DAY)
    later = dormant(2, NOW)
    steps = run(
        [flag, later], [Placed(fu, checked=True, remote=remote, flags=(flag,))], settings=settings
    )
    (placed,) = of(steps, PlaceFollowUp)
    assert placed.week == "2026-W23"


def test_past_follow_ups_are_history():
    flag = dormant(1, NOW - 10 * DAY)
    past = row(flag, NOW - 2 * DAY)
    done = replace(flag, status="done", resolution="touch")
    assert run([], [Placed(past, flags=(done,))], touched={1: NOW}) == []


def test_a_snoozed_flag_comes_back_under_a_new_key():
    flag = dormant(1, NOW - 10 * DAY)
    fu = row(flag, NOW - 5 * DAY, state="withdrawn", reason="snoozed")
    steps = run([flag], [Placed(fu)], taken={fu.key})
    (placed,) = of(steps, PlaceFollowUp)
    assert placed.key == f"{flag.id}~2" and placed.covers == (flag.id,)
    # snoozed past now: not wanted yet
    snoozed = replace(flag, snoozed_until=NOW + DAY)
    assert run([snoozed], [Placed(fu)], taken={fu.key}) == []
