"""Filling the emulated mailbox: messages from raw RFC 5322 bytes (an mbox of Enron mail)."""

from __future__ import annotations

import mailbox as stdlib_mailbox
from email.utils import getaddresses, mktime_tz, parsedate_tz
from pathlib import Path

from tests.support.ews_emulator.mailbox import Item, Mailbox

PARSED = ("from", "sender", "to", "cc", "bcc", "subject", "message-id", "date")


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """The internet headers of a raw message, unfolded, in order (as Exchange keeps them).
    Lines that are not ``Name: value`` (an mbox ``From `` line) are not headers."""
    text = _text(raw).replace("\r\n", "\n").replace("\r", "\n")
    block = text.split("\n\n", 1)[0]
    fields: list[tuple[str, str]] = []
    for line in block.split("\n"):
        if line[:1] in (" ", "\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + line)
        elif ":" in line and not line.startswith("From "):
            name, _, value = line.partition(":")
            fields.append((name.strip(), value.strip()))
    return fields


def _people(values: list[str]) -> list[dict[str, str]]:
    return [{"name": n, "email": a} for n, a in getaddresses(values) if a]


def _epoch(value: str | None) -> int | None:
    parsed = parsedate_tz(value) if value else None
    if parsed is None:
        return None
    try:
        return int(mktime_tz(parsed))
    except (OverflowError, ValueError):
        return None


def add_message(box: Mailbox, folder_id: str, raw: bytes, draft: bool = False) -> Item:
    """Store one message: structured properties as Exchange derives them, the internet
    headers, and its body (which syncd must never ask for)."""
    fields = header_fields(raw)
    first: dict[str, list[str]] = {}
    for name, value in fields:
        first.setdefault(name.lower(), []).append(value)
    sent = _epoch((first.get("date") or [None])[0])
    props: dict = {
        "Subject": (first.get("subject") or [""])[0],
        "InternetMessageId": (first.get("message-id") or [None])[0],
        "DateTimeSent": sent,
        "DateTimeReceived": sent,
        "IsDraft": draft,
        "ItemClass": "IPM.Note",
        "ToRecipients": _people(first.get("to", [])),
        "CcRecipients": _people(first.get("cc", [])),
        "BccRecipients": _people(first.get("bcc", [])),
    }
    author = _people(first.get("from", []))
    if author:
        props["From"] = author[0]
        props["Sender"] = (_people(first.get("sender", [])) or author)[0]
    text = _text(raw)
    body = text.split("\n\n", 1)[1] if "\n\n" in text else ""
    return box.add_item(folder_id, "Message", fields=props, headers=fields, body=body)


def load_mbox(box: Mailbox, path: Path) -> int:
    """Every message of an mbox file into the folder named after the file; the count."""
    folder = box.mail_folder(path.name)
    n = 0
    mb = stdlib_mailbox.mbox(str(path), create=False)
    for key in mb.iterkeys():
        add_message(box, folder.id, mb.get_bytes(key))
        n += 1
    return n
