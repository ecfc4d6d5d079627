"""The engine on a real store: flag lifecycle, incremental = full, tier ripples, --now."""

from __future__ import annotations

import pytest

from rules.base import DAY, HOUR
from rules.flags import all_flags, set_status, shown_flags, snooze
from rules.settings import build_config
from syncd.pipeline.identity import merge_people
from syncd.pipeline.ingest import insert_touchpoints
from syncd.store.db import open_db
from tests.support.synthetic import World, evaluate

T0 = 1_000_000_000
DEFAULT = build_config({})


def fresh():
    return open_db(":memory:")


def shown(db, now, rule=None):
    return {(f.rule, f.person_id): f for f in shown_flags(db, now, rule=rule)}


def status(db):
    return {f.id: (f.status, f.resolution) for f in all_flags(db)}


def tier_of(db, person):
    return db.execute("SELECT tier FROM rules_people WHERE person_id = ?", [person]).fetchone()[0]


def test_touch_closes_a_shown_dormant_flag_and_starts_a_new_cycle():
    db = fresh()
    w = World(db)
    ana = w.person("ana@x.org")
    w.mail_out("ana@x.org", T0)
    evaluate(db, T0 + 31 * DAY, DEFAULT)
    flag = shown(db, T0 + 31 * DAY)[("dormant", ana)]
    assert flag.id == f"dormant:{ana}:{T0}" and flag.due == T0 + 30 * DAY
    w.mail_in("ana@x.org", T0 + 32 * DAY)
    report = evaluate(db, T0 + 33 * DAY, DEFAULT)
    assert report.mode == "incremental" and report.evaluated == 1
    assert status(db)[flag.id] == ("done", "touch")
    assert ("dormant", ana) not in shown(db, T0 + 33 * DAY)
    evaluate(db, T0 + 63 * DAY, DEFAULT)
    again = shown(db, T0 + 63 * DAY)[("dormant", ana)]
    assert again.cycle == str(T0 + 32 * DAY) and again.due == T0 + 62 * DAY


def test_snooze_hides_until_the_date_and_a_touch_closes_the_snoozed_flag():
    db = fresh()
    w = World(db)
    ana = w.person("ana@x.org")
    w.mail_out("ana@x.org", T0)
    now = T0 + 31 * DAY
    evaluate(db, now, DEFAULT)
    flag = shown(db, now)[("dormant", ana)]
    snooze(db, [flag], T0 + 40 * DAY, now)
    evaluate(db, T0 + 35 * DAY, DEFAULT)
    assert shown(db, T0 + 35 * DAY) == {}
    evaluate(db, T0 + 40 * DAY, DEFAULT)
    assert ("dormant", ana) in shown(db, T0 + 40 * DAY)
    snooze(db, [flag], T0 + 50 * DAY, T0 + 40 * DAY)
    w.mail_out("ana@x.org", T0 + 45 * DAY)
    evaluate(db, T0 + 46 * DAY, DEFAULT)
    assert status(db)[flag.id] == ("done", "touch")
    evaluate(db, T0 + 51 * DAY, DEFAULT)
    assert shown(db, T0 + 51 * DAY) == {}


def test_dismiss_stands_and_done_restarts_the_cadence():
    db = fresh()
    w = World(db)
    ana, bo = w.person("ana@x.org"), w.person("bo@x.org")
    w.mail_out(["ana@x.org", "bo@x.org"], T0)
    now = T0 + 31 * DAY
    evaluate(db, now, DEFAULT)
    flags = shown(db, now)
    set_status(db, [flags[("dormant", ana)]], "dismiss", now)
    set_status(db, [flags[("dormant", bo)]], "done", now)
    evaluate(db, now + DAY, DEFAULT, full=True)
    assert status(db)[flags[("dormant", ana)].id] == ("dismissed", "user")
    assert status(db)[flags[("dormant", bo)].id] == ("done", "user")
    assert shown(db, now + DAY) == {}
    later = now + 31 * DAY
    evaluate(db, later, DEFAULT)
    again = shown(db, later)
    assert again[("dormant", bo)].due == now + 30 * DAY  # cadence counted from `done`
    assert ("dormant", ana) not in again  # same cycle: still dismissed


