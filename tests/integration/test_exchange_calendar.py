"""The Exchange calendar reader's semantics against the EWS emulator: instances keyed by
UID + original start, my declines, cancellations, deletions inside the window, past
meetings kept when the window moves on, rooms as resources, and never a body."""

from __future__ import annotations

from pathlib import Path

from connectors.ews_calendar import SCOPE, CalendarSync
from connectors.ews_session import open_session
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.testing import ME, account, add_event, home

DAY = 86400
NOW = 1_780_000_000 - 1_780_000_000 % DAY  # a UTC midnight


def sync(emu: EwsEmulator, tmp_path: Path, cursors: dict, now: int = NOW) -> list:
    session = open_session(account(emu, tmp_path), home(tmp_path))
    events = []
    for batch in CalendarSync(session, past_days=30, future_days=30, now=now).fetch(cursors):
        events += batch.events
        cursors.update(batch.cursors)
    return events


def test_calendar_changes_deletions_and_the_moving_window(tmp_path: Path):
    emu = EwsEmulator(address=ME).start()
    try:
        box = emu.mailbox
        past = add_event(emu, "past", NOW - 20 * DAY + 36000, attendees=("a@x.org",))
        gone = add_event(emu, "gone", NOW - 2 * DAY + 36000, attendees=("b@x.org",))
        add_event(emu, "declined", NOW - DAY, MyResponseType="Decline")
        series = {"interval": 7 * DAY, "count": 3}
        weekly = add_event(emu, "weekly", NOW - 6 * DAY, Recurrence=series)
        rooms = [{"email": "room1@x.org", "name": "Room 1"}]
        room = add_event(emu, "room", NOW + DAY, Resources=rooms)
        cursors: dict = {}
        first = {e.key: e for e in sync(emu, tmp_path, cursors)}
        assert len(first) == 7  # 4 singles + 3 occurrences
        weekly_keys = sorted(k for k in first if k.startswith("uid-weekly"))
        starts = [int(k.split("|")[1]) for k in weekly_keys]
        assert starts == [NOW - 6 * DAY + 7 * DAY * n for n in range(3)]
        declined = next(e for e in first.values() if e.summary == "declined")
        mine = [(a.address, a.partstat) for a in declined.attendees if a.address == ME]
        assert mine == [(ME, "DECLINED")]
        room_event = next(e for e in first.values() if e.summary == "room")
        assert ("room1@x.org", "RESOURCE") in [(a.address, a.cutype) for a in room_event.attendees]
        assert all(e.calendar == SCOPE and e.status == "CONFIRMED" for e in first.values())
        assert sync(emu, tmp_path, cursors) == [], "nothing changed"

        box.delete_item(gone.id)
        box.update_item(room.id, IsCancelled=True)
        changed = {e.key: e for e in sync(emu, tmp_path, cursors)}
        what = {e.summary or e.key.split("|")[0] for e in changed.values()}
        assert what == {"room", "uid-gone@corp.example"}
        assert all(e.status == "CANCELLED" for e in changed.values())
        deleted = next(e for k, e in changed.items() if k.startswith("uid-gone"))
        assert deleted.version[0] > first[deleted.key].version[0], "the deletion wins"

        # A month later the window has moved past "past" and the weekly series: nothing is
        # reported deleted for instances that only left the window.
        later = sync(emu, tmp_path, cursors, now=NOW + 25 * DAY)
        assert not [e for e in later if e.status == "CANCELLED"], later
        assert past.id and weekly.id
        assert not emu.content_requests(), "a body was asked for"
        finds = [r for r in emu.requests if r["op"] == "FindItem"]
        assert finds and all(r["fields"] == [] for r in finds), "FindItem asks for ids only"
    finally:
        emu.stop()
