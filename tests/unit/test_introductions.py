"""Introductions you made (issue 18, item 3): detected from stored headers into their own
table, flagged by ``intro_followup`` two weeks later unless the two wrote to each other,
and the touchpoint figures of ``people --json`` unchanged by any of it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rules.engine import evaluate
from rules.flags import all_flags, shown_flags
from rules.settings import build_config
from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.pipeline.identity import add_my_addresses, my_keys
from syncd.pipeline.introductions import intro_subject, refresh
from syncd.pipeline.local_import import import_paths
from syncd.report.people import compute_people
from tests.support.helpers import message, write_mbox

ME = "me@home.example"
ANA = "Ana Ruiz <ana@a.example>"
BO = "Bo Berg <bo@b.example>"
CY = "Cy Chen <cy@c.example>"
T0 = datetime(2026, 3, 2, 9, tzinfo=UTC)
DAY = 86400


def _ctx(tmp_path, folders: dict[str, list[bytes]], now: datetime) -> Context:
    for folder, msgs in folders.items():
        write_mbox(tmp_path / "mail" / folder, msgs)
    ctx = Context(Home(tmp_path / "home"), int(now.timestamp()))
    import_paths(ctx.db, ctx.home, "mbox", [tmp_path / "mail"], [ME], now=ctx.now)
    return ctx


def _intros(ctx: Context) -> list[tuple]:
    return ctx.db.execute(
        "SELECT address_a, address_b, subject, connected_at FROM introductions ORDER BY at"
    ).fetchall()


def _intro(subject: str = "Intro: Ana <> Bo", to=(ANA, BO), at=T0, cc=()) -> bytes:
    return message(sender=ME, to=list(to), cc=list(cc), date=at, subject=subject)


@pytest.mark.parametrize(
    "subject",
    [
        "Intro: Ana <> Bo",
        "Introduction - Ana Ruiz / Bo Berg",
        "Introducing Bo Berg",
        "You two should meet",
        "Connecting you two",
        "Ana x Bo",
        "Ana ↔ Bo",
        "Vorstellung: Ana und Bo",
        "Présentation Ana / Bo",
        "Presentación: Ana y Bo",
    ],
)
def test_intro_like_subjects(subject):
    assert intro_subject(subject)


@pytest.mark.parametrize(
    "subject",
    ["Meeting notes", "Re: Intro: Ana <> Bo", "Fwd: introduction", "Budget 2 x 3", "lunch?", ""],
)
def test_other_subjects_are_not_introductions(subject):
    assert not intro_subject(subject)


def test_an_introduction_is_detected_with_both_people(tmp_path):
    ctx = _ctx(tmp_path, {"Sent": [_intro()]}, T0 + timedelta(days=1))
    assert _intros(ctx) == [("ana@a.example", "bo@b.example", "Intro: Ana <> Bo", None)]


def test_a_prior_shared_message_means_no_introduction(tmp_path):
    earlier = message(sender=BO, to=[ANA], cc=[ME], date=T0 - timedelta(days=40), subject="hi")
    ctx = _ctx(tmp_path, {"INBOX": [earlier], "Sent": [_intro()]}, T0 + timedelta(days=1))
    assert _intros(ctx) == []


def test_a_non_intro_subject_or_a_third_recipient_is_no_introduction(tmp_path):
    msgs = [
        _intro(subject="Budget review"),
        _intro(subject="Intro: Ana, Bo and Cy", to=(ANA, BO, CY), at=T0 + timedelta(hours=1)),
        _intro(subject="Meet Cy", to=(ANA,), at=T0 + timedelta(hours=2)),
    ]
    ctx = _ctx(tmp_path, {"Sent": msgs}, T0 + timedelta(days=1))
    assert _intros(ctx) == []


def test_touchpoint_figures_do_not_change(tmp_path):
    plain = _ctx(tmp_path / "a", {"Sent": [_intro(subject="Budget")]}, T0 + timedelta(days=1))
    intro = _ctx(tmp_path / "b", {"Sent": [_intro()]}, T0 + timedelta(days=1))

    def figures(ctx):
        return sorted(
            (p.emails, p.touches_in, p.touches_out, p.meetings, p.first_touch, p.last_touch)
            for p in compute_people(ctx.db, ctx.now)
        )

    assert _intros(intro) and not _intros(plain)
    assert figures(plain) == figures(intro)


def _evaluate(ctx: Context, when: datetime, **rules):
    ctx.now = int(when.timestamp())
    config = build_config({"rules": {"intro_followup": rules}} if rules else {})
    evaluate(ctx.db, ctx.now, config, my_keys=my_keys)
    return [f for f in shown_flags(ctx.db, ctx.now) if f.rule == "intro_followup"]


def test_the_follow_up_falls_due_after_two_weeks(tmp_path):
    ctx = _ctx(tmp_path, {"Sent": [_intro()]}, T0 + timedelta(days=1))
    assert _evaluate(ctx, T0 + timedelta(days=13)) == []
    (flag,) = _evaluate(ctx, T0 + timedelta(days=14, hours=1))
    assert flag.due == int(T0.timestamp()) + 14 * DAY
    assert "Ana Ruiz and Bo Berg" in flag.explain(ctx.now).reason
    person_a = ctx.db.execute(
        "SELECT person_id FROM addresses WHERE address = 'ana@a.example'"
    ).fetchone()[0]
    assert flag.person_id == person_a


def test_the_delay_is_configurable(tmp_path):
    ctx = _ctx(tmp_path, {"Sent": [_intro()]}, T0 + timedelta(days=1))
    assert len(_evaluate(ctx, T0 + timedelta(days=8), days=7)) == 1


def test_a_message_between_them_withdraws_the_flag(tmp_path):
    ctx = _ctx(tmp_path, {"Sent": [_intro()]}, T0 + timedelta(days=1))
    assert len(_evaluate(ctx, T0 + timedelta(days=15))) == 1
    # Bo writes to Ana (Cc me) a week later: they connected
    reply = message(sender=BO, to=[ANA], cc=[ME], date=T0 + timedelta(days=7), subject="Coffee?")
    write_mbox(tmp_path / "mail" / "INBOX", [reply])
    import_paths(ctx.db, ctx.home, "mbox", [tmp_path / "mail"], [ME], now=ctx.now)
    assert _intros(ctx)[0][3] == int((T0 + timedelta(days=7)).timestamp())
    assert _evaluate(ctx, T0 + timedelta(days=16)) == []
    (closed,) = [f for f in all_flags(ctx.db) if f.rule == "intro_followup"]
    assert closed.status == "done" and closed.resolution in ("cleared", "touch")


def test_a_connection_before_the_due_date_means_no_flag(tmp_path):
    msgs = [_intro()]
    reply = message(sender=ANA, to=[BO, ME], date=T0 + timedelta(days=2), subject="Re: Intro")
    ctx = _ctx(tmp_path, {"Sent": msgs, "INBOX": [reply]}, T0 + timedelta(days=20))
    assert _evaluate(ctx, T0 + timedelta(days=20)) == []
    # as of a day after the introduction, before they wrote, it is still pending
    assert _intros(ctx)[0][3] is not None


def test_my_own_second_message_to_both_is_no_connection(tmp_path):
    again = _intro(subject="Re: Intro: Ana <> Bo", at=T0 + timedelta(days=5))
    ctx = _ctx(tmp_path, {"Sent": [_intro(), again]}, T0 + timedelta(days=20))
    assert _intros(ctx)[0][3] is None
    assert len(_evaluate(ctx, T0 + timedelta(days=20))) == 1


def test_a_new_address_of_mine_makes_detection_start_over(tmp_path):
    ctx = _ctx(tmp_path, {"Sent": [_intro()]}, T0 + timedelta(days=1))
    assert len(_intros(ctx)) == 1
    with ctx.db.atomic():
        add_my_addresses(ctx.db, ["bo@b.example"], "user")
    refresh(ctx.db)
    assert _intros(ctx) == []  # an introduction of Ana to myself is none
