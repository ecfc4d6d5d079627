"""Ranking many flags cheaply gives exactly the order and tiers of the per-flag path.

``syncd flags`` ranks every shown flag from its key ``(id, rule, person, due)`` and its
person's tier (:func:`syncd.pipeline.identity.people_tiers`, :func:`rules.value.values_of`,
:func:`syncd.report.why.keys_by_value`) and decodes only the flags it prints; these must
agree with :func:`rules.value.flag_value`, :func:`syncd.pipeline.identity.people_info` and
:func:`syncd.report.why.by_value` on every input.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from rules.base import DAY
from rules.flags import flags_by_id, shown_flags, shown_keys
from rules.settings import build_config
from rules.value import RULE_URGENCY, TIE_STRENGTH, flag_value, values_of
from syncd.pipeline.identity import people_info, people_tiers
from syncd.report.why import by_value, keys_by_value
from syncd.store.db import open_db
from tests.support.synthetic import World, evaluate

NOW = 1_700_000_000
rules_ = st.sampled_from([*RULE_URGENCY, "retired_rule"])
tiers_ = st.sampled_from([*TIE_STRENGTH, "unknown"])
dues = st.integers(NOW - 90 * DAY, NOW + 5 * DAY)


@given(st.lists(st.tuples(rules_, tiers_, dues), max_size=50))
@settings(max_examples=200, deadline=None)
def test_values_of_equals_flag_value(items):
    assert values_of(items, NOW) == [flag_value(r, t, d, NOW).value for r, t, d in items]


def _store():
    db = open_db(":memory:")
    w = World(db)
    t0 = NOW - 400 * DAY
    people = [f"p{i}@x.org" for i in range(30)]
    for i, address in enumerate(people):
        for j in range(i % 7 + 1):  # a spread of tie strengths
            w.mail_out(address, t0 + (i * 7 + j) * DAY, f"s{i}")
            if j % 2 == 0:
                w.mail_in(address, t0 + (i * 7 + j) * DAY + 3600, f"Re: s{i}")
        if i % 5 == 0:
            w.mail_in(address, NOW - 20 * DAY, "a question")  # unanswered
    w.pin(w.person(people[3]), "core")
    w.pin(w.person(people[4]), "acquaintance")
    evaluate(db, NOW, build_config({}))
    return db


def test_keys_by_value_and_people_tiers_match_the_per_flag_path():
    db = _store()
    flags = shown_flags(db, NOW)
    assert len(flags) > 10, "the store should show flags"
    ids = {f.person_id for f in flags}
    info = people_info(db, ids)
    assert people_tiers(db, ids) == {p: i["tier"] for p, i in info.items()}
    assert len({i["tier"] for i in info.values()}) >= 2  # more than one tier to rank
    expected = [f.id for f in by_value(flags, info, NOW)]
    keys = shown_keys(db, NOW)
    assert keys == [(f.id, f.rule, f.person_id, f.due) for f in flags]
    ranked = keys_by_value(keys, people_tiers(db, ids), NOW)
    assert [k[0] for k in ranked] == expected
    top = [k[0] for k in ranked[:5]]
    assert [f.id for f in flags_by_id(db, top)] == top
    assert flags_by_id(db, ["no:such:flag", top[0]])[0].id == top[0]
