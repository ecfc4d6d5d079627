"""Helpers for the CalDAV tests: accounts on a test Radicale, events to seed it with."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from tests.support.radicale_server import ADDRESS, CALENDAR, PASSWORD, USER, Radicale

BODY_MARKER = "DESCRIPTION-MARKER-91c2"
ME = ADDRESS


def password_file(tmp_path: Path) -> Path:
    """The test user's password in a 0600 file."""
    path = tmp_path / "caldav.pw"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(PASSWORD + "\n")
    return path


_SHARED: list[Radicale] = []


def shared_server() -> Radicale:
    """One Radicale per test process (started on first use); tests use calendars of their
    own on it (:func:`new_calendar`), so none sees another's events."""
    if not _SHARED or _SHARED[0].proc is None or _SHARED[0].proc.poll() is not None:
        server = Radicale(Path(tempfile.mkdtemp(prefix="syncd-radicale-"))).start()
        _SHARED[:] = [server]
        atexit.register(_discard, server)
    return _SHARED[0]


def _discard(server: Radicale) -> None:
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def new_calendar(server: Radicale) -> str:
    """A new, empty calendar on ``server``; its name."""
    name = f"cal-{uuid.uuid4().hex[:10]}"
    server.make_calendar(name)
    return name


def caldav_account(
    server: Radicale,
    tmp_path: Path,
    name: str = "c",
    calendar: str = CALENDAR,
    **options: Any,
) -> AccountConfig:
    """A ``caldav`` account on ``server``'s calendar ``calendar``, password from a file."""
    opts: dict[str, Any] = {
        "url": server.url,
        "username": USER,
        "calendar": calendar,
        "password_file": str(password_file(tmp_path)),
        "timeout": 10,
        **options,
    }
    return AccountConfig(name=name, kind="caldav", address=ME, options=opts)


def home(tmp_path: Path) -> Home:
    """A home under ``tmp_path``."""
    return Home(tmp_path / "home")


def vevent(
    uid: str,
    start: str,
    end: str,
    attendees: dict[str, str] | None = None,
    extra: str = "",
    summary: str = "",
) -> bytes:
    """One VCALENDAR with one VEVENT (times ``YYYYMMDDTHHMMSSZ``), organised by me;
    ``attendees`` maps address to PARTSTAT; the description holds :data:`BODY_MARKER`."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//test//EN",
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20240101T000000Z",
        f"DTSTART:{start}",
        f"DTEND:{end}",
        f"SUMMARY:{summary or uid}",
        f"DESCRIPTION:{BODY_MARKER} agenda",
        f"ORGANIZER:mailto:{ME}",
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}",
    ]
    for address, partstat in (attendees or {}).items():
        lines.append(f"ATTENDEE;PARTSTAT={partstat}:mailto:{address}")
    lines += [x for x in extra.split("\n") if x]
    lines += ["END:VEVENT", "END:VCALENDAR", ""]
    return "\r\n".join(lines).encode()


def fill(server: Radicale, count: int = 12, calendar: str = CALENDAR) -> None:
    """``count`` single meetings, a weekly series of 4 with one instance excluded, and
    a meeting I declined, in ``calendar`` (created)."""
    server.make_calendar(calendar)
    for n in range(count):
        day = 1 + n
        server.put(
            f"meeting-{n}",
            vevent(
                f"meeting-{n}",
                f"202405{day:02d}T100000Z",
                f"202405{day:02d}T110000Z",
                {f"peer{n % 5}@example.com": "ACCEPTED", "room@example.com": "ACCEPTED"},
            ),
            calendar,
        )
    server.put(
        "weekly",
        vevent(
            "weekly",
            "20240603T090000Z",
            "20240603T093000Z",
            {"team@example.com": "TENTATIVE"},
            extra="RRULE:FREQ=WEEKLY;COUNT=4\nEXDATE:20240610T090000Z",
        ),
        calendar,
    )
    server.put(
        "declined",
        vevent("declined", "20240620T100000Z", "20240620T110000Z", {"x@example.com": "ACCEPTED"})
        .replace(b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + ME.encode(),
                 b"ATTENDEE;PARTSTAT=DECLINED:mailto:" + ME.encode()),
        calendar,
    )  # fmt: skip
