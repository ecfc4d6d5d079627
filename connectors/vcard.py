"""vCard files (``.vcf``) as contact cards: the exports of Google, Apple and Outlook contacts.

vCard 2.1, 3.0 and 4.0 are read with ``vobject``, one card at a time, so one bad
card is quarantined (with its reason and text) and the others are kept. Handled
beyond what ``vobject`` does on its own: vCard 2.1 quoted-printable soft line
breaks (a value ending in ``=`` continues on the next line, as Outlook writes
them), Apple's ``X-APPLE-OMIT-YEAR`` birthdays and ``itemN.X-ABDATE`` dates
labelled anniversary, and the anniversary under its several names
(``ANNIVERSARY``, ``X-ANNIVERSARY``, ``X-MS-ANNIVERSARY``,
``X-EVOLUTION-ANNIVERSARY``). A file with no ``BEGIN:VCARD`` at all is an error,
never "0 cards".
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from connectors.base import Quarantined
from connectors.cards import CardFile, ContactCard, clean, clean_email, normalise_date, read_text
from syncd.core.errors import UserError

SOURCE = "vcard"
ANNIVERSARY_NAMES = ("anniversary", "x-anniversary", "x-ms-anniversary", "x-evolution-anniversary")
_BEGIN = re.compile(r"^BEGIN:VCARD\s*$", re.IGNORECASE)
_END = re.compile(r"^END:VCARD\s*$", re.IGNORECASE)
_QP = re.compile(r"^[^:]*ENCODING=QUOTED-PRINTABLE[^:]*:", re.IGNORECASE)
_QP_BARE = re.compile(r"^[^:]*;QUOTED-PRINTABLE[;:]", re.IGNORECASE)  # vCard 2.1 bare type

# vobject logs each line it cannot parse; the card is quarantined with that reason instead.
logging.getLogger("vobject").setLevel(logging.CRITICAL)
logging.getLogger("vobject.base").setLevel(logging.CRITICAL)


def split_cards(text: str) -> list[tuple[int, str]]:
    """Each ``BEGIN:VCARD`` … ``END:VCARD`` block as ``(first line number, text)``; a block
    cut short (no ``END:VCARD`` before the next ``BEGIN`` or the end) is kept as it is."""
    blocks: list[tuple[int, str]] = []
    current: list[str] | None = None
    start = 0
    for number, line in enumerate(text.splitlines(), 1):
        if _BEGIN.match(line.strip()):
            if current is not None:
                blocks.append((start, "\r\n".join(current)))
            current, start = [line.strip()], number
        elif current is not None:
            current.append(line)
            if _END.match(line.strip()):
                blocks.append((start, "\r\n".join(current)))
                current = None
    if current is not None:
        blocks.append((start, "\r\n".join(current)))
    return blocks


def join_soft_breaks(card: str) -> str:
    """Undo quoted-printable soft line breaks (``=`` at the end of a line) of vCard 2.1."""
    out: list[str] = []
    continuing = False
    for line in card.split("\r\n"):
        if continuing:
            out[-1] = (
                out[-1][:-1] + line.lstrip(" \t") if line[:1] in " \t" else out[-1][:-1] + line
            )
        else:
            out.append(line)
        continuing = bool(out[-1].endswith("=") and (_QP.match(out[-1]) or _QP_BARE.match(out[-1])))
    return "\r\n".join(out)


def _values(component: Any, name: str) -> list[Any]:
    return list(component.contents.get(name, []))


def _first(component: Any, name: str) -> Any:
    found = _values(component, name)
    return found[0] if found else None


def _name(component: Any) -> str | None:
    fn = _first(component, "fn")
    if fn is not None and clean(fn.value):
        return clean(fn.value)
    n = _first(component, "n")
    if n is None or isinstance(n.value, str):
        return clean(n.value) if n is not None else None
    parts = [n.value.prefix, n.value.given, n.value.additional, n.value.family, n.value.suffix]
    return clean(" ".join(" ".join(p) if isinstance(p, list) else str(p or "") for p in parts))


def _organization(component: Any) -> str | None:
    org = _first(component, "org")
    if org is None:
        return None
    units = org.value if isinstance(org.value, list) else [org.value]
    return clean(units[0]) if units else None


def _location(component: Any) -> str | None:
    adr = _first(component, "adr")
    if adr is None or isinstance(adr.value, str):
        return None
    value = adr.value
    parts = [clean(p) for p in (value.city, value.region, value.country)]
    return ", ".join(p for p in parts if p) or None


def _param(line: Any, name: str) -> str | None:
    values = line.params.get(name.upper()) or []
    return values[0] if values else None


def _labelled_dates(component: Any) -> dict[str, str]:
    """Apple's ``itemN.X-ABDATE`` with ``itemN.X-ABLabel`` (``_$!<Anniversary>!$_``)."""
    labels = {
        line.group.lower(): str(line.value).lower()
        for line in _values(component, "x-ablabel")
        if line.group
    }
    out: dict[str, str] = {}
    for line in _values(component, "x-abdate"):
        label = labels.get((line.group or "").lower(), "")
        if "anniversary" in label:
            out.setdefault("anniversary", str(line.value))
    return out


