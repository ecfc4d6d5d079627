"""Saved Gmail API responses, as a user would record them for ``syncd import gmail-json``.

:func:`record_mailbox` lists and gets every message of an emulated mailbox
through google-api-python-client (``users.messages.get(format=metadata)``,
the headers syncd asks for), plus ``labels.list``. :func:`resource` builds one
message resource by hand, as the Gmail API documents it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from google.oauth2.credentials import Credentials

from connectors.gmail import METADATA_HEADERS
from connectors.google_api import build_service

from .google_emulator import GoogleEmulator


def record_mailbox(emu: GoogleEmulator) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every message of the mailbox (Spam and Trash included) as ``messages.get`` returns it
    with ``format=metadata``, and the ``labels.list`` labels."""
    service = build_service("gmail", "v1", Credentials(token=emu.access_token), emu.url)
    users = service.users()
    ids: list[str] = []
    page = None
    while True:
        extra = {"pageToken": page} if page else {}
        resp = users.messages().list(userId="me", includeSpamTrash=True, **extra).execute()
        ids += [m["id"] for m in resp.get("messages", [])]
        page = resp.get("nextPageToken")
        if not page:
            break
    messages = [
        users.messages()
        .get(userId="me", id=mid, format="metadata", metadataHeaders=METADATA_HEADERS)
        .execute()
        for mid in ids
    ]
    labels = users.labels().list(userId="me").execute()["labels"]
    return messages, labels


def resource(
    mid: str,
    sender: str,
    to: str,
    subject: str,
    when: datetime,
    labels: Iterable[str] = ("INBOX",),
) -> dict[str, Any]:
    """A ``users.messages.get(format=metadata)`` resource, built as the API documents it."""
    headers = {
        "From": sender,
        "To": to,
        "Subject": subject,
        "Date": format_datetime(when),
        "Message-ID": f"<{mid}@records.test>",
    }
    return {
        "id": mid,
        "threadId": mid,
        "labelIds": list(labels),
        "snippet": "",
        "historyId": "1000",
        "internalDate": str(int(when.timestamp() * 1000)),
        "sizeEstimate": 1234,
        "payload": {
            "partId": "",
            "mimeType": "text/plain",
            "filename": "",
            "headers": [{"name": k, "value": v} for k, v in headers.items()],
        },
    }


def write_json_lines(path: Path, records: Iterable[Any], append: bool = False) -> Path:
    """Write (or append) ``records`` as JSON Lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a" if append else "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record) + "\n")
    return path
