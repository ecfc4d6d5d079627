"""Helpers for tests that drive the ``outlook`` connector against the Graph emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from tests.support.google_emulator.testing import BODY_MARKER, raw_message

from .server import GraphEmulator

ME = "me@example.com"
NOW = datetime(2024, 6, 1, tzinfo=UTC)

__all__ = [
    "BODY_MARKER",
    "ME",
    "NOW",
    "account",
    "fill_calendar",
    "fill_mailbox",
    "home",
    "raw_message",
]


def account(emu: GraphEmulator, tmp_path: Path, name: str = "o", **options: Any) -> AccountConfig:
    """An ``outlook`` account pointing at the emulator with a bare-token file."""
    token = tmp_path / f"token-{name}.json"
    if not token.exists():
        emu.write_token_file(token)
    opts: dict[str, Any] = {
        "api_endpoint": emu.url,
        "token_file": str(token),
        "backoff_base": 0.01,
        "timeout": 5.0,
        "window": emu.window,
    }
    opts.update(options)
    return AccountConfig(name=name, kind="outlook", address=emu.user, options=opts)


def home(tmp_path: Path) -> Home:
    """A home under ``tmp_path``."""
    return Home(tmp_path / "home")


def fill_mailbox(emu: GraphEmulator, count: int = 60, start: datetime | None = None) -> list[bytes]:
    """``count`` messages to and from ``ME`` in Inbox, Sent Items, a user folder (with a
    child), Deleted Items, Drafts and Junk Email; returns them as RFC 5322 bytes, each
    with the folder it went to, for an mbox of the same mailbox."""
    start = start or datetime(2024, 1, 1, 9, tzinfo=UTC)
    mail = emu.mail
    projects = mail.add_folder("Projects")
    alpha = mail.add_folder("alpha", parent=projects)
    out = []
    for i in range(count):
        when = start + timedelta(hours=i)
        other = f"person{i % 7}@example.org"
        extra = {"List-Id": "<news.example.org>"} if i % 11 == 10 else None
        if i % 4 == 1:
            raw = raw_message(ME, [other], f"re: topic {i}", when, extra=extra)
        else:
            raw = raw_message(other, [ME], f"topic {i}", when, extra=extra)
        folder = {0: "inbox", 1: "sentitems", 2: projects, 3: alpha}[i % 4]
        if i % 10 == 9:
            folder = "deleteditems"
        if i % 13 == 12:
            folder = "drafts" if i % 2 else "junkemail"
        mail.add_message(raw, folder)
        out.append(raw)
    return out


def fill_calendar(emu: GraphEmulator) -> dict[str, str]:
    """A meeting, two occurrences of a series, a room booking, a declined one, a cancelled
    one and a future one (all with bodies holding :data:`BODY_MARKER`)."""
    cal = emu.calendar

    def t(text: str) -> float:
        return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()

    def att(address: str, kind: str = "required", response: str = "accepted") -> dict:
        return {
            "emailAddress": {"address": address, "name": ""},
            "type": kind,
            "status": {"response": response},
        }

    body = {"contentType": "text", "content": f"agenda {BODY_MARKER}"}
    out = {}
    out["single"] = cal.add_event(
        "Coffee with Ana",
        t("2024-03-01T10:00:00"),
        t("2024-03-01T10:30:00"),
        [att("ana@example.org")],
        body=body,
    )
    for n, day in enumerate(("2024-04-01", "2024-04-08")):
        out[f"series{n}"] = cal.add_event(
            "Weekly sync",
            t(f"{day}T07:00:00"),
            t(f"{day}T07:30:00"),
            [att(ME), att("bo@example.org"), att("room-1@example.com", "resource")],
            organizer="bo@example.org",
            type="occurrence",
            seriesMasterId="E-series",
            body=body,
        )
    out["declined"] = cal.add_event(
        "Pitch",
        t("2024-05-10T15:00:00"),
        t("2024-05-10T16:00:00"),
        [att("dee@example.org")],
        organizer="dee@example.org",
        responseStatus={"response": "declined"},
        body=body,
    )
    out["cancelled"] = cal.add_event(
        "Cancelled",
        t("2024-05-12T15:00:00"),
        t("2024-05-12T16:00:00"),
        [att("fay@example.org")],
        isCancelled=True,
    )
    out["future"] = cal.add_event(
        "Later", t("2024-07-10T15:00:00"), t("2024-07-10T16:00:00"), [att("gus@example.org")]
    )
    return out
