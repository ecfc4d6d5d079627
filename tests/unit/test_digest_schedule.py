"""The maintenance schedule (issue 18, item 6): the month's 15 check-ins and the quarter's
50 broader ones, chosen as of the start of the month / quarter, stable within it, never
a person twice, and never someone on this week's calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.engine import evaluate
from rules.settings import build_config
from syncd.commands.context import Context
from syncd.config.schema import Config
from syncd.core.home import Home
from syncd.followup.outbox import drain_outbox
from syncd.followup.planner import plan_followups
from syncd.pipeline.identity import my_keys
from syncd.pipeline.local_import import import_paths
from syncd.report.digest import gather, render
from syncd.report.digest_schedule import MONTHLY, QUARTERLY, period_starts, schedule
from syncd.report.people import compute_people
from tests.support.helpers import message, write_mbox

ME = "me@home.example"
TZ = ZoneInfo("Europe/London")
NOW = datetime(2026, 6, 10, 7, tzinfo=UTC)
LATER = datetime(2026, 6, 26, 7, tzinfo=UTC)
CONFIG = build_config({"tiers": {"core": 5, "active": 15, "network": 60}})


def exchanges(who: str, n: int, last: datetime) -> list[bytes]:
    out = []
    for i in range(n):
        at = last - timedelta(days=9 * i)
        out.append(message(sender=who, to=ME, date=at - timedelta(hours=3), subject=f"q{i}"))
        out.append(message(sender=ME, to=who, date=at, subject=f"Re: q{i}"))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("schedule")
    msgs = []
    for i in range(40):  # recent-ish: quiet for 5-9 weeks by 1 June
        msgs += exchanges(
            f"Near {i} <near{i}@n{i}.example>", 3 + i % 7, NOW - timedelta(days=45 + i)
        )
    for i in range(70):  # quiet since the winter
        msgs += exchanges(
            f"Far {i} <far{i}@f{i}.example>", 1 + i % 5, NOW - timedelta(days=200 + i)
        )
    for i in range(8):  # in touch right now
        msgs += exchanges(f"Close {i} <close{i}@c.example>", 12, NOW - timedelta(days=1 + i))
    write_mbox(root / "mail" / "INBOX", msgs)
    home = Home(root / "home")
    ctx = Context(home, int(NOW.timestamp()))
    import_paths(ctx.db, ctx.home, "mbox", [root / "mail"], [ME], now=ctx.now)
    evaluate(ctx.db, ctx.now, CONFIG, my_keys=my_keys)
    config = Config(me=[ME], timezone="Europe/London", raw={"planner": {"calendar": "cal.ics"}})
    plan_followups(ctx.db, home, config, ctx.now)
    drain_outbox(ctx.db, home, config, ctx.now)
    return ctx, root, config


def test_lists_are_full_disjoint_and_leave_out_this_weeks_calendar(store):
    ctx, _, _ = store
    plan = schedule(ctx.db, ctx.now, TZ, CONFIG)
    assert plan["week"], "the planner put follow-ups on the calendar"
    assert 0 < len(plan["month"]) <= MONTHLY and 0 < len(plan["quarter"]) <= QUARTERLY
    week, month, quarter = (set(plan[k]) for k in ("week", "month", "quarter"))
    assert not week & month and not week & quarter and not month & quarter
    assert len(month) == len(plan["month"]) and len(quarter) == len(plan["quarter"])


def test_the_month_is_chosen_as_of_its_first_day_strongest_first(store):
    ctx, _, _ = store
    month_start, quarter_start = period_starts(ctx.now, TZ)
    assert datetime.fromtimestamp(month_start, TZ).strftime("%d %H:%M") == "01 00:00"
    assert datetime.fromtimestamp(quarter_start, TZ).strftime("%m-%d") == "04-01"
    then = {
        p.id: p
        for p in compute_people(ctx.db, month_start, half_life_days=180.0, sizes=CONFIG.sizes)
    }
    plan = schedule(ctx.db, ctx.now, TZ, CONFIG)
    scores = [then[p].score.total for p in plan["month"]]
    assert scores == sorted(scores, reverse=True)
    for pid in plan["month"]:
        assert then[pid].tier in ("core", "active")
        assert month_start - then[pid].last_touch >= 30 * 86400


def test_stable_within_the_month_even_after_new_mail(store):
    ctx, root, _ = store
    before = schedule(ctx.db, ctx.now, TZ, CONFIG)
    # mail with the first check-in later in June does not change June's lists
    first = ctx.db.execute(
        "SELECT address FROM addresses WHERE person_id = ?", [before["month"][0]]
    ).fetchone()[0]
    write_mbox(
        root / "mail" / "Later",
        [message(sender=ME, to=first, date=NOW + timedelta(days=3), subject="catching up")],
    )
    import_paths(ctx.db, ctx.home, "mbox", [root / "mail"], [ME], now=int(LATER.timestamp()))
    after = schedule(ctx.db, int(LATER.timestamp()), TZ, CONFIG)
    busy = set(before["week"]) | set(after["week"])
    assert [p for p in after["month"] if p not in busy] == [
        p for p in before["month"] if p not in busy
    ]
    assert [p for p in after["quarter"] if p not in busy] == [
        p for p in before["quarter"] if p not in busy
    ]


def test_the_digest_shows_both_lists_in_both_parts(store):
    ctx, _, config = store
    data = gather(ctx.db, config, ctx.now, ctx.home)
    html, text = render(data)
    assert data["checkins"] and data["broader"]
    above = {r["id"] for key in ("followups", "waiting", "dormant") for r in data[key]}
    below = [c["id"] for c in data["checkins"] + data["broader"]]
    assert len(set(below)) == len(below) and not above & set(below)
    for c in data["checkins"][:3] + data["broader"][:3]:
        assert c["name"] in text and c["name"] in html
    assert "CHECK-INS THIS MONTH" in text and "GIVE AND TAKE" in text
    assert 'data-section="give-take"' in html and 'data-section="audit"' in html
