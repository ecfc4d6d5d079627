"""``syncd tag`` / ``untag`` as a user runs them: tags, filters, per-tag cadence, merges."""

from __future__ import annotations

import json

import pytest

from tests.support.helpers import (
    ana_and_bo,
    import_mail_cli,
    people_json,
    run_cli,
)

ME = "me@example.com"
NOW = "2024-01-20"


@pytest.fixture
def home(tmp_path):
    return import_mail_cli(tmp_path, ana_and_bo(ME), ME)


def cli(home, *args, check=True):
    return run_cli("--now", NOW, *args, home=home, check=check)


def flags(home, *extra) -> list[dict]:
    return json.loads(cli(home, "flags", "--json", *extra).stdout)


def test_tag_untag_list_and_show_with_normalised_names(home):
    out = json.loads(cli(home, "tag", "Ana Ruiz", " Investor", "friend", "--json").stdout)
    assert out["added"] == ["investor", "friend"] and out["tags"] == ["friend", "investor"]
    again = cli(home, "tag", "ana@x.org", "INVESTOR").stdout
    assert "already tagged investor" in again
    cli(home, "tag", "bo@z.org", "investor")
    listed = json.loads(cli(home, "tag", "--json").stdout)
    assert listed == [
        {"tag": "friend", "people": 1, "cadence_days": None},
        {"tag": "investor", "people": 2, "cadence_days": None},
    ]
    assert "friend, investor" in cli(home, "tag", "ana@x.org").stdout
    assert "tags: friend, investor" in cli(home, "why", "ana@x.org").stdout
    by_name = {p["name"]: p["tags"] for p in people_json(home, "--now", NOW)}
    assert by_name["Ana Ruiz"] == ["friend", "investor"] and by_name["Bo Li"] == ["investor"]

    removed = json.loads(cli(home, "untag", "ana@x.org", "Investor", "--json").stdout)
    assert removed["removed"] == ["investor"] and removed["tags"] == ["friend"]
    missing = cli(home, "untag", "ana@x.org", "investor", check=False)
    assert missing.returncode == 1
    assert "has no tag 'investor' (its tags: friend)" in missing.stderr


@pytest.mark.parametrize("bad", ["two words", "a,b", "semi;colon", "bell\x07", ""])
def test_an_invalid_tag_is_a_clear_error_and_changes_nothing(home, bad):
    proc = cli(home, "tag", "ana@x.org", "ok", bad, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "tag" in proc.stderr and ("one word" in proc.stderr or "empty" in proc.stderr)
    assert "no tags" in cli(home, "tag", "ana@x.org").stdout


def test_people_and_flags_filter_by_tag(home):
    cli(home, "tag", "ana@x.org", "investor")
    people = json.loads(cli(home, "people", "--json", "--tag", "Investor").stdout)
    assert [p["name"] for p in people] == ["Ana Ruiz"]
    table = cli(home, "people", "--tag", "investor").stdout
    assert "Ana Ruiz" in table and "Bo Li" not in table

    everyone = flags(home)
    assert {f["name"] for f in everyone} >= {"Ana Ruiz", "Bo Li"}
    tagged = flags(home, "--tag", "investor")
    assert tagged and {f["name"] for f in tagged} == {"Ana Ruiz"}
    assert tagged == [f for f in everyone if f["name"] == "Ana Ruiz"]

    unknown = cli(home, "flags", "--tag", "investr", check=False)
    assert unknown.returncode == 1
    assert "no one is tagged 'investr'; tags in use: investor" in unknown.stderr


def test_a_tag_cadence_raises_a_dormant_flag_the_tier_would_not(home):
    (home / "config.toml").write_text("[rules.tags.investor]\ncadence_days = 10\n")

    def dormant() -> list[dict]:
        return [f for f in flags(home) if f["rule"] == "dormant" and f["name"] == "Ana Ruiz"]

    assert dormant() == []  # core cadence: 30 days from 2024-01-02 is not over on 2024-01-20
    cli(home, "tag", "ana@x.org", "investor")
    (flag,) = dormant()
    assert flag["due"].startswith("2024-01-12")  # 10 days after the last touch
    assert "'investor' tag's cadence is 10 days" in flag["reason"]
    assert json.loads(cli(home, "tag", "--json").stdout)[0]["cadence_days"] == 10

    cli(home, "untag", "ana@x.org", "investor")
    assert dormant() == []


def test_a_tag_cadence_covers_an_acquaintance_and_the_shortest_tag_wins(home):
    (home / "config.toml").write_text(
        "[rules.tags.investor]\ncadence_days = 10\n\n[rules.tags.family]\ncadence_days = 5\n"
    )
    cli(home, "people", "tier", "bo@z.org", "acquaintance")
    assert not [f for f in flags(home) if f["rule"] == "dormant" and f["name"] == "Bo Li"]
    cli(home, "tag", "bo@z.org", "investor", "family")
    (flag,) = [f for f in flags(home) if f["rule"] == "dormant" and f["name"] == "Bo Li"]
    assert flag["due"].startswith("2024-01-08")  # 5 days after 2024-01-03
    assert "'family' tag's cadence is 5 days" in flag["reason"]


def test_a_bad_tag_in_the_config_is_reported_with_the_others(home):
    (home / "config.toml").write_text(
        "[rules.tags.'big fish']\ncadence_days = 10\n\n[rules.tags.vip]\ncadence_days = 0\n"
    )
    proc = cli(home, "flags", check=False)
    assert proc.returncode == 2
    assert "rules.tags.big fish: tag 'big fish' contains a space" in proc.stderr
    assert "rules.tags.vip.cadence_days: must be greater than 0" in proc.stderr


def test_merging_people_keeps_the_tags_of_both(home):
    cli(home, "tag", "bo@z.org", "investor")
    cli(home, "tag", "bo.li@w.org", "alumni")
    cli(home, "merge", "bo@z.org", "bo.li@w.org")
    assert "alumni, investor" in cli(home, "tag", "bo@z.org").stdout
    assert json.loads(cli(home, "tag", "--json").stdout) == [
        {"tag": "alumni", "people": 1, "cadence_days": None},
        {"tag": "investor", "people": 1, "cadence_days": None},
    ]
