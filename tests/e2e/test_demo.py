"""``syncd demo``: a deterministic generated network whose import matches what it was built to be.

The generator keeps a ledger while it writes (messages each way, meetings,
first and last touch per contact); these tests hold ``syncd people --json``
after the demo to that ledger, contact by contact.
"""

from __future__ import annotations

import json
import mailbox
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import icalendar
import pytest

from syncd.core.timeutil import iso, parse_instant
from syncd.demo.network import generate
from syncd.mail.metadata import AUTOMATED_LOCAL_PARTS
from tests.support.helpers import REPO, message, run_cli, write_mbox

NOW = "2026-06-01"
ANCHOR = parse_instant(NOW)
TIERS = {"core", "active", "network", "acquaintance"}
DAY = 86400


def _status(home: Path) -> dict:
    return json.loads(run_cli("--now", NOW, "status", "--json", home=home).stdout)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("network"), ANCHOR)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo run twice in one home (and a third time on a later day)."""
    root = tmp_path_factory.mktemp("demo")
    home = root / "home"
    first = run_cli("--now", NOW, "demo", "--out", str(root / "out1"), home=home)
    status1 = _status(home)
    second = run_cli("--now", NOW, "demo", "--out", str(root / "out2"), home=home)
    status2 = _status(home)
    later = run_cli("--now", "2026-06-20", "demo", home=home)
    people = json.loads((root / "out1" / "people.json").read_text(encoding="utf-8"))
    everyone = json.loads(run_cli("--now", NOW, "people", "--json", "--all", home=home).stdout)
    return SimpleNamespace(
        root=root,
        home=home,
        first=first,
        second=second,
        later=later,
        status1=status1,
        status2=status2,
        people=people,
        everyone=everyone,
        by_email={e: p for p in people for e in p["emails"]},
    )


# -- the generator -------------------------------------------------------------


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _generate_in_subprocess(out: Path, anchor: int, hash_seed: str) -> None:
    code = f"from syncd.demo.network import generate; generate({str(out)!r}, {anchor})"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, timeout=120)


def test_same_anchor_gives_byte_identical_files(tmp_path):
    # Separate processes with different hash seeds: no dependence on set order either.
    _generate_in_subprocess(tmp_path / "a", ANCHOR, "1")
    _generate_in_subprocess(tmp_path / "b", ANCHOR, "2")
    files_a = _files(tmp_path / "a")
    assert files_a == _files(tmp_path / "b")
    assert sorted(files_a) == [
        "calendar.ics",
        *(f"mail/{f}" for f in ("Archive", "Drafts", "INBOX", "Sent", "Spam", "Trash")),
    ]
    a, b = generate(tmp_path / "c", ANCHOR), generate(tmp_path / "d", ANCHOR)
    assert _files(tmp_path / "c") == files_a
    assert (a.copies, a.logical, a.counted) == (b.copies, b.logical, b.counted)
    # Regenerating over existing files leaves them untouched (mtimes feed the import cursors).
    mtimes = {p: p.stat().st_mtime_ns for p in (tmp_path / "c").rglob("*") if p.is_file()}
    generate(tmp_path / "c", ANCHOR)
    assert mtimes == {p: p.stat().st_mtime_ns for p in (tmp_path / "c").rglob("*") if p.is_file()}
    other = generate(tmp_path / "e", ANCHOR + DAY)
    assert _files(tmp_path / "e") != files_a
    assert other.anchor == ANCHOR + DAY


def test_generated_network_has_the_intended_shape(manifest):
    assert 3000 <= manifest.copies <= 6000
    assert len(manifest.people) >= 150
    roles = {c.role for c in manifest.people}
    assert {"close", "quiet", "regular", "occasional", "tail", "meeting-only"} <= roles
    assert manifest.bulk > 100 and manifest.broadcast == 2 and manifest.skipped_only > 20
    assert manifest.duplicate_copies > 500 and manifest.alt_id_copies > 50
    assert manifest.meetings_held > 100 and manifest.meetings_upcoming > 0
    for address in [*manifest.contacts, *manifest.excluded]:
        domain = address.rpartition("@")[2]
        assert domain.endswith(".example") or domain in ("gmail.com", "googlemail.com"), address
    for c in manifest.people:
        assert c.last_touch <= ANCHOR and c.first_touch >= ANCHOR - 731 * DAY


def test_generated_files_parse_with_the_standard_libraries(manifest):
    for folder, count in manifest.folders.items():
        box = mailbox.mbox(manifest.mail_dir / folder, create=False)
        assert len(box) == count, folder
    cal = icalendar.Calendar.from_ical(manifest.calendar_path.read_bytes())
    events = [e for e in cal.walk("VEVENT") if "RECURRENCE-ID" not in e]
    assert len(events) == manifest.events
    assert any("RRULE" in e for e in events)


# -- the demo through the CLI --------------------------------------------------


def test_demo_summarises(demo):
    # its wall time is a benchmark (bench/demo.py in make bench), not an assertion here
    out = demo.first.stdout
    for text in ("Dana Whitfield", "logical messages", "bulk or automated", "people:", "core"):
        assert text in out
    assert (demo.root / "out1" / "input" / "calendar.ics").is_file()
    assert (demo.root / "out1" / "input" / "mail" / "INBOX").is_file()


def test_every_person_matches_the_generators_ledger(demo, manifest):
    """The strongest check: figures known by construction, contact by contact."""
    assert len(demo.people) == len(manifest.people)
    matched = set()
    for c in manifest.people:
        p = demo.by_email.get(c.address) or next(demo.by_email[e] for e in sorted(c.emails))
        matched.add(p["id"])
        expected = {
            "name": c.name,
            "emails": sorted(c.emails),
            "touches_in": c.touches_in,
            "touches_out": c.touches_out,
            "meetings": c.meetings,
            "first_touch": iso(c.first_touch),
            "last_touch": iso(c.last_touch),
            "next_meeting": iso(c.next_meeting),
        }
        assert {k: p[k] for k in expected} == expected, c.address
    assert len(matched) == len(demo.people)


@pytest.mark.parametrize("name", ["Priya Raman", "John Smith", "Fatima Haddad"])
def test_named_contacts(demo, manifest, name):
    (c,) = [c for c in manifest.people if c.name == name]
    (p,) = [p for p in demo.people if p["name"] == name]
    assert (p["touches_in"], p["touches_out"], p["meetings"]) == (
        c.touches_in,
        c.touches_out,
        c.meetings,
    )
    if name == "Priya Raman":  # weekly 1:1 and monthly steering meeting, emailed every week
        assert p["tier"] == "core" and p["meetings"] > 80 and p["touches_in"] > 80
        assert p["next_meeting"] is not None
    if name == "Fatima Haddad":  # a strong tie that went quiet
        assert ANCHOR - 366 * DAY < parse_instant(p["last_touch"]) < ANCHOR - 180 * DAY


def test_every_tier_is_present(demo):
    tiers = [p["tier"] for p in demo.people]
    assert set(tiers) == TIERS
    assert (tiers.count("core"), tiers.count("active"), tiers.count("network")) == (15, 50, 85)


def test_nobody_is_automated_excluded_or_me(demo, manifest):
    for p in demo.people:
        for email in p["emails"]:
            local = email.partition("@")[0].split("+", 1)[0]
            assert local not in AUTOMATED_LOCAL_PARTS, email
            assert email not in manifest.excluded, email
            assert email not in manifest.persona_forms, email
            assert not email.endswith("@gmail.com") or local.replace(".", "") != "danawhitfield"


def test_broadcast_only_recipients_have_no_touchpoints(demo, manifest):
    assert len(manifest.broadcast_only) == 16
    for p in demo.everyone:
        if set(p["emails"]) & set(manifest.broadcast_only):
            assert p["touches_in"] == p["touches_out"] == p["meetings"] == 0
            assert p["last_touch"] is None


def test_gmail_variants_are_one_person(demo, manifest):
    holders = {p["id"]: p for p in demo.people if set(p["emails"]) & set(manifest.gmail_variants)}
    assert len(holders) == 1
    (john,) = holders.values()
    assert len(set(john["emails"]) & set(manifest.gmail_variants)) >= 2


def test_quiet_ties_stopped_six_to_twelve_months_ago(demo, manifest):
    assert len(manifest.quiet) == 3
    for address in manifest.quiet:
        p = demo.by_email[address]
        age = ANCHOR - parse_instant(p["last_touch"])
        assert 180 * DAY < age < 366 * DAY, address
        assert p["touches_in"] >= 10 and p["touches_out"] >= 10


def test_store_figures_match_the_manifest(demo, manifest):
    s = demo.status1
    assert s["observations"] == manifest.copies
    assert s["logical_messages"] == manifest.logical
    assert s["skipped_copies"] == manifest.skipped_only
    assert s["bulk_messages"] == manifest.bulk
    assert s["quarantined"] == 0


def test_a_second_run_changes_nothing(demo):
    assert "nothing new" in demo.second.stdout
    assert demo.status2 == demo.status1
    first = (demo.root / "out1" / "people.json").read_bytes()
    assert (demo.root / "out2" / "people.json").read_bytes() == first
    # On a later day the home keeps its network: still nothing new.
    assert "nothing new" in demo.later.stdout
    assert _status(demo.home) == demo.status1


def test_refuses_a_home_holding_other_data(tmp_path):
    mail = write_mbox(
        tmp_path / "mail" / "INBOX", [message(sender="a@b.example", to="me@x.example")]
    )
    home = tmp_path / "home"
    run_cli("import", "mbox", str(mail), "--me", "me@x.example", home=home)
    proc = run_cli("--now", NOW, "demo", home=home, check=False)
    assert proc.returncode == 1
    assert "already holds other data" in proc.stderr
    assert not (home / "demo").exists()


def test_flags_start_with_the_most_valuable(demo):
    flags = json.loads(run_cli("--now", NOW, "flags", "--json", home=demo.home).stdout)
    values = [f["value"] for f in flags]
    assert len(values) > 10
    assert values == sorted(values, reverse=True)  # tie strength × urgency, best first
    tiers = [f["tier"] for f in flags]
    assert tiers[0] == "core" and "acquaintance" not in tiers[:5]
    assert any("tie strength" in line for line in flags[0]["explanation"])
    kinds = {p["kind"] for p in demo.everyone}
    assert kinds <= {"human", "self", "automated", "list"}
