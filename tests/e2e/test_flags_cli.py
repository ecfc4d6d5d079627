"""The flags CLI as a user runs it: flags --json, why, snooze, done, dismiss, people tier."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "me@example.com"


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("flags-cli")
    sent = [
        message(sender=ME, to="ana@x.org", date=d(2024, 1, 1, 9), subject="Plan"),
        message(sender=ME, to="carl@y.org", date=d(2023, 1, 1, 9), subject="Old times"),
    ]
    inbox = [
        message(sender="Ana Ruiz <ana@x.org>", to=ME, date=d(2024, 1, 2, 9), subject="Re: Plan"),
        message(sender="Bo <bo@z.org>", to=ME, date=d(2024, 2, 20, 9), subject="Question"),
    ]
    write_mbox(root / "mail" / "Sent", sent)
    write_mbox(root / "mail" / "INBOX", inbox)
    home = root / "home"
    run_cli("import", "mbox", str(root / "mail"), "--me", ME, home=home)
    return home


def flags(home, now="2024-03-01", *extra) -> list[dict]:
    return json.loads(run_cli("--now", now, "flags", "--json", *extra, home=home).stdout)


def by_person(items):
    return {(f["rule"], f["person"]) for f in items}


def test_flags_json_has_person_rule_due_and_reason(home):
    people = {p["emails"][0]: p for p in people_json(home, "--now", "2024-03-01")}
    ana, bo, carl = (people[a]["id"] for a in ("ana@x.org", "bo@z.org", "carl@y.org"))
    items = flags(home)
    assert by_person(items) == {
        ("dormant", ana),
        ("nurture", ana),  # step 2 (two weeks after the first two-way exchange)
        ("dormant", carl),
        ("three_touches", carl),  # one touch in the year since the first
        ("unanswered", bo),
    }
    for f in items:
        assert isinstance(f["person"], int) and f["reason"]
        assert datetime.fromisoformat(f["due"]) < d(2024, 3, 1)
        assert f["state"] == "shown" and f["id"].startswith(f"{f['rule']}:{f['person']}:")
    (dormant,) = [f for f in items if f["rule"] == "dormant" and f["person"] == ana]
    assert dormant["due"] == "2024-02-01T09:00:00+00:00"  # last touch 2024-01-02 + 30 days
    assert dormant["name"] == "Ana Ruiz" and dormant["tier"] == "core"
    assert "30 days" in dormant["reason"]


def test_why_explains_tier_score_touches_and_each_flag(home):
    out = run_cli("--now", "2024-03-01", "why", "ana@x.org", home=home).stdout
    assert "tier: core (automatic, rank" in out
    assert "score" in out and "2·√(given × received)" in out
    assert "the top 15 scores are core" in out
    assert "Re: Plan" in out  # last touches
    assert "dormant (due 2024-02-01" in out
    assert "last touch 2024-01-02 + 30 days (core cadence) = due 2024-02-01" in out
    data = json.loads(
        run_cli("--now", "2024-03-01", "why", "ana@x.org", "--json", home=home).stdout
    )
    assert data["tier"] == "core" and data["touches_in"] == 1 and data["touches_out"] == 1
    assert [f["rule"] for f in data["flags"]] == ["nurture", "dormant"]  # by due date
    assert all(f["reason"] and f["explanation"] for f in data["flags"])


def test_snooze_done_dismiss_and_tier_pins(tmp_path, home):
    import shutil

    h = tmp_path / "home"
    shutil.copytree(home, h)
    run_cli("--now", "2024-03-01", "snooze", "ana@x.org", "--until", "2024-03-10", home=h)
    assert "ana@x.org" not in {f["email"] for f in flags(h, "2024-03-05")}
    assert "ana@x.org" in {f["email"] for f in flags(h, "2024-03-11")}
    run_cli("--now", "2024-03-11", "dismiss", "carl@y.org", "--rule", "dormant", home=h)
    run_cli("--now", "2024-03-11", "done", "bo@z.org", "--rule", "unanswered", home=h)
    left = {(f["rule"], f["email"]) for f in flags(h, "2024-03-11")}
    assert left == {
        ("dormant", "ana@x.org"),
        ("nurture", "ana@x.org"),
        ("three_touches", "carl@y.org"),
    }
    run_cli("people", "tier", "carl@y.org", "network", home=h)
    tiers = {p["emails"][0]: p["tier"] for p in people_json(h, "--now", "2024-03-11")}
    assert tiers["carl@y.org"] == "network"
    everything = flags(h, "2024-03-11", "--all")
    states = {(f["rule"], f["email"]): f["state"] for f in everything}
    assert states[("dormant", "carl@y.org")] == "dismissed"
    assert states[("unanswered", "bo@z.org")] == "done"
    bad = run_cli("--now", "2024-03-11", "done", "carl@y.org", home=h, check=False)
    assert bad.returncode == 1 and "no open" in bad.stderr and "Traceback" not in bad.stderr


def test_invalid_settings_are_reported_all_at_once(tmp_path, home):
    import shutil

    h = tmp_path / "home"
    shutil.copytree(home, h)
    (h / "config.toml").write_text(
        '[tiers]\ncore = "many"\n[rules.dormant]\ncore_days = -1\n[rules.nope]\nx = 1\n'
    )
    proc = run_cli("--now", "2024-03-01", "flags", home=h, check=False)
    assert proc.returncode == 2  # an invalid configuration
    for needle in ("tiers.core", "dormant.core_days", "rules.nope"):
        assert needle in proc.stderr
    (h / "config.toml").write_text("[rules.dormant]\ncore_days = 90\n")
    assert ("dormant", "ana@x.org") not in {(f["rule"], f["email"]) for f in flags(h)}
    shown = json.loads(run_cli("rules", "--json", home=h).stdout)
    assert shown["rules"]["dormant"]["core_days"] == 90
    assert shown["rules"]["unanswered"]["days"] == 3
