"""The Exchange connector passes the conformance suites against the EWS emulator, driven
through exchangelib unmodified: the reader (mail; calendar) and the calendar writer."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from connectors import exchange
from connectors.base import CalendarWriter, Reader
from connectors.ews_writer import PROPERTY_SET
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.loading import add_message
from tests.support.ews_emulator.testing import (
    BODY_MARKER,
    ME,
    account,
    add_event,
    fill_mailbox,
    home,
    raw_message,
)
from tests.support.reader_conformance import ConnectorConformance
from tests.support.writer_conformance import START, WriterConformance

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)
KEY_PROPERTY = f"{PROPERTY_SET}/syncdKey/String"


class TestExchangeMailConformance(ConnectorConformance):
    """30 messages in five folders, read 4 changes a page; data is added to the Inbox."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 3

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = EwsEmulator(address=ME).start()
        fill_mailbox(self.emu, 30)
        self.added = 0

    def teardown_source(self) -> None:
        assert not self.emu.content_requests(), "a body or attachment was asked for"
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        return exchange.open_reader(account(self.emu, tmp_path, page_size=4), home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        raw = raw_message("new@example.org", [ME], f"new {self.added}", WHEN)
        add_message(self.emu.mailbox, self.emu.mailbox.folder_id("inbox"), raw)


class TestExchangeCalendarConformance(ConnectorConformance):
    """Meetings in the window (one weekly series of 4); data is added as new meetings."""

    body_markers = (BODY_MARKER,)

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = EwsEmulator(address=ME).start()
        now = int(time.time())
        self.base = now - now % 86400 - 20 * 86400
        for n in range(6):
            add_event(self.emu, f"meeting {n}", self.base + n * 86400 + 36000,
                      attendees=(f"p{n}@example.org", "q@example.org"))  # fmt: skip
        add_event(self.emu, "weekly", self.base + 40000,
                  Recurrence={"interval": 7 * 86400, "count": 4})  # fmt: skip
        self.added = 0

    def teardown_source(self) -> None:
        assert not self.emu.content_requests(), "a body was asked for"
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = account(self.emu, tmp_path, calendar=True)
        return exchange.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        add_event(self.emu, f"new {self.added}", self.base + 10 * 86400 + 3600 * self.added)


class TestExchangeWriterConformance(WriterConformance):
    """Follow-ups in the emulated mailbox's calendar (which already holds a meeting); the
    user's deletions and moves are edits of the emulator's state."""

    def setup_target(self, tmp_path: Path) -> None:
        self.emu = EwsEmulator(address=ME).start()
        add_event(self.emu, "standing", START - 4 * 3600)

    def teardown_target(self) -> None:
        assert not self.emu.content_requests(), "a body was asked for"
        self.emu.stop()

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        return exchange.open_writer(account(self.emu, tmp_path), home(tmp_path))

    def live_events(self, key: str) -> int:
        box = self.emu.mailbox
        return sum(
            1
            for item in box.live_items(box.folder_id("calendar"))
            if not item.fields.get("IsCancelled") and KEY_PROPERTY in item.extended
            and item.extended[KEY_PROPERTY] == key
        )  # fmt: skip

    def delete_in_backend(self, ref: str) -> None:
        assert self.emu.mailbox.delete_item(ref)

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        self.emu.mailbox.update_item(ref, Start=start, End=end)
