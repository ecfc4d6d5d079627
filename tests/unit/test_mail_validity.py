"""Addresses with control characters are not people; implausible dates are not times
(issue 12, item 9). Both are counted where they are dropped (the message's ``flaws``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.ics import IcsReader
from syncd.mail.addresses import is_valid, parse_address_list
from syncd.mail.metadata import checked_date, parse_date, scan_headers, summarize
from syncd.mail.touchpoints import meeting_participants
from tests.support.helpers import message

CONTROLS = [chr(c) for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]]


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x07", "\x7f", "\x9b"])
def test_an_address_with_a_control_character_is_not_valid(control):
    assert not is_valid(f"an{control}n@x.example")
    assert not is_valid(f"ann@x.exa{control}mple")
    assert is_valid("ann@x.example")


@given(st.text(min_size=1, max_size=8), st.sampled_from(CONTROLS), st.text(max_size=8))
def test_no_parsed_address_holds_a_control_character(local, control, tail):
    value = f"Ann <{local}{control}{tail}@x.example>, bob@y.example"
    rejected: list[str] = []
    parsed = parse_address_list([value], rejected)
    assert all(not any(c in addr for c in CONTROLS) for _, addr in parsed)
    assert all(any(c in addr for c in CONTROLS) for addr in rejected)


def test_dropped_addresses_are_reported_not_lost():
    rejected: list[str] = []
    parsed = parse_address_list(["Ann <a\x00nn@x.example>, bob@y.example"], rejected)
    assert parsed == [("", "bob@y.example")]
    assert rejected == ["a\x00nn@x.example"]


def test_a_message_with_a_nul_address_keeps_its_valid_addresses_and_names_its_flaw():
    raw = message(sender="ann@x.example", to="me@example.com", cc="Eve <e\x00ve@x.example>")
    summary = summarize(scan_headers(raw))
    assert summary.sender == "ann@x.example"
    assert summary.to == ["me@example.com"] and summary.cc == []
    assert summary.flaws == ("1 address with control characters",)


@pytest.mark.parametrize(
    "value",
    [
        "Mon, 1 Jan 1900 10:00:00 +0000",  # before 1970
        "Wed, 31 Dec 1969 23:59:59 +0000",
        "Thu, 1 Jan 1970 00:30:00 +0100",  # 1969 in UTC
        "Sat, 1 Jan 0000 00:00:00 +0000",  # year 0 (parsedate_tz: 2000)
        "1 Jan 0001 10:00:00 +0000",
        "Mon, 1 Jan 0 10:00:00 +0000",
        "Mon, 1 Jan 2024 10:00:00 +2300",  # offsets beyond ±14 h
        "Mon, 1 Jan 2024 10:00:00 -1401",
        "Mon, 1 Jan 2024 10:00:00 +9999",
        "1 Jan 2024 10:00 +1500 (odd)",  # the slow path too
    ],
)
def test_implausible_dates_are_rejected_and_said_to_be(value):
    assert parse_date(value) is None
    assert checked_date(value) == (None, True)


@pytest.mark.parametrize(
    "value, epoch",
    [
        ("Mon, 1 Jan 2024 10:00:00 +1400", 1704052800),
        ("Mon, 1 Jan 2024 10:00:00 -1200", 1704146400),
        ("Thu, 1 Jan 1970 00:00:00 +0000", 0),
        ("Mon, 1 Jan 00 10:00:00 +0000", 946720800),  # a two-digit year stays 2000
        ("Mon, 30 Oct 2000 01:14:00 -0800 (PST)", 972897240),
    ],
)
def test_plausible_dates_are_kept(value, epoch):
    assert checked_date(value) == (epoch, False)


def test_unparseable_is_not_implausible():
    assert checked_date("not a date") == (None, False)


def test_an_implausible_date_falls_back_to_the_received_time_and_is_noted():
    received = "from mx.x.example by mx.y.example; Tue, 5 Mar 2024 09:00:00 +0000"
    raw = message(
        sender="ann@x.example",
        to="me@example.com",
        date="Mon, 1 Jan 1900 10:00:00 +0000",
        extra={"Received": received},
    )
    summary = summarize(scan_headers(raw))
    assert summary.sent_at == 1709629200
    assert summary.flaws == ("an implausible Date (before 1970, year 0 or offset beyond ±14 h)",)
    assert summarize(scan_headers(message(sender="a@x.example", to="b@y.example"))).flaws == ()


def test_an_attendee_with_control_characters_is_noted_and_met_by_no_one(tmp_path):
    path = tmp_path / "c.ics"
    path.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:m1\r\n"
        "DTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\n"
        "ORGANIZER:mailto:me@example.com\r\nATTENDEE:mailto:ann@x.example\r\n"
        "ATTENDEE:mailto:e%00ve@x.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    (batch,) = IcsReader([path], horizon_end=1_800_000_000).fetch({})
    (event,) = batch.events
    (note,) = batch.quarantined
    assert note.locator == f"{path}#m1" and "control characters" in note.reason
    triples = [(a.address, a.cutype, a.partstat) for a in event.attendees]
    me = frozenset({"me@example.com"})
    assert meeting_participants(event.status, event.organizer, triples, me) == ["ann@x.example"]
