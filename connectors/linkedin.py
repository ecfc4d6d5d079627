"""LinkedIn's ``Connections.csv`` (Settings → Data privacy → Get a copy of your data) as
contact cards.

The real export starts with a few ``Notes:`` lines before the header
``First Name,Last Name,URL,Email Address,Company,Position,Connected On``; the
email is empty unless the connection shared it, and ``Connected On`` (``05 Dec
2026``) is when you connected, not a work anniversary, so it is not kept as one.
A file without that header is an error; a row without a name is quarantined.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from connectors.base import Quarantined
from connectors.cards import CardFile, ContactCard, clean, clean_email, read_text
from syncd.core.errors import UserError

SOURCE = "linkedin"
HEADER = ("first name", "last name")
COLUMNS = ("First Name", "Last Name", "URL", "Email Address", "Company", "Position")


def _header_index(lines: list[str]) -> int | None:
    for number, line in enumerate(lines[:50]):
        cells = [c.strip().strip('"').lower() for c in line.split(",")]
        if tuple(cells[:2]) == HEADER:
            return number
    return None


def read_connections(path: Path) -> CardFile:
    """Every connection of a LinkedIn ``Connections.csv``; rows without a name are quarantined.

    Raises :class:`UserError` when the file is not such an export.
    """
    lines = read_text(path).splitlines()
    start = _header_index(lines)
    if start is None:
        raise UserError(
            f"{path} is not LinkedIn's Connections.csv (no 'First Name,Last Name,...' header)"
        )
    reader = csv.DictReader(lines[start:])
    found = CardFile(path=Path(path))
    for row_number, row in enumerate(reader, start + 2):
        values = {k.strip(): (v or "") for k, v in row.items() if isinstance(k, str)}
        get = {c: clean(values.get(c)) for c in COLUMNS}
        name = clean(f"{get['First Name'] or ''} {get['Last Name'] or ''}")
        locator = f"row at line {row_number}"
        if not name:
            if any(get.values()):
                found.quarantined.append(
                    Quarantined(
                        f"linkedin:{path}",
                        locator,
                        "a connection without a name",
                        ",".join(values.values()).encode("utf-8", "replace"),
                    )
                )
            continue
        email = clean_email(get["Email Address"] or "")
        url = (get["URL"] or "").rstrip("/").lower()
        uid = url or "sha1:" + hashlib.sha1(f"{name}\n{get['Company'] or ''}".encode()).hexdigest()
        found.cards.append(
            ContactCard(
                source=SOURCE,
                uid=uid,
                locator=locator,
                full_name=name,
                emails=(email,) if email else (),
                organization=get["Company"],
                title=get["Position"],
            )
        )
    return found
