"""``syncd export`` on a real mailbox (Enron allen-p): the three formats hold the same
people as ``syncd people --json`` (its humans), and a vCard export imported into a
fresh home exports the same names, addresses, organisations and tags."""

from __future__ import annotations

import csv
import io
import json

import pytest
import vobject

from tests.support.helpers import people_json, run_cli, shared_data

NOW = "2002-02-01"
ME = ("phillip.allen@enron.com", "k..allen@enron.com")


@pytest.fixture(scope="module")
def allen(tmp_path_factory):
    mailbox_dir = shared_data("enron", "allen-p")
    home = tmp_path_factory.mktemp("allen-export") / "home"
    me = [arg for a in ME for arg in ("--me", a)]
    run_cli("import", "mbox", str(mailbox_dir), *me, home=home)
    run_cli("tag", "john.arnold@enron.com", "trader", "houston", home=home)
    return home


def export(home, fmt: str) -> str:
    return run_cli("--now", NOW, "export", "--format", fmt, home=home).stdout


def test_every_format_holds_the_humans_of_people_json(allen):
    people = {p["id"]: p for p in people_json(allen, "--now", NOW) if p["kind"] == "human"}
    data = json.loads(export(allen, "json"))
    assert len(data) > 100 and {p["id"] for p in data} == set(people)
    for p in data:
        q = people[p["id"]]
        assert (p["name"], p["emails"], p["tier"], p["score"], p["last_touch"]) == (
            q["name"], q["emails"], q["tier"], q["score"], q["last_touch"],
        )  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(export(allen, "csv"), newline="")))
    assert [int(r["id"]) for r in rows] == [p["id"] for p in data]
    cards = list(vobject.readComponents(export(allen, "vcard")))
    assert [c.email.value for c in cards] == [p["emails"][0] for p in data]
    (arnold,) = [p for p in data if "john.arnold@enron.com" in p["emails"]]
    assert arnold["tags"] == ["houston", "trader"]


def test_a_vcard_export_round_trips_through_import_vcard(allen, tmp_path):
    out = tmp_path / "allen.vcf"
    run_cli("--now", NOW, "export", "--out", str(out), home=allen)
    fresh = tmp_path / "fresh"
    run_cli("import", "vcard", str(out), home=fresh)

    def essentials(home) -> set[tuple]:
        return {
            (p["name"], tuple(sorted(p["emails"])), p["organization"], tuple(p["tags"]))
            for p in json.loads(export(home, "json"))
        }

    before = essentials(allen)
    assert essentials(fresh) == before and len(before) > 100
