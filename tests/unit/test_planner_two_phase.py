"""The planner reads names, addresses and latest touches only for the people it places a
follow-up for (:func:`syncd.followup.planner.plan_steps`); its steps equal one decision
on every flagged person's full description, on stores with many more flags than slots,
an active follow-up and a person touched after it was planned."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from connectors.base import Action, RemoteEvent
from rules.base import DAY
from rules.engine import evaluate
from rules.settings import build_config
from syncd.followup.apply import PlanReport, apply
from syncd.followup.decide import PlaceFollowUp, WithdrawFollowUp, decide
from syncd.followup.gather import gather, last_touches, latest_touches
from syncd.followup.planner import plan_steps
from syncd.followup.settings import parse_settings
from syncd.pipeline.identity import my_keys, people_info
from syncd.pipeline.kinds import excluded
from syncd.store.db import open_db
from tests.support.synthetic import World

TZ = ZoneInfo("Europe/London")
NOW = int(datetime(2026, 6, 1, 7, 30, tzinfo=TZ).timestamp())  # a Monday


class Calendar:
    """An empty in-memory calendar that remembers what is written to it."""

    def __init__(self) -> None:
        self.events: dict[str, tuple[int, int]] = {}

    def apply(self, action: Action) -> str:
        self.events[action.key] = (action.payload["start"], action.payload["end"])
        return f"ref-{action.key}"

    def remove(self, action: Action, remote_ref: str | None) -> None:
        self.events.pop(action.key, None)

    def lookup(self, key: str) -> RemoteEvent | None:
        event = self.events.get(key)
        return None if event is None else RemoteEvent(f"ref-{key}", *event)

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        return []


def _full_decision(db, calendar, settings, now):
    """The decision on every flagged person's complete description (the old inputs)."""
    inputs = gather(db, calendar, settings, now)
    people = {f.person_id for f in inputs.flags}
    active = set(inputs.touched)
    info = people_info(db, people, unnamed="someone")
    for pid, last in latest_touches(db, people, now).items():
        info[pid]["last"] = last
    return decide(
        inputs.flags,
        inputs.busy,
        inputs.placed,
        settings,
        now,
        people=info,
        touched=last_touches(db, people | active, now),
        taken=inputs.taken,
    )


def test_two_phase_steps_equal_the_full_decision(tmp_path):
    db = open_db(":memory:")
    w = World(db)
    config = build_config({})
    for i in range(40):  # unanswered mail from 40 people of varied strength
        address = f"p{i:02d}@x.org"
        for j in range(i % 6):
            w.mail_out(address, NOW - (200 + 10 * j) * DAY, f"s{i}")
        w.mail_in(address, NOW - (5 + i % 4) * DAY, f"question {i}")
    evaluate(db, NOW, config, my_keys=my_keys, excluded=excluded)
    table = {"calendar": "f.ics", "per_week": 3, "per_day": 1}
    settings = parse_settings(table, "Europe/London", tmp_path)
    calendar = Calendar()

    _, steps = plan_steps(db, calendar, settings, NOW)
    assert steps == _full_decision(db, calendar, settings, NOW)
    placed = [s for s in steps if isinstance(s, PlaceFollowUp)]
    assert len(placed) == 3 and all("someone" not in s.title for s in placed)
    apply(db, steps, NOW, PlanReport())

    # An hour later: one placed person wrote again (their follow-up is withdrawn).
    later = NOW + 3600  # before the first follow-up (10:00)
    sql = "SELECT address FROM addresses WHERE person_id = ?"
    w.mail_in(db.execute(sql, [placed[0].person_id]).fetchone()[0], later - 3600, "me again")
    evaluate(db, later, config, my_keys=my_keys, excluded=excluded)
    _, steps = plan_steps(db, calendar, settings, later)
    assert steps == _full_decision(db, calendar, settings, later)
    assert [s.key for s in steps if isinstance(s, WithdrawFollowUp)] == [placed[0].key]
