"""Follow-up events a person reads (issue 12, item 6): who, why and what to do in plain
words with the last touch's subject and date; the user's time zone and preferred time of
day; spread over the week; a withdrawn follow-up's place refilled."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.icsfile import KEY_PROPERTY
from rules.flags import Flag
from syncd.core.errors import ConfigError
from syncd.followup.decide import Placed, PlaceFollowUp, Wait, WithdrawFollowUp, decide
from syncd.followup.ledger import FollowUp
from syncd.followup.planner import parse_settings
from syncd.followup.settings import PlannerSettings
from syncd.followup.slots import WorkingHours, parse_hours, week_of
from syncd.followup.texts import LastTouch, description_for, title_for
from tests.unit.test_planner import Env

TZ = ZoneInfo("Europe/London")
DAY = 86400
MON = date(2026, 6, 1)
NOW = int(datetime(2026, 6, 1, 7, 30, tzinfo=TZ).timestamp())  # Monday 07:30 London
TARGET = "ics:/cal/followups.ics"
HOURS = WorkingHours(frozenset(range(5)), *parse_hours("09:00-17:00"), TZ)
SETTINGS = PlannerSettings(
    enabled=True, target=TARGET, hours=HOURS, per_week=5, per_day=1, horizon=7 * DAY
)
ARITHMETIC = re.compile(r"\d+\.\d+|>=|<=|=|\+ \d+ days|cadence|tier\b")


def at(day: date, hh: int, mm: int = 0) -> int:
    return int(datetime.combine(day, time(hh, mm), TZ).timestamp())


def flag(rule: str, pid: int, due: int, facts: dict, cycle: str = "c") -> Flag:
    return Flag(
        id=f"{rule}:{pid}:{cycle}",
        rule=rule,
        person_id=pid,
        cycle=cycle,
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


def dormant(pid: int, due: int) -> Flag:
    facts = {"tier": "active", "pinned": False, "cadence_days": 90, "last_touch": due - 90 * DAY}
    return flag("dormant", pid, due, facts, str(due - 90 * DAY))


def who(pid: int, last: LastTouch | None = None) -> dict:
    return {
        "name": f"Person {pid}",
        "emails": [f"p{pid}@x.example"],
        "tier": "active",
        "last": last,
    }


def run(flags, placed=(), busy=(), settings=SETTINGS, now=NOW, touched=None):
    people = {f.person_id: who(f.person_id) for f in flags}
    return decide(flags, busy, list(placed), settings, now, people=people, touched=touched or {})


def of(steps, kind):
    return [s for s in steps if isinstance(s, kind)]


# -- the words -------------------------------------------------------------------------------


def test_a_dormant_tie_reads_as_who_why_and_what_with_the_last_touch():
    last_at = at(MON - timedelta(days=100), 15, 40)  # Sat 21 Feb 2026
    f = dormant(7, last_at + 90 * DAY)
    f = replace(f, facts={**f.facts, "last_touch": last_at, "tier": "core", "cadence_days": 30})
    person = {
        "name": "Ana Ruiz",
        "emails": ["ana@acme.example"],
        "tier": "core",
        "last": LastTouch(last_at, "email_out", "Re: the Q3 plan"),
    }
    title = title_for(f, person, NOW, TZ)
    assert title == "Reconnect with Ana Ruiz — silent for 100 days"
    text = description_for([f], person, NOW, TZ)
    why, what = text.split("\n")[:2]
    assert why == (
        "Silent for 100 days, more than the 30 days you aim for with your closest contacts;"
        " your last contact was your email “Re: the Q3 plan” on Sat 21 Feb 2026."
    )
    assert what == "Send Ana a short note or suggest a call."
    assert "Ana Ruiz <ana@acme.example>" in text and "syncd done ana@acme.example" in text
    for words in (title, text):
        assert f.id not in words and "dormant" not in words  # the key stays in the UID
        assert not ARITHMETIC.search(words), words


def test_every_rule_has_plain_words_and_whole_days():
    now = NOW
    received = now - int(29.7 * DAY)
    flags = [
        flag("unanswered", 1, received + 3 * DAY, {"subject": "Budget?", "received": received}),
        flag(
            "reactivate",
            2,
            now - DAY,
            {"exchanges": 42, "last_touch": now - int(239.7 * DAY), "tier": "core"},
        ),
        flag("meeting_follow_up", 3, now - DAY, {"title": "Kick-off", "end": now - 3 * DAY}),
        flag(
            "nurture",
            4,
            now - DAY,
            {"origin": "first meeting", "anchor": now - 15 * DAY, "step": 14},
        ),
        flag(
            "three_touches",
            5,
            now - DAY,
            {"window_days": 365, "min_touches": 3, "recent": [now - 200 * DAY]},
        ),
        flag(
            "reciprocity",
            6,
            now - DAY,
            {"threads": 10, "mine": 1, "direction": "they_start"},
        ),
    ]
    expected = {
        "unanswered": "has waited 30 days for your reply",  # 6 May -> 1 Jun, whole days
        "reactivate": "silent for 240 days",
        "meeting_follow_up": "You met at “Kick-off”",
        "nurture": "your first meeting was on",
        "three_touches": "Only 1 contact in the last 365 days",
        "reciprocity": "They started 9 of your last 10 conversations",
    }
    for f in flags:
        person = who(f.person_id)
        title, text = title_for(f, person, now, TZ), description_for([f], person, now, TZ)
        assert expected[f.rule] in text, (f.rule, text)
        for words in (title, text):
            assert f.rule not in words and f.id not in words, words
            assert not re.search(r"\d+\.\d+", words), words
        # one or two sentences before the contact line
        assert len(text.split("\n\n")[0].split("\n")) == 2, text


def test_names_and_subjects_from_headers_cannot_smuggle_control_characters():
    evil = "Eve\x1b]0;owned\x07\x1b[2J\x00"
    f = flag("unanswered", 1, NOW - DAY, {"subject": "hi\x1b[31m\r\nBcc: x", "received": NOW})
    person = {"name": evil, "emails": ["eve@x.example"], "tier": "active", "last": None}
    for words in (title_for(f, person, NOW, TZ), description_for([f], person, NOW, TZ)):
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", words), repr(words)


# -- time zone, preferred time, spread -------------------------------------------------------


def test_preferred_time_is_validated_and_documented(tmp_path):
    s = parse_settings({"calendar": "x.ics"}, "Europe/London", tmp_path)
    assert s.preferred == time(10, 0)
    s = parse_settings({"calendar": "x.ics", "preferred_time": "14:30"}, "UTC", tmp_path)
    assert s.preferred == time(14, 30)
    for bad in ("25:00", "8:00", "08:00", 9, "noon"):
        with pytest.raises(ConfigError) as err:
            parse_settings({"calendar": "x.ics", "preferred_time": bad}, "UTC", tmp_path)
        assert "planner.preferred_time" in str(err.value)


def test_follow_ups_spread_over_the_week_at_the_preferred_time():
    # five follow-ups allowed on one day: still one a day, Monday to Friday, at 10:00
    flags = [dormant(pid, NOW - pid * DAY) for pid in range(1, 6)]
    steps = run(flags, settings=replace(SETTINGS, per_day=5))
    starts = sorted(p.start for p in of(steps, PlaceFollowUp))
    assert starts == [at(MON + timedelta(d), 10) for d in range(5)]
    # another preferred time; a busy one moves to the nearest free slot (earlier on a tie)
    busy = [(at(MON, 14, 30), at(MON, 14, 45))]
    settings = replace(SETTINGS, preferred=time(14, 30))
    (placed,) = of(run([dormant(1, NOW - DAY)], busy=busy, settings=settings), PlaceFollowUp)
    assert placed.start == at(MON, 14, 15)


def test_events_are_written_in_the_users_time_zone(tmp_path):
    env = Env(tmp_path, preferred_time="11:00")
    env.person(1, "Ana Ruiz")
    key = env.dormant(1, NOW - DAY)
    env.run()
    cal = icalendar.Calendar.from_ical(env.ics.read_bytes())
    (ev,) = [e for e in cal.walk("VEVENT") if str(e.get(KEY_PROPERTY)) == key]
    assert ev["DTSTART"].params["TZID"] == "Europe/London"
    start = ev.decoded("DTSTART")
    assert start.tzinfo is not None and (start.hour, start.minute) == (11, 0)
    assert int(start.timestamp()) == at(MON, 11)
    assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Europe/London"]
    assert "dormant" not in str(ev["SUMMARY"]) and key not in str(ev["DESCRIPTION"])


# -- a withdrawn follow-up frees its place ---------------------------------------------------


def placed_row(f: Flag, start: int, state: str = "placed") -> FollowUp:
    return FollowUp(
        key=f.id,
        flag_id=f.id,
        person_id=f.person_id,
        covers=[f.id],
        target=TARGET,
        start=start,
        end=start + 900,
        week=week_of(start, TZ),
        title="Reconnect",
        state=state,
        remote_ref=f"uid-{f.id}",
        reason=None,
        created=NOW - DAY,
        updated=NOW - DAY,
        basis=NOW - 100 * DAY,
    )


def test_a_slot_freed_by_a_withdrawn_follow_up_is_refilled_in_the_same_plan():
    settings = replace(SETTINGS, per_week=2, per_day=2)
    a, b, c = dormant(1, NOW - 3 * DAY), dormant(2, NOW - 2 * DAY), dormant(3, NOW - DAY)
    rows = [placed_row(a, at(MON, 10)), placed_row(b, at(MON + timedelta(1), 10))]
    busy = [(r.start, r.end) for r in rows]  # the calendar holds both events
    placed = [Placed(r, checked=False, flags=(f,)) for r, f in zip(rows, (a, b), strict=True)]
    # the week is full: the third waits
    assert of(run([a, b, c], placed, busy, settings), Wait) == [Wait(c.id)]
    # the user wrote to person 1: their follow-up goes, and the third takes its place --
    # its time too, since the removal runs before the new event is created
    steps = run([a, b, c], placed, busy, settings, touched={1: NOW - 600})
    assert [s.key for s in of(steps, WithdrawFollowUp)] == [a.id]
    (new,) = of(steps, PlaceFollowUp)
    assert new.person_id == 3 and new.start == at(MON, 10)
    # a follow-up whose removal is still queued no longer counts either
    withdrawing = [Placed(replace(rows[0], state="withdrawing")), placed[1]]
    (again,) = of(run([b, c], withdrawing, busy, settings), PlaceFollowUp)
    assert again.person_id == 3


def test_the_next_plan_refills_the_week_after_a_touch(tmp_path):
    env = Env(tmp_path, per_week=2, per_day=1)
    for pid in (1, 2, 3):
        env.person(pid, f"Person {pid}")
    keys = [env.dormant(pid, NOW - (4 - pid) * DAY) for pid in (1, 2, 3)]
    first = env.run()
    assert len(first.placed) == 2 and len(first.waiting) == 1
    gone = first.placed[0]
    env.db.execute(
        "UPDATE flags SET status = 'done', resolution = 'touch', resolved_at = ? WHERE id = ?",
        [NOW + 600, gone.key],
    )
    second = env.run(NOW + 1200)
    assert second.withdrawn == [gone.key]
    assert [f.person_id for f in second.placed] == [3]
    events = env.events()
    assert gone.key not in events and len(events) == 2
    assert Counter(week_of(s, TZ) for s, _, _ in events.values()) == {"2026-W23": 2}
    assert set(keys) - {gone.key} == set(events)