def test_an_upcoming_meeting_suppresses_dormancy_and_counts_once_it_happened():
    db = fresh()
    w = World(db)
    ana = w.person("ana@x.org")
    w.mail_out("ana@x.org", T0)
    now = T0 + 31 * DAY
    evaluate(db, now, DEFAULT)
    flag = shown(db, now)[("dormant", ana)]
    w.meeting("ana@x.org", now + 5 * DAY, "catch-up")
    evaluate(db, now + DAY, DEFAULT)
    assert ("dormant", ana) not in shown(db, now + DAY)
    assert status(db)[flag.id] == ("done", "touch")
    # No write in between: the meeting becomes a past touch when --now passes it.
    evaluate(db, now + 40 * DAY, DEFAULT)
    again = shown(db, now + 40 * DAY)[("dormant", ana)]
    assert again.cycle == str(now + 5 * DAY)


def test_tier_ripple_reevaluates_people_pushed_down_a_tier():
    config = build_config({"tiers": {"core": 1, "active": 1, "network": 1}})
    db = fresh()
    w = World(db)
    a, b, c = w.person("a@x.org"), w.person("b@x.org"), w.person("c@x.org")
    for i in range(6):
        w.mail_out("a@x.org", T0 + i * HOUR)
        w.mail_in("a@x.org", T0 + i * HOUR + 60)
    for i in range(3):
        w.mail_out("b@x.org", T0 + i * HOUR)
        w.mail_in("b@x.org", T0 + i * HOUR + 60)
    w.mail_out("c@x.org", T0)
    now = T0 + 40 * DAY
    evaluate(db, now, config)
    assert [tier_of(db, p) for p in (a, b, c)] == ["core", "active", "network"]
    assert ("dormant", a) in shown(db, now)  # core: 30 days
    assert ("dormant", b) not in shown(db, now)  # active: 90 days
    for i in range(10):  # only c is touched ...
        w.mail_out("c@x.org", now + i * 60)
        w.mail_in("c@x.org", now + i * 60 + 30)
    report = evaluate(db, now + HOUR, config)
    assert report.mode == "incremental" and report.tier_changes == 3
    assert [tier_of(db, p) for p in (a, b, c)] == ["active", "network", "core"]
    # ... yet a's dormant flag follows a's new cadence (90 days): no longer due.
    assert ("dormant", a) not in shown(db, now + HOUR)
    (flag,) = [f for f in all_flags(db) if f.rule == "dormant" and f.person_id == a]
    assert flag.state(now + HOUR) == "pending" and flag.due == T0 + 5 * HOUR + 60 + 90 * DAY


def test_pins_win_over_scores():
    db = fresh()
    w = World(db)
    people = [w.person(f"p{i}@x.org") for i in range(20)]
    for i in range(len(people)):
        for j in range(i + 1):
            w.mail_out(f"p{i}@x.org", T0 + j * HOUR)
    w.pin(people[0], "core")
    w.pin(people[19], "acquaintance")
    evaluate(db, T0 + DAY, DEFAULT)
    assert tier_of(db, people[0]) == "core"
    assert tier_of(db, people[19]) == "acquaintance"
    cores = db.execute("SELECT count(*) FROM rules_people WHERE tier = 'core'").fetchone()[0]
    assert cores == 15


def test_evaluating_an_earlier_now_equals_a_fresh_evaluation():
    def build(db):
        w = World(db)
        w.mail_out(["ana@x.org", "bo@x.org"], T0)
        w.mail_in("bo@x.org", T0 + 50 * DAY, "question")
        w.meeting("ana@x.org", T0 + 60 * DAY)
        return w

    db = fresh()
    build(db)
    evaluate(db, T0 + 100 * DAY, DEFAULT)
    evaluate(db, T0 + 40 * DAY, DEFAULT)
    reference = fresh()
    build(reference)
    evaluate(reference, T0 + 40 * DAY, DEFAULT)
    got = {f.id: (f.due, f.expires) for f in shown_flags(db, T0 + 40 * DAY)}
    want = {f.id: (f.due, f.expires) for f in shown_flags(reference, T0 + 40 * DAY)}
    assert got == want and got


