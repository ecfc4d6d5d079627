"""Tags: the name rule, the owner's writes and readers, per-tag cadences in the config
and in the dormant rule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rules.aggregates import Aggregates
from rules.base import DAY, Subject
from rules.cadence import cadence_of, dormant, dormant_applies, explain_dormant
from rules.dirty import marked_people
from rules.flags import Flag
from rules.settings import build_config
from rules.tags import normalise_tag, tag_problem
from syncd.core.errors import ConfigError, UserError
from syncd.followup.texts import plain_reason
from syncd.pipeline.tags import (
    add_tags,
    clean_tags,
    move_tags,
    people_tagged,
    put_tags,
    remove_tags,
    require_tag,
    tag_counts,
    tag_from_label,
    tags_for,
)
from syncd.store.db import open_db

T0 = 1_000_000_000


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "s.db")
    with db.atomic():
        for pid, name in ((1, "Ana"), (2, "Bo"), (3, "Cy")):
            db.execute("INSERT INTO people(id, name) VALUES (?, ?)", [pid, name])
    return db


# -- names --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, name", [(" Investor ", "investor"), ("VC-Fund_2", "vc-fund_2"), ("Ärzte", "ärzte")]
)
def test_names_are_trimmed_and_lower_case(raw, name):
    assert tag_problem(raw) is None
    assert normalise_tag(raw) == name


@pytest.mark.parametrize(
    "raw, words",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("two words", "a space"),
        ("tab\there", "'\\t'"),
        ("esc\x1b[31m", "'\\x1b'"),
        ("a,b", "','"),
        ("a;b", "';'"),
        ("x" * 65, "longer than 64"),
    ],
)
def test_invalid_names_say_why(raw, words):
    problem = tag_problem(raw)
    assert problem is not None and words in problem


def test_clean_tags_reports_every_bad_name_at_once_and_drops_duplicates():
    assert clean_tags(["A", "a ", "b"]) == ("a", "b")
    with pytest.raises(UserError) as err:
        clean_tags(["ok", "no good", "x,y"])
    assert "'no good'" in str(err.value) and "'x,y'" in str(err.value)


def test_a_free_label_becomes_a_tag():
    assert tag_from_label("Work Friends") == "work-friends"
    assert tag_from_label(" A, B;c ") == "a-b-c"
    assert tag_from_label("\x1b") is None
    assert tag_from_label("  ") is None


# -- the owner ----------------------------------------------------------------------------


def test_add_remove_and_read_tags_marking_people_for_the_rules(db):
    change = add_tags(db, 1, ["Investor", "friend"])
    assert change.changed == ("investor", "friend") and change.tags == ("friend", "investor")
    assert marked_people(db) == {1}
    again = add_tags(db, 1, ["investor"])
    assert again.changed == () and again.unchanged == ("investor",)
    add_tags(db, 2, ["investor"])
    assert tags_for(db) == {1: ("friend", "investor"), 2: ("investor",)}
    assert tags_for(db, [2, 3]) == {2: ("investor",)}
    assert people_tagged(db, " INVESTOR") == [1, 2]
    assert tag_counts(db) == {"friend": 1, "investor": 2}

    db.execute("DELETE FROM rules_dirty_people")
    removed = remove_tags(db, 1, ["investor"])
    assert removed.tags == ("friend",) and marked_people(db) == {1}
    with pytest.raises(UserError, match=r"person 1 has no tag 'investor' \(its tags: friend\)"):
        remove_tags(db, 1, ["investor", "friend"])
    assert tags_for(db, [1]) == {1: ("friend",)}  # nothing removed by the failed call


def test_require_tag_refuses_an_unknown_tag_naming_those_in_use(db):
    add_tags(db, 1, ["investor"])
    assert require_tag(db, "Investor") == "investor"
    with pytest.raises(UserError, match="no one is tagged 'invstor'; tags in use: investor"):
        require_tag(db, "invstor")


def test_merging_moves_tags_and_deleting_a_person_drops_its_tags(db):
    add_tags(db, 1, ["a"])
    add_tags(db, 2, ["a", "b"])
    with db.atomic():
        move_tags(db, 1, 2)
    assert tags_for(db) == {1: ("a", "b")}
    with db.atomic():
        db.execute("DELETE FROM people WHERE id = 1")
    assert tags_for(db) == {}


def test_put_tags_turns_labels_into_tags_inside_the_callers_transaction(db):
    with db.atomic():
        assert put_tags(db, 3, ["Board Members", "board-members", "\x07", "VIP"]) == (
            "board-members",
            "vip",
        )
    assert tags_for(db, [3]) == {3: ("board-members", "vip")}


# -- per-tag cadence in the config --------------------------------------------------------


def test_tag_cadences_are_read_normalised_and_fed_to_the_dormant_rule():
    tags = {"Investor": {"cadence_days": 30}, "vip": {"cadence_days": 7}}
    config = build_config({"rules": {"tags": tags}})
    assert config.rules["dormant"]["tag_days"] == {"investor": 30, "vip": 7}
    assert build_config({}).rules["dormant"]["tag_days"] == {}
    assert config.fingerprint != build_config({}).fingerprint  # a change re-evaluates everyone


def test_tag_cadence_problems_are_reported_at_once():
    user = {
        "rules": {
            "tags": {
                "two words": {"cadence_days": 5},
                "ok": {"cadence_days": 0, "cadense_days": 3},
                "OK ": {"cadence_days": 4},
                "plain": 7,
                "bare": {},
            }
        }
    }
    with pytest.raises(ConfigError) as err:
        build_config(user, source="config.toml")
    text = "\n".join(err.value.problems)
    assert "rules.tags.two words: tag 'two words' contains a space" in text
    assert "rules.tags.ok.cadence_days: must be greater than 0" in text
    assert "rules.tags.ok.cadense_days: unknown setting" in text and "cadence_days" in text
    assert "rules.tags.OK : the tag 'ok' is configured twice" in text
    assert "rules.tags.plain: expected a table with cadence_days" in text
    assert "rules.tags.bare.cadence_days: needed (a number of days)" in text
    assert "unknown rule" not in text  # "tags" is not taken for a rule id


# -- per-tag cadence in the dormant rule --------------------------------------------------


def subject(tier: str, tags: tuple[str, ...], last: int = T0) -> Subject:
    agg = Aggregates(7, n_in=1, n_out=1, first_in=last - DAY, last_in=last - DAY, first_out=last,
                     last_out=last)  # fmt: skip
    return Subject(7, last + 100 * DAY, tier, False, agg, tags=tags)


def test_the_shortest_tag_cadence_overrides_the_tier():
    c = {
        **build_config({}).rules["dormant"],
        "tag_days": {"investor": 30, "family": 14, "far": 400},
    }
    assert cadence_of(subject("network", ("investor", "family")), c) == (14, "family")
    assert cadence_of(subject("core", ("far",)), c) == (400, "far")  # longer than core's 30
    assert cadence_of(subject("core", ("other",)), c) == (30, None)
    assert cadence_of(subject("acquaintance", ()), c) is None
    tagged = subject("acquaintance", ("investor",))
    assert dormant_applies(tagged, c)
    (finding,) = dormant(tagged, c)
    assert finding.due == T0 + 30 * DAY and finding.facts["tag"] == "investor"
    text = explain_dormant({**finding.facts, "due": finding.due}, T0 + 40 * DAY)
    assert "the 'investor' tag's cadence is 30 days" in text.reason
    assert "(tag 'investor' cadence, acquaintance tier)" in text.arithmetic[0]


def test_the_calendar_and_digest_wording_name_the_tag():
    facts = {"tier": "core", "cadence_days": 10, "last_touch": T0, "tag": "investor"}
    flag = Flag(
        id="dormant:7:c", rule="dormant", person_id=7, cycle="c", due=T0 + 10 * DAY,
        expires=None, facts=facts, status="open", snoozed_until=None, resolution=None,
        resolved_at=None, first_seen=T0, updated=T0,
    )  # fmt: skip
    text = plain_reason(flag, T0 + 12 * DAY)
    assert (
        text
        == "Silent for 12 days, more than the 10 days you aim for with your 'investor' contacts"
    )
    untagged = replace(flag, facts={**facts, "tag": None})
    assert plain_reason(untagged, T0 + 12 * DAY).endswith("with your closest contacts")
