"""The network audit (issue 18, item 5) on small synthetic stores: tiers and ties as in
``people --json``, dormant strong ties, growth, replies both ways, give vs take,
geography from Date offsets, contact cards, and an HTML page that escapes names."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from rules.settings import build_config
from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.pipeline.contacts import ContactDetails
from syncd.pipeline.local_import import import_paths
from syncd.report.audit import (
    Inputs,
    compute,
    gather,
    industry_of,
    seniority_of,
    tie_of,
)
from syncd.report.audit_render import render_html, render_text
from syncd.report.give_take import GiveTake
from syncd.report.people import PersonFigures
from tests.support.helpers import message, write_mbox

ME = "me@home.example"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
DAY = 86400


def exchanges(who: str, n: int, last: datetime, offset: str = "+0000") -> list[bytes]:
    """``n`` messages each way with ``who`` a week apart; theirs dated with ``offset``."""
    out = []
    for i in range(n):
        at = last - timedelta(days=7 * i)
        sign = -1 if offset[0] == "-" else 1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:])))
        theirs = format_datetime((at - timedelta(hours=2)).astimezone(zone))
        out.append(message(sender=who, to=ME, date=theirs, subject=f"q{i} {who}"))
        out.append(message(sender=ME, to=who, date=at, subject=f"Re: q{i} {who}"))
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    msgs = []
    msgs += exchanges("Ana Ruiz <ana@bank.example>", 12, NOW - timedelta(days=200), "+0100")
    msgs += exchanges("Bo Berg <bo@labs.example>", 4, NOW - timedelta(days=3), "-0500")
    evil = '"<script>alert(1)</script>" <evil@x.example>'
    msgs += exchanges(evil, 11, NOW - timedelta(days=190))
    msgs.append(message(sender=ME, to="cy@gmail.com", date=NOW - timedelta(days=5), subject="hi"))
    write_mbox(root / "mail" / "INBOX", msgs)
    ctx = Context(Home(root / "home"), int(NOW.timestamp()))
    import_paths(ctx.db, ctx.home, "mbox", [root / "mail"], [ME], now=ctx.now)
    config = build_config({"tiers": {"core": 1, "active": 1, "network": 1}})
    return ctx, config


def test_audit_of_a_small_store(store):
    ctx, config = store
    inputs = gather(ctx.db, ctx.now, config)
    audit = compute(inputs)
    people = {p.emails[0]: p for p in inputs.people}
    assert audit.humans == 4
    # tiers: the counts of people --json's figures; the target sizes from the config
    assert audit.tiers == dict(Counter(p.tier for p in inputs.people if p.tier != "acquaintance"))
    assert audit.tier_targets == {"core": 1, "active": 1, "network": 1}
    # Ana: 12 exchanges, silent 200 days: dormant, and worth reactivating
    assert tie_of(people["ana@bank.example"], ctx.now, 180) == "dormant"
    assert audit.ties["dormant"] == 2
    assert sum(audit.ties.values()) == 4
    assert [s.email for s in audit.reactivate] == ["ana@bank.example", "evil@x.example"]
    assert audit.reactivate[0].exchanges == 12 and audit.reactivate[0].days_silent == 200
    # geography from the Date offsets of the mail they sent
    assert dict(audit.time_zones) == {"UTC+01:00": 1, "UTC-05:00": 1, "UTC+00:00": 1}
    # organisations: domains, personal addresses apart
    assert dict(audit.organisations) == {"bank.example": 1, "labs.example": 1, "x.example": 1}
    assert audit.personal_only == 1
    assert dict(audit.industries)["finance"] == 1
    # growth: first touches per month, the last bar this month
    assert audit.growth[-1][0] == "2026-06" and sum(n for _, n in audit.growth) == 4
    # replies both ways: I answered each of their messages; they never answered mine
    assert audit.response["yours"]["percent"] == 100
    assert audit.response["theirs"]["answered"] == 0
    assert audit.give_take["replies_given"] == audit.response["yours"]["answered"]
    assert audit.give_take["initiated"] == 1  # "hi" to Cy; the rest are replies


def test_html_escapes_names_and_has_no_script_or_remote_asset(store):
    ctx, config = store
    html = render_html(compute(gather(ctx.db, ctx.now, config)))
    assert "<script" not in html
    assert "&lt;script&gt;" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert html.count("<svg") >= 3
    text = render_text(compute(gather(ctx.db, ctx.now, config)))
    assert "dormant strong ties worth reactivating" in text and "Ana Ruiz" in text


def _inputs(people, contacts=None):
    """Audit inputs for ``people`` (and their cards), with no other mail facts."""
    return Inputs(
        now=int(NOW.timestamp()),
        people=people,
        contacts=contacts or {},
        offsets={},
        answered=(0, 0),
        answered_by_them=(0, 0),
        give_take=GiveTake(),
        sizes={"core": 15, "active": 50, "network": 85},
        silent_days=180,
        min_exchanges=10,
    )


def _person(pid, tier, last_days, n_in=1, n_out=1, meetings=0, emails=None):
    now = int(NOW.timestamp())
    return PersonFigures(
        id=pid,
        name=f"P{pid}",
        emails=emails or [f"p{pid}@org{pid}.example"],
        tier=tier,
        first_touch=now - 400 * DAY,
        last_touch=now - last_days * DAY,
        touches_in=n_in,
        touches_out=n_out,
        meetings=meetings,
    )


def test_ties_seniority_and_cards_from_pure_inputs():
    people = [
        _person(1, "core", 5),
        _person(2, "active", 100),
        _person(3, "network", 10),
        _person(4, "acquaintance", 10),
        _person(5, "core", 181, n_in=5, n_out=9, meetings=6),  # 11 exchanges: reactivate
        _person(6, "acquaintance", 10, emails=["p6@gmail.com"]),
    ]
    card = ContactDetails(6, "P6", "St Mary's Hospital", "Head of Surgery", None, None, "Leeds", ())
    audit = compute(_inputs(people, contacts={6: card}))
    assert audit.ties == {"strong": 2, "medium": 1, "weak": 2, "dormant": 1}
    assert [s.id for s in audit.reactivate] == [5]
    assert dict(audit.organisations)["St Mary's Hospital"] == 1
    assert dict(audit.industries)["health"] == 1
    assert audit.seniority == [("director / VP", 1)] and audit.titles_known == 1
    assert audit.locations == [("Leeds", 1)]
    assert audit.response["yours"]["percent"] is None


@pytest.mark.parametrize(
    ("title", "level"),
    [
        ("CEO", "executive"),
        ("Co-Founder", "executive"),
        ("VP Sales", "director / VP"),
        ("Engineering Manager", "manager / lead"),
        ("Analyst", "individual contributor"),
        ("", None),
    ],
)
def test_seniority(title, level):
    assert seniority_of(title) == level


def test_industry_words():
    assert industry_of("city-university.example", None) == "education"
    assert industry_of(None, None) == "personal addresses"
    assert industry_of("acme.example", None) == "other"


def test_tags_count_people_and_their_dormant_ties():
    people = [_person(1, "core", 5), _person(2, "network", 200), _person(3, "active", 10)]
    people[0].tags = ("investor",)
    people[1].tags = ("investor", "<b>board</b>")
    audit = compute(_inputs(people))
    assert [(t["tag"], t["people"], t["dormant"], t["strong"]) for t in audit.tags] == [
        ("investor", 2, 1, 1),
        ("<b>board</b>", 1, 1, 0),
    ]
    text = render_text(audit)
    assert "investor" in text and "1 dormant" in text
    html = render_html(audit)
    assert "&lt;b&gt;board&lt;/b&gt;" in html and "<b>board" not in html
