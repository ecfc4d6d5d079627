"""``syncd.report.export``: each format parsed back (csv, vobject, json), quoting and
escaping, formula injection, stable vCard UIDs."""

from __future__ import annotations

import csv
import io
import json

import pytest
import vobject

from connectors.vcard import parse_card
from syncd.report.export import (
    CSV_COLUMNS,
    ExportPerson,
    card_uid,
    format_for,
    safe_cell,
    to_csv,
    to_json,
    to_vcard,
    vcard_of,
    write_export,
)

T = 1_700_000_000  # 2023-11-14T22:13:20Z


def person(pid: int = 1, **overrides) -> ExportPerson:
    fields = {
        "id": pid,
        "name": "Ana Ruiz",
        "emails": ("ana@x.org", "ana.ruiz@y.org"),
        "tier": "core",
        "kind": "human",
        "score": 2.3315,
        "first_touch": T - 86400,
        "last_touch": T,
        "touches_in": 3,
        "touches_out": 2,
        "meetings": 1,
        "tags": ("friend", "investor"),
        "organization": "Acme, Inc.; Labs",
        "title": "CTO",
        "birthday": "--03-10",
        "anniversary": "2015-06-01",
        "location": "Austin, TX, United States",
    }
    return ExportPerson(**{**fields, **overrides})


TRICKY = person(
    2,
    name='Ruiz, "Ana"; the\nboss \x1b[31m é',
    emails=("bo@z.org",),
    organization='=HYPERLINK("http://evil")',
    title="+1 chief, \\ officer",
    tags=("a-b",),
)


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t=", "\r\n@", "  +"])
def test_a_cell_that_a_spreadsheet_would_run_gets_a_quote(lead):
    assert safe_cell(f"{lead}cmd|' /C calc'!A0").startswith("'")


def test_plain_cells_and_numbers_are_left_alone():
    assert safe_cell("Ana") == "Ana" and safe_cell(2.5) == "2.5" and safe_cell(None) == ""
    assert safe_cell("a\x1bb\nc\td") == "ab c d"  # one line, no control characters


def test_csv_has_a_header_row_and_reads_back_with_the_csv_module():
    text = to_csv([person(), TRICKY])
    assert text.startswith(",".join(CSV_COLUMNS) + "\r\n")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    first, second = rows
    assert first["name"] == "Ana Ruiz" and first["email"] == "ana@x.org"
    assert first["other_emails"] == "ana.ruiz@y.org"
    assert first["tags"] == "friend; investor"
    assert first["organization"] == "Acme, Inc.; Labs"  # commas and semicolons quoted
    assert first["score"] == "2.3315" and first["touches_in"] == "3"
    assert first["last_touch"] == "2023-11-14T22:13:20+00:00"
    # a year-less date starts with "-": a spreadsheet would compute it, so it is quoted too
    assert (first["birthday"], first["location"]) == ("'--03-10", "Austin, TX, United States")
    assert first["anniversary"] == "2015-06-01"
    assert second["name"] == 'Ruiz, "Ana"; the boss [31m é'
    assert second["organization"] == '\'=HYPERLINK("http://evil")'
    assert second["title"] == "'+1 chief, \\ officer"
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())


def test_vcard_reads_back_with_vobject_field_for_field():
    cards = list(vobject.readComponents(to_vcard([person(), TRICKY])))
    assert len(cards) == 2
    ana, tricky = cards
    assert ana.version.value == "3.0"
    assert ana.fn.value == "Ana Ruiz"
    assert (ana.n.value.family, ana.n.value.given) == ("Ruiz", "Ana")
    assert [e.value for e in ana.email_list] == ["ana@x.org", "ana.ruiz@y.org"]
    assert ana.email_list[0].params["TYPE"] == ["INTERNET", "PREF"]
    assert ana.org.value == ["Acme, Inc.; Labs"]
    assert ana.title.value == "CTO"
    assert ana.bday.value == "--03-10" and ana.x_anniversary.value == "2015-06-01"
    adr = ana.adr.value
    assert (adr.city, adr.region, adr.country) == ("Austin", "TX", "United States")
    assert ana.categories.value == ["friend", "investor"]
    assert ana.x_syncd_tier.value == "core" and ana.x_syncd_kind.value == "human"
    assert ana.x_syncd_score.value == "2.3315"
    assert ana.x_syncd_last_touch.value == "2023-11-14T22:13:20+00:00"
    assert "core tier" in ana.note.value and "last touch 2023-11-14" in ana.note.value
    assert tricky.fn.value == 'Ruiz, "Ana"; the boss [31m é'  # escaped, controls dropped
    assert tricky.org.value == ['=HYPERLINK("http://evil")']
    assert tricky.title.value == "+1 chief, \\ officer"


