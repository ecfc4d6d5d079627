"""The rules on a real mailbox (Enron allen-p) as of 2002-02-01, checked against `syncd people`.

The expectation is computed independently from ``people --json``: a person is
flagged ``dormant`` exactly when their tier has a cadence, their last touch is
older than it and no meeting is upcoming.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta

import pytest

from tests.support.helpers import people_json, run_cli, shared_data

NOW = "2002-02-01"
CADENCE = {"core": 30, "active": 90, "network": 365}
SIZES = {"core": 15, "active": 50, "network": 85}


@pytest.fixture(scope="module")
def allen(tmp_path_factory):
    mailbox = shared_data("enron", "allen-p")
    home = tmp_path_factory.mktemp("allen") / "home"
    run_cli(
        "import", "mbox", str(mailbox),
        "--me", "phillip.allen@enron.com", "--me", "k..allen@enron.com",
        home=home,
    )  # fmt: skip
    flags = json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
    people = people_json(home, "--now", NOW)
    return home, flags, people


def test_dormant_flags_are_exactly_the_tiered_people_past_their_cadence(allen):
    _, flags, people = allen
    now = datetime.fromisoformat(NOW + "T00:00:00+00:00")
    expected = {
        p["id"]
        for p in people
        if p["tier"] in CADENCE
        and p["last_touch"]
        and not p.get("next_meeting")
        and now - datetime.fromisoformat(p["last_touch"]) > timedelta(days=CADENCE[p["tier"]])
    }
    got = {f["person"] for f in flags if f["rule"] == "dormant"}
    assert expected, "the mailbox should have dormant ties as of 2002-02-01"
    assert got == expected
    for f in flags:
        assert datetime.fromisoformat(f["due"]) < now and f["reason"]


def test_tier_sizes_respect_15_50_85_and_agree_with_people(allen):
    _, flags, people = allen
    sizes = Counter(p["tier"] for p in people)
    for tier, limit in SIZES.items():
        assert 0 < sizes[tier] <= limit
    tier_of = {p["id"]: p["tier"] for p in people}
    for f in flags:
        assert f["tier"] == tier_of[f["person"]]


def test_why_explains_every_flagged_person(allen, capsys):
    from syncd.cli import main

    home, flags, people = allen
    tier_of = {p["id"]: p["tier"] for p in people}
    wanted: dict[int, set[str]] = {}
    for f in flags:
        wanted.setdefault(f["person"], set()).add(f["id"])
    assert len(wanted) > 20
    for person, ids in sorted(wanted.items()):
        assert main(["--home", str(home), "--now", NOW, "why", str(person), "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["tier"] == tier_of[person]
        assert data["score_arithmetic"] and data["last_touches"]
        assert {f["id"] for f in data["flags"]} == ids
        for f in data["flags"]:
            assert f["reason"] and f["explanation"]
            if f["rule"] == "dormant":
                cadence = CADENCE[data["tier"]]
                assert f"+ {cadence} days ({data['tier']}" in f["explanation"][0]
