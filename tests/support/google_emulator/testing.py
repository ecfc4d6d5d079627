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
