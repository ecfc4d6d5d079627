"""The digest a person can act on (issue 12, item 5): this week's follow-ups first, each
with its reason in plain words and whole days and its actions (a mailto: link with a
subject, the commands to mark it done or snooze it); quiet ties by the strength of the tie;
the figures after; no jargon; the plain-text part in the same order, with no control
character from a mail header reaching it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from rules.engine import evaluate
from rules.settings import load_config as rules_config
from syncd.commands.context import Context
from syncd.config.schema import Config
from syncd.core.home import Home
from syncd.core.text import one_line
from syncd.core.timeutil import parse_instant
from syncd.followup.outbox import drain_outbox
from syncd.followup.planner import plan_followups
from syncd.pipeline.identity import my_keys
from syncd.report.digest import SECTIONS, gather, render
from tests.support.helpers import import_mail, message

ME = "me@home.example"
NOW = "2026-06-01T07:00:00+00:00"
BASE = datetime(2026, 6, 1, 7, tzinfo=UTC)
RULE_WORDS = re.compile(
    r"dormant|reactivate|unanswered|meeting[ _]follow|three[ _]touches|nurture|reciprocity"
    r"|cadence|two-way|touchpoint|Dunbar",
    re.I,
)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def exchanges(who: str, n: int, last: datetime, step_days: int = 7) -> list[bytes]:
    """``n`` messages each way with ``who``, the last pair ending at ``last``."""
    out = []
    for i in range(n):
        at = last - timedelta(days=step_days * i)
        out.append(message(sender=who, to=ME, date=at - timedelta(hours=2), subject=f"q{i}"))
        out.append(message(sender=ME, to=who, date=at, subject=f"Re: q{i}"))
    return out


@pytest.fixture(scope="module")
def digest(tmp_path_factory):
    root = tmp_path_factory.mktemp("layout")
    msgs: list[bytes] = []
    # ten quiet ties with a thin history, named to sort before the strong one
    for i in range(10):
        msgs += exchanges(f"Able{i} <able{i}@a{i}.example>", 1, BASE - timedelta(days=120 + i))
    # a quiet tie with a rich history, named to sort last
    msgs += exchanges("Zoe Zimmer <zoe@zed.example>", 8, BASE - timedelta(days=100))
    # a message waiting for a reply, with a subject and a sender name that carry terminal
    # control sequences (an OSC title change, a screen clear, BEL, a C1 CSI)
    msgs += exchanges("Ursula <ursula@u.example>", 3, BASE - timedelta(days=20))
    msgs.append(
        message(
            sender="Ursula <ursula@u.example>",
            to=ME,
            date=BASE - timedelta(days=9, hours=5),
            subject="Budget =?utf-8?q?=1B]0;owned=07=1B[2J?= numbers",
        )
    )
    import_mail(root, {"INBOX": msgs}, [ME], now=NOW)
    home = Home(root / "home")
    ctx = Context(home, parse_instant(NOW))
    evil = "Ursula\x1b]0;pwned\x07\x1b[2J\x00\x9b31m"
    ctx.db.execute(
        "UPDATE people SET name = ? WHERE id = (SELECT person_id FROM addresses"
        " WHERE address = 'ursula@u.example')",
        [evil],
    )
    ctx.db.conn.commit()
    evaluate(ctx.db, ctx.now, rules_config(None), my_keys=my_keys)
    config = Config(
        me=[ME], timezone="Europe/London", raw={"planner": {"calendar": "cal/followups.ics"}}
    )
    plan_followups(ctx.db, home, config, ctx.now)
    drain_outbox(ctx.db, home, config, ctx.now)
    data = gather(ctx.db, config, ctx.now, home)
    html, text = render(data)
    return data, html, text


def test_this_weeks_follow_ups_come_first_then_the_figures(digest):
    data, html, text = digest
    headings = [unescape(h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html)]
    assert headings == list(SECTIONS)
    assert SECTIONS[0] == "This week's follow-ups"
    assert SECTIONS.index("Network health") > SECTIONS.index("Worth reconnecting")
    assert SECTIONS.index("Tiers") > SECTIONS.index("Network health")
    # the plain-text part: the same sections in the same order
    positions = [text.index(h.upper()) for h in SECTIONS]
    assert positions == sorted(positions)
    assert len(data["followups"]) == 5
    first_row = html.index('data-followup="1"')
    assert first_row < html.index("Network health") < html.index("Organisations")


def test_each_follow_up_has_a_plain_reason_and_its_actions(digest):
    data, html, text = digest
    for f in data["followups"]:
        assert f["reason"] and not re.search(r"\d+\.\d+", f["reason"]), f["reason"]
        assert not RULE_WORDS.search(f["reason"]), f["reason"]
        url = urlsplit(f["mailto"])
        assert url.scheme == "mailto" and unquote(url.path) == f["email"]
        assert parse_qs(url.query)["subject"][0]
        assert f["done"] == f"syncd done {f['email']}"
        assert f["snooze"] == f"syncd snooze {f['email']} --until 2026-06-08"
        assert f"Write to {one_line(f['name'])}" in unescape(html)
        assert f["mailto"].replace("&", "&amp;") in html
        for value in (f["reason"], f["done"], f["snooze"], f["mailto"]):
            assert one_line(value) in text
    reasons = " ".join(f["reason"] for f in data["followups"])
    assert "has waited 9 days for your reply" in reasons  # whole days, not 9.2
    assert re.search(r"Silent for \d+ days", reasons)
    # the reply link answers the message it is about
    (reply,) = [f for f in data["followups"] if "reply" in f["reason"]]
    assert parse_qs(urlsplit(reply["mailto"]).query)["subject"][0].startswith("Re: Budget")


def test_no_jargon_and_no_decimal_days(digest):
    _, html, text = digest
    for part in (unescape(re.sub(r"<[^>]+>", " ", html)), text):
        assert not RULE_WORDS.search(part), RULE_WORDS.search(part)
        assert not re.search(r"\d+\.\d+ days", part)


def test_quiet_ties_are_ordered_by_the_strength_of_the_tie(digest):
    data, _, text = digest
    names = [d["name"] for d in data["dormant"]]
    assert names[0] == "Zoe Zimmer", names  # 8 exchanges, though her name sorts last
    strengths = [d["exchanges"] for d in data["dormant"]]
    assert strengths == sorted(strengths, reverse=True)
    assert data["dormant_total"] > len(data["dormant"])  # the cut keeps the strongest
    section = text[text.index(SECTIONS[1].upper()) : text.index(SECTIONS[2].upper())]
    assert section.index("Zoe Zimmer (core): silent for") < section.index("Able")


def test_no_control_character_from_a_header_reaches_the_digest(digest):
    data, html, text = digest
    assert any("Ursula" in f["name"] for f in data["followups"])
    assert not CONTROL.search(text), repr(CONTROL.search(text))
    assert not CONTROL.search(html), repr(CONTROL.search(html))
    assert "Ursula\ufffd]0;pwned" in text  # shown, but harmless
