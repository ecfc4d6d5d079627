"""The Google connectors pass the conformance suites, against the emulator through
google-api-python-client: the Gmail and Calendar readers, and the Calendar writer.

Every reader and writer is opened through the connector seam
(``open_reader`` / ``open_writer`` on a configured account).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors import gcal, gmail
from connectors.base import CalendarWriter, Reader
from connectors.google_pacing import forget_pacers
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import (
    BODY_MARKER,
    CALENDAR_NOW,
    ME,
    account,
    fill_calendar,
    fill_mailbox,
    home,
    raw_message,
    when,
)
from tests.support.reader_conformance import ConnectorConformance
from tests.support.writer_conformance import WriterConformance

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


class TestGmailConformance(ConnectorConformance):
    """60 messages read 10 per batch; data is added as new Inbox messages."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 2

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = GoogleEmulator(window=0.5).start()
        fill_mailbox(self.emu, 60)
        self.added = 0

    def teardown_source(self) -> None:
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = account(self.emu, tmp_path, batch_size=10, page_size=25)
        return gmail.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        raw = raw_message("new@example.org", [ME], f"new {self.added}", WHEN)
        self.emu.gmail.add_message(raw, ["INBOX"])


class TestGcalConformance(ConnectorConformance):
    """The primary calendar (one batch per sync); data is added as new events."""

    body_markers = (BODY_MARKER,)

    def setup_source(self, tmp_path: Path) -> None:
        self.emu = GoogleEmulator(window=0.5, calendar_now=CALENDAR_NOW).start()
        fill_calendar(self.emu)
        self.added = 0

    def teardown_source(self) -> None:
        self.emu.stop()

    def make_reader(self, tmp_path: Path) -> Reader:
        return gcal.open_reader(account(self.emu, tmp_path, kind="gcal", name="c"), home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        self.emu.calendar.add_event(
            summary=f"new {self.added}",
            start=when(f"2024-07-0{self.added}T10:00:00Z"),
            end=when(f"2024-07-0{self.added}T11:00:00Z"),
            attendees=[{"email": ME}, {"email": "new@example.org"}],
        )


def rfc3339(epoch: int) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TestGcalWriterConformance(WriterConformance):
    """Follow-ups in the emulator's primary calendar (which already holds other events);
    the user's deletions and moves are edits of the emulator's state."""

    def setup_target(self, tmp_path: Path) -> None:
        self.emu = GoogleEmulator(window=0.5, calendar_now=CALENDAR_NOW).start()
        fill_calendar(self.emu)

    def teardown_target(self) -> None:
        self.emu.stop()

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        return gcal.open_writer(account(self.emu, tmp_path, kind="gcal", name="c"), home(tmp_path))

    def live_events(self, key: str) -> int:
        stored = self.emu.calendar.events[ME].values()
        return sum(
            1
            for st in stored
            if not st.deleted
            and st.resource.get("status") != "cancelled"
            and (st.resource.get("extendedProperties") or {}).get("private", {}).get("syncdKey")
            == key
        )

    def delete_in_backend(self, ref: str) -> None:
        self.emu.calendar.delete_event(ref)

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        self.emu.calendar.update_event(
            ref, start={"dateTime": rfc3339(start)}, end={"dateTime": rfc3339(end)}
        )
