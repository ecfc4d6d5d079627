"""Each rule of the pack as a pure function, on crafted timelines at its boundaries."""

from __future__ import annotations

import pytest

from rules.aggregates import Aggregates
from rules.base import DAY, HOUR, History, Mail, Meeting, Subject
from rules.cadence import episode_start
from rules.pack import ORDER, RULES
from rules.settings import build_config, load_defaults
from rules.threads import group_threads, is_reply
from rules.tiers import Score, assign_tiers, rank_key, score_at
from syncd.core.errors import ConfigError
from syncd.mail.subjects import normalize_subject

T0 = 1_000_000_000  # 2001-09-09
CONFIG = build_config({})


def settings(rule: str, **overrides) -> dict:
    return {**CONFIG.rules[rule], **overrides}


def subject(tier="core", now=T0 + 100 * DAY, manual=None, **agg) -> Subject:
    return Subject(7, now, tier, False, Aggregates(7, **agg), manual_touch=manual)


def run(rule: str, s: Subject, **overrides):
    c = settings(rule, **overrides)
    if not RULES[rule].applies(s, c):
        return []
    return RULES[rule].evaluate(s, c)


def shown(findings, now):
    """The findings a user sees at ``now`` (due passed, not expired)."""
    return [f for f in findings if f.due < now and (f.expires is None or f.expires >= now)]


# -- the pack and its settings --------------------------------------------------------


def test_pack_has_the_playbook_rules_and_defaults_of_the_design():
    assert tuple(RULES) == ORDER
    assert set(load_defaults()["rules"]) == set(ORDER)
    d = CONFIG.rules
    assert (d["dormant"]["core_days"], d["dormant"]["active_days"]) == (30, 90)
    assert d["dormant"]["network_days"] == 365
    assert d["meeting_follow_up"]["hours"] == 48
    assert d["unanswered"]["days"] == 3
    assert d["reactivate"]["silent_days"] == 180
    assert d["nurture"]["steps_days"] == [2, 14, 90]
    assert CONFIG.sizes == {"core": 15, "active": 50, "network": 85}


def test_settings_report_every_problem_at_once():
    user = {
        "tiers": {"core": -1, "bogus": 3},
        "rules": {
            "dormant": {"core_days": "thirty", "active_days": 0},
            "nurture": {"steps_days": [14, 2]},
            "reciprocity": {"max_share": 0.3, "tiers": ["vip"]},
            "no_such_rule": {"enabled": True},
            "unanswered": {"colour": "red"},
        },
    }
    with pytest.raises(ConfigError) as err:
        build_config(user)
    problems = err.value.problems
    joined = "\n".join(problems)
    for needle in (
        "tiers.bogus",
        "tiers.core",
        "dormant.core_days",
        "dormant.active_days",
        "nurture.steps_days",
        "reciprocity.max_share",
        "unknown tier 'vip'",
        "no_such_rule",
        "unanswered.colour",
    ):
        assert needle in joined, needle
    assert len(problems) >= 9


def test_user_settings_override_defaults_and_change_the_fingerprint():
    custom = build_config({"rules": {"dormant": {"core_days": 10}}, "tiers": {"core": 5}})
    assert custom.rules["dormant"]["core_days"] == 10
    assert custom.rules["dormant"]["active_days"] == 90
    assert custom.sizes["core"] == 5
    assert custom.fingerprint != CONFIG.fingerprint
    assert build_config({}).fingerprint == CONFIG.fingerprint


# -- tiers ----------------------------------------------------------------------------


def test_tiers_fill_15_50_85_and_pins_win():
    scores = {p: 1000.0 - p for p in range(1, 301)}
    last = dict.fromkeys(scores, 0)
    tiers = assign_tiers(scores, last, {})
    counts = {t: sum(1 for v in tiers.values() if v == t) for t in set(tiers.values())}
    assert counts == {"core": 15, "active": 50, "network": 85, "acquaintance": 150}
    assert tiers[1] == "core" and tiers[16] == "active" and tiers[66] == "network"
    assert tiers[151] == "acquaintance"
    pinned = assign_tiers(scores, last, {300: "core", 1: "acquaintance"})
    assert pinned[300] == "core" and pinned[1] == "acquaintance"
    assert sum(1 for v in pinned.values() if v == "core") == 15
    assert pinned[2] == "core" and pinned[15] == "core" and pinned[16] == "active"


def test_two_way_ties_outrank_one_way_ties_of_the_same_volume():
    two_way = Score(given=5, received=5).total
    one_way = Score(given=10, received=0).total
    assert two_way > one_way


