"""Contact cards as plain records: what the vCard and LinkedIn readers produce.

A reader turns one export file into :class:`CardFile`: the cards it understood
and the ones it had to set aside (:class:`connectors.base.Quarantined`). Matching
cards to people and storing them is :mod:`syncd.pipeline.contacts`' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from connectors.base import Quarantined
from syncd.core.errors import UserError
from syncd.mail.addresses import is_valid


@dataclass(frozen=True, slots=True)
class ContactCard:
    """One contact: ``uid`` identifies it within its ``source`` (a re-import finds it).

    Dates are ``YYYY-MM-DD``, or ``--MM-DD`` when the year is unknown. ``categories``
    are the card's labels (vCard CATEGORIES), which become tags on import.
    """

    source: str
    uid: str
    locator: str
    full_name: str | None = None
    emails: tuple[str, ...] = ()
    organization: str | None = None
    title: str | None = None
    birthday: str | None = None
    anniversary: str | None = None
    started_at: str | None = None
    location: str | None = None
    categories: tuple[str, ...] = ()


@dataclass(slots=True)
class CardFile:
    """What a reader found in one file."""

    path: Path
    cards: list[ContactCard] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


_DATE_FORMS = (
    re.compile(r"^(?P<y>\d{4})-?(?P<m>\d{2})-?(?P<d>\d{2})(?:[T ].*)?$"),
    re.compile(r"^--(?P<m>\d{2})-?(?P<d>\d{2})$"),
)


def normalise_date(raw: str | None, omit_year: str | None = None) -> str | None:
    """``YYYY-MM-DD`` or ``--MM-DD`` from a vCard date (``19850412``, ``1985-04-12``,
    ``--0412``, ``--04-12``, a date-time); ``None`` when it is no calendar date.

    ``omit_year`` is Apple's ``X-APPLE-OMIT-YEAR`` (the placeholder year of a
    birthday saved without one).
    """
    text = (raw or "").strip()
    for form in _DATE_FORMS:
        m = form.match(text)
        if m is None:
            continue
        year = m.groupdict().get("y")
        month, day = int(m["m"]), int(m["d"])
        try:
            date(2000, month, day)  # a leap year: 29 February is a date
        except ValueError:
            return None
        if year is None or year == omit_year or year in ("0000", "1604"):
            return f"--{month:02d}-{day:02d}"
        try:
            date(int(year), month, day)
        except ValueError:
            return None
        return f"{year}-{month:02d}-{day:02d}"
    return None


def clean_email(raw: str) -> str | None:
    """A card's address, lower-cased (``mailto:`` dropped); ``None`` when invalid."""
    address = raw.strip().removeprefix("mailto:").removeprefix("MAILTO:").strip().lower()
    return address if is_valid(address) and " " not in address else None


def clean(text: object) -> str | None:
    """A text field with its whitespace collapsed; ``None`` when empty."""
    value = " ".join(str(text or "").split())
    return value or None


def read_text(path: Path) -> str:
    """The text of an export file: UTF-8 (with or without BOM), UTF-16 with a BOM
    (Outlook), else Windows-1252."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")