# Google Contacts puts every contact in its system group "myContacts": not a label.
SYSTEM_CATEGORIES = frozenset({"mycontacts", "starred"})


def _categories(component: Any) -> tuple[str, ...]:
    """The card's CATEGORIES labels (one line may list several), without system groups."""
    out: list[str] = []
    for line in _values(component, "categories"):
        values = line.value if isinstance(line.value, list) else str(line.value).split(",")
        for value in values:
            label = clean(value)
            if label and label.lower() not in SYSTEM_CATEGORIES and label not in out:
                out.append(label)
    return tuple(out)


def card_record(component: Any, locator: str, text: str) -> ContactCard:
    """The contact card of one parsed vCard component."""
    emails = []
    for line in _values(component, "email"):
        address = clean_email(str(line.value))
        if address and address not in emails:
            emails.append(address)
    bday = _first(component, "bday")
    birthday = normalise_date(str(bday.value), _param(bday, "X-APPLE-OMIT-YEAR")) if bday else None
    anniversary = None
    for name in ANNIVERSARY_NAMES:
        line = _first(component, name)
        if line is not None:
            anniversary = normalise_date(str(line.value), _param(line, "X-APPLE-OMIT-YEAR"))
            break
    if anniversary is None and (raw := _labelled_dates(component).get("anniversary")):
        anniversary = normalise_date(raw)
    uid_line = _first(component, "uid")
    uid = clean(uid_line.value) if uid_line is not None else None
    name = _name(component)
    if not uid:  # the same person in the next export of the same address book
        key = "\n".join([name or "", *sorted(emails)]) if name or emails else text
        uid = "sha1:" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()
    title = _first(component, "title")
    return ContactCard(
        source=SOURCE,
        uid=uid,
        locator=locator,
        full_name=name,
        emails=tuple(emails),
        organization=_organization(component),
        title=clean(title.value) if title is not None else None,
        birthday=birthday,
        anniversary=anniversary,
        location=_location(component),
        categories=_categories(component),
    )


def parse_card(text: str, locator: str) -> ContactCard:
    """One vCard's text as a card; raises ``ValueError`` with the reason when unreadable."""
    if not _END.match(text.rstrip().rsplit("\n", 1)[-1].strip()):
        raise ValueError("the card has no END:VCARD (the file was cut short?)")
    import vobject  # only when cards are read: the daemon, which never does, stays smaller

    try:
        component = vobject.readOne(join_soft_breaks(text), validate=False)
    except Exception as exc:  # vobject raises ParseError and assorted others on bad input
        # vobject's "At line N" counts lines of its own input, not of the file
        reason = re.sub(r"^At line \d+: ", "", str(exc))
        raise ValueError(f"not a readable vCard: {reason}") from None
    if component.name.upper() != "VCARD":
        raise ValueError(f"a {component.name} component, not a vCard")
    card = card_record(component, locator, text)
    if not card.full_name and not card.emails:
        raise ValueError("the card has neither a name nor an email address")
    return card


def read_vcards(path: Path) -> CardFile:
    """Every card of the vCard file ``path``; unreadable cards are quarantined.

    Raises :class:`UserError` when the file holds no vCard at all.
    """
    text = read_text(path)
    blocks = split_cards(text)
    if not blocks:
        raise UserError(
            f"{path} is not a vCard file (no BEGIN:VCARD line); export contacts as .vcf"
        )
    found = CardFile(path=Path(path))
    for number, block in blocks:
        locator = f"card at line {number}"
        try:
            found.cards.append(parse_card(block, locator))
        except ValueError as exc:
            found.quarantined.append(
                Quarantined(f"vcard:{path}", locator, str(exc), block.encode("utf-8", "replace"))
            )
    return found
