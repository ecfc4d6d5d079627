"""The planner: placement (free slots, working hours, the weekly cap), removal on touch,
and the user's deletions and moves standing. Flags are stored directly; the calendar is
a real .ics file written through the outbox."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.icsfile import KEY_PROPERTY, IcsFileWriter
from syncd.config.schema import Config
from syncd.core.errors import ConfigError
from syncd.core.home import Home
from syncd.followup.outbox import drain_outbox
from syncd.followup.planner import PlannerSettings, followups, parse_settings, plan_followups
from syncd.followup.slots import Busy, WorkingHours, find_slot, parse_hours, week_of
from syncd.pipeline.ingest import insert_touchpoints
from syncd.store.db import open_db

TZ = ZoneInfo("Europe/London")
DAY = 86400
# Monday 1 June 2026, 07:30 London time
NOW = int(datetime(2026, 6, 1, 7, 30, tzinfo=TZ).timestamp())


def at(day: date, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm), TZ).timestamp())


MON = date(2026, 6, 1)


class Env:
    """A home with a store, a planner config and the follow-up calendar."""

    def __init__(self, root: Path, **planner):
        self.home = Home(root)
        self.home.ensure()
        self.db = open_db(self.home.db_path)
        self.ics = root / "followups.ics"
        table = {"calendar": "followups.ics", **planner}
        self.config = Config(timezone="Europe/London", raw={"planner": table})
        self.settings = PlannerSettings.from_config(self.config, self.home)
        self.writer = IcsFileWriter(self.ics, TZ)

    def person(self, pid: int, name: str, tier: str = "active") -> None:
        with self.db.atomic():
            self.db.execute("INSERT INTO people(id, name) VALUES (?, ?)", [pid, name])
            self.db.execute(
                "INSERT INTO rules_people(person_id, n_in, n_out, n_meet, given, received, tier,"
                " last_touch) VALUES (?, 1, 1, 0, 1, 1, ?, ?)",
                [pid, tier, NOW - 100 * DAY],
            )

    def dormant(self, pid: int, due: int, tier: str = "active") -> str:
        last = due - 90 * DAY
        facts = {"tier": tier, "pinned": False, "cadence_days": 90, "last_touch": last}
        fid = f"dormant:{pid}:{last}"
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO flags(id, rule, person_id, cycle, due, facts, first_seen, updated)"
                " VALUES (?, 'dormant', ?, ?, ?, ?, ?, ?)",
                [fid, pid, str(last), due, json.dumps(facts), due, due],
            )
        return fid

    def run(self, now: int = NOW):
        report = plan_followups(self.db, self.home, self.config, now, settings=self.settings)
        stats = drain_outbox(self.db, self.home, self.config, now)
        assert stats.dead == 0 and stats.retrying == 0, stats.errors
        return report

    def events(self) -> dict[str, tuple[int, int, str]]:
        """key -> (start, end, summary) of the syncd events in the file (keys unique)."""
        cal = icalendar.Calendar.from_ical(self.ics.read_bytes())
        out: dict[str, tuple[int, int, str]] = {}
        for ev in cal.walk("VEVENT"):
            if KEY_PROPERTY not in ev:
                continue
            key = str(ev[KEY_PROPERTY])
            assert key not in out, f"duplicate event for {key}"
            out[key] = (
                int(ev.decoded("DTSTART").timestamp()),
                int(ev.decoded("DTEND").timestamp()),
                str(ev["SUMMARY"]),
            )
        return out

    def add_user_event(self, start: int, end: int, uid: str, summary: str = "Busy") -> None:
        cal = (
            icalendar.Calendar.from_ical(self.ics.read_bytes())
            if self.ics.exists()
            else icalendar.Calendar()
        )
        if not self.ics.exists():
            cal.add("VERSION", "2.0")
            cal.add("PRODID", "-//test//EN")
        ev = icalendar.Event()
        ev.add("UID", uid)
        ev.add("DTSTAMP", datetime(2026, 1, 1, tzinfo=UTC))
        ev.add("DTSTART", datetime.fromtimestamp(start, UTC))
        ev.add("DTEND", datetime.fromtimestamp(end, UTC))
        ev.add("SUMMARY", summary)
        cal.add_component(ev)
        self.ics.write_bytes(cal.to_ical())

    def edit_event(self, key: str, change) -> None:
        cal = icalendar.Calendar.from_ical(self.ics.read_bytes())
        keep = []
        for comp in cal.subcomponents:
            if comp.name == "VEVENT" and str(comp.get(KEY_PROPERTY, "")) == key:
                comp = change(comp)
                if comp is None:
                    continue
            keep.append(comp)
        cal.subcomponents = keep
        self.ics.write_bytes(cal.to_ical())


# -- free slots ------------------------------------------------------------------------------

HOURS = WorkingHours(frozenset(range(5)), *parse_hours("09:00-17:00"), TZ)


def test_find_slot_skips_busy_time_and_keeps_to_working_hours():
    busy = Busy([(at(MON, 9), at(MON, 10, 30)), (at(MON, 10, 40), at(MON, 17))])
    # Monday is full from 10:40; 10:30-10:40 is too short for 15 minutes: Tuesday 09:00
    assert find_slot(HOURS, busy, NOW, NOW + 7 * DAY, 900) == (
        at(MON + timedelta(1), 9),
        at(MON + timedelta(1), 9, 15),
    )
    # a 10-minute slot fits exactly between the two meetings
    assert find_slot(HOURS, busy, NOW, NOW + 7 * DAY, 600, step=600) == (
        at(MON, 10, 30),
        at(MON, 10, 40),
    )
    # starts after `earliest`, on the 15-minute grid
    assert find_slot(HOURS, Busy(), at(MON, 11, 7), NOW + DAY, 900)[0] == at(MON, 11, 15)
    # Friday 16:50 -> the next working day is Monday
    fri = MON + timedelta(4)
    assert find_slot(HOURS, Busy(), at(fri, 16, 50), at(fri, 16, 50) + 7 * DAY, 900)[0] == at(
        fri + timedelta(3), 9
    )
    # nothing before `latest`
    assert find_slot(HOURS, busy, NOW, at(MON, 17), 900) is None


def test_working_hours_follow_the_local_clock_across_dst():
    # Europe/London moves to BST on Sunday 29 March 2026: 09:00 local is 09:00 UTC
    # on Friday 27 March and 08:00 UTC on Monday 30 March.
    fri, mon = date(2026, 3, 27), date(2026, 3, 30)
    slot1 = find_slot(HOURS, Busy(), at(fri, 17), at(fri, 17) + 7 * DAY, 900)
    assert datetime.fromtimestamp(slot1[0], UTC).hour == 8
    assert datetime.fromtimestamp(slot1[0], TZ).date() == mon
    slot0 = find_slot(HOURS, Busy(), at(fri, 8), at(fri, 8) + DAY, 900)
    assert datetime.fromtimestamp(slot0[0], UTC).hour == 9
    assert week_of(at(mon, 9), TZ) == "2026-W14"


@settings(max_examples=150, deadline=None)
@given(
    busy=st.lists(
        st.tuples(st.integers(0, 14 * 96), st.integers(1, 40)).map(
            lambda t: (NOW + t[0] * 900, NOW + (t[0] + t[1]) * 900)
        ),
        max_size=30,
    ),
    offset=st.integers(0, 7 * 96),
    length=st.sampled_from([600, 900, 1800, 3600]),
)
def test_find_slot_properties(busy, offset, length):
    earliest = NOW + offset * 900 + 7
    slot = find_slot(HOURS, Busy(busy), earliest, earliest + 14 * DAY, length)
    if slot is None:
        return
    s, e = slot
    assert e - s == length and s >= earliest
    assert HOURS.contains(s, e)
    assert all(e <= b0 or s >= b1 for b0, b1 in busy)


def test_settings_report_every_problem(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_settings(
            {
                "calendar": "x.ics",
                "days": ["mon", "funday"],
                "hours": "17:00-09:00",
                "per_week": -1,
                "colour": "red",
            },
            "Europe/London",
            tmp_path,
        )
    text = str(err.value)
    for word in ("funday", "hours", "per_week", "colour"):
        assert word in text
    s = parse_settings({"calendar": "x.ics", "per_week": 6}, "Europe/London", tmp_path)
    assert s.enabled and s.target == f"ics:{tmp_path / 'x.ics'}" and s.per_day == 2
    assert not parse_settings({}, "UTC", tmp_path).enabled


# -- placement ---------------------------------------------------------------------------------


def test_placement_respects_busy_time_hours_and_the_weekly_cap(tmp_path):
    env = Env(tmp_path, horizon_days=21, per_day=3)
    for pid in range(1, 31):
        env.person(pid, f"Person {pid}", "core" if pid <= 3 else "active")
        env.dormant(pid, NOW - pid * DAY)
    # a flag due next Wednesday afternoon must not be placed before then
    env.person(40, "Late Flag")
    late_due = at(MON + timedelta(9), 14, 20)
    late = env.dormant(40, late_due)
    # the user's own events in the target calendar: every morning 09:00-10:30
    for d in range(21):
        day = MON + timedelta(d)
        env.add_user_event(at(day, 9), at(day, 10, 30), f"standup-{d}@test")
    # and an imported meeting (events table) on Monday 10:30-12:00
    aid = env.db.execute("INSERT INTO accounts(name, kind) VALUES ('local', 'local')").lastrowid
    env.db.execute(
        "INSERT INTO events(key, account_id, scope, content_hash, version, start, end, status,"
        " attendees) VALUES ('m1', ?, 's', 'h', '0', ?, ?, 'CONFIRMED', '[]')",
        [aid, at(MON, 10, 30), at(MON, 12)],
    )
    busy = [(at(MON + timedelta(d), 9), at(MON + timedelta(d), 10, 30)) for d in range(21)]
    busy.append((at(MON, 10, 30), at(MON, 12)))

    report = env.run()
    events = env.events()
    assert len(events) == len(report.placed) == 15  # 5 a week for three weeks
    weeks = Counter(week_of(s, TZ) for s, _, _ in events.values())
    assert weeks == {"2026-W23": 5, "2026-W24": 5, "2026-W25": 5}
    for key, (s, e, _summary) in events.items():
        assert e - s == 15 * 60
        assert HOURS.contains(s, e), datetime.fromtimestamp(s, TZ)
        assert all(e <= b0 or s >= b1 for b0, b1 in busy), (key, datetime.fromtimestamp(s, TZ))
        assert s >= NOW
    # the first follow-up of Monday comes after both busy blocks
    assert min(s for s, _, _ in events.values()) == at(MON, 12)
    # core people first; each title says who and why
    first = min(events.values())
    assert first[2].startswith("Reconnect with Person ") and int(first[2].split()[3]) <= 3
    assert re.search(r"silent for \d+ days$", first[2])  # whole days, no arithmetic
    if late in events:
        assert events[late][0] >= late_due
    # the user's events are untouched
    cal = icalendar.Calendar.from_ical(env.ics.read_bytes())
    assert sum(1 for ev in cal.walk("VEVENT") if KEY_PROPERTY not in ev) == 21

    # a second run changes nothing
    before = env.ics.read_bytes()
    again = env.run()
    assert not again.placed and env.ics.read_bytes() == before
    assert len(again.waiting) > 0


def test_one_event_per_person_covers_all_their_flags(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - 7 * DAY)
    facts = {
        "tier": "active",
        "min_touches": 3,
        "window_days": 365,
        "recent": [NOW - 200 * DAY],
        "first_touch": NOW - 400 * DAY,
    }
    env.db.execute(
        "INSERT INTO flags(id, rule, person_id, cycle, due, facts, first_seen, updated)"
        " VALUES ('three_touches:1:x', 'three_touches', 1, 'x', ?, ?, ?, ?)",
        [NOW - DAY, json.dumps(facts), NOW, NOW],
    )
    env.run()
    events = env.events()
    assert list(events) == [a]
    (fu,) = followups(env.db)
    assert sorted(fu.covers) == sorted([a, "three_touches:1:x"])
    assert "Ana Ruiz" in events[a][2]


# -- removal and the user's choices -------------------------------------------------------------


def test_event_is_removed_when_the_person_is_touched_first(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    env.person(2, "Ben Ode")
    a = env.dormant(1, NOW - 10 * DAY)
    b = env.dormant(2, NOW - 5 * DAY)
    env.run()
    assert set(env.events()) == {a, b}
    # a touch arrived: the rules engine closed Ana's flag
    env.db.execute(
        "UPDATE flags SET status = 'done', resolution = 'touch', resolved_at = ? WHERE id = ?",
        [NOW + 3600, a],
    )
    report = env.run(NOW + 3600)
    assert report.withdrawn == [a]
    assert set(env.events()) == {b}
    state = {f.key: (f.state, f.reason) for f in followups(env.db)}
    assert state[a] == ("withdrawn", "you were in touch")
    # no re-creation for that cycle, and nothing else moves
    assert not env.run(NOW + 7200).placed
    assert set(env.events()) == {b}


def test_past_events_stay_when_the_flag_closes_later(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - DAY)
    env.run()
    start, _, _ = env.events()[a]
    env.db.execute("UPDATE flags SET status = 'done', resolution = 'touch' WHERE id = ?", [a])
    env.run(start + 2 * 3600)
    assert a in env.events()


def test_a_pending_create_is_cancelled_not_written(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - DAY)
    plan_followups(env.db, env.home, env.config, NOW, settings=env.settings)  # no drain
    env.db.execute("UPDATE flags SET status = 'dismissed', resolution = 'user' WHERE id = ?", [a])
    report = env.run(NOW + 60)
    assert report.withdrawn == [a]
    assert not env.ics.exists() or env.events() == {}
    (fu,) = followups(env.db)
    assert fu.state == "withdrawn" and fu.reason == "you marked it dismissed"


def test_an_event_the_user_deleted_stays_deleted(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    env.person(2, "Ben Ode")
    a = env.dormant(1, NOW - 10 * DAY)
    env.run()
    assert set(env.events()) == {a}
    env.edit_event(a, lambda ev: None)  # the user deletes it
    report = env.run(NOW + 600)
    assert report.user_deleted == [a]
    assert env.events() == {}
    # later runs do not bring it back, but a new flag of someone else is planned
    b = env.dormant(2, NOW)
    report = env.run(NOW + 1200)
    assert [f.key for f in report.placed] == [b]
    assert set(env.events()) == {b}
    states = {f.key: f.state for f in followups(env.db)}
    assert states == {a: "deleted", b: "placed"}


def test_an_event_the_user_moved_keeps_its_new_time(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - 10 * DAY)
    env.run()
    new_start = at(MON + timedelta(2), 16)

    def move(ev):
        ev["DTSTART"] = icalendar.vDDDTypes(datetime.fromtimestamp(new_start, TZ))
        ev["DTEND"] = icalendar.vDDDTypes(datetime.fromtimestamp(new_start + 1800, TZ))
        return ev

    env.edit_event(a, move)
    report = env.run(NOW + 600)
    assert report.user_moved == [a] and not report.placed
    assert env.events()[a][:2] == (new_start, new_start + 1800)
    (fu,) = followups(env.db)
    assert (fu.state, fu.start, fu.end) == ("moved", new_start, new_start + 1800)
    assert not env.run(NOW + 1200).user_moved  # recorded once; nothing changes
    assert env.events()[a][:2] == (new_start, new_start + 1800)


def test_snoozing_past_the_event_withdraws_it_and_it_returns_later(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - 10 * DAY)
    env.run()
    until = NOW + 10 * DAY
    env.db.execute("UPDATE flags SET snoozed_until = ? WHERE id = ?", [until, a])
    assert env.run(NOW + 60).withdrawn == [a]
    assert env.events() == {}
    report = env.run(until + 60)
    assert [f.key for f in report.placed] == [f"{a}~2"]
    (start, _, _) = env.events()[f"{a}~2"]
    assert start >= until


def test_any_touch_after_planning_removes_the_event_even_with_flags_left_open(tmp_path):
    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    a = env.dormant(1, NOW - 10 * DAY)
    facts = {
        "anchor": NOW - 90 * DAY,
        "origin": "meeting",
        "step": 90,
        "index": 3,
        "steps": 3,
        "window_start": NOW - 90 * DAY,
    }
    env.db.execute(
        "INSERT INTO flags(id, rule, person_id, cycle, due, facts, first_seen, updated)"
        " VALUES ('nurture:1:x', 'nurture', 1, 'x', ?, ?, ?, ?)",
        [NOW - DAY, json.dumps(facts), NOW, NOW],
    )
    with env.db.atomic():
        env.db.execute(
            "INSERT INTO addresses(address, match_key, person_id) VALUES ('ana@x.example',"
            " 'ana@x.example', 1)"
        )
        insert_touchpoints(env.db, [("email_in", 1, "ana@x.example", NOW - 100 * DAY, None)])
    env.run()
    assert set(env.events()) == {a}
    # a meeting with Ana happened (the flags are not re-evaluated yet)
    insert_touchpoints(env.db, [("meeting", 2, "ana@x.example", NOW + 600, None)])
    report = env.run(NOW + 1200)
    assert report.withdrawn == [a] and env.events() == {}
    assert followups(env.db)[0].reason == "you were in touch"
    assert not env.run(NOW + 1800).placed  # the open nurture flag is covered: no new event
