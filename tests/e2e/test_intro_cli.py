"""``syncd intro TARGET``: warm paths ranked by my tie × their evidence with the target."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "me@example.com"
NOW = "2024-03-01"
TARA = "tara@t.org"
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n"
    "DTSTART:20240201T100000Z\r\nDTEND:20240201T110000Z\r\nSUMMARY:Roadmap review\r\n"
    f"ORGANIZER:mailto:{ME}\r\nATTENDEE:mailto:{ME}\r\nATTENDEE:mailto:bo@b.org\r\n"
    f"ATTENDEE:mailto:{TARA}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def d(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("intro")
    sent, inbox = [], []
    for day in range(1, 6):  # a strong two-way tie with Ana
        sent.append(message(sender=ME, to="ana@a.org", date=d(2024, 1, day, 9), subject=f"A{day}"))
        inbox.append(message(sender="Ana Ruiz <ana@a.org>", to=ME, date=d(2024, 1, day, 10),
                             subject=f"Re: A{day}"))  # fmt: skip
    sent.append(message(sender=ME, to="bo@b.org", date=d(2024, 1, 8, 9), subject="B"))
    inbox += [
        message(sender="Bo Li <bo@b.org>", to=ME, date=d(2024, 1, 9, 9), subject="Re: B"),
        # Ana wrote to Tara twice (I was copied): evidence 2, between them
        message(
            sender="Ana Ruiz <ana@a.org>", to=TARA, cc=ME, date=d(2024, 2, 3, 9), subject="Pilot"
        ),
        message(
            sender="Tara <tara@t.org>",
            to="ana@a.org",
            cc=ME,
            date=d(2024, 2, 4, 9),
            subject="Re: Pilot",
        ),
        # Zed wrote to Tara, Bo and me: Bo and Tara both received it (0.5), Zed wrote to
        # her (1); my tie with Zed is one-way (he wrote, I never did), so it is weak
        message(
            sender="Zed <zed@z.org>",
            to=[TARA, "bo@b.org", ME],
            date=d(2024, 2, 5, 9),
            subject="Offsite",
        ),
        # a newsletter to Cy and Tara is no evidence
        message(
            sender="news@n.org",
            to=[TARA, "cy@c.org", ME],
            date=d(2024, 2, 6, 9),
            subject="Weekly",
            extra={"List-Id": "<weekly.n.org>"},
        ),
    ]
    write_mbox(root / "mail" / "Sent", sent)
    write_mbox(root / "mail" / "INBOX", inbox)
    (root / "cal.ics").write_text(CALENDAR)
    home = root / "home"
    run_cli("import", "mbox", str(root / "mail"), "--me", ME, home=home)
    run_cli("import", "ics", str(root / "cal.ics"), "--me", ME, home=home)
    return home


def intro(home, *args: str) -> list[dict]:
    return json.loads(run_cli("--now", NOW, "intro", *args, "--json", home=home).stdout)


def test_introducers_are_ranked_by_tie_times_evidence_with_the_evidence(home):
    paths = intro(home, TARA)
    assert [p["emails"] for p in paths] == [["ana@a.org"], ["bo@b.org"], ["zed@z.org"]]
    ana, bo, zed = paths
    assert (zed["messages_between"], zed["evidence"]) == (1, 1)
    assert (ana["messages_between"], ana["messages_together"], ana["meetings_together"]) == (
        2, 0, 0)  # fmt: skip
    assert [m["subject"] for m in ana["messages"]] == ["Re: Pilot", "Pilot"]
    assert {m["how"] for m in ana["messages"]} == {"between them"}
    assert ana["evidence"] == 2
    assert (bo["messages_between"], bo["messages_together"], bo["meetings_together"]) == (0, 1, 1)
    assert bo["evidence"] == 1.5
    assert [m["subject"] for m in bo["messages"]] == ["Offsite"]
    assert [e["summary"] for e in bo["meetings"]] == ["Roadmap review"]
    for p in paths:
        assert isinstance(p["person"], int) and p["tie"] > 0
        assert math.isclose(p["score"], p["tie"] * p["evidence"], rel_tol=1e-3)
        assert "× their evidence" in p["why"]
    assert ana["tie"] > bo["tie"] > zed["tie"] and ana["score"] > bo["score"] > zed["score"]


def test_a_domain_or_a_name_finds_the_same_paths(home):
    by_address = [(p["person"], p["score"]) for p in intro(home, TARA)]
    assert [(p["person"], p["score"]) for p in intro(home, "t.org")] == by_address
    assert [(p["person"], p["score"]) for p in intro(home, "@t.org")] == by_address
    # Tara is a person (the meeting touched her): her id works too
    (tara,) = [p["id"] for p in people_json(home, "--now", NOW) if p["emails"] == [TARA]]
    assert [(p["person"], p["score"]) for p in intro(home, str(tara))] == by_address
    assert intro(home, "c.org") == []  # only a newsletter links Cy to anyone


def test_text_output_and_draft(home):
    out = run_cli("--now", NOW, "intro", TARA, home=home).stdout
    assert "warm paths to tara@t.org" in out and "Ana Ruiz" in out
    draft = run_cli("--now", NOW, "intro", TARA, "--draft", home=home).stdout
    assert draft.startswith("Subject: Would you introduce me to tara@t.org?")
    assert "Hi Ana," in draft and '"Re: Pilot", 2024-02-04' in draft
    for part in ("[Context]", "[Mutual value]", "[Specific ask]", "[Easy execution]",
                 "[Follow-up promise]"):  # fmt: skip
        assert part in draft
    none = run_cli("--now", NOW, "intro", "nobody@nowhere.org", home=home).stdout
    assert "nobody you are in touch with shares messages or meetings" in none
