"""People for other tools (``syncd export``): CSV, vCard 3.0 or JSON, read-only.

One record per person: name, addresses, tier, kind, score, first and last
touch, touch counts, tags, and what their contact cards say
(:func:`syncd.pipeline.contacts.contact_details`): organisation, title,
birthday, anniversary (``YYYY-MM-DD``, or ``--MM-DD`` without a year) and
location. Who is exported: the
humans with a touch, a contact card or a tag (network candidates included);
``all_kinds`` adds the automated, list and self addresses and the ignored.

- CSV (RFC 4180, a header row, CRLF): lists (other addresses, tags) are joined
  with ``; ``, every cell is one line (tabs and line breaks become spaces), and
  a cell that starts with ``=``, ``+``, ``-`` or ``@`` (after blanks) gets a
  leading ``'`` so that no spreadsheet runs it as a formula (the OWASP advice
  against CSV injection).
- vCard 3.0 (written with ``vobject``, which ``syncd import vcard`` reads): FN,
  N, EMAIL (the first is preferred), ORG, TITLE, BDAY, X-ANNIVERSARY (3.0 has no
  ANNIVERSARY), ADR (the location), CATEGORIES (the tags), a NOTE in words and ``X-SYNCD-*``
  properties for tier, kind, score and touches; UID is derived from the first
  address, so exporting again gives the same UIDs.
- JSON: a list of objects, the fields of :meth:`ExportPerson.as_json`.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
import vobject

from rules.tiers import DEFAULT_HALF_LIFE_DAYS
from syncd.core.errors import UserError
from syncd.core.files import replace_file
from syncd.core.text import drop_controls
from syncd.core.timeutil import iso
from syncd.pipeline.contacts import contact_details
from syncd.pipeline.kinds import nonhuman
from syncd.report.people import compute_people

CSV_COLUMNS = (
    "id",
    "name",
    "email",
    "other_emails",
    "tier",
    "kind",
    "score",
    "first_touch",
    "last_touch",
    "touches_in",
    "touches_out",
    "meetings",
    "tags",
    "organization",
    "title",
    "birthday",
    "anniversary",
    "location",
)
LIST_SEPARATOR = "; "
FORMULA_STARTS = ("=", "+", "-", "@")
PRODID = "-//syncd//export//EN"
# JSON escapes the C0 controls itself; DEL, C1 (0x9b is a one-byte CSI) and the Unicode
# line separators it would leave raw, so a crafted name could still reach a terminal.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029]")


@dataclass(frozen=True, slots=True)
class ExportPerson:
    """One exported person (times are epoch seconds, ``None`` when never)."""

    id: int
    name: str | None
    emails: tuple[str, ...]
    tier: str
    kind: str
    score: float
    first_touch: int | None
    last_touch: int | None
    touches_in: int
    touches_out: int
    meetings: int
    tags: tuple[str, ...]
    organization: str | None
    title: str | None
    birthday: str | None = None
    anniversary: str | None = None
    location: str | None = None

    def as_json(self) -> dict:
        """The object the JSON export holds for this person."""
        return {
            "id": self.id,
            "name": self.name,
            "emails": list(self.emails),
            "tier": self.tier,
            "kind": self.kind,
            "score": self.score,
            "first_touch": iso(self.first_touch),
            "last_touch": iso(self.last_touch),
            "touches_in": self.touches_in,
            "touches_out": self.touches_out,
            "meetings": self.meetings,
            "tags": list(self.tags),
            "organization": self.organization,
            "title": self.title,
            "birthday": self.birthday,
            "anniversary": self.anniversary,
            "location": self.location,
        }


def export_people(
    db: sqlite_utils.Database,
    now: int,
    *,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    sizes: dict[str, int] | None = None,
    tag: str | None = None,
    all_kinds: bool = False,
) -> list[ExportPerson]:
    """The people to export as of ``now``, strongest ties first (see the module docstring);
    only those tagged ``tag`` (normalised) when given."""
    figures = compute_people(
        db, now, include_untouched=True, half_life_days=half_life_days, sizes=sizes, tag=tag
    )
    cards = contact_details(db)
    others = frozenset() if all_kinds else nonhuman(db)
    out = []
    for p in figures:
        card = cards.get(p.id)
        if p.id in others or not (p.last_touch is not None or card or p.tags or all_kinds):
            continue
        # As people --json names them: without a display name, the first address.
        name = p.name or (card.full_name if card else None) or (p.emails[0] if p.emails else None)
        if not name:
            continue
        out.append(
            ExportPerson(
                id=p.id,
                name=name,
                emails=tuple(p.emails),
                tier=p.tier,
                kind=p.kind,
                score=round(p.score.total, 4),
                first_touch=p.first_touch,
                last_touch=p.last_touch,
                touches_in=p.touches_in,
                touches_out=p.touches_out,
                meetings=p.meetings,
                tags=p.tags,
                organization=card.organization if card else None,
                title=card.title if card else None,
                birthday=card.birthday if card else None,
                anniversary=card.anniversary if card else None,
                location=card.location if card else None,
            )
        )
    return out


def safe_cell(value: object) -> str:
    """A CSV cell: one line of text (tabs and line breaks become spaces, other control
    characters go), with ``'`` before it when it starts, blanks aside, like a formula."""
    text = "" if value is None else drop_controls(value, keep_newlines=False)
    return "'" + text if text.lstrip(" ").startswith(FORMULA_STARTS) else text


