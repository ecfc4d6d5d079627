"""The local-file connectors (mbox, maildir, ics) pass the cross-connector conformance suite."""

from __future__ import annotations

from pathlib import Path

import connectors.maildir as maildir
from connectors.ics import IcsReader
from connectors.maildir import MaildirReader
from connectors.mbox import MboxReader
from tests.support.helpers import message, write_mbox
from tests.support.reader_conformance import ConnectorConformance

BODY_MARKER = "BODY-ONLY-6d1f0c"


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

    def make_reader(self, tmp_path: Path) -> MboxReader:
        return MboxReader([self.root], workers=0)

    def add_data(self, tmp_path: Path) -> None:
        extra = tmp_path / "extra"
        write_mbox(extra, [mail(100), mail(101)])
        with open(self.root / "inbox", "ab") as fh:
            fh.write(extra.read_bytes())


class TestMboxPoolConformance(TestMboxConformance):
    """The same with the worker pool that real imports use."""

    def make_reader(self, tmp_path: Path) -> MboxReader:
        return MboxReader([self.root], workers=2)


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

    def make_reader(self, tmp_path: Path) -> MaildirReader:
        return MaildirReader([self.root])

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

    def make_reader(self, tmp_path: Path) -> IcsReader:
        return IcsReader([self.root], horizon_end=1_800_000_000)

    def add_data(self, tmp_path: Path) -> None:
        (self.root / "c9.ics").write_text(calendar("ev9@test", 20))