def test_cached_sums_scale_to_the_weights_at_now():
    k = CONFIG.k
    now = T0 + 400 * DAY
    touches = [T0, T0 + 200 * DAY, T0 + 380 * DAY]
    direct = sum(0.5 ** ((now - t) / DAY / 180) for t in touches)
    cached = score_at(sum(2.0 ** (t * k) for t in touches), 0.0, now, k).given
    assert cached == pytest.approx(direct, rel=1e-12)
    assert rank_key(cached) == rank_key(direct)


# -- dormant --------------------------------------------------------------------------


@pytest.mark.parametrize(("tier", "cadence"), [("core", 30), ("active", 90), ("network", 365)])
def test_dormant_is_due_exactly_one_cadence_after_the_last_touch(tier, cadence):
    last = T0
    at_due = subject(tier, now=last + cadence * DAY, last_out=last, n_out=1)
    (f,) = run("dormant", at_due)
    assert f.due == last + cadence * DAY
    assert shown([f], last + cadence * DAY) == []
    assert shown([f], last + cadence * DAY + 1) == [f]
    assert f.cycle == str(last)


def test_dormant_needs_a_tier_and_is_suppressed_by_an_upcoming_meeting():
    now = T0 + 400 * DAY
    assert run("dormant", subject("acquaintance", now, last_in=T0, n_in=1)) == []
    s = subject("core", now, last_in=T0, n_in=1, next_meeting=now + DAY)
    assert run("dormant", s) == []
    assert run("dormant", s, upcoming_suppresses=False) != []


def test_dormant_counts_a_touch_recorded_with_done():
    s = subject("core", T0 + 100 * DAY, manual=T0 + 90 * DAY, last_in=T0, n_in=1)
    (f,) = run("dormant", s)
    assert f.due == T0 + 120 * DAY and f.facts["manual"]


# -- three_touches --------------------------------------------------------------------


def test_three_touches_due_when_the_third_newest_touch_leaves_the_year():
    times = [T0 + 200 * DAY, T0 + 100 * DAY, T0]
    s = subject("active", T0 + 300 * DAY, n_in=3, first_in=T0, last_in=times[0])
    s.history = [(t, "email_in") for t in times]
    (f,) = run("three_touches", s)
    assert f.due == T0 + 365 * DAY
    assert shown([f], T0 + 365 * DAY) == []  # the window [now - 365 d, now] still holds T0
    assert shown([f], T0 + 365 * DAY + 1) == [f]


def test_three_touches_reason_never_claims_fewer_touches_than_there_are():
    # 38 touches in the year: the finding keeps only the newest three (enough to date it)
    times = [T0 + 300 * DAY - d * DAY for d in range(38)]
    s = subject("core", T0 + 300 * DAY, n_in=38, first_in=times[-1], last_in=times[0])
    s.history = [(t, "email_in") for t in times]
    (f,) = run("three_touches", s)
    text = RULES["three_touches"].explain({**f.facts, "due": f.due, "expires": None}, s.now)
    assert text.reason.startswith("At least 3 touches in the last 365 days; below 3 from")


def history(*days_after_t0):
    return History([(T0 + d * DAY, "email_out") for d in days_after_t0], len(days_after_t0))


def test_three_touches_episode_survives_a_touch_that_does_not_reach_three():
    year = 365 * DAY
    # two touches a year apart: never three within a year -> due a year after the first
    assert episode_start(history(500, 0), 3, year) == T0 + year
    # three close touches long ago, then sparse ones: the drop after the close ones
    assert episode_start(history(1000, 500, 2, 1, 0), 3, year) == T0 + year
    # a new sparse touch keeps the same episode (same flag)
    assert episode_start(history(1100, 1000, 500, 2, 1, 0), 3, year) == T0 + year


def test_history_loads_the_rest_only_when_read_that_far():
    calls = []

    def rest():
        calls.append(1)
        return [(T0 + d, "email_in") for d in (9, 8, 7, 6)]

    h = History([(T0 + 9, "email_in"), (T0 + 8, "email_in")], 4, rest)
    assert len(h) == 4 and h[1][0] == T0 + 8 and calls == []
    assert episode_start(h, 2, 5) == T0 + 8 + 5 and calls == []
    assert [at - T0 for at, _ in h] == [9, 8, 7, 6] and calls == [1]


def test_three_touches_only_for_core_and_active_by_default():
    s = subject("network", T0 + 900 * DAY, n_in=1, first_in=T0, last_in=T0)
    s.history = [(T0, "email_in")]
    assert run("three_touches", s) == []
    s.tier = "core"
    assert len(shown(run("three_touches", s), s.now)) == 1


# -- reactivate -----------------------------------------------------------------------


