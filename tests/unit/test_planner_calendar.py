"""The planner's run against a calendar that misbehaves: an unreadable calendar decides
nothing, a failed free/busy still withdraws but places nothing blind, and a target that is
not a calendar is refused. The calendar is an in-memory :class:`CalendarWriter`."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from connectors.base import Action, RemoteEvent
from syncd.config.schema import Config
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.followup import ledger, outbox
from syncd.followup.planner import PlannerSettings, calendar_writer, plan_followups
from syncd.followup.settings import parse_settings
from syncd.store.db import open_db

TZ = ZoneInfo("Europe/London")
DAY = 86400
NOW = int(datetime(2026, 6, 1, 7, 30, tzinfo=TZ).timestamp())  # Monday 07:30 London


class MemoryCalendar:
    """Events by key; ``lookup`` / ``busy`` raise while ``broken`` names them."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[int, int]] = {}
        self.broken: set[str] = set()

    def apply(self, action: Action) -> str:
        self.events[action.key] = (action.payload["start"], action.payload["end"])
        return f"ref-{action.key}"

    def remove(self, action: Action, remote_ref: str | None) -> None:
        self.events.pop(action.key, None)

    def lookup(self, key: str) -> RemoteEvent | None:
        if "lookup" in self.broken:
            raise OSError("calendar unreachable")
        event = self.events.get(key)
        return None if event is None else RemoteEvent(f"ref-{key}", *event)

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        if "busy" in self.broken:
            raise OSError("free/busy unavailable")
        return []


@pytest.fixture
def env(tmp_path):
    home = Home(tmp_path)
    home.ensure()
    db = open_db(home.db_path)
    config = Config(timezone="Europe/London", raw={"planner": {"calendar": "f.ics"}})
    settings = parse_settings(config.section("planner"), "Europe/London", tmp_path)
    calendar = MemoryCalendar()

    def flag(pid: int, due: int) -> str:
        last = due - 90 * DAY
        facts = {"tier": "active", "pinned": False, "cadence_days": 90, "last_touch": last}
        with db.atomic():
            db.execute("INSERT INTO people(id, name) VALUES (?, ?)", [pid, f"Person {pid}"])
            db.execute(
                "INSERT INTO flags(id, rule, person_id, cycle, due, facts, first_seen, updated)"
                " VALUES (?, 'dormant', ?, ?, ?, ?, ?, ?)",
                [f"dormant:{pid}", pid, str(last), due, json.dumps(facts), due, due],
            )
        return f"dormant:{pid}"

    def run(now: int):
        report = plan_followups(db, home, config, now, settings=settings, writer=calendar)
        outbox.drain_outbox(db, home, config, now, writers={settings.target: calendar})
        return report

    return db, calendar, flag, run


def test_an_unreadable_calendar_decides_nothing(env):
    db, calendar, flag, run = env
    a = flag(1, NOW - DAY)
    assert [f.key for f in run(NOW).placed] == [a]
    calendar.events.clear()  # looks deleted -- but the calendar cannot be read
    calendar.broken.add("lookup")
    flag(2, NOW)
    report = run(NOW + 60)
    assert report.errors == [f"lookup {a}: calendar unreachable"]
    assert not (report.placed or report.user_deleted or report.withdrawn)
    assert [(f.key, f.state) for f in ledger.followups(db)] == [(a, "placed")]


def test_a_failed_free_busy_still_withdraws_but_places_nothing(env):
    db, calendar, flag, run = env
    a = flag(1, NOW - DAY)
    run(NOW)
    db.execute("UPDATE flags SET status = 'done', resolution = 'touch' WHERE id = ?", [a])
    flag(2, NOW)
    calendar.broken.add("busy")
    report = run(NOW + 60)
    assert report.withdrawn == [a] and not report.placed
    assert report.errors == ["free/busy: free/busy unavailable"]
    assert calendar.events == {}
    calendar.broken.clear()
    assert [f.key for f in run(NOW + 120).placed] == ["dormant:2"]


def test_a_target_that_is_not_a_calendar_is_refused(tmp_path):
    home = Home(tmp_path)
    config = Config(raw={"smtp": {"host": "smtp.example.com"}})
    settings = PlannerSettings(enabled=True, target="smtp")
    with pytest.raises(UserError, match="cannot hold calendar events"):
        calendar_writer(settings, home, config)
