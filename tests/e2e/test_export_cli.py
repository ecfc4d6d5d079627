"""``syncd export`` as a user runs it: CSV, vCard and JSON parsed back, the figures of
``people --json``, formula-safe cells, and a vCard round trip into a fresh home."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import pytest
import vobject

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "me@example.com"
NOW = "2024-03-01"

CARDS = """BEGIN:VCARD
VERSION:3.0
FN:Ana Ruiz
EMAIL;TYPE=INTERNET:ana@x.org
ORG:Luz Labs\\, Inc.;Research
TITLE:Head of Research
BDAY:1985-03-05
ADR;TYPE=WORK:;;Calle 1;Madrid;;28001;Spain
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Dee Park
EMAIL;TYPE=INTERNET:dee@q.example
ORG:Q; Ltd
END:VCARD
"""


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-cli")
    sent = [
        message(sender=ME, to="ana@x.org", date=d(2024, 1, 1, 9), subject="Plan"),
        message(sender=ME, to="ana.ruiz@luz.example", date=d(2024, 1, 5, 9), subject="Docs"),
    ]
    inbox = [
        message(sender="Ana Ruiz <ana@x.org>", to=ME, date=d(2024, 1, 2, 9), subject="Re: Plan"),
        message(
            sender="\"=cmd|' /C calc'!A0\" <eve@evil.example>",
            to=ME,
            date=d(2024, 1, 3, 9),
            subject="Invoice",
        ),
        message(sender="Alerts <noreply@bank.example>", to=ME, date=d(2024, 1, 4, 9)),
        message(sender="Build Bot <ci@builds.example>", to=ME, date=d(2024, 1, 4, 10)),
    ]
    write_mbox(root / "mail" / "Sent", sent)
    write_mbox(root / "mail" / "INBOX", inbox)
    home = root / "home"
    run_cli("import", "mbox", str(root / "mail"), "--me", ME, home=home)
    (root / "cards.vcf").write_text(CARDS)
    run_cli("import", "vcard", str(root / "cards.vcf"), home=home)
    run_cli("merge", "ana@x.org", "ana.ruiz@luz.example", home=home)
    run_cli("kind", "ci@builds.example", "automated", home=home)
    run_cli("tag", "ana@x.org", "investor", "friend", home=home)
    run_cli("tag", "dee@q.example", "alumni", home=home)
    return home


def export(home, *args) -> str:
    return run_cli("--now", NOW, "export", *args, home=home).stdout


def test_json_has_the_people_figures_tags_and_organisations(home):
    data = json.loads(export(home, "--format", "json"))
    by_name = {p["name"]: p for p in data}
    assert set(by_name) == {"Ana Ruiz", "Dee Park", "=cmd|' /C calc'!A0"}  # no robot
    figures = {p["id"]: p for p in people_json(home, "--now", NOW)}
    ana = by_name["Ana Ruiz"]
    for key in ("tier", "kind", "score", "first_touch", "last_touch", "touches_in", "touches_out",
                "meetings", "emails"):  # fmt: skip
        assert ana[key] == figures[ana["id"]][key], key
    assert ana["emails"] == ["ana.ruiz@luz.example", "ana@x.org"]
    assert ana["tags"] == ["friend", "investor"]
    assert (ana["organization"], ana["title"]) == ("Luz Labs, Inc.", "Head of Research")
    assert (ana["birthday"], ana["location"]) == ("1985-03-05", "Madrid, Spain")
    dee = by_name["Dee Park"]  # a network candidate: a card, no touches
    assert dee["last_touch"] is None and dee["touches_in"] == 0 and dee["tier"] == "acquaintance"
    assert dee["organization"] == "Q" and dee["tags"] == ["alumni"]
    assert data[0]["name"] == "Ana Ruiz"  # strongest tie first


def test_csv_reads_back_and_no_cell_is_a_formula(home, tmp_path):
    out = tmp_path / "people.csv"
    run_cli("--now", NOW, "export", "--out", str(out), home=home)  # format from the suffix
    assert out.stat().st_mode & 0o777 == 0o600
    text = out.read_text(encoding="utf-8")
    assert text == export(home, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_email = {r["email"]: r for r in rows}
    ana = by_email["ana.ruiz@luz.example"]
    assert ana["other_emails"] == "ana@x.org" and ana["tags"] == "friend; investor"
    assert ana["organization"] == "Luz Labs, Inc."
    assert by_email["eve@evil.example"]["name"] == "'=cmd|' /C calc'!A0"
    assert not any(v.lstrip().startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_vcard_reads_back_with_vobject(home):
    cards = {c.fn.value: c for c in vobject.readComponents(export(home, "--format", "vcard"))}
    ana = cards["Ana Ruiz"]
    assert ana.version.value == "3.0"
    assert [e.value for e in ana.email_list] == ["ana.ruiz@luz.example", "ana@x.org"]
    assert ana.org.value == ["Luz Labs, Inc."] and ana.title.value == "Head of Research"
    assert ana.categories.value == ["friend", "investor"]
    assert ana.x_syncd_tier.value == "core" and ana.x_syncd_kind.value == "human"
    assert ana.x_syncd_last_touch.value == "2024-01-05T09:00:00+00:00"


def test_the_tag_filter_and_the_errors(home, tmp_path):
    data = json.loads(export(home, "--format", "json", "--tag", "Alumni"))
    assert [p["name"] for p in data] == ["Dee Park"]
    for args, words in (
        (("--out", str(tmp_path / "x.txt")), "which format?"),
        (("--format", "csv", "--tag", "nobody"), "no one is tagged 'nobody'"),
        (("--format", "csv", "--out", str(tmp_path / "no" / "x.csv")), "is not a directory"),
    ):
        proc = run_cli("export", *args, home=home, check=False)
        assert proc.returncode == 1 and words in proc.stderr, proc.stderr
    bad = run_cli("export", "--format", "xml", home=home, check=False)
    assert bad.returncode == 2 and "'xml' is not one of" in bad.stderr


def test_a_vcard_export_imports_into_a_fresh_home_unchanged(home, tmp_path):
    out = tmp_path / "people.vcf"
    run_cli("--now", NOW, "export", "--out", str(out), home=home)
    fresh = tmp_path / "fresh"
    run_cli("import", "vcard", str(out), home=fresh)

    def essentials(h) -> set[tuple]:
        data = json.loads(export(h, "--format", "json"))
        fields = ("name", "organization", "title", "birthday", "anniversary", "location")
        return {
            (*(p[f] for f in fields), tuple(sorted(p["emails"])), tuple(p["tags"])) for p in data
        }

    assert essentials(fresh) == essentials(home)
    assert len(essentials(fresh)) == 3
    again = run_cli("import", "vcard", str(out), home=fresh).stdout
    assert "3 already known" in again  # the UIDs identify the cards


def test_all_kinds_adds_the_robots(home):
    humans = {p["name"] for p in json.loads(export(home, "--format", "json"))}
    everyone = json.loads(export(home, "--format", "json", "--all-kinds"))
    robots = {p["emails"][0]: p["kind"] for p in everyone if p["name"] not in humans}
    assert robots == {"ci@builds.example": "automated"}
