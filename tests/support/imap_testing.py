"""Helpers for the IMAP tests: accounts on a test Dovecot, messages with body markers."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from tests.support.dovecot import PASSWORD, USER, Dovecot
from tests.support.helpers import message

BODY_MARKER = "BODY-MARKER-7f3a"
ME = USER
START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def password_file(tmp_path: Path) -> Path:
    """The test user's password in a 0600 file."""
    path = tmp_path / "imap.pw"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(PASSWORD + "\n")
    return path


def imap_account(server: Dovecot, tmp_path: Path, name: str = "m", **options: Any) -> AccountConfig:
    """An ``imap`` account on ``server`` (plaintext on loopback), password from a file."""
    opts: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "password_file": str(password_file(tmp_path)),
        "timeout": 10,
        **options,
    }
    return AccountConfig(name=name, kind="imap", address=ME, options=opts)


def home(tmp_path: Path) -> Home:
    """A home under ``tmp_path``."""
    return Home(tmp_path / "home")


def raw(n: int, sender: str, to: str, subject: str = "") -> bytes:
    """Message ``n``: headers, and a body holding :data:`BODY_MARKER`."""
    head = message(
        sender=sender, to=to, subject=subject or f"note {n}", date=START + timedelta(hours=n)
    )
    return head.replace(b"body line", f"{BODY_MARKER} secret body {n}".encode()).replace(
        b"\n", b"\r\n"
    )


def fill(server: Dovecot, count: int = 24) -> None:
    """``count`` messages over INBOX, Sent and Trash, plus a draft and a junk message."""
    client = server.client()
    try:
        for n in range(count):
            folder = ("INBOX", "Sent", "Trash")[n % 3]
            peer = f"peer{n % 7}@example.com"
            message = raw(n, ME, peer) if folder == "Sent" else raw(n, peer, ME)
            client.append(folder, message)
        client.append("Drafts", raw(900, ME, "draft-only@example.com"))
        client.append("Junk", raw(901, "junk-only@example.com", ME))
    finally:
        client.logout()