def test_long_values_are_folded_and_unfold_intact():
    long_name = "Ana " + "Ñandú-" * 30 + "Ruiz"
    text = to_vcard([person(name=long_name)])
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert vobject.readOne(text).fn.value == long_name


def test_uids_are_stable_per_first_address_and_differ_between_people():
    assert card_uid(person()) == card_uid(person(pid=9, name="Other"))
    assert card_uid(person()) != card_uid(TRICKY)
    assert card_uid(person(emails=())).startswith("urn:uuid:")


def test_json_is_a_list_of_objects_with_every_field():
    data = json.loads(to_json([person(), TRICKY]))
    assert [d["id"] for d in data] == [1, 2]
    assert data[0] == {
        "id": 1,
        "name": "Ana Ruiz",
        "emails": ["ana@x.org", "ana.ruiz@y.org"],
        "tier": "core",
        "kind": "human",
        "score": 2.3315,
        "first_touch": "2023-11-13T22:13:20+00:00",
        "last_touch": "2023-11-14T22:13:20+00:00",
        "touches_in": 3,
        "touches_out": 2,
        "meetings": 1,
        "tags": ["friend", "investor"],
        "organization": "Acme, Inc.; Labs",
        "title": "CTO",
        "birthday": "--03-10",
        "anniversary": "2015-06-01",
        "location": "Austin, TX, United States",
    }
    assert data[1]["name"] == TRICKY.name  # JSON keeps the value, escaped
    assert "\x1b" not in to_json([TRICKY]) and "\x9b" not in to_json([person(name="a\x9bb")])


def test_the_format_follows_the_file_suffix():
    from pathlib import Path

    assert format_for(Path("a.CSV")) == "csv" and format_for(Path("a.vcf")) == "vcard"
    assert format_for(Path("a.json")) == "json" and format_for(Path("a.txt")) is None


def test_the_file_is_written_private_and_whole(tmp_path):
    out = tmp_path / "people.csv"
    write_export(out, "a\r\nb\r\n")
    assert out.read_bytes() == b"a\r\nb\r\n"  # line ends kept as written
    assert out.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


def test_the_vcard_reader_gets_back_what_the_export_wrote():
    card = parse_card(vcard_of(person()).replace("\r\n", "\n"), "card at line 1")
    assert card.full_name == "Ana Ruiz"
    assert card.emails == ("ana@x.org", "ana.ruiz@y.org")
    assert (card.organization, card.title) == ("Acme, Inc.; Labs", "CTO")
    assert (card.birthday, card.anniversary) == ("--03-10", "2015-06-01")
    assert card.location == "Austin, TX, United States"
    assert card.categories == ("friend", "investor")
    assert card.uid == card_uid(person())


def test_google_s_system_group_is_no_tag():
    text = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bo\r\nCATEGORIES:myContacts,Work Friends\r\nEND:VCARD\r\n"
    )
    assert parse_card(text, "card at line 1").categories == ("Work Friends",)


@pytest.mark.parametrize("location", ["Berlin, Germany", "Earth", "a, b, c, d", "Zürich; CH"])
def test_any_location_comes_back_as_written(location):
    card = parse_card(vcard_of(person(location=location)), "card at line 1")
    assert card.location == location