def to_csv(people: list[ExportPerson]) -> str:
    """The people as CSV with a header row (see the module docstring)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in people:
        row = (
            p.id,
            p.name,
            p.emails[0] if p.emails else "",
            LIST_SEPARATOR.join(p.emails[1:]),
            p.tier,
            p.kind,
            p.score,
            iso(p.first_touch),
            iso(p.last_touch),
            p.touches_in,
            p.touches_out,
            p.meetings,
            LIST_SEPARATOR.join(p.tags),
            p.organization,
            p.title,
            p.birthday,
            p.anniversary,
            p.location,
        )
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


def _text(value: object) -> str:
    return drop_controls(value, keep_newlines=False).strip()


def card_uid(p: ExportPerson) -> str:
    """A stable UID: from the first address (the same person exported from another home
    gets the same one), else from the person id."""
    seed = f"mailto:{p.emails[0]}" if p.emails else f"syncd:person:{p.id}"
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, seed)}"


def _split_name(name: str) -> tuple[str, str]:
    """(family, given) from a display name: the last word is the family name."""
    if "@" in name or " " not in name:
        return "", name if "@" not in name else ""
    given, family = name.rsplit(" ", 1)
    return family, given


def _address(location: str) -> vobject.vcard.Address:
    """ADR from a card's location ("city, region, country", "city, country" or one
    place), so that the importer joins it back to the same text."""
    parts = location.split(", ")
    if len(parts) == 3:
        return vobject.vcard.Address(city=parts[0], region=parts[1], country=parts[2])
    if len(parts) == 2:
        return vobject.vcard.Address(city=parts[0], country=parts[1])
    return vobject.vcard.Address(city=location)


def _note(p: ExportPerson) -> str:
    last = (iso(p.last_touch) or "never")[:10]
    return (
        f"syncd: {p.tier} tier, {p.kind}, score {p.score:g}, last touch {last},"
        f" {p.touches_in} in / {p.touches_out} out / {p.meetings} meetings"
    )


def vcard_of(p: ExportPerson) -> str:
    """One person as a vCard 3.0 (CRLF line ends, folded by ``vobject``)."""
    card = vobject.vCard()
    name = _text(p.name or (p.emails[0] if p.emails else ""))
    card.add("prodid").value = PRODID
    card.add("uid").value = card_uid(p)
    card.add("fn").value = name
    family, given = _split_name(name)
    card.add("n").value = vobject.vcard.Name(family=family, given=given)
    for i, address in enumerate(p.emails):
        line = card.add("email")
        line.value = address
        line.type_paramlist = ["INTERNET", "PREF"] if i == 0 else ["INTERNET"]
    if p.organization:
        card.add("org").value = [_text(p.organization)]
    if p.title:
        card.add("title").value = _text(p.title)
    if p.birthday:
        card.add("bday").value = p.birthday
    if p.anniversary:
        card.add("x-anniversary").value = p.anniversary
    if p.location:
        card.add("adr").value = _address(_text(p.location))
    if p.tags:
        card.add("categories").value = list(p.tags)
    card.add("note").value = _note(p)
    for key, value in (
        ("x-syncd-tier", p.tier),
        ("x-syncd-kind", p.kind),
        ("x-syncd-score", f"{p.score:g}"),
        ("x-syncd-first-touch", iso(p.first_touch)),
        ("x-syncd-last-touch", iso(p.last_touch)),
    ):
        if value:
            card.add(key).value = value
    return card.serialize()


def to_vcard(people: list[ExportPerson]) -> str:
    """The people as one vCard file (one VCARD block each)."""
    return "".join(vcard_of(p) for p in people)


def to_json(people: list[ExportPerson]) -> str:
    """The people as a JSON list of objects (indented, non-ASCII kept, every control
    character escaped)."""
    text = json.dumps([p.as_json() for p in people], indent=2, ensure_ascii=False)
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


FORMATS: dict[str, Callable[[list[ExportPerson]], str]] = {
    "csv": to_csv,
    "vcard": to_vcard,
    "json": to_json,
}
SUFFIXES = {".csv": "csv", ".vcf": "vcard", ".vcard": "vcard", ".json": "json"}


def format_for(path: Path | None) -> str | None:
    """The format a file name asks for by its suffix (``.csv``, ``.vcf``, ``.json``)."""
    return SUFFIXES.get(path.suffix.lower()) if path is not None else None


def write_export(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file renamed), private
    to the user (0600): it lists the people you know. The directory must exist."""
    if not path.parent.is_dir():
        raise UserError(f"{path.parent} is not a directory (create it first)")
    if path.is_dir():
        raise UserError(f"{path} is a directory; name a file to write")
    replace_file(path, text, mode=0o600, newline="")
