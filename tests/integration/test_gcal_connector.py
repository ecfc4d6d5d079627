"""The Google Calendar connector against the emulator, through google-api-python-client.

Recurring events expanded; attendees -> meetings; sync tokens
(no disallowed parameter beside one; 410 -> full resync); deletions that
come back with only an id; the idempotent follow-up writer and free/busy.
(The reader and writer conformance suites run in tests/conformance.)
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from connectors import gcal
from connectors.base import CalendarWriter, RemoteEvent
from connectors.google_pacing import forget_pacers
from syncd.core.errors import AuthRequired, CursorExpired
from syncd.pipeline.account_sync import sync_account
from syncd.report.people import compute_people
from syncd.store.db import open_db
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.calendar import NOT_WITH_SYNC_TOKEN
from tests.support.google_emulator.testing import (
    BODY_MARKER,
    CALENDAR_NOW,
    ME,
    account,
    fill_calendar,
    home,
)
from tests.support.writer_conformance import follow_up

NOW = CALENDAR_NOW


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def read(reader, cursors=None):
    cursors = {} if cursors is None else cursors
    events = []
    batches = []
    for batch in reader.fetch(cursors):
        events.extend(batch.events)
        cursors.update(batch.cursors)
        batches.append(batch)
    return events, cursors, batches


@pytest.fixture
def emu():
    with GoogleEmulator(window=0.5, calendar_now=NOW) as server:
        fill_calendar(server)
        yield server


def reader_for(emu, tmp_path, **options):
    return gcal.open_reader(
        account(emu, tmp_path, kind="gcal", name="c", **options), home(tmp_path)
    )


def test_first_sync_expands_recurrences_and_maps_attendees(emu, tmp_path):
    events, cursors, batches = read(reader_for(emu, tmp_path))
    assert len(batches) == 1 and batches[0].replace_scopes == {"gcal:primary"}
    assert len(events) == 4 + 6
    series = sorted((e for e in events if e.summary == "Weekly sync"), key=lambda e: e.start)
    assert len(series) == 6
    uid = emu.calendar.events[ME][next(iter(emu.calendar.events[ME]))].resource["iCalUID"]
    assert uid.endswith("@google.com")
    first = series[0]
    assert first.start == int(datetime(2024, 4, 1, 7, tzinfo=UTC).timestamp())
    assert first.end - first.start == 1800
    assert first.key.endswith(f"|{first.start}")
    assert first.organizer == "bo@example.org"
    cutypes = {a.address: a.cutype for a in first.attendees}
    assert cutypes["room-1@resource.calendar.google.com"] == "RESOURCE"
    allday = next(e for e in events if e.summary == "Offsite")
    assert allday.all_day and allday.start == int(datetime(2024, 5, 2, tzinfo=UTC).timestamp())
    declined = next(e for e in events if e.summary == "Pitch")
    assert {a.address: a.partstat for a in declined.attendees}[ME] == "DECLINED"
    imported = next(e for e in events if e.summary == "From Outlook")
    assert imported.key.startswith("040000008200E00074C5B7101A82E008-abc|")
    assert BODY_MARKER not in repr(events)
    # Only keys that cannot be derived from the event id are kept in the cursor.
    ids = cursors["gcal:primary"]["ids"]
    assert all("_" not in k for k in ids), ids
    lists = emu.calls("calendar.events.list")
    assert all(r.params["singleEvents"] is True for r in lists)


def test_incremental_sync_updates_and_deletions(emu, tmp_path):
    made = {k: v["id"] for k, v in fill_calendar_ids(emu).items()}
    events, cursors, _ = read(reader_for(emu, tmp_path))
    before = {e.key: e for e in events}
    cal = emu.calendar
    cal.update_event(made["Coffee with Ana"], summary="Coffee with Ana R.")
    cal.delete_event(made["Offsite"])
    cal.delete_event(made["From Outlook"])
    series = made["Weekly sync"]
    third = f"{series}_20240415T070000Z"
    cal.delete_event(third)  # one instance cancelled
    emu.reset_records()
    changed, cursors, batches = read(reader_for(emu, tmp_path), cursors)
    assert batches[0].replace_scopes == set()
    by_summary = {e.summary: e for e in changed if e.status != "CANCELLED"}
    assert set(by_summary) == {"Coffee with Ana R."}
    cancelled = {e.key for e in changed if e.status == "CANCELLED"}
    offsite = next(k for k, e in before.items() if e.summary == "Offsite")
    outlook = next(k for k, e in before.items() if e.summary == "From Outlook")
    instance = next(k for k, e in before.items() if e.locator == f"gcal:{third}")
    assert cancelled == {offsite, outlook, instance}
    for r in emu.calls("calendar.events.list"):
        assert "syncToken" in r.params
        assert not set(NOT_WITH_SYNC_TOKEN) & set(r.params)
        assert "showDeleted" not in r.params
    # The whole series deleted: every instance comes back with only an id.
    cal.delete_event(series)
    gone, cursors, _ = read(reader_for(emu, tmp_path), cursors)
    series_keys = {k for k, e in before.items() if e.summary == "Weekly sync"}
    assert {e.key for e in gone if e.status == "CANCELLED"} == series_keys
    assert read(reader_for(emu, tmp_path), cursors)[0] == []


def fill_calendar_ids(emu):
    return {st.resource["summary"]: st.resource for st in emu.calendar.events[ME].values()}


def test_expired_sync_token(emu, tmp_path):
    _, cursors, _ = read(reader_for(emu, tmp_path))
    emu.expire_sync_token()
    with pytest.raises(CursorExpired):
        read(reader_for(emu, tmp_path), cursors)


def test_meetings_through_the_engine_and_410_resync(emu, tmp_path):
    acc = account(emu, tmp_path, kind="gcal", name="c")
    h = home(tmp_path)
    h.ensure()
    db = open_db(h.db_path)
    assert sync_account(db, h, acc).ok
    people = {e: p for p in compute_people(db, int(NOW)) for e in p.emails}
    assert people["ana@example.org"].meetings == 1
    assert people["bo@example.org"].meetings == 6  # rooms do not count
    assert people["cy@example.org"].meetings == 1
    assert "dee@example.org" not in people  # I declined
    assert people["eve@example.org"].meetings == 1
    assert "room-1@resource.calendar.google.com" not in people
    # The token expires and an event is deleted meanwhile: the full resync drops it.
    emu.expire_sync_token()
    coffee = fill_calendar_ids(emu)["Coffee with Ana"]["id"]
    emu.calendar.delete_event(coffee)
    result = sync_account(db, h, acc)
    assert result.ok, result.error
    people = {e: p for p in compute_people(db, int(NOW)) for e in p.emails}
    assert "ana@example.org" not in people
    assert people["bo@example.org"].meetings == 6


def test_faults_and_revocation(emu, tmp_path):
    emu.fail_next("calendar.events.list", 503, count=2)
    emu.fail_next("calendar.events.list", 403, count=1, reason="rateLimitExceeded")
    emu.fail_next("calendar.events.list", 429, count=1)
    events, _, _ = read(reader_for(emu, tmp_path))
    assert len(events) == 10
    emu.revoke()
    with pytest.raises(AuthRequired):
        read(reader_for(emu, tmp_path))


# -- the writer ------------------------------------------------------------------------------------


def writer(emu, tmp_path):
    return gcal.open_writer(account(emu, tmp_path, kind="gcal", name="c"), home(tmp_path))


def test_event_ids_are_valid_base32hex():
    for key in ("a", "dormant:12:1717000000~2", "x" * 5000):
        eid = gcal.event_id_for(key)
        assert re.fullmatch(r"[0-9a-v]{5,1024}", eid)
        assert eid == gcal.event_id_for(key)
    assert gcal.event_id_for("a") != gcal.event_id_for("b")


def test_writer_is_idempotent_across_a_crash(emu, tmp_path):
    w = writer(emu, tmp_path)
    assert isinstance(w, CalendarWriter)
    action = follow_up()
    assert w.lookup(action.key) is None
    ref = w.apply(action)
    assert ref == gcal.event_id_for(action.key)
    stored = emu.calendar.events[ME][ref].resource
    assert stored["extendedProperties"]["private"]["syncdKey"] == action.key
    assert stored["summary"] == "Reconnect with Ana Ruiz"
    assert stored["start"] == {"dateTime": "2024-06-03T09:00:00Z", "timeZone": "Europe/Berlin"}
    start = action.payload["start"]
    assert w.lookup(action.key) == RemoteEvent(ref, start, start + 900)
    # The user moves it: lookup sees where it is now.
    emu.calendar.update_event(
        ref, start={"dateTime": "2024-06-04T10:00:00Z"}, end={"dateTime": "2024-06-04T10:30:00Z"}
    )
    moved = w.lookup(action.key)
    assert moved.start == start + 86400 + 3600 and moved.end - moved.start == 1800
    # A retry after a crash (the insert happened, the outbox did not learn it) finds it.
    assert writer(emu, tmp_path).apply(action) == ref
    assert len(emu.calls("calendar.events.insert", status=409)) == 1
    assert sum(1 for e in emu.calendar.events[ME] if e == ref) == 1
    # The event is listed like any other (a follow-up has no attendees: no meeting).
    events, _, _ = read(reader_for(emu, tmp_path))
    assert any(e.locator == f"gcal:{ref}" for e in events)
    w.remove(action, None)  # by key
    assert emu.calendar.events[ME][ref].resource["status"] == "cancelled"
    assert w.lookup(action.key) is None
    w.remove(action, ref)  # gone already: fine
    # Deleted by the user (or removed): a retry does not bring it back.
    assert w.apply(action) == ref
    assert emu.calendar.events[ME][ref].resource["status"] == "cancelled"


def test_free_busy(emu, tmp_path):
    start = int(datetime(2024, 4, 1, 7, tzinfo=UTC).timestamp())
    busy = writer(emu, tmp_path).busy(start - 7 * 3600, start + 8 * 86400 - 7 * 3600)
    assert busy == [(start, start + 1800), (start + 7 * 86400, start + 7 * 86400 + 1800)]
    assert emu.calls("calendar.freebusy.query")