def test_reactivate_needs_ten_two_way_exchanges_and_180_silent_days():
    last = T0
    strong = dict(n_in=10, n_out=12, last_out=last, last_in=last - DAY)
    (f,) = run("reactivate", subject("acquaintance", last + 181 * DAY, **strong))
    assert f.due == last + 180 * DAY and f.facts["exchanges"] == 10
    assert shown([f], last + 180 * DAY) == [] and shown([f], last + 180 * DAY + 1) == [f]
    weak = dict(n_in=9, n_out=30, last_out=last)
    assert run("reactivate", subject("acquaintance", last + 400 * DAY, **weak)) == []
    meetings = dict(n_in=5, n_out=5, n_meet=5, last_meet=last)
    assert run("reactivate", subject("core", last + 400 * DAY, **meetings)) != []


# -- unanswered -----------------------------------------------------------------------


def mail(ref, at, inbound, subject="plans", direct=True, **kw) -> Mail:
    return Mail(ref=ref, at=at, inbound=inbound, subject=subject, direct=direct, **kw)


def unanswered_subject(mails, now):
    s = subject("acquaintance", now, n_in=1, last_in=max(m.at for m in mails if m.inbound))
    s.mail = mails
    return s


def test_unanswered_three_days_after_their_last_message():
    now = T0 + 10 * DAY
    s = unanswered_subject([mail(1, T0, False), mail(2, T0 + DAY, True, "Re: plans")], now)
    (f,) = run("unanswered", s)
    assert f.due == T0 + 4 * DAY and f.cycle == "m2"
    assert shown([f], T0 + 4 * DAY) == [] and shown([f], T0 + 4 * DAY + 1) == [f]


def test_my_reply_answers_the_thread_by_subject_or_by_references():
    now = T0 + 10 * DAY
    by_subject = [mail(1, T0, True, "Plans"), mail(2, T0 + DAY, False, "RE: plans")]
    assert run("unanswered", unanswered_subject(by_subject, now)) == []
    by_ref = [
        mail(1, T0, True, "Plans", msgids=("a@x",)),
        mail(2, T0 + DAY, False, "other words", in_reply_to="a@x"),
    ]
    assert run("unanswered", unanswered_subject(by_ref, now)) == []
    other_thread = [mail(1, T0, True, "Plans"), mail(2, T0 + DAY, False, "Lunch?")]
    assert len(run("unanswered", unanswered_subject(other_thread, now))) == 1


def test_unanswered_skips_cc_only_mail_and_expires():
    now = T0 + 10 * DAY
    cc = [mail(1, T0, True, direct=False)]
    assert run("unanswered", unanswered_subject(cc, now)) == []
    assert len(run("unanswered", unanswered_subject(cc, now), direct_only=False)) == 1
    (f,) = run("unanswered", unanswered_subject([mail(1, T0, True)], now))
    assert f.expires == T0 + 33 * DAY
    assert shown([f], T0 + 33 * DAY) == [f] and shown([f], T0 + 33 * DAY + 1) == []


def test_threads_join_by_root_and_subject_but_not_across_unrelated_subjects():
    assert normalize_subject("RE: Fwd:  Gas   Prices") == "gas prices"
    assert is_reply(mail(1, T0, True, "Re: x")) and not is_reply(mail(1, T0, True, "Fwd: x"))
    threads = group_threads(
        [
            mail(1, T0, True, "a", thread_root="r@x"),
            mail(2, T0 + 1, False, "b", thread_root="r@x"),
            mail(3, T0 + 2, True, "c"),
        ]
    )
    assert sorted(len(t) for t in threads) == [1, 2]


# -- reciprocity ----------------------------------------------------------------------


def reciprocity_subject(starts_by_them: int, starts_by_me: int, now=T0 + 300 * DAY):
    starts = [(T0 + i * DAY, False) for i in range(starts_by_them)]
    starts += [(T0 + (50 + i) * DAY, True) for i in range(starts_by_me)]
    s = subject("active", now, n_in=starts_by_them, n_out=starts_by_me + 1, last_out=T0 + 60 * DAY)
    s.starts = sorted(starts)
    return s


def test_reciprocity_flags_one_sided_relationships_at_80_percent():
    (f,) = run("reciprocity", reciprocity_subject(4, 1))
    assert f.facts["direction"] == "they_start" and f.facts["threads"] == 5
    assert f.cycle == f"they_start-{T0 + 50 * DAY}"
    assert run("reciprocity", reciprocity_subject(3, 2)) == []
    assert run("reciprocity", reciprocity_subject(4, 0)) == []  # fewer than 5 threads
    (g,) = run("reciprocity", reciprocity_subject(0, 5))
    assert g.facts["direction"] == "you_start"


