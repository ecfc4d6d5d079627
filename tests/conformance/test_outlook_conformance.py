"""The ``outlook`` connector passes the conformance suites against the Graph emulator,
through the same HTTP client that talks to Microsoft: mail, calendar, and the writer.

Every reader and writer is opened through the connector seam (``open_reader`` /
``open_writer`` on a configured account).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import outlook
from connectors.base import CalendarWriter, Reader
from connectors.google_pacing import forget_pacers
from connectors.outlook_writer import PROPERTY_ID
from tests.support.graph_emulator import GraphEmulator
from tests.support.graph_emulator.calendar import graph_time
from tests.support.graph_emulator.testing import (
    BODY_MARKER,
    ME,
    account,
    fill_calendar,
    fill_mailbox,
    home,
    raw_message,
)
from tests.support.reader_conformance import ConnectorConformance
from tests.support.writer_conformance import WriterConformance

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


class TestOutlookMailConformance(ConnectorConformance):
    """60 messages in six folders, 8 per delta page; data is added as new Inbox messages.
    Every request is checked afterwards: no body was ever asked for."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 3

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = GraphEmulator().start()
        fill_mailbox(self.emu, 60)
        self.added = 0

    def teardown_source(self) -> None:
        assert self.emu.body_requests == 0
        assert all("body" not in r.query.get("$select", "").lower() for r in self.emu.records)
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = account(self.emu, tmp_path, page_size=8, read_calendar=False)
        return outlook.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        self.emu.mail.add_message(
            raw_message("new@example.org", [ME], f"new {self.added}", WHEN), "inbox"
        )


class TestOutlookCalendarConformance(ConnectorConformance):
    """The default calendar, 3 instances per delta page; data is added as new events."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 1

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = GraphEmulator().start()
        fill_calendar(self.emu)
        self.added = 0

    def teardown_source(self) -> None:
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        reader = outlook.open_reader(account(self.emu, tmp_path, page_size=3), home(tmp_path))
        reader.mail.folders = lambda: []  # the calendar alone
        reader.mail.owner = lambda: (ME,)
        return reader

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        start = datetime(2024, 7, self.added, 10, tzinfo=UTC).timestamp()
        self.emu.calendar.add_event(
            f"new {self.added}",
            start,
            start + 3600,
            [{"emailAddress": {"address": "new@example.org"}, "type": "required"}],
        )


class TestOutlookWriterConformance(WriterConformance):
    """Follow-ups in the emulator's calendar (which already holds other events); the
    user's deletions and moves are edits of the emulator's state."""

    def setup_target(self, tmp_path: Path) -> None:
        self.emu = GraphEmulator().start()
        fill_calendar(self.emu)

    def teardown_target(self) -> None:
        self.emu.stop()

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        return outlook.open_writer(account(self.emu, tmp_path), home(tmp_path))

    def live_events(self, key: str) -> int:
        return sum(
            1
            for e in self.emu.calendar.events.values()
            if not e.get("isCancelled")
            and any(
                p["id"] == PROPERTY_ID and p["value"] == key
                for p in e.get("singleValueExtendedProperties", [])
            )
        )

    def delete_in_backend(self, ref: str) -> None:
        self.emu.calendar.delete_event(ref)

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        self.emu.calendar.update_event(ref, start=graph_time(start), end=graph_time(end))
