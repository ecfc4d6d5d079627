"""The .ics connector: crafted calendars through the real pipeline (reader -> ingest -> people)."""

from __future__ import annotations

import calendar
import os
import time
from datetime import datetime
from pathlib import Path

import pytest

from connectors import ics
from connectors.base import Batch, EventObservation
from syncd.pipeline.accounts import ensure_account, load_cursors
from syncd.pipeline.identity import add_my_addresses
from syncd.pipeline.runner import run_reader
from syncd.report.people import compute_people
from syncd.store.db import open_db

NOW = calendar.timegm((2024, 6, 1, 0, 0, 0))
HORIZON = NOW + 2 * 365 * 86400
ME = "me@example.com"


def ts(text: str) -> int:
    """Epoch seconds of an ISO 8601 UTC time like ``2024-01-01T09:00``."""
    return calendar.timegm(datetime.fromisoformat(text).timetuple())


def vcal(*blocks: str, head: str = "") -> str:
    """A VCALENDAR around ``blocks`` (each a multi-line string), with CRLF line ends."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//syncd tests//EN"]
    lines += [line for line in head.strip().splitlines() if line.strip()]
    for block in blocks:
        lines += [line.strip() for line in block.strip().splitlines() if line.strip()]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def vevent(uid: str | None, *props: str, attendees: list[str] = ()) -> str:
    lines = ["BEGIN:VEVENT"]
    if uid is not None:
        lines.append(f"UID:{uid}")
    lines += ["DTSTAMP:20240101T000000Z", *props]
    lines += [
        a if ":" in a and a.upper().startswith("ATTENDEE") else f"ATTENDEE:mailto:{a}"
        for a in attendees
    ]
    lines.append("END:VEVENT")
    return "\n".join(lines)


ORG_ME = f"ORGANIZER;CN=Me:mailto:{ME}"
ME_ACCEPTED = f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}"

BERLIN = """
BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
END:STANDARD
END:VTIMEZONE
"""

# A zone that only its VTIMEZONE defines: UTC+3 all year.
PLUS_THREE = """
BEGIN:VTIMEZONE
TZID:Custom Plus Three
BEGIN:STANDARD
DTSTART:19700101T000000
TZOFFSETFROM:+0300
TZOFFSETTO:+0300
TZNAME:P3
END:STANDARD
END:VTIMEZONE
"""

WEEKLY = [
    vevent(
        "weekly-1",
        "SUMMARY:Weekly sync",
        "DTSTART;TZID=Europe/Berlin:20240101T100000",
        "DTEND;TZID=Europe/Berlin:20240101T103000",
        "RRULE:FREQ=WEEKLY;COUNT=6",
        "EXDATE;TZID=Europe/Berlin:20240115T100000",
        ORG_ME,
        ME_ACCEPTED,
        attendees=["ATTENDEE;PARTSTAT=ACCEPTED;CN=Alice:mailto:alice@example.com"],
    ),
    # The 22 Jan instance moved to Wednesday 24 Jan, 14:00 Berlin.
    vevent(
        "weekly-1",
        "SUMMARY:Weekly sync (moved)",
        "RECURRENCE-ID;TZID=Europe/Berlin:20240122T100000",
        "DTSTART;TZID=Europe/Berlin:20240124T140000",
        "DTEND;TZID=Europe/Berlin:20240124T143000",
        "SEQUENCE:1",
        ORG_ME,
        ME_ACCEPTED,
        attendees=["alice@example.com"],
    ),
]
WEEKLY_STARTS = [
    ts("2024-01-01T09:00"),
    ts("2024-01-08T09:00"),
    ts("2024-01-24T13:00"),
    ts("2024-01-29T09:00"),
    ts("2024-02-05T09:00"),
]

ALL_DAY = vevent(
    "allday-1",
    "SUMMARY:Offsite",
    "DTSTART;VALUE=DATE:20240301",
    ORG_ME,
    attendees=["carol@example.com"],
)

EVENTS = [
    *WEEKLY,
    vevent(
        "tz-1",
        "DTSTART;TZID=Custom Plus Three:20240315T100000",
        "DTEND;TZID=Custom Plus Three:20240315T110000",
        ORG_ME,
        attendees=["bob@example.com"],
    ),
    ALL_DAY,
    vevent(
        "cancel-1",
        "STATUS:CANCELLED",
        "DTSTART:20240201T100000Z",
        "DTEND:20240201T110000Z",
        ORG_ME,
        attendees=["dave@example.com"],
    ),
    vevent(
        "declined-1",
        "DTSTART:20240202T100000Z",
        "DTEND:20240202T110000Z",
        "ORGANIZER:mailto:erin@example.com",
        f"ATTENDEE;PARTSTAT=DECLINED:mailto:{ME}",
        attendees=["erin@example.com"],
    ),
    vevent(
        "room-1",
        "DTSTART:20240203T100000Z",
        "DTEND:20240203T110000Z",
        ORG_ME,
        attendees=[
            "frank@example.com",
            "ATTENDEE;CUTYPE=ROOM;CN=Big Room:mailto:bigroom@example.com",
        ],
    ),
    vevent(
        "big-1",
        "DTSTART:20240204T100000Z",
        "DTEND:20240204T110000Z",
        ORG_ME,
        attendees=[f"guest{i:02d}@example.com" for i in range(1, 22)],
    ),
    vevent(
        "twenty-1",
        "DTSTART:20240205T100000Z",
        "DTEND:20240205T110000Z",
        ORG_ME,
        attendees=[f"t{i:02d}@example.com" for i in range(1, 21)],
    ),
    vevent(
        "upcoming-1",
        "DTSTART:20240701T100000Z",
        "DTEND:20240701T110000Z",
        ORG_ME,
        attendees=["grace@example.com"],
    ),
    vevent(
        "floating-1",
        "DTSTART:20240210T150000",
        "DTEND:20240210T160000",
        ORG_ME,
        attendees=["henry@example.com"],
    ),
    vevent(
        "duration-1",
        "DTSTART:20240211T090000Z",
        "DURATION:PT45M",
        ORG_ME,
        attendees=["ivan@example.com"],
    ),
    vevent(
        "email-param-1",
        "DTSTART:20240212T090000Z",
        "DTEND:20240212T100000Z",
        ORG_ME,
        attendees=[
            "ATTENDEE;CN=Judy;EMAIL=judy@example.com:urn:uuid:6f1e9c2a-1111-2222-3333-444455556666",
            "ATTENDEE;CN=Nobody:urn:uuid:00000000-0000-0000-0000-000000000000",
            "ATTENDEE;CN=Kim Lee:MAILTO:Kim.Lee@Example.COM",
        ],
    ),
    vevent(
        None,  # no UID: one is derived from the content
        "DTSTART:20240213T090000Z",
        "DTEND:20240213T100000Z",
        ORG_ME,
        attendees=["leo@example.com"],
    ),
    vevent(
        "nostart-1",
        "SUMMARY:No start",
        "DESCRIPTION:secret agenda text",
        ORG_ME,
        attendees=["mallory@example.com"],
    ),
    "BEGIN:VTODO\nUID:todo-1\nDTSTAMP:20240101T000000Z\nSUMMARY:a task\nEND:VTODO",
]
N_INSTANCES = 5 + 12  # the weekly series, plus one instance per other event with a DTSTART


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode())
    return path


def events_of(batches: list[Batch]) -> list[EventObservation]:
    return [ev for b in batches for ev in b.events]


def fetch(path: Path, **options) -> list[Batch]:
    options.setdefault("horizon_end", HORIZON)
    return list(ics.IcsReader([path], **options).fetch({}))


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "state" / "syncd.db")
    account = ensure_account(database, "local", "local")
    add_my_addresses(database, [ME], source="user")
    return database, account


def people_by_email(database) -> dict:
    return {
        email: p
        for p in compute_people(database, NOW, include_untouched=True)
        for email in p.emails
    }


# -- through the pipeline ----------------------------------------------------------------


def test_meetings_per_person(tmp_path, db):
    database, account = db
    path = write(tmp_path / "work.ics", vcal(BERLIN, PLUS_THREE, *EVENTS))
    stats = run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert stats.events == N_INSTANCES
    assert stats.quarantined == 1  # the event without DTSTART
    people = people_by_email(database)

    def meetings(address: str) -> int:
        return people[address].meetings if address in people else 0

    alice = people["alice@example.com"]
    assert alice.meetings == 5
    assert alice.first_touch == ts("2024-01-01T09:30")
    assert alice.last_touch == ts("2024-02-05T09:30")
    assert alice.name == "Alice"
    assert people["bob@example.com"].last_touch == ts("2024-03-15T08:00")  # UTC+3 zone
    assert people["carol@example.com"].last_touch == ts("2024-03-02T00:00")  # all day
    assert meetings("dave@example.com") == 0  # cancelled
    assert meetings("erin@example.com") == 0  # I declined
    assert meetings("frank@example.com") == 1
    assert meetings("bigroom@example.com") == 0  # a room is not a person
    assert all(meetings(f"guest{i:02d}@example.com") == 0 for i in range(1, 22))  # 21 others
    assert all(meetings(f"t{i:02d}@example.com") == 1 for i in range(1, 21))  # 20 is fine
    grace = people["grace@example.com"]
    assert (grace.meetings, grace.last_touch) == (0, None)
    assert grace.upcoming == ts("2024-07-01T11:00")
    assert people["henry@example.com"].last_touch == ts("2024-02-10T16:00")  # floating = UTC
    assert people["ivan@example.com"].last_touch == ts("2024-02-11T09:45")  # DURATION
    assert meetings("judy@example.com") == 1  # EMAIL parameter of a urn: attendee
    assert meetings("kim.lee@example.com") == 1  # MAILTO:, mixed case
    assert meetings("leo@example.com") == 1  # event without UID
    assert meetings("mallory@example.com") == 0  # quarantined: no DTSTART
    assert ME not in people
    (row,) = database.execute("SELECT locator, reason, excerpt FROM quarantine").fetchall()
    assert row[0] == f"{path}#nostart-1"
    assert "DTSTART" in row[1]
    assert b"secret agenda" not in row[2]


def test_reimport_unchanged_does_no_work(tmp_path, db):
    database, account = db
    path = write(tmp_path / "work.ics", vcal(BERLIN, PLUS_THREE, *EVENTS))
    first = run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    reader = ics.IcsReader([tmp_path], horizon_end=HORIZON)
    assert reader.estimate(load_cursors(database, account)) == 0
    stats = run_reader(database, account, reader)
    # nothing read; the file's instances are reported as already known
    assert (stats.events, stats.quarantined, stats.unchanged) == (0, 0, 1)
    assert stats.duplicates == first.events > 0


def test_edited_file_removes_the_vanished_instances(tmp_path, db):
    database, account = db
    path = write(tmp_path / "work.ics", vcal(BERLIN, PLUS_THREE, *EVENTS))
    run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert people_by_email(database)["carol@example.com"].meetings == 1
    write(path, vcal(BERLIN, PLUS_THREE, *[e for e in EVENTS if e is not ALL_DAY]))
    reader = ics.IcsReader([path], horizon_end=HORIZON)
    assert reader.estimate(load_cursors(database, account)) == 1
    stats = run_reader(database, account, reader)
    assert stats.events == 0  # nothing new or changed ...
    assert stats.duplicates == N_INSTANCES - 1  # ... the rest is known
    people = people_by_email(database)
    assert "carol@example.com" not in people or people["carol@example.com"].meetings == 0
    assert people["alice@example.com"].meetings == 5
    (n,) = database.execute("SELECT count(*) FROM events").fetchone()
    assert n == N_INSTANCES - 1


def test_cancelling_one_instance_in_a_changed_file(tmp_path, db):
    database, account = db
    path = write(tmp_path / "work.ics", vcal(BERLIN, *WEEKLY))
    run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert people_by_email(database)["alice@example.com"].meetings == 5
    cancelled = vevent(
        "weekly-1",
        "RECURRENCE-ID;TZID=Europe/Berlin:20240129T100000",
        "DTSTART;TZID=Europe/Berlin:20240129T100000",
        "DTEND;TZID=Europe/Berlin:20240129T103000",
        "STATUS:CANCELLED",
        "SEQUENCE:2",
        ORG_ME,
        attendees=["alice@example.com"],
    )
    write(path, vcal(BERLIN, *WEEKLY, cancelled))
    stats = run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert stats.events >= 1  # the series' SEQUENCE rose: its instances may all be newer
    assert people_by_email(database)["alice@example.com"].meetings == 4
    (status,) = database.execute(
        "SELECT status FROM events WHERE key = ?", [f"weekly-1|{ts('2024-01-29T09:00')}"]
    ).fetchone()
    assert status == "CANCELLED"


# -- what the reader produces --------------------------------------------------------------


def test_weekly_series_instances(tmp_path):
    path = write(tmp_path / "weekly.ics", vcal(BERLIN, *WEEKLY))
    (batch,) = fetch(path)
    scope = str(path.resolve())
    assert batch.replace_scopes == {scope}
    assert batch.progress == 1
    evs = sorted(batch.events, key=lambda e: e.start)
    assert [e.start for e in evs] == WEEKLY_STARTS
    assert [e.end - e.start for e in evs] == [1800] * 5
    keys = [e.key for e in evs]
    # The moved instance keeps the identity of the slot it was moved from.
    assert keys == [
        f"weekly-1|{ts('2024-01-01T09:00')}",
        f"weekly-1|{ts('2024-01-08T09:00')}",
        f"weekly-1|{ts('2024-01-22T09:00')}",
        f"weekly-1|{ts('2024-01-29T09:00')}",
        f"weekly-1|{ts('2024-02-05T09:00')}",
    ]
    moved = evs[2]
    assert moved.summary == "Weekly sync (moved)"
    assert moved.version[0] >= 1
    assert moved.locator == f"{scope}#weekly-1@{moved.start}"
    assert all(e.calendar == scope for e in evs)
    assert {e.status for e in evs} == {"CONFIRMED"}
    assert evs[0].organizer == ME
    assert evs[0].attendees[0].address == ME
    alice = evs[0].attendees[1]
    assert (alice.address, alice.name, alice.cutype, alice.partstat) == (
        "alice@example.com",
        "Alice",
        "INDIVIDUAL",
        "ACCEPTED",
    )
    assert len({e.hash for e in evs}) == 5
    assert batch.cursors[scope]["done"] is True


def test_times_and_attendees(tmp_path):
    details = [
        vevent(
            "tz-1",
            "DTSTART;TZID=Custom Plus Three:20240315T100000",
            "DTEND;TZID=Custom Plus Three:20240315T110000",
        ),
        vevent(
            "named-zone",
            "DTSTART;TZID=America/New_York:20240710T090000",
            "DTEND;TZID=America/New_York:20240710T100000",
        ),
        vevent("floating-1", "DTSTART:20240210T150000", "DTEND:20240210T160000"),
        vevent("allday-2", "DTSTART;VALUE=DATE:20240301", "DTEND;VALUE=DATE:20240304"),
        vevent("allday-1", "DTSTART;VALUE=DATE:20240301"),
        vevent("zero-1", "DTSTART:20240220T120000Z"),
        vevent("duration-1", "DTSTART:20240211T090000Z", "DURATION:PT45M"),
        vevent(
            "status-1",
            "DTSTART:20240211T090000Z",
            "STATUS:tentative",
            "SEQUENCE:3",
            "ORGANIZER;CN=Boss:MAILTO:Boss@Example.com",
            attendees=[
                "ATTENDEE;CUTYPE=resource;PARTSTAT=accepted:mailto:projector@example.com",
                'ATTENDEE;EMAIL="judy@example.com":urn:uuid:1',
                "ATTENDEE:urn:uuid:2",
                "ATTENDEE:mailto:Dup@example.com",
                "ATTENDEE;PARTSTAT=DECLINED:mailto:dup@example.com",
            ],
        ),
    ]
    (batch,) = fetch(write(tmp_path / "d.ics", vcal(PLUS_THREE, *details)))
    by_uid = {e.key.split("|")[0]: e for e in batch.events}
    span = {uid: (e.start, e.end, e.all_day) for uid, e in by_uid.items()}
    assert span["tz-1"] == (ts("2024-03-15T07:00"), ts("2024-03-15T08:00"), False)
    assert span["named-zone"] == (ts("2024-07-10T13:00"), ts("2024-07-10T14:00"), False)
    assert span["floating-1"] == (ts("2024-02-10T15:00"), ts("2024-02-10T16:00"), False)
    assert span["allday-2"] == (ts("2024-03-01T00:00"), ts("2024-03-04T00:00"), True)
    assert span["allday-1"] == (ts("2024-03-01T00:00"), ts("2024-03-02T00:00"), True)
    assert span["zero-1"] == (ts("2024-02-20T12:00"), ts("2024-02-20T12:00"), False)
    assert span["duration-1"] == (ts("2024-02-11T09:00"), ts("2024-02-11T09:45"), False)
    ev = by_uid["status-1"]
    assert ev.status == "TENTATIVE"
    assert ev.organizer == "boss@example.com"
    assert ev.version == (3, ts("2024-01-01T00:00"))
    assert [(a.address, a.cutype, a.partstat) for a in ev.attendees] == [
        ("projector@example.com", "RESOURCE", "ACCEPTED"),
        ("judy@example.com", "INDIVIDUAL", "NEEDS-ACTION"),
        ("dup@example.com", "INDIVIDUAL", "NEEDS-ACTION"),
    ]
    assert by_uid["zero-1"].status == "CONFIRMED"
    assert by_uid["zero-1"].organizer is None


def test_x_wr_timezone_applies_to_floating_times(tmp_path):
    text = vcal(
        vevent("wr-1", "DTSTART:20240110T090000", "DTEND:20240110T100000"),
        head="X-WR-TIMEZONE:America/New_York",
    )
    (batch,) = fetch(write(tmp_path / "google.ics", text))
    (ev,) = batch.events
    assert (ev.start, ev.end) == (ts("2024-01-10T14:00"), ts("2024-01-10T15:00"))


def test_this_and_future_override_keeps_keys_distinct(tmp_path):
    text = vcal(
        vevent(
            "taf", "DTSTART:20240101T100000Z", "DTEND:20240101T110000Z", "RRULE:FREQ=WEEKLY;COUNT=4"
        ),
        vevent(
            "taf",
            "RECURRENCE-ID;RANGE=THISANDFUTURE:20240115T100000Z",
            "DTSTART:20240115T120000Z",
            "DTEND:20240115T130000Z",
            "SEQUENCE:1",
        ),
    )
    (batch,) = fetch(write(tmp_path / "taf.ics", text))
    got = sorted((e.start, e.key) for e in batch.events)
    assert got == [
        (ts("2024-01-01T10:00"), f"taf|{ts('2024-01-01T10:00')}"),
        (ts("2024-01-08T10:00"), f"taf|{ts('2024-01-08T10:00')}"),
        (ts("2024-01-15T12:00"), f"taf|{ts('2024-01-15T10:00')}"),
        (ts("2024-01-22T12:00"), f"taf|{ts('2024-01-22T10:00')}"),
    ]


def test_unbounded_rule_stops_at_the_horizon(tmp_path):
    text = vcal(vevent("daily", "DTSTART:20240101T100000Z", "RRULE:FREQ=DAILY"))
    path = write(tmp_path / "d.ics", text)
    (batch,) = fetch(path, horizon_end=ts("2024-01-11T00:00"))
    assert len(batch.events) == 10
    (batch,) = fetch(path, horizon_end=ts("2024-02-01T00:00"))
    assert len(batch.events) == 31


def test_runaway_rule_is_quarantined_quickly(tmp_path):
    text = vcal(
        vevent("every-second", "DTSTART:20240101T100000Z", "RRULE:FREQ=SECONDLY"),
        vevent("fine", "DTSTART:20240101T100000Z"),
    )
    path = write(tmp_path / "r.ics", text)
    started = time.monotonic()
    (batch,) = fetch(path)
    assert time.monotonic() - started < 5
    assert [e.key.split("|")[0] for e in batch.events] == ["fine"]
    (q,) = batch.quarantined
    assert q.locator == f"{path.resolve()}#every-second"
    assert "instances" in q.reason


def test_missing_uid_gets_a_stable_one(tmp_path):
    text = vcal(vevent(None, "DTSTART:20240101T100000Z", "SUMMARY:x"))
    path = write(tmp_path / "n.ics", text)
    first = events_of(fetch(path))
    second = events_of(fetch(path))
    assert [e.key for e in first] == [e.key for e in second]
    assert first[0].key.startswith("syncd-nouid-")
    other = events_of(fetch(write(tmp_path / "m.ics", text.replace("SUMMARY:x", "SUMMARY:y"))))
    assert other[0].key != first[0].key


def test_no_description_is_kept(tmp_path):
    text = vcal(
        vevent(
            "d-1",
            "DTSTART:20240101T100000Z",
            "DESCRIPTION:the secret plan",
            "ATTACH:https://example.com/secret.pdf",
            "SUMMARY:Plan",
        ),
    )
    (batch,) = fetch(write(tmp_path / "d.ics", text))
    (ev,) = batch.events
    assert "secret" not in repr(ev)


# -- bad input ----------------------------------------------------------------------------


def test_unparseable_file_is_quarantined_whole(tmp_path, db):
    database, account = db
    path = write(tmp_path / "garbage.ics", "hello world\nthis is not a calendar\n")
    (batch,) = fetch(path)
    (q,) = batch.quarantined
    assert q.locator == q.scope == str(path.resolve())
    assert "not a readable iCalendar file" in q.reason
    assert q.excerpt.startswith(b"hello world")
    assert not batch.replace_scopes
    stats = run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert stats.quarantined == 1
    again = run_reader(database, account, ics.IcsReader([path], horizon_end=HORIZON))
    assert (again.quarantined, again.events) == (0, 0)


def test_only_the_broken_uid_is_quarantined(tmp_path):
    text = vcal(
        vevent("good", "DTSTART:20240101T100000Z", attendees=["a@example.com"]),
        vevent("bad-rule", "DTSTART:20240102T100000Z", "RRULE:FREQ=SOMETIMES"),
        vevent("bad-duration", "DTSTART:20240103T100000Z", "DURATION:soon"),
        vevent("two-starts", "DTSTART:20240104T100000Z", "DTSTART:20240104T120000Z"),
    )
    path = write(tmp_path / "mixed.ics", text)
    (batch,) = fetch(path)
    assert [e.key for e in batch.events] == [f"good|{ts('2024-01-01T10:00')}"]
    reasons = {q.locator.rsplit("#", 1)[1]: q.reason for q in batch.quarantined}
    assert set(reasons) == {"bad-rule", "bad-duration", "two-starts"}
    assert "recurrence expansion failed" in reasons["bad-rule"]
    assert "'bad-rule'" in reasons["bad-rule"]
    assert "DTSTART appears 2 times" in reasons["two-starts"]
    assert batch.replace_scopes == {str(path.resolve())}


def test_exchange_rrule_with_blanks_is_repaired(tmp_path):
    text = vcal(
        vevent(
            "cdo",
            "DTSTART:20240101T100000Z",
            "RRULE:FREQ=DAILY;UNTIL=20240110T100000Z;BYDAY=MO, TU, WE, TH, FR",
        ),
    )
    (batch,) = fetch(write(tmp_path / "cdo.ics", text))
    assert not batch.quarantined
    assert len(batch.events) == 8  # Mon 1 .. Wed 10 January 2024, weekdays


def test_truncated_file_keeps_what_was_there(tmp_path):
    text = vcal(vevent("t-1", "DTSTART:20240101T100000Z")).replace("END:VCALENDAR\r\n", "")
    path = write(tmp_path / "cut.ics", text)
    (batch,) = fetch(path)
    assert [e.key for e in batch.events] == [f"t-1|{ts('2024-01-01T10:00')}"]
    (q,) = batch.quarantined
    assert q.locator == str(path.resolve())
    assert "truncated" in q.reason


def test_bare_vevent_file_and_other_components(tmp_path):
    bare = vevent("bare", "DTSTART:20240101T100000Z").replace("\n", "\r\n") + "\r\n"
    (batch,) = fetch(write(tmp_path / "bare.ics", bare))
    assert [e.key.split("|")[0] for e in batch.events] == ["bare"]
    todo = "BEGIN:VTODO\r\nUID:x\r\nDTSTAMP:20240101T000000Z\r\nEND:VTODO\r\n"
    (batch,) = fetch(write(tmp_path / "todo.ics", todo))
    assert (batch.events, batch.quarantined) == ([], [])
    (batch,) = fetch(write(tmp_path / "empty.ics", ""))
    assert (batch.events, batch.quarantined) == ([], [])
    (batch,) = fetch(write(tmp_path / "weird.ics", "BEGIN:NOTACAL\r\nEND:NOTACAL\r\n"))
    assert "NOTACAL" in batch.quarantined[0].reason


# -- files -------------------------------------------------------------------------------


def test_which_files_are_read(tmp_path):
    cal = vcal(vevent("x", "DTSTART:20240101T100000Z"))
    folder = tmp_path / "cals"
    (folder / "sub").mkdir(parents=True)
    write(folder / "a.ics", cal)
    write(folder / "sub" / "B.ICS", cal.replace("UID:x", "UID:y"))
    write(folder / "notes.txt", cal.replace("UID:x", "UID:z"))
    write(folder / ".hidden.ics", cal.replace("UID:x", "UID:h"))
    batches = fetch(folder)
    assert sorted(Path(s).name for b in batches for s in b.cursors) == ["B.ICS", "a.ics"]
    assert ics.IcsReader([folder]).estimate({}) == 2
    explicit = fetch(folder / "notes.txt")
    assert [e.key.split("|")[0] for e in events_of(explicit)] == ["z"]
    twice = list(ics.IcsReader([folder, folder / "a.ics"], horizon_end=HORIZON).fetch({}))
    assert len(twice) == 2  # a file named twice is read once


def test_cursor_tracks_size_and_mtime(tmp_path):
    path = write(tmp_path / "c.ics", vcal(vevent("x", "DTSTART:20240101T100000Z")))
    reader = ics.IcsReader([path], horizon_end=HORIZON)
    (batch,) = list(reader.fetch({}))
    cursors = dict(batch.cursors)
    (again,) = reader.fetch(cursors)  # nothing to store: a count of what is known
    assert again.only_counts() and (again.unchanged, again.known) == (1, 1)
    assert reader.estimate(cursors) == 0
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert reader.estimate(cursors) == 1
    assert len(list(reader.fetch(cursors))) == 1


def test_each_file_uses_its_own_timezone_definitions(tmp_path):
    # icalendar caches custom VTIMEZONEs per process; one file's zone must not leak into
    # another file, and a second definition of the same TZID must count in its own file.
    minus_five = PLUS_THREE.replace("+0300", "-0500")
    event = vevent("z", "DTSTART;TZID=Custom Plus Three:20240315T100000")
    plus = write(tmp_path / "a.ics", vcal(PLUS_THREE, event))
    minus = write(tmp_path / "b.ics", vcal(minus_five, event))
    undefined = write(tmp_path / "c.ics", vcal(event))
    for order in ([plus, minus, undefined], [undefined, minus, plus]):
        starts = {p: events_of(fetch(p))[0].start for p in order}
        assert starts == {
            plus: ts("2024-03-15T07:00"),
            minus: ts("2024-03-15T15:00"),
            undefined: ts("2024-03-15T10:00"),  # an unknown zone: floating, taken as UTC
        }


def test_impossible_rule_keeps_only_its_start(tmp_path, monkeypatch, caplog):
    # No 30 February ever: only DTSTART (always the first instance) and the RDATE remain.
    # dateutil searches up to the year 9999 for such a rule (seconds for MINUTELY); the
    # reader then drops the rule instead of letting the expansion search again.
    monkeypatch.setattr(ics, "SLOW_EMPTY_RULE_SECONDS", 0.0)
    text = vcal(
        vevent(
            "never",
            "DTSTART:20240101T100000Z",
            "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
            "RDATE:20240105T100000Z",
        ),
    )
    path = write(tmp_path / "never.ics", text)
    with caplog.at_level("INFO", logger="connectors.ics"):
        (batch,) = fetch(path, horizon_end=ts("2025-01-01T00:00"))
    assert sorted(e.start for e in batch.events) == [
        ts("2024-01-01T10:00"),
        ts("2024-01-05T10:00"),
    ]
    assert batch.quarantined == []
    assert "never occurs" in caplog.text


def test_a_bug_while_reading_quarantines_the_file(tmp_path, monkeypatch):
    path = write(tmp_path / "x.ics", vcal(vevent("x", "DTSTART:20240101T100000Z")))

    def boom(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(ics._FileParse, "run", boom)
    (batch,) = fetch(path)
    assert batch.cursors == {}
    assert "boom" in batch.quarantined[0].reason
