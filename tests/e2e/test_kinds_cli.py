"""Person kinds through the CLI: only humans are tiered and flagged, the touchpoint
figures stay exactly as the contract says, and the user's corrections (``syncd kind``,
``syncd ignore``) persist across re-imports; ``syncd me suggest|add``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "ana.ruiz@corp.example"
NOW = "2026-03-01"
BASE = datetime(2026, 2, 20, 12, 0, tzinfo=UTC)
OFF = "[kinds]\nself_threshold = 1000000.0\nautomated_threshold = 1000000.0\n"
FIGURES = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")


def _mail() -> list[bytes]:
    msgs = []
    for who, n in (("Bob Lee <bob@b.example>", 5), ("Carol Diaz <carol@c.example>", 3)):
        for i in range(n):
            at = BASE - timedelta(days=9 * i + 3)
            msgs.append(message(sender=who, to=ME, date=at, subject=f"plan {i}"))
            msgs.append(message(sender=ME, to=who, date=at + timedelta(hours=1), subject="re"))
    for i in range(4):  # notes to self on a home address (forms of my name)
        at = BASE - timedelta(days=5 * i)
        msgs.append(message(sender=ME, to="aruiz@home.example", date=at, subject=f"Fwd: {i}"))
    for i in range(6):  # a build robot: no List or Precedence header, numbered subjects
        at = BASE - timedelta(days=2 * i + 1)
        msgs.append(
            message(
                sender="Monitor <alerts@monitor.example>",
                to=ME,
                date=at,
                subject=f"Build {100 + i} failed",
            )
        )
    msgs.append(message(sender=ME, to="help@corp.example", date=BASE, subject="laptop"))
    msgs.append(message(sender="help@corp.example", to=ME, date=BASE, subject="Ticket 7"))
    return msgs


def _by_email(home) -> dict[str, dict]:
    return {e: p for p in people_json(home, "--now", NOW) for e in p["emails"]}


def _flagged(home) -> dict[str, list[str]]:
    flags = json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
    out: dict[str, list[str]] = {}
    for f in flags:
        out.setdefault(f["email"], []).append(f["rule"])
    return out


@pytest.fixture()
def homes(tmp_path):
    mail = write_mbox(tmp_path / "mail" / "INBOX", _mail())
    on, off = tmp_path / "on", tmp_path / "off"
    off.mkdir()
    (off / "config.toml").write_text(OFF)
    for home in (on, off):
        run_cli("import", "mbox", str(mail), "--me", ME, home=home)
    return on, off, mail


def test_kinds_decide_who_is_tiered_and_flagged_and_touches_stay_as_they_are(homes):
    on, off, _ = homes
    people = _by_email(on)
    assert people["aruiz@home.example"]["kind"] == "self"
    assert people["alerts@monitor.example"]["kind"] == "automated"
    assert people["help@corp.example"]["kind"] == "list"
    assert people["bob@b.example"]["kind"] == "human"
    for address in ("aruiz@home.example", "alerts@monitor.example", "help@corp.example"):
        assert people[address]["tier"] == "acquaintance", address
    assert people["bob@b.example"]["tier"] == "core"
    # without detection the robot and the alias rank, and the robot is flagged unanswered
    before = _by_email(off)
    assert before["alerts@monitor.example"]["tier"] == "core"
    assert before["aruiz@home.example"]["tier"] == "core"
    assert "alerts@monitor.example" in _flagged(off)
    flagged = _flagged(on)
    assert not {"alerts@monitor.example", "aruiz@home.example", "help@corp.example"} & set(flagged)
    # the contract figures: number for number, every address
    assert set(people) == set(before)
    for address, p in people.items():
        assert {k: p[k] for k in FIGURES} == {k: before[address][k] for k in FIGURES}, address
    why = run_cli("--now", NOW, "why", "alerts@monitor.example", home=on).stdout
    assert "kind: automated" in why and "subject_template" in why
    assert "only humans are tiered" in why


def test_corrections_win_persist_across_reimports_and_can_be_undone(homes):
    on, _, mail = homes
    run_cli("kind", "alerts@monitor.example", "human", home=on)
    run_cli("ignore", "@b.example", home=on)
    listed = run_cli("ignore", "--list", home=on).stdout
    assert "@b.example" in listed and "alerts@monitor.example" in listed and "human" in listed
    people = _by_email(on)
    assert people["alerts@monitor.example"]["kind"] == "human"
    assert people["alerts@monitor.example"]["tier"] != "acquaintance"
    assert people["bob@b.example"]["tier"] == "acquaintance"
    flagged = _flagged(on)
    assert "bob@b.example" not in flagged
    assert "unanswered" in flagged["alerts@monitor.example"]  # a human now: flagged like one
    # new mail arrives (the store changes, inference runs again): the corrections stand
    extra = [
        message(
            sender="Monitor <alerts@monitor.example>",
            to=ME,
            subject=f"Build {n} failed",
            date=BASE + timedelta(days=1, hours=n),
        )
        for n in range(3)
    ]
    write_mbox(mail.parent / "INBOX2", extra)
    run_cli("import", "mbox", str(mail.parent), "--me", ME, home=on)
    people = _by_email(on)
    assert people["alerts@monitor.example"]["kind"] == "human"
    assert people["alerts@monitor.example"]["touches_in"] == 9
    assert people["bob@b.example"]["tier"] == "acquaintance"
    # undo both
    run_cli("unignore", "@b.example", home=on)
    run_cli("kind", "alerts@monitor.example", "auto", home=on)
    people = _by_email(on)
    assert people["bob@b.example"]["tier"] == "core"
    assert people["alerts@monitor.example"]["kind"] == "automated"
    assert "alerts@monitor.example" not in _flagged(on)
    closed = json.loads(run_cli("--now", NOW, "flags", "--all", "--json", home=on).stdout)
    robot = [f for f in closed if f["email"] == "alerts@monitor.example"]
    assert robot and {f["resolution"] for f in robot} == {"not a person"}
    assert "nothing" in run_cli("ignore", "--list", home=on).stdout
    bad = run_cli("unignore", "@b.example", home=on, check=False)
    assert bad.returncode == 1 and "not ignored" in bad.stderr
    bad = run_cli("ignore", "not-an-address", home=on, check=False)
    assert bad.returncode == 1 and "not an address" in bad.stderr


def test_me_suggest_lists_the_alias_with_its_evidence_and_me_add_accepts_it(homes):
    on, _, _ = homes
    found = json.loads(run_cli("me", "suggest", "--json", home=on).stdout)
    (alias,) = [c for c in found if c["address"] == "aruiz@home.example"]
    assert alias["applied"] is True
    assert {e["signal"] for e in alias["evidence"]} >= {"name_form", "only_with_me"}
    assert "bob@b.example" not in {c["address"] for c in found}
    run_cli("me", "add", "aruiz@home.example", home=on)
    assert "aruiz@home.example" not in _by_email(on)  # mine now: no touchpoints with myself
    again = run_cli("me", "add", "aruiz@home.example", home=on).stdout
    assert "already" in again


def test_flags_are_listed_most_valuable_first(homes):
    on, _, _ = homes
    flags = json.loads(run_cli("--now", NOW, "flags", "--json", home=on).stdout)
    values = [f["value"] for f in flags]
    assert values and values == sorted(values, reverse=True)
