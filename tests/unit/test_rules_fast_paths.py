"""The rules engine's fast paths give the same results as the plain ones they replace."""

from __future__ import annotations

import json
import random

import pytest

from rules.aggregates import Aggregates
from rules.base import DAY, Subject
from rules.cadence import cadence_of, dormant_applies
from rules.conversation import _lookback, nurture_anchor, nurture_applies
from rules.flags import _facts_json
from rules.settings import TIER_NAMES, build_config


def test_facts_json_is_json_dumps_compact():
    """The reused C encoder writes what ``json.dumps`` (compact, non-ASCII kept) writes."""
    samples = [
        {},
        {"tier": "core", "pinned": False, "cadence_days": 30, "tag": None, "last_touch": 17},
        {"subject": 'Re: "Budget" — Q3 ünïcode \\ \n\t', "received": -1, "direct": True},
        {"steps": [3, 14, 60], "ratio": 0.1 + 0.2, "big": 2**70, "nested": {"a": [None, 1.5]}},
        {"nan": float("nan"), "inf": float("inf"), "emoji": "\U0001f600"},
    ]
    for facts in samples:
        assert _facts_json(facts) == json.dumps(facts, ensure_ascii=False, separators=(",", ":"))


def _subjects(n: int = 3000) -> list[Subject]:
    """Random subjects: every tier, tags or none, some kinds never touched, some manual touches."""
    rnd = random.Random(17)
    now = 1_700_000_000
    out = []
    for i in range(n):

        def some(rnd=rnd, now=now) -> int | None:
            return None if rnd.random() < 0.3 else now - rnd.randrange(0, 900 * DAY)

        agg = Aggregates(i, first_in=some(), first_out=some(), first_meet=some())
        agg.last_in, agg.last_out, agg.last_meet = agg.first_in, agg.first_out, agg.first_meet
        tags = tuple(rnd.sample(["vip", "family", "golf"], rnd.randrange(0, 3)))
        manual = some() if rnd.random() < 0.1 else None
        tier = rnd.choice(TIER_NAMES)
        out.append(Subject(i, now, tier, False, agg, manual_touch=manual, tags=tags))
    return out


@pytest.mark.parametrize(
    "overrides", [{}, {"expire_days": 0}, {"steps_days": [1, 2]}, {"expire_days": 400}]
)
def test_nurture_applies_tests_the_anchor_nurture_reports(overrides):
    """``nurture_applies`` inlines ``nurture_anchor``: the same answer as the anchor's instant."""
    c = {**build_config({}).rules["nurture"], **overrides}
    for s in _subjects():
        anchor = nurture_anchor(s)
        since = _lookback(s, c["steps_days"][-1] * DAY, c["expire_days"])
        expected = anchor is not None and (since is None or anchor[0] >= since)
        assert nurture_applies(s, c) == expected


@pytest.mark.parametrize("tag_days", [{}, {"vip": 7}, {"vip": 7, "golf": 400}])
def test_dormant_applies_is_having_a_cadence(tag_days):
    """``dormant_applies``'s shortcut for untagged people agrees with ``cadence_of``."""
    c = {**build_config({}).rules["dormant"], "tag_days": tag_days}
    for s in _subjects():
        expected = s.last_touch is not None and cadence_of(s, c) is not None
        assert dormant_applies(s, c) == expected
