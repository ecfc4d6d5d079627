"""Helpers for tests that drive the Google connectors against the emulator."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.home import Home

from .server import GoogleEmulator

BODY_MARKER = "BODY-MARKER-7f3a9c"
ME = "me@example.com"
CALENDAR_NOW = datetime(2024, 6, 1, tzinfo=UTC).timestamp()  # the calendar emulator's clock


def raw_message(
    sender: str,
    to: list[str] | str,
    subject: str,
    when: datetime,
    cc: list[str] | str = (),
    extra: dict[str, str] | None = None,
    message_id: str | None = None,
) -> bytes:
    """A small RFC 5322 message whose body holds :data:`BODY_MARKER`."""
    from email.utils import format_datetime

    def join(v: Any) -> str:
        return v if isinstance(v, str) else ", ".join(v)

    lines = [f"From: {sender}", f"To: {join(to)}"]
    if cc:
        lines.append(f"Cc: {join(cc)}")
    lines += [f"Subject: {subject}", f"Date: {format_datetime(when)}"]
    seed = f"{sender}|{join(to)}|{subject}|{when.isoformat()}".encode()
    mid = message_id or f"<{hashlib.sha1(seed).hexdigest()[:20]}@test.invalid>"
    lines.append(f"Message-ID: {mid}")
    for name, value in (extra or {}).items():
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + f"\r\n\r\nHello, {BODY_MARKER} secret body.\r\n").encode()


def fill_mailbox(emu: GoogleEmulator, count: int = 60, start: datetime | None = None) -> None:
    """``count`` messages to and from ``ME`` in Inbox, Sent, a user label and Trash."""
    start = start or datetime(2024, 1, 1, 9, tzinfo=UTC)
    for i in range(count):
        when = start + timedelta(hours=i)
        other = f"person{i % 7}@example.org"
        if i % 4 == 1:
            raw = raw_message(ME, [other], f"re: topic {i}", when)
        else:
            raw = raw_message(other, [ME], f"topic {i}", when)
        labels = {
            0: ["INBOX"],
            1: ["SENT"],
            2: ["INBOX", "CATEGORY_UPDATES"],
            3: ["Projects/alpha"],
        }[i % 4]
        if i % 10 == 9:
            labels = ["TRASH"]
        emu.gmail.add_message(raw, labels)


def account(
    emu: GoogleEmulator, tmp_path: Path, kind: str = "gmail", name: str = "g", **options: Any
) -> AccountConfig:
    """An account pointing at the emulator with a bare-token file, quota window scaled."""
    token = tmp_path / f"token-{name}.json"
    if not token.exists():
        emu.write_token_file(token)
    opts = {
        "api_endpoint": emu.url,
        "token_file": str(token),
        "quota_window": emu.window,
        "backoff_base": 0.01,
        "timeout": 5.0,
    }
    opts.update(options)
    return AccountConfig(name=name, kind=kind, address=ME, options=opts)


def home(tmp_path: Path) -> Home:
    """A home under ``tmp_path``."""
    return Home(tmp_path / "home")


def when(text: str) -> dict[str, str]:
    """An event time ``{"dateTime": text}``."""
    return {"dateTime": text}


def fill_calendar(emu: GoogleEmulator) -> dict[str, dict]:
    """A single meeting, a weekly series, an all-day event, a room booking and a declined one."""
    cal = emu.calendar
    out = {}
    out["single"] = cal.add_event(
        summary="Coffee with Ana",
        description=f"agenda {BODY_MARKER}",
        start=when("2024-03-01T10:00:00Z"),
        end=when("2024-03-01T10:30:00Z"),
        attendees=[
            {"email": ME, "responseStatus": "accepted"},
            {"email": "ana@example.org", "displayName": "Ana Ruiz", "responseStatus": "accepted"},
        ],
    )
    out["series"] = cal.add_event(
        summary="Weekly sync",
        description=BODY_MARKER,
        start={"dateTime": "2024-04-01T09:00:00+02:00", "timeZone": "Europe/Berlin"},
        end={"dateTime": "2024-04-01T09:30:00+02:00", "timeZone": "Europe/Berlin"},
        recurrence=["RRULE:FREQ=WEEKLY;COUNT=6"],
        attendees=[
            {"email": ME},
            {"email": "bo@example.org"},
            {"email": "room-1@resource.calendar.google.com", "resource": True},
        ],
        organizer={"email": "bo@example.org"},
    )
    out["allday"] = cal.add_event(
        summary="Offsite",
        start={"date": "2024-05-02"},
        end={"date": "2024-05-03"},
        attendees=[{"email": ME}, {"email": "cy@example.org"}],
    )
    out["declined"] = cal.add_event(
        summary="Pitch",
        start=when("2024-05-10T15:00:00Z"),
        end=when("2024-05-10T16:00:00Z"),
        attendees=[{"email": ME, "responseStatus": "declined"}, {"email": "dee@example.org"}],
        organizer={"email": "dee@example.org"},
    )
    out["imported"] = cal.add_event(
        summary="From Outlook",
        iCalUID="040000008200E00074C5B7101A82E008-abc",
        start=when("2024-05-20T08:00:00Z"),
        end=when("2024-05-20T09:00:00Z"),
        attendees=[{"email": ME}, {"email": "eve@example.org"}],
        organizer={"email": "eve@example.org"},
    )
    return out
