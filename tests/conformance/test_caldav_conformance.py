"""The CalDAV reader and writer pass the conformance suites against a real Radicale.

Reader: 12 meetings, a weekly series with an EXDATE and a declined meeting,
5 resources per batch; data is added by PUT. Writer: follow-ups in the same
calendar; the user's deletions and moves are plain HTTP requests to the server.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import icalendar

from connectors import caldav
from connectors.base import CalendarWriter, Reader
from connectors.icsfile import KEY_PROPERTY
from tests.support.caldav_testing import (
    BODY_MARKER,
    caldav_account,
    fill,
    home,
    new_calendar,
    shared_server,
    vevent,
)
from tests.support.reader_conformance import ConnectorConformance
from tests.support.writer_conformance import WriterConformance


class TestCaldavConformance(ConnectorConformance):
    """Radicale on loopback, opened through the connector seam."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 1

    def setup_source(self, tmp_path: Path) -> None:
        self.server = shared_server()
        self.calendar = new_calendar(self.server)
        fill(self.server, calendar=self.calendar)
        self.added = 0

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = caldav_account(self.server, tmp_path, calendar=self.calendar, batch_size=5)
        return caldav.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        uid = f"added-{self.added}"
        event = vevent(uid, "20240701T100000Z", "20240701T110000Z", {"new@example.org": "ACCEPTED"})
        self.server.put(uid, event, self.calendar)


def stamp(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


class TestCaldavWriterConformance(WriterConformance):
    """Follow-ups in a Radicale calendar that already holds meetings."""

    def setup_target(self, tmp_path: Path) -> None:
        self.server = shared_server()
        self.calendar = new_calendar(self.server)
        fill(self.server, count=3, calendar=self.calendar)

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        acc = caldav_account(self.server, tmp_path, calendar=self.calendar)
        return caldav.open_writer(acc, home(tmp_path))

    def _objects(self) -> list[tuple[Path, icalendar.Calendar]]:
        folder = self.server.collection(self.calendar)
        return [
            (p, icalendar.Calendar.from_ical(p.read_bytes()))
            for p in sorted(folder.glob("*"))
            if p.is_file() and not p.name.startswith(".")
        ]

    def live_events(self, key: str) -> int:
        return sum(
            1
            for _, cal in self._objects()
            for ev in cal.walk("VEVENT")
            if str(ev.get(KEY_PROPERTY, "")) == key
            and str(ev.get("STATUS", "")).upper() != "CANCELLED"
        )

    def delete_in_backend(self, ref: str) -> None:
        self.server.delete(ref)

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        status, data = self.server.request("GET", ref)
        assert status == 200
        text = data.decode()
        cal = icalendar.Calendar.from_ical(text)
        ev = next(iter(cal.walk("VEVENT")))
        ev.pop("DTSTART")
        ev.pop("DTEND")
        ev.add("DTSTART", datetime.fromtimestamp(start, UTC))
        ev.add("DTEND", datetime.fromtimestamp(end, UTC))
        status, body = self.server.request(
            "PUT", ref, cal.to_ical(), {"Content-Type": "text/calendar"}
        )
        assert status in (201, 204), (status, body)
