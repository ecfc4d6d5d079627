"""Helpers for tests that drive the Exchange connector against the EWS emulator."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from tests.support.ews_emulator.loading import add_message
from tests.support.ews_emulator.server import EwsEmulator
from tests.support.google_emulator.testing import BODY_MARKER, raw_message

ME = "me@corp.example"
__all__ = ["BODY_MARKER", "ME", "account", "fill_mailbox", "home", "raw_message"]


def home(tmp_path: Path) -> Home:
    """A syncd home under ``tmp_path``."""
    h = Home(tmp_path / "home")
    h.ensure()
    return h


def password_file(emu: EwsEmulator, tmp_path: Path) -> Path:
    """A 0600 file holding the emulator's password."""
    path = tmp_path / "ews-password"
    if not path.exists():
        path.write_text(emu.password + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
    return path


def account(emu: EwsEmulator, tmp_path: Path, name: str = "x", **options: Any) -> AccountConfig:
    """An ``exchange`` account on the emulator (Basic auth, a password file, fast retries)."""
    opts: dict[str, Any] = {
        "ews_url": emu.url,
        "auth": "basic",
        "username": emu.username,
        "password_file": str(password_file(emu, tmp_path)),
        "backoff_base": 0.01,
        "timeout": 5.0,
        "calendar": False,
    }
    opts.update(options)
    return AccountConfig(name=name, kind="exchange", address=emu.mailbox.address, options=opts)


def fill_mailbox(emu: EwsEmulator, count: int = 30, start: datetime | None = None) -> None:
    """``count`` messages to and from :data:`ME` in Inbox, Sent Items, a folder of the
    user's, Deleted Items and Drafts; bodies hold :data:`BODY_MARKER`."""
    box = emu.mailbox
    start = start or datetime(2024, 1, 1, 9, tzinfo=UTC)
    projects = box.mail_folder("Projects")
    folders = {
        0: box.folder_id("inbox"),
        1: box.folder_id("sentitems"),
        2: projects.id,
        3: box.folder_id("deleteditems"),
    }
    for i in range(count):
        when = start + timedelta(hours=i)
        other = f"person{i % 7}@example.org"
        if i % 4 == 1:
            raw = raw_message(ME, [other], f"re: topic {i}", when)
        else:
            raw = raw_message(other, [ME], f"topic {i}", when)
        add_message(box, folders[i % 4], raw)
    draft = raw_message(ME, ["x@example.org"], "draft", start)
    add_message(box, box.folder_id("drafts"), draft, draft=True)


def add_event(
    emu: EwsEmulator,
    subject: str,
    start: int,
    minutes: int = 60,
    attendees: tuple[str, ...] = ("ana@example.org",),
    **fields: Any,
) -> Any:
    """A meeting of :data:`ME`'s (its body holds :data:`BODY_MARKER`); ``fields`` override
    EWS properties (``IsCancelled``, ``MyResponseType``, ``Recurrence`` ...)."""
    box = emu.mailbox
    props: dict[str, Any] = {
        "Subject": subject,
        "Start": start,
        "End": start + minutes * 60,
        "UID": f"uid-{subject.replace(' ', '-')}@corp.example",
        "CalendarItemType": "RecurringMaster" if "Recurrence" in fields else "Single",
        "Organizer": {"name": "Me", "email": box.address},
        "MyResponseType": "Organizer",
        "RequiredAttendees": [{"name": "", "email": a, "response": "Accept"} for a in attendees],
        "LegacyFreeBusyStatus": "Busy",
        "IsAllDayEvent": False,
        "IsCancelled": False,
        "AppointmentSequenceNumber": 0,
        "LastModifiedTime": start - 86400,
    }
    props.update(fields)
    body = f"Agenda: {BODY_MARKER}"
    return box.add_item(box.folder_id("calendar"), "CalendarItem", fields=props, body=body)
