"""The local-file connectors pass the conformance suites: the mbox, maildir and ics
readers, and the .ics file writer (connectors.icsfile), each opened through the
connector seam (``open_reader`` / ``open_writer`` on an account)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar

import connectors.gmail_json as gmail_json
import connectors.maildir as maildir
from connectors import ics, icsfile, mbox
from connectors.base import CalendarWriter, Reader
from connectors.icsfile import KEY_PROPERTY
from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from tests.support.gmail_records import resource, write_json_lines
from tests.support.helpers import message, write_mbox
from tests.support.reader_conformance import ConnectorConformance
from tests.support.writer_conformance import WriterConformance

BODY_MARKER = "BODY-ONLY-6d1f0c"


def local(kind: str, **options: Any) -> AccountConfig:
    """A local account of ``kind`` (options: ``paths`` and the connector's own)."""
    return AccountConfig(name="local", kind=kind, options=options)


def home(tmp_path: Path) -> Home:
    """The home of these tests (local connectors only resolve relative paths under it)."""
    return Home(tmp_path / "home")


def mail(n: int, sender: str = "ann@x.example") -> bytes:
    """Message ``n``, its body holding :data:`BODY_MARKER`."""
    raw = message(sender=sender, to="me@y.example", subject=f"note {n}")
    return raw.replace(b"body line", f"{BODY_MARKER} {n}".encode())


class TestMboxConformance(ConnectorConformance):
    """Two mbox files: one batch each; data is added by appending to one of them."""

    body_markers = (BODY_MARKER,)

    def setup_source(self, tmp_path: Path) -> None:
        self.root = tmp_path / "mbox"
        write_mbox(self.root / "inbox", [mail(n) for n in range(5)])
        write_mbox(self.root / "sent", [mail(n, "me@y.example") for n in range(5, 8)])

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = local("mbox", paths=[str(self.root)], workers=0)
        return mbox.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        extra = tmp_path / "extra"
        write_mbox(extra, [mail(100), mail(101)])
        with open(self.root / "inbox", "ab") as fh:
            fh.write(extra.read_bytes())


class TestMboxPoolConformance(TestMboxConformance):
    """The same with the worker pool that real imports use."""

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = local("mbox", paths=[str(self.root)], workers=2)
        return mbox.open_reader(acc, home(tmp_path))


class TestMaildirConformance(ConnectorConformance):
    """A maildir (cur/new) read two files per batch; data is added as new files."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 2

    def setup_source(self, tmp_path: Path) -> None:
        self.root = tmp_path / "Maildir"
        self.batch_files = maildir.BATCH_FILES
        maildir.BATCH_FILES = 2
        for n in range(7):
            box = self.root / ("cur" if n % 2 else "new")
            box.mkdir(parents=True, exist_ok=True)
            (box / f"{n}.eml").write_bytes(mail(n))

    def teardown_source(self) -> None:
        maildir.BATCH_FILES = self.batch_files

    def make_reader(self, tmp_path: Path) -> Reader:
        return maildir.open_reader(local("maildir", paths=[str(self.root)]), home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        (self.root / "new" / "100.eml").write_bytes(mail(100))


def calendar(uid: str, day: int) -> str:
    """A one-event calendar; the DESCRIPTION holds :data:`BODY_MARKER`."""
    return "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//syncd tests//EN",
            "BEGIN:VEVENT",
            f"UID:{uid}",
            "DTSTAMP:20240101T000000Z",
            f"DTSTART:202403{day:02d}T100000Z",
            f"DTEND:202403{day:02d}T110000Z",
            "SUMMARY:Planning",
            f"DESCRIPTION:{BODY_MARKER} agenda",
            "ORGANIZER:mailto:ann@x.example",
            "ATTENDEE;PARTSTAT=ACCEPTED:mailto:me@y.example",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )


class TestIcsConformance(ConnectorConformance):
    """Three calendar files (one batch each); data is added as a new file."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 2

    def setup_source(self, tmp_path: Path) -> None:
        self.root = tmp_path / "cal"
        self.root.mkdir()
        for n in range(3):
            (self.root / f"c{n}.ics").write_text(calendar(f"ev{n}@test", n + 1))

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = local("ics", paths=[str(self.root)], horizon_end=1_800_000_000)
        return ics.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        (self.root / "c9.ics").write_text(calendar("ev9@test", 20))


def saved(n: int, labels: tuple[str, ...] = ("INBOX",)) -> dict[str, Any]:
    """Saved Gmail API resource ``n`` (metadata: nothing of a body in it)."""
    when = datetime(2024, 3, 1, tzinfo=UTC) + timedelta(hours=n)
    return resource(f"{n:04x}", f"p{n}@x.example", "me@y.example", f"note {n}", when, labels)


class TestGmailJsonConformance(ConnectorConformance):
    """Saved Gmail API responses: a JSON Lines file read two records per batch and a JSON
    array; data is added by appending lines (read from where the last import stopped)."""

    interrupt_after = 2

    def setup_source(self, tmp_path: Path) -> None:
        self.root = tmp_path / "gmail"
        self.batch_records = gmail_json.BATCH_RECORDS
        gmail_json.BATCH_RECORDS = 2
        labels = {"labels": [{"id": "Label_1", "name": "Clients", "type": "user"}]}
        records = [saved(n, ("Label_1",) if n % 2 else ("INBOX",)) for n in range(5)]
        write_json_lines(self.root / "inbox.jsonl", [labels, *records])
        (self.root / "sent.json").write_text(json.dumps([saved(n, ("SENT",)) for n in (5, 6)]))

    def teardown_source(self) -> None:
        gmail_json.BATCH_RECORDS = self.batch_records

    def make_reader(self, tmp_path: Path) -> Reader:
        acc = local("gmail-json", paths=[str(self.root)])
        return gmail_json.open_reader(acc, home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        write_json_lines(self.root / "inbox.jsonl", [saved(100), saved(101)], append=True)


class TestIcsFileWriterConformance(WriterConformance):
    """Follow-ups in a local .ics file that also holds an event of the user's; the user's
    deletions and moves are edits of the file."""

    def setup_target(self, tmp_path: Path) -> None:
        self.path = tmp_path / "followups.ics"
        self.path.write_text(calendar("mine@test", 2))

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        acc = AccountConfig(
            name="ics:followups",
            kind="icsfile",
            options={"path": "../followups.ics", "timezone": "Europe/Berlin"},
        )
        return icsfile.open_writer(acc, home(tmp_path))  # a path relative to the home

    def _calendar(self) -> icalendar.Calendar:
        return icalendar.Calendar.from_ical(self.path.read_bytes())

    def _save(self, cal: icalendar.Calendar) -> None:
        self.path.write_bytes(cal.to_ical())

    def live_events(self, key: str) -> int:
        return sum(
            1
            for ev in self._calendar().walk("VEVENT")
            if str(ev.get(KEY_PROPERTY, "")) == key
            and str(ev.get("STATUS", "")).upper() != "CANCELLED"
        )

    def delete_in_backend(self, ref: str) -> None:
        cal = self._calendar()
        cal.subcomponents = [c for c in cal.subcomponents if str(c.get("UID", "")) != ref]
        self._save(cal)

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        cal = self._calendar()
        (event,) = [ev for ev in cal.walk("VEVENT") if str(ev.get("UID", "")) == ref]
        for name, value in (("DTSTART", start), ("DTEND", end)):
            del event[name]
            event.add(name, datetime.fromtimestamp(value, UTC))
        self._save(cal)
