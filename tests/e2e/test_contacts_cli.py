"""``syncd import vcard|linkedin``, ``syncd merge`` / ``split`` and celebration flags, as a user
runs them (synthetic people; each vendor's card form written by the test)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tests.support.helpers import import_mail_cli, message, people_json, run_cli

ME = "me@example.com"
NOW = "2024-03-01"
CONTRACT = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")

CARDS = """BEGIN:VCARD
VERSION:3.0
FN:Ana Ruiz
item1.EMAIL;type=INTERNET;type=pref:ana@x.org
EMAIL;TYPE=INTERNET,WORK:ana.ruiz@luz.example
ORG:Luz Labs;Research
TITLE:Head of Research
BDAY:1985-03-05
END:VCARD
BEGIN:VCARD
VERSION:2.1
N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:N=C3=BA=C3=B1ez;Jos=C3=A9
FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:jos=C3=A9 n=C3=BA=C3=B1ez
EMAIL;PREF;INTERNET:jose@home.example
BDAY:--0310
END:VCARD
BEGIN:VCARD
VERSION:4.0
FN:Bo Li
EMAIL:bo.personal@home.example
BDAY:19800506
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Cy Stranger
EMAIL:cy@stranger.example
BDAY:--03-04
END:VCARD
BEGIN:VCARD
VERSION:3.0
FN:Broken Card
this line is no property
END:VCARD
"""


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def world(tmp_path):
    sent = [
        message(sender=ME, to="ana@x.org", date=d(2024, 1, 1, 9), subject="Plan"),
        message(sender=ME, to="bo@z.org", date=d(2024, 1, 6, 9), subject="Re: Hi"),
    ]
    inbox = [
        message(sender="Ana Ruiz <ana@x.org>", to=ME, date=d(2024, 1, 2, 9), subject="Re: Plan"),
        message(sender="Bo Li <bo@z.org>", to=ME, date=d(2024, 1, 3, 9), subject="Hi"),
        message(sender="Bo Li <bo.li@w.org>", to=ME, date=d(2024, 1, 4, 9), subject="Hi"),
        message(sender="José Núñez <jn@q.org>", to=ME, date=d(2024, 1, 5, 9), subject="Hola"),
    ]
    home = import_mail_cli(tmp_path, {"Sent": sent, "INBOX": inbox}, ME)
    cards = tmp_path / "contacts.vcf"
    cards.write_text(CARDS)
    return home, cards


def contract(home) -> dict:
    return {p["id"]: {k: p[k] for k in CONTRACT} for p in people_json(home, "--now", NOW)}


def everyone(home) -> list[dict]:
    """``syncd people --all --json``: network candidates (no touches) too."""
    return json.loads(run_cli("--now", NOW, "people", "--all", "--json", home=home).stdout)


def totals(home) -> tuple[int, int, int]:
    people = people_json(home, "--now", NOW)
    return tuple(sum(p[k] for p in people) for k in ("touches_in", "touches_out", "meetings"))


def ids(home) -> dict[str, int]:
    return {e: p["id"] for p in everyone(home) for e in p["emails"]}


def test_import_vcard_matches_suggests_and_a_second_import_changes_nothing(world):
    home, cards = world
    before = contract(home)
    out = run_cli("--now", NOW, "import", "vcard", str(cards), home=home).stdout
    assert out.splitlines()[0] == (
        "imported 4 cards (1 matched by address, 1 by name, 2 new network candidates"
        " (no touches yet)); 0 updated, 0 already known, 4 addresses added, 1 quarantined"
        " (`syncd quarantine list` shows why)"
    )
    people = ids(home)
    bo_z, bo_w = people["bo@z.org"], people["bo.li@w.org"]
    assert out.splitlines()[1] == "1 card may be people you know:"
    assert f"syncd merge {bo_z} " in out and f"syncd merge {bo_w} " in out
    assert contract(home) == before  # the touchpoint figures of people with touches
    quarantined = run_cli("quarantine", "list", home=home).stdout
    assert "card at line 29" in quarantined and "not a readable vCard" in quarantined

    listed = {p["id"]: p for p in everyone(home)}
    assert len(listed) == len(before) + 2
    candidates = [p for pid, p in listed.items() if pid not in before]
    assert all(p["touches_in"] == p["touches_out"] == p["meetings"] == 0 for p in candidates)

    again = run_cli("--now", NOW, "import", "vcard", str(cards), home=home).stdout
    assert "imported 0 cards" in again and "4 already known, 0 addresses added" in again
    assert "may be people you know" not in again
    assert {p["id"]: p for p in everyone(home)} == listed


def test_a_file_that_is_not_a_vcard_or_holds_only_bad_cards_is_an_error(world, tmp_path):
    home, _ = world
    mbox = tmp_path / "mail" / "Sent"
    proc = run_cli("import", "vcard", str(mbox), home=home, check=False)
    assert proc.returncode == 1 and "is not a vCard file" in proc.stderr
    bad = tmp_path / "bad.vcf"
    bad.write_text("BEGIN:VCARD\nVERSION:3.0\nTEL:+1 555\nEND:VCARD\n")
    proc = run_cli("import", "vcard", str(bad), home=home, check=False)
    assert proc.returncode == 1
    assert "only what could not be read: 1 item quarantined" in proc.stderr
    proc = run_cli("import", "vcard", str(tmp_path / "missing.vcf"), home=home, check=False)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = run_cli("import", "linkedin", str(bad), home=home, check=False)
    assert proc.returncode == 1 and "not LinkedIn's Connections.csv" in proc.stderr


def test_linkedin_connections_join_people_by_name_and_address(world, tmp_path):
    home, _ = world
    csv = tmp_path / "Connections.csv"
    csv.write_text(
        "Notes:\n"
        '"When exporting your connection data, you may notice that some of the email'
        ' addresses are missing."\n\n'
        "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
        "Ana,Ruiz,https://www.linkedin.com/in/ana-ruiz,,Luz Labs,Head of Research,05 Dec 2023\n"
        "José,Núñez,https://www.linkedin.com/in/jnunez,jn@q.org,Quinta,CTO,12 Jan 2020\n"
        "Dee,Newman,https://www.linkedin.com/in/dee,,Acme,CFO,01 Jan 2021\n"
    )
    out = run_cli("--now", NOW, "import", "linkedin", str(csv), home=home).stdout
    assert "imported 3 cards (1 matched by address, 1 by name, 1 new network" in out
    again = run_cli("--now", NOW, "import", "linkedin", str(csv), home=home).stdout
    assert "3 already known" in again


def test_merge_and_split_keep_the_touchpoint_sums_and_clear_the_ambiguity(world):
    home, cards = world
    run_cli("--now", NOW, "import", "vcard", str(cards), home=home)
    people = ids(home)
    bo_z, bo_w, card = people["bo@z.org"], people["bo.li@w.org"], people["bo.personal@home.example"]
    sums = totals(home)
    suggested = run_cli("people", "suggest", home=home).stdout
    assert (
        f"syncd people merge {bo_z} {card}    # a contact card of the same name: Bo Li" in suggested
    )
    proc = run_cli("--now", NOW, "why", "Bo Li", home=home, check=False)
    assert proc.returncode == 1 and "names several people" in proc.stderr

    out = run_cli("--now", NOW, "merge", str(bo_z), str(bo_w), home=home).stdout
    assert f"merged person {bo_w} (Bo Li) into person {bo_z}: 1 address (bo.li@w.org)" in out
    first = int(out.split("syncd merge --undo ")[1])
    run_cli("--now", NOW, "merge", str(bo_z), str(card), home=home)
    assert totals(home) == sums
    assert "contact card" not in run_cli("people", "suggest", home=home).stdout
    merged = {p["id"]: p for p in people_json(home, "--now", NOW)}[bo_z]
    assert (merged["touches_in"], merged["touches_out"]) == (2, 1)
    assert "Bo Li" in run_cli("--now", NOW, "why", "Bo Li", home=home).stdout  # unambiguous now
    flags = json.loads(run_cli("--now", NOW, "flags", "--json", home=home).stdout)
    assert {f["person"] for f in flags} & {bo_w, card} == set()

    out = run_cli("--now", NOW, "split", "Bo Li", "bo.li@w.org", home=home).stdout
    new = int(out.split("into person ")[1].split()[0])
    assert f"undo with: syncd merge {bo_z} {new}" in out
    assert totals(home) == sums
    figures = {p["id"]: p for p in people_json(home, "--now", NOW)}
    assert (figures[new]["touches_in"], figures[new]["emails"]) == (1, ["bo.li@w.org"])
    assert figures[bo_z]["touches_in"] == 1

    log = run_cli("merge", "--log", home=home).stdout
    assert f"person {new} split from person {bo_z}" in log
    out = run_cli("--now", NOW, "merge", "--undo", str(first), home=home).stdout
    assert f"person {bo_w} is back with 0 addresses" in out  # bo.li@w.org was split off since
    proc = run_cli("merge", "--undo", str(first), home=home, check=False)
    assert proc.returncode == 1 and f"no merge with id {first}" in proc.stderr
    assert totals(home) == sums


def celebrations(home, now: str) -> list[dict]:
    flags = json.loads(run_cli("--now", now, "flags", "--json", home=home).stdout)
    return [f for f in flags if f["rule"] == "celebration"]


def test_birthdays_become_flags_a_week_ahead_once_a_year(world):
    home, cards = world
    run_cli("--now", NOW, "import", "vcard", str(cards), home=home)
    people = ids(home)
    ana, jose = people["ana@x.org"], people["jn@q.org"]
    assert celebrations(home, "2024-02-26") == []
    shown = celebrations(home, "2024-03-01")
    assert [(f["person"], f["id"]) for f in shown] == [(ana, f"celebration:{ana}:birthday-2024")]
    assert shown[0]["reason"].startswith("Their birthday is on 2024-03-05 (39 years)")
    # Cy Stranger (a network candidate without touches) gets no flag, José's is on 03-10
    on_jose = celebrations(home, "2024-03-04T12:00")
    assert sorted(f["person"] for f in on_jose) == sorted([ana, jose])
    assert celebrations(home, "2024-03-11") == []

    run_cli("--now", "2024-03-01", "done", "Ana Ruiz", home=home)
    assert celebrations(home, "2024-03-02") == []  # done: not again this year
    for now in ("2024-03-05T20:00", "2024-06-01", "2025-02-20"):
        assert [f for f in celebrations(home, now) if f["person"] == ana] == []
    [next_year] = [f for f in celebrations(home, "2025-03-01") if f["person"] == ana]
    assert next_year["id"] == f"celebration:{ana}:birthday-2025"
    why = run_cli("--now", "2025-03-01", "why", "Ana Ruiz", home=home).stdout
    assert "birthday 2025-03-05 − 7 days = due 2025-02-26" in why
    assert "card: Head of Research at Luz Labs; birthday 1985-03-05 (vcard)" in why
