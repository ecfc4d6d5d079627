"""The ``celebration`` rule as a pure function: due ``days_before`` ahead, gone after the
day, one cycle per year, 29 February, settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rules.aggregates import Aggregates
from rules.base import DAY, Subject
from rules.celebrations import ContactDate, next_occurrence, parse_card_date
from rules.pack import RULES
from rules.settings import build_config
from syncd.core.errors import ConfigError

CONFIG = build_config({})


def at(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def findings(now: int, *dates: ContactDate, tier: str = "core", **overrides):
    c = {**CONFIG.rules["celebration"], **overrides}
    s = Subject(7, now, tier, False, Aggregates(7), dates=tuple(dates))
    rule = RULES["celebration"]
    return rule.evaluate(s, c) if rule.applies(s, c) else []


BDAY = ContactDate("birthday", 3, 5, 1985)


def test_due_a_week_ahead_and_expiring_with_the_day():
    [f] = findings(at(2024, 3, 1), BDAY)
    assert f.id == "celebration:7:birthday-2024"
    assert f.due == at(2024, 2, 27) and f.expires == at(2024, 3, 6) - 1
    assert f.facts["years"] == 39
    text = RULES["celebration"].explain({**f.facts, "due": f.due}, at(2024, 3, 5, 12)).reason
    assert text.startswith("Their birthday is today (39 years)")


def test_one_flag_per_year_next_years_only_after_the_day():
    ids = {f.id for day in range(0, 366, 5) for f in findings(at(2024, 1, 1) + day * DAY, BDAY)}
    assert ids == {"celebration:7:birthday-2024", "celebration:7:birthday-2025"}
    [late] = findings(at(2024, 3, 5, 23, 59), BDAY)
    assert late.cycle == "birthday-2024"
    [after] = findings(at(2024, 3, 6), BDAY)
    assert after.cycle == "birthday-2025" and after.due == at(2025, 2, 26)


def test_leap_day_without_a_year_falls_on_the_28th_in_common_years():
    leap = ContactDate("birthday", 2, 29, None)
    assert next_occurrence(leap, at(2025, 1, 1)) == at(2025, 2, 28)
    assert next_occurrence(leap, at(2028, 1, 1)) == at(2028, 2, 29)
    [f] = findings(at(2025, 1, 1), leap)
    assert f.facts["years"] is None


def test_kinds_tiers_and_days_before_are_settings():
    anniversary = ContactDate("anniversary", 6, 1, 2015)
    both = findings(at(2024, 5, 1), BDAY, anniversary)
    assert sorted(f.cycle for f in both) == ["anniversary-2024", "birthday-2025"]
    assert [f.cycle for f in findings(at(2024, 5, 1), BDAY, anniversary, kinds=["birthday"])] == [
        "birthday-2025"
    ]
    assert findings(at(2024, 5, 1), BDAY, tier="acquaintance", tiers=["core"]) == []
    [f] = findings(at(2024, 3, 1), BDAY, days_before=0)
    assert f.due == at(2024, 3, 5)
    with pytest.raises(ConfigError, match="unknown date 'wedding'"):
        build_config({"rules": {"celebration": {"kinds": ["wedding"]}}})
    with pytest.raises(ConfigError, match="days_before"):
        build_config({"rules": {"celebration": {"days_before": -1}}})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-03-05", ContactDate("birthday", 3, 5, 1985)),
        ("--02-29", ContactDate("birthday", 2, 29, None)),
        ("--13-01", None),
        ("garbage", None),
        (None, None),
    ],
)
def test_card_dates(text, expected):
    assert parse_card_date("birthday", text) == expected
