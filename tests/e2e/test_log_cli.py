"""``syncd log``: manual touchpoints restart cadences, show in why, leave §2 numbers alone."""

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
NOW = "2024-03-01"
CONTRACT = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")


@pytest.fixture
def home(tmp_path):
    return import_mail_cli(tmp_path, ana_and_bo(ME), ME)


def contract(home) -> dict:
    return {p["id"]: {k: p[k] for k in CONTRACT} for p in people_json(home, "--now", NOW)}


def test_log_restarts_the_cadence_shows_in_why_and_undo_restores(home):
    before = contract(home)
    rules = {
        f["rule"]
        for f in json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
        if f["name"] == "Ana Ruiz"
    }
    assert "dormant" in rules  # last touch 2024-01-02, core cadence 30 days

    out = run_cli(
        "--now", NOW, "log", "Ana Ruiz", "--kind", "coffee", "--at", "2024-02-25T08:30",
        "--note", "Coffee at Luz", "--json", home=home,
    ).stdout  # fmt: skip
    touch = json.loads(out)
    assert touch["kind"] == "coffee" and touch["at"] == "2024-02-25T08:30:00+00:00"
    assert touch["status"] == "logged" and touch["note"] == "Coffee at Luz"

    after = {
        f["rule"]
        for f in json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
        if f["person"] == touch["person"]
    }
    assert "dormant" not in after  # 2024-02-25 + 30 days is not due on 2024-03-01
    # ... but it is again a month later, counted from the coffee
    later = json.loads(run_cli("--now", "2024-04-01", "flags", "--json", home=home).stdout)
    (dormant,) = [f for f in later if f["person"] == touch["person"] and f["rule"] == "dormant"]
    assert dormant["due"].startswith("2024-03-26")
    assert any("recorded by you" in line for line in dormant["explanation"])

    why = json.loads(run_cli("--now", NOW, "why", "ana@x.org", "--json", home=home).stdout)
    first = why["last_touches"][0]
    assert first == {
        "kind": "coffee", "at": "2024-02-25T08:30:00+00:00", "subject": "Coffee at Luz",
        "logged": touch["id"],
    }  # fmt: skip
    assert [t["subject"] for t in why["last_touches"][1:]] == ["Re: Plan", "Plan"]
    text = run_cli("--now", NOW, "why", "ana@x.org", home=home).stdout
    assert "coffee" in text and "Coffee at Luz" in text and f"id {touch['id']}" in text

    assert contract(home) == before  # design.md §2 numbers do not move

    undone = run_cli("--now", NOW, "log", "--undo", str(touch["id"]), home=home).stdout
    assert undone.startswith(f"undone: {touch['id']} (coffee")
    rules = {
        f["rule"]
        for f in json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
        if f["person"] == touch["person"]
    }
    assert "dormant" in rules
    why = json.loads(run_cli("--now", NOW, "why", "ana@x.org", "--json", home=home).stdout)
    assert all("logged" not in t for t in why["last_touches"])


def test_log_accepts_an_id_or_address_and_refuses_ambiguity_and_bad_input(home):
    people = {p["emails"][0]: p["id"] for p in people_json(home, "--now", NOW)}
    bo = people["bo@z.org"]
    out = run_cli("--now", NOW, "log", str(bo), "--kind", "call", home=home).stdout
    assert out.startswith("logged: ") and f"person {bo} at 2024-03-01" in out
    out = run_cli("--now", NOW, "log", "bo.li@w.org", "--kind", "note", home=home).stdout
    assert f"person {people['bo.li@w.org']}" in out

    def refused(*args: str) -> str:
        proc = run_cli("--now", NOW, "log", *args, home=home, check=False)
        assert proc.returncode != 0 and proc.stderr.strip()
        return proc.stderr

    assert "names several people" in refused("Bo Li", "--kind", "call")
    assert "no person matches" in refused("Nobody", "--kind", "call")
    assert "in the future" in refused("bo@z.org", "--kind", "call", "--at", "2024-05-01")
    assert "no logged touch with id 999" in refused("--undo", "999")
    assert "usage: syncd log PERSON --kind" in refused("bo@z.org")
    assert "'lunch' is not one of 'call', 'coffee'" in refused("bo@z.org", "--kind", "lunch")


def test_merging_people_keeps_their_logged_touches(home):
    people = {p["emails"][0]: p["id"] for p in people_json(home, "--now", NOW)}
    keep, other = people["bo@z.org"], people["bo.li@w.org"]
    run_cli("--now", NOW, "log", str(other), "--kind", "intro", "--note", "to Ana", home=home)
    run_cli("people", "merge", str(keep), str(other), home=home)
    why = json.loads(run_cli("--now", NOW, "why", str(keep), "--json", home=home).stdout)
    assert [(t["kind"], t["subject"]) for t in why["last_touches"] if "logged" in t] == [
        ("intro", "to Ana")
    ]