def test_reciprocity_rechecks_when_the_oldest_thread_leaves_the_window():
    s = reciprocity_subject(4, 1)
    c = settings("reciprocity")
    assert RULES["reciprocity"].recheck(s, c) == T0 + 365 * DAY + 1


# -- meeting_follow_up ----------------------------------------------------------------


def meeting_subject(tier, meetings, now):
    s = subject(tier, now, n_meet=len(meetings), last_meet=max(m.end for m in meetings))
    s.meetings = meetings
    return s


def test_meeting_follow_up_48_hours_after_the_meeting_outside_core():
    end = T0
    m = Meeting(ref=3, end=end, title="Kick-off", attendees=2)
    (f,) = run("meeting_follow_up", meeting_subject("active", [m], end + 3 * DAY))
    assert f.due == end + 48 * HOUR and f.cycle == "e3"
    assert shown([f], end + 48 * HOUR) == [] and shown([f], end + 48 * HOUR + 1) == [f]
    assert run("meeting_follow_up", meeting_subject("core", [m], end + 3 * DAY)) == []
    followed = Meeting(ref=3, end=end, title="Kick-off", attendees=2, followed_at=end + 47 * HOUR)
    assert run("meeting_follow_up", meeting_subject("active", [followed], end + 3 * DAY)) == []


# -- nurture --------------------------------------------------------------------------


def nurture_subject(now, mine=(), first_meet=T0):
    s = subject("acquaintance", now, n_meet=1, first_meet=first_meet, last_meet=first_meet)
    s.history = sorted([(first_meet, "meeting"), *((t, "email_out") for t in mine)], reverse=True)
    return s


def test_nurture_steps_after_a_first_meeting():
    findings = run("nurture", nurture_subject(T0 + 3 * DAY))
    assert [f.due for f in findings] == [T0 + 2 * DAY, T0 + 14 * DAY, T0 + 90 * DAY]
    assert [f.cycle for f in findings] == [f"{T0}+2d", f"{T0}+14d", f"{T0}+90d"]
    now = T0 + 3 * DAY
    assert [f.facts["index"] for f in shown(findings, now)] == [1]
    # each step shows until the next one is due
    assert [f.facts["index"] for f in shown(findings, T0 + 15 * DAY)] == [2]


def test_nurture_step_done_by_a_touch_after_its_window_opens():
    thanks = T0 + 2 * HOUR  # a thank-you right after the meeting does step 1 only
    findings = run("nurture", nurture_subject(T0 + 20 * DAY, mine=[thanks]))
    assert [f.facts["index"] for f in findings] == [2, 3]
    later = T0 + 9 * DAY  # after the midpoint of steps 1 and 2 (day 8): does step 2
    findings = run("nurture", nurture_subject(T0 + 20 * DAY, mine=[thanks, later]))
    assert [f.facts["index"] for f in findings] == [3]


def test_nurture_anchor_is_the_first_two_way_exchange_without_meetings():
    s = subject("acquaintance", T0 + 5 * DAY, n_in=1, n_out=1, first_in=T0, first_out=T0 + DAY)
    s.history = [(T0 + DAY, "email_out"), (T0, "email_in")]
    findings = run("nurture", s)
    assert findings[0].due == T0 + 3 * DAY
    assert findings[0].facts["origin"] == "first two-way exchange"
    one_way = subject("acquaintance", T0 + 5 * DAY, n_in=3, first_in=T0, last_in=T0)
    assert run("nurture", one_way) == []


def test_cached_row_follows_the_field_order():
    from dataclasses import fields

    a = Aggregates(*range(1, 14))
    assert a.row() == tuple(getattr(a, f.name) for f in fields(Aggregates))


def test_direct_recognises_my_address_in_the_stored_recipients_non_ascii_too(tmp_path):
    """``_direct`` tests the stored To text for my addresses, also non-ASCII ones."""
    from rules.details import _direct, _my_forms
    from syncd.mail.metadata import encode_recipients
    from syncd.pipeline.identity import add_my_addresses
    from syncd.store.db import open_db

    db = open_db(tmp_path / "s.db")
    add_my_addresses(db, ["jörg@example.de"], source="user")
    forms, by_key = _my_forms(db)
    me = frozenset({"jörg@example.de"})
    assert _direct(encode_recipients(["jörg@example.de"], [], []), forms, by_key, me)
    assert _direct('{"to": ["j\\u00f6rg@example.de"], "cc": [], "bcc": []}', forms, by_key, me)
    assert not _direct(encode_recipients(["ann@x.example"], ["jörg@example.de"], []), forms,
                       by_key, me)  # fmt: skip
