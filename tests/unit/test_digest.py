"""The digest's figures on a small crafted mailbox, and its renderings."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest

from rules.engine import evaluate
from rules.settings import load_config as rules_config
from syncd.commands.context import Context
from syncd.config.schema import Config
from syncd.core.home import Home
from syncd.core.timeutil import parse_instant
from syncd.pipeline.identity import my_keys
from syncd.report.chart import bars, text_chart
from syncd.report.digest import SECTIONS, gather, render, write_preview
from tests.support.helpers import import_mail, message

ME = "me@home.example"
NOW = "2026-06-01T12:00:00+00:00"


def d(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    root = tmp_path_factory.mktemp("digest")
    msgs = [
        # an old acquaintance: Ana is not a new connection
        message(sender="ana@acme.example", to=ME, date=datetime(2025, 3, 1, tzinfo=UTC)),
        # this week: 4 touches with 3 people, 2 given and 2 received
        message(sender="ana@acme.example", to=ME, date=d(5, 28), subject="plan"),
        message(sender=ME, to="ana@acme.example", date=d(5, 28, 11), subject="Re: plan"),
        message(sender="bob@gmail.com", to=ME, date=d(5, 30), subject="coffee?"),
        message(sender=ME, to="carl@corp.example", date=d(5, 31), subject="intro"),
    ]
    # the 4 weeks before: 8 touches with Dana, each of her messages answered
    for i in range(4):
        msgs.append(
            message(sender="dana@corp.example", to=ME, date=d(5, 5 + 5 * i), subject=f"d{i}")
        )
        msgs.append(
            message(
                sender=ME, to="dana@corp.example", date=d(5, 5 + 5 * i, 12), subject=f"Re: d{i}"
            )
        )
    import_mail(root, {"INBOX": msgs}, [ME], now=NOW)
    ctx = Context(Home(root / "home"), parse_instant(NOW))
    evaluate(ctx.db, ctx.now, rules_config(None), my_keys=my_keys)
    config = Config(me=[ME], timezone="Europe/London")
    data = gather(ctx.db, config, ctx.now, ctx.home)
    return ctx, config, data


def test_network_health(figures):
    _, _, data = figures
    h = data["health"]
    assert (h["touches"], h["people"], h["given"], h["received"]) == (4, 3, 2, 2)
    assert h["average"] == 2.0 and h["change"] == 100
    assert (h["given_avg"], h["received_avg"]) == (1.0, 1.0)
    # inbound in the last 4 weeks: Ana's and Dana's four answered, Bob's not
    assert (h["answered"], h["inbound"], h["reply_rate"]) == (5, 6, 83)
    assert data["period"] == "25 May – 1 Jun 2026" and data["week"] == "2026-W23"


def test_chart_people_and_organisations(figures):
    _, _, data = figures
    values = [b.value for b in data["chart"]]
    assert len(values) == 12 and values[-1] == 4 and sum(values) == 12
    assert data["chart"][-1].current and max(b.height for b in data["chart"]) == 80
    assert {p["email"] for p in data["new_people"]} == {
        "bob@gmail.com",
        "carl@corp.example",
        "dana@corp.example",
    }
    assert data["new_total"] == 3
    assert data["domains"] == [("corp.example", 2), ("acme.example", 1)]
    assert data["personal"] == 1 and data["network_size"] == 4
    assert [t["tier"] for t in data["tiers"]] == ["Core", "Active", "Network"]
    assert data["tiers"][0]["count"] == 4 and data["tiers"][0]["target"] == 15
    assert data["tier_total"] == {"count": 4, "target": 150}


def test_renderings_carry_every_section(figures):
    _, _, data = figures
    html, text = render(data)
    assert "<script" not in html.lower()
    for heading in SECTIONS:
        assert heading.upper() in text
    assert "This week: 4 emails and meetings with 3 people (usually 2.0, +100%)" in text
    assert "Emails to you answered: 83% (5 of 6 in 4 weeks)" in text
    assert "corp.example" in html and "83%" in html
    # the user's data is escaped in HTML
    data2 = {**data, "new_people": [{**data["new_people"][0], "name": "<b>x</b>"}]}
    assert "&lt;b&gt;x&lt;/b&gt;" in render(data2)[0]


def test_preview_formats(figures, tmp_path):
    ctx, config, _ = figures
    paths = write_preview(ctx.db, config, ctx.now, tmp_path / "d.html", ctx.home)
    assert paths == [tmp_path / "d.html", tmp_path / "d.txt"]
    assert write_preview(ctx.db, config, ctx.now, tmp_path / "only.txt", ctx.home) == [
        tmp_path / "only.txt"
    ]
    assert (tmp_path / "only.txt").read_text().startswith("SYNCD WEEKLY")
    write_preview(ctx.db, config, ctx.now, tmp_path / "m.eml", ctx.home)
    msg = email.message_from_bytes(Path(tmp_path / "m.eml").read_bytes(), policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative" and msg["To"] == ME


def test_chart_helpers():
    assert [b.height for b in bars([("a", 0), ("b", 1), ("c", 100)])] == [0, 2, 80]
    assert bars([]) == [] and [b.height for b in bars([("a", 0)])] == [0]
    lines = text_chart([("1 May", 10), ("8 May", 0), ("15 May", 5)], width=10)
    assert lines == ["1 May   ██████████ 10", "8 May   0", "15 May  █████ 5"]


def test_an_empty_home_still_renders(tmp_path):
    ctx = Context(Home(tmp_path / "home"), parse_instant(NOW) + 3 * 86400 + 7 * 3600)
    data = gather(ctx.db, Config(), ctx.now, ctx.home)
    html, text = render(data)
    assert data["health"]["reply_rate"] is None and "No new people" in text
    assert "Nothing on your calendar this week." in html
    assert data["week"] == "2026-W23"


def test_digest_names_accounts_that_need_auth(tmp_path):
    """A revoked grant shows in the digest (text and HTML) until `syncd auth` fixes it."""
    from syncd.commands.context import Context
    from syncd.config.schema import Config
    from syncd.core.home import Home
    from syncd.pipeline.accounts import ensure_account, record_state
    from syncd.report.digest import gather, render

    ctx = Context(Home(tmp_path / "home"), 1_717_200_000)
    account = ensure_account(ctx.db, "work", "gmail")
    record_state(ctx.db, account, needs_auth=1)
    data = gather(ctx.db, Config(), ctx.now)
    assert data["needs_auth"] == ["work"]
    html, text = render(data)
    assert "syncd auth work" in text and "syncd auth work" in html