def test_incremental_evaluations_equal_one_full_evaluation():
    steps = [
        lambda w: w.mail_out(["a@x.org", "b@x.org", "c@x.org"], T0),
        lambda w: w.mail_in("b@x.org", T0 + 10 * DAY, "Plans", message_id="p@b"),
        lambda w: w.meeting(["c@x.org", "d@x.org"], T0 + 20 * DAY, "Kick-off"),
        lambda w: w.mail_out("a@x.org", T0 + 25 * DAY, "other", in_reply_to="none"),
        lambda w: w.mail_out("b@x.org", T0 + 70 * DAY, "new", in_reply_to="p@b"),
        lambda w: w.meeting(["a@x.org"], T0 + 200 * DAY, "future"),
        lambda w: w.mail_in("e@x.org", T0 + 80 * DAY, "Hi"),
    ]
    nows = [T0 + d * DAY for d in (5, 12, 23, 30, 75, 76, 90, 120)]
    db = fresh()
    w = World(db)
    for step, now in zip(steps, nows, strict=False):
        step(w)
        evaluate(db, now, DEFAULT)
    final = T0 + 130 * DAY
    evaluate(db, final, DEFAULT)
    reference = fresh()
    wr = World(reference)
    for step in steps:
        step(wr)
    evaluate(reference, final, DEFAULT)
    got = {f.id: (f.due, f.expires, f.facts) for f in shown_flags(db, final)}
    want = {f.id: (f.due, f.expires, f.facts) for f in shown_flags(reference, final)}
    assert got == want
    assert {f.rule for f in shown_flags(db, final)} >= {"dormant", "nurture"}


def test_a_reply_answers_and_a_follow_up_to_any_attendee_closes_the_meeting_flag():
    config = build_config({"tiers": {"core": 0}})
    db = fresh()
    w = World(db)
    a, b = w.person("a@x.org"), w.person("b@x.org")
    w.mail_in("a@x.org", T0, "Question", message_id="q@a")
    w.meeting(["a@x.org", "b@x.org"], T0 + HOUR, "Review")
    now = T0 + 4 * DAY
    evaluate(db, now, config)
    flags = shown(db, now)
    assert {("unanswered", a), ("meeting_follow_up", a), ("meeting_follow_up", b)} <= set(flags)
    assert flags[("meeting_follow_up", a)].due == T0 + HOUR + 48 * HOUR
    w.mail_out("b@x.org", now + HOUR, "Thanks")  # to b only: the meeting is followed up
    w.mail_out("a@x.org", now + HOUR, "Answer", in_reply_to="q@a")
    evaluate(db, now + 2 * HOUR, config)
    after = shown(db, now + 2 * HOUR)
    assert ("meeting_follow_up", a) not in after and ("meeting_follow_up", b) not in after
    assert ("unanswered", a) not in after
    assert status(db)[flags[("meeting_follow_up", a)].id] == ("done", "touch")


def test_deleted_touchpoints_and_merges_are_noticed():
    db = fresh()
    w = World(db)
    ana, ana2 = w.person("ana@x.org"), w.person("ana@home.org")
    w.mail_out("ana@x.org", T0)
    late = w.mail_out("ana@x.org", T0 + 20 * DAY)
    w.mail_out("ana@home.org", T0 + 5 * DAY)
    now = T0 + 45 * DAY
    evaluate(db, now, DEFAULT)
    assert ("dormant", ana) not in shown(db, now)
    w.delete_message(late)
    evaluate(db, now + 1, DEFAULT)
    assert shown(db, now + 1)[("dormant", ana)].cycle == str(T0)
    other = shown(db, now + 1)[("dormant", ana2)]
    merge_people(db, ana, ana2)
    evaluate(db, now + 2, DEFAULT)
    assert status(db)[other.id] == ("done", "merged")
    assert shown(db, now + 2)[("dormant", ana)].cycle == str(T0 + 5 * DAY)


def test_a_second_evaluation_changes_nothing():
    db = fresh()
    w = World(db)
    for i in range(5):
        w.mail_out(f"p{i}@x.org", T0 + i * DAY)
        w.mail_in(f"p{i}@x.org", T0 + i * DAY + HOUR, "Re: hello")
    evaluate(db, T0 + 100 * DAY, DEFAULT)
    before = status(db)
    report = evaluate(db, T0 + 100 * DAY, DEFAULT)
    assert (report.evaluated, report.opened, report.closed) == (0, 0, 0)
    full = evaluate(db, T0 + 100 * DAY, DEFAULT, full=True)
    assert (full.opened, full.closed) == (0, 0) and status(db) == before


def test_changed_settings_re_evaluate_everyone():
    db = fresh()
    w = World(db)
    ana = w.person("ana@x.org")
    w.mail_out("ana@x.org", T0)
    evaluate(db, T0 + 20 * DAY, DEFAULT)
    assert shown(db, T0 + 20 * DAY) == {}
    strict = build_config({"rules": {"dormant": {"core_days": 10}}})
    report = evaluate(db, T0 + 20 * DAY, strict)
    assert report.mode == "full"
    assert shown(db, T0 + 20 * DAY)[("dormant", ana)].due == T0 + 10 * DAY


