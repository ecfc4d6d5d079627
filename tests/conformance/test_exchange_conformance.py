"""The Exchange connector passes the conformance suites against the EWS emulator, driven
through exchangelib unmodified: the reader (mail; calendar) and the calendar writer."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from connectors import exchange
from connectors.base import Reader
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

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


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