@pytest.mark.parametrize("rule", ["dormant", "unanswered", "nurture"])
def test_disabled_rules_make_no_flags(rule):
    db = fresh()
    w = World(db)
    w.mail_out("ana@x.org", T0)
    w.mail_in("bo@x.org", T0 + 35 * DAY, "Question")
    w.mail_in("carl@x.org", T0 + 30 * DAY, "Intro")
    w.mail_out("carl@x.org", T0 + 30 * DAY + HOUR, "Agenda")
    now = T0 + 40 * DAY
    evaluate(db, now, DEFAULT)
    assert rule in {f.rule for f in shown_flags(db, now)}
    off = build_config({"rules": {rule: {"enabled": False}}})
    evaluate(db, now, off)
    assert rule not in {f.rule for f in shown_flags(db, now)}


def test_reciprocity_counts_thread_starts_not_replies():
    db = fresh()
    w = World(db)
    bo = w.person("bo@x.org")
    for i in range(5):
        w.mail_in("bo@x.org", T0 + i * DAY, f"Idea {i}")
        w.mail_out("bo@x.org", T0 + i * DAY + HOUR, f"Re: Idea {i}")  # replies: no start
    w.mail_out("bo@x.org", T0 + 6 * DAY, "Thoughts", in_reply_to="x@y")  # a reply by header
    now = T0 + 10 * DAY
    evaluate(db, now, DEFAULT)
    flag = shown(db, now)[("reciprocity", bo)]
    assert flag.facts["direction"] == "they_start"
    assert (flag.facts["mine"], flag.facts["threads"]) == (0, 5)
    w.mail_out("bo@x.org", now + HOUR, "Fwd: an article")  # a forward starts a thread
    evaluate(db, now + 2 * HOUR, DEFAULT)
    # 5 of 6 = 83 %: still one-sided, but I reached out: the old flag is done, a new one opens.
    again = shown(db, now + 2 * HOUR)[("reciprocity", bo)]
    assert again.cycle == f"they_start-{now + HOUR}" and again.facts["mine"] == 1
    assert status(db)[flag.id] == ("done", "touch")


def test_direct_means_one_of_my_addresses_in_to_even_as_a_gmail_variant():
    db = fresh()
    w = World(db, me="jane.doe@gmail.com")
    db.execute(
        "INSERT INTO messages(canonical_hash, sender, sent_at, subject, recipients)"
        " VALUES ('h', 'bo@x.org', ?, 'Dots', ?)",
        [T0, '{"to": ["janedoe+work@gmail.com"], "cc": [], "bcc": []}'],
    )
    mid = db.execute("SELECT max(id) FROM messages").fetchone()[0]
    bo = w.person("bo@x.org")
    insert_touchpoints(db, [("email_in", mid, "bo@x.org", T0, None)])
    w.mail_in("carl@x.org", T0, "Cc only", cc_me=True)
    evaluate(db, T0 + 4 * DAY, DEFAULT)
    flags = shown(db, T0 + 4 * DAY, rule="unanswered")
    assert set(flags) == {("unanswered", bo)}


def test_rebuild_gives_the_same_flags_as_incremental():
    db = fresh()
    w = World(db)
    for i in range(12):
        w.mail_out(f"p{i}@x.org", T0 + i * DAY)
        if i % 3:
            w.mail_in(f"p{i}@x.org", T0 + i * DAY + HOUR, "Re: hello")
    w.meeting(["p1@x.org", "p2@x.org"], T0 + 20 * DAY)
    now = T0 + 60 * DAY
    evaluate(db, now, DEFAULT)
    w.mail_in("p3@x.org", now - DAY, "News")
    evaluate(db, now, DEFAULT)
    before = {f.id: (f.due, f.expires, f.facts) for f in shown_flags(db, now)}
    report = evaluate(db, now, DEFAULT, rebuild=True)
    assert report.mode == "cold" and (report.opened, report.closed) == (0, 0)
    assert {f.id: (f.due, f.expires, f.facts) for f in shown_flags(db, now)} == before


def test_an_empty_store_evaluates_to_no_flags():
    db = fresh()
    report = evaluate(db, T0, DEFAULT)
    assert report.mode == "cold" and report.findings == 0
    assert evaluate(db, T0 + DAY, DEFAULT).evaluated == 0
    assert shown_flags(db, T0 + DAY) == []
