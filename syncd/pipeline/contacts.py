"""Contacts: the owner of ``contacts`` (imported vCards and LinkedIn connections).

``syncd import vcard`` / ``linkedin`` read files through the connectors
(:mod:`connectors.vcard`, :mod:`connectors.linkedin`: plain records) and
:func:`import_cards` attaches each card to a person:

1. a card seen before (same source and uid) is *known*: its fields are refreshed
   when they changed, nothing else happens;
2. else the person of any of its addresses (exact, or the same match key);
3. else the one person whose display name is the card's name (case, diacritics
   and spacing ignored);
4. else a new person: a *network candidate* without touches (it is in no
   touchpoint figure and gets no flags). When several people bear the card's
   name, the card is kept on a new person and the import *suggests* the merges.

The card's other addresses are attached to its person (when no one has them),
so later mail from them counts for that person, and its labels (vCard
CATEGORIES, as ``syncd export --format vcard`` writes tags) become the person's
tags (:func:`syncd.pipeline.tags.put_tags`). Each change marks its people
for re-evaluation (birthdays and anniversaries are the ``celebration`` rule's
input). The readers here give the other modules what the cards say about people
without touching the table themselves.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from connectors.cards import CardFile, ContactCard
from connectors.linkedin import read_connections
from connectors.localfiles import walk_files
from connectors.vcard import read_vcards
from rules.dirty import mark_people
from syncd.core.errors import UserError
from syncd.pipeline.accounts import ensure_account
from syncd.pipeline.identity import (
    attach_addresses,
    name_key,
    new_person,
    people_by_address,
    people_by_name,
)
from syncd.pipeline.ingest import store_quarantined
from syncd.pipeline.local_import import LOCAL_ACCOUNT
from syncd.pipeline.tags import put_tags
from syncd.store.db import select_in


@dataclass(frozen=True, slots=True)
class ContactDetails:
    """What a person's contact cards say, merged (the newest card's value wins per field).

    ``birthday`` and ``anniversary`` are ``YYYY-MM-DD``, or ``--MM-DD`` when the year
    is unknown; ``sources`` names the card sources (``vcard``, ``linkedin``).
    """

    person_id: int
    full_name: str | None
    organization: str | None
    title: str | None
    birthday: str | None
    anniversary: str | None
    location: str | None
    sources: tuple[str, ...]


_FIELDS = ("full_name", "organization", "title", "birthday", "anniversary", "location")


def contact_details(
    db: sqlite_utils.Database, person_ids: Iterable[int] | None = None
) -> dict[int, ContactDetails]:
    """The contact details of ``person_ids`` (every person with a card when ``None``).

    People without a card are absent from the result.
    """
    select = (
        "SELECT person_id, source, full_name, organization, title, birthday, anniversary,"
        " location FROM contacts"
    )
    if person_ids is None:
        rows = db.execute(select + " ORDER BY person_id, id").fetchall()
    else:
        sql = select + " WHERE person_id IN (?...) ORDER BY person_id, id"
        rows = list(select_in(db, sql, sorted(set(person_ids))))
    fields: dict[int, dict[str, str]] = {}
    sources: dict[int, list[str]] = {}
    for person, source, *values in rows:
        entry = fields.setdefault(person, {})
        for name, value in zip(_FIELDS, values, strict=True):
            if value:
                entry[name] = value
        if source not in sources.setdefault(person, []):
            sources[person].append(source)
    return {
        person: ContactDetails(
            person_id=person,
            full_name=entry.get("full_name"),
            organization=entry.get("organization"),
            title=entry.get("title"),
            birthday=entry.get("birthday"),
            anniversary=entry.get("anniversary"),
            location=entry.get("location"),
            sources=tuple(sorted(sources[person])),
        )
        for person, entry in fields.items()
    }


@dataclass(frozen=True, slots=True)
class Match:
    """Where a card goes: ``how`` is ``address``, ``name`` or ``candidate``; ``maybe`` are
    other people it may be (their addresses are on the card, or they bear its name)."""

    how: str
    person: int | None
    maybe: tuple[int, ...] = ()


def match_card(card: ContactCard, owners: dict[str, int], names: dict[str, list[int]]) -> Match:
    """Decide a new card's person from ``owners`` (address → person) and ``names``
    (:func:`syncd.pipeline.identity.name_key` → people); a pure function."""
    found = list(dict.fromkeys(owners[a] for a in card.emails if a in owners))
    if found:
        return Match("address", found[0], tuple(found[1:]))
    named = names.get(name_key(card.full_name or ""), []) if card.full_name else []
    if len(named) == 1:
        return Match("name", named[0])
    return Match("candidate", None, tuple(named))


@dataclass(frozen=True, slots=True)
class Suggestion:
    """People a card may be: ``syncd merge KEEP OTHER`` for each of ``people``."""

    name: str
    person: int
    people: tuple[int, ...]
    reason: str


@dataclass(slots=True)
class ContactImport:
    """What an import of contact files did."""

    files: int = 0
    cards: int = 0
    known: int = 0
    updated: int = 0
    by_address: int = 0
    by_name: int = 0
    candidates: int = 0
    addresses: int = 0
    tags: int = 0
    quarantined: int = 0
    suggestions: list[Suggestion] = field(default_factory=list)


_STORED = (
    "full_name",
    "organization",
    "title",
    "birthday",
    "anniversary",
    "started_at",
    "location",
)


def _values(card: ContactCard) -> list[str | None]:
    return [getattr(card, f) for f in _STORED] + [json.dumps(list(card.emails))]


def import_cards(db: sqlite_utils.Database, files: Sequence[CardFile]) -> ContactImport:
    """Store the cards of ``files`` (see the module docstring) and quarantine what the
    readers set aside, in one transaction."""
    out = ContactImport(files=len(files))
    with db.atomic():
        account = ensure_account(db, LOCAL_ACCOUNT, "local")
        names = people_by_name(db)
        touched: set[int] = set()
        for found in files:
            store_quarantined(
                db, account, ((q.scope, q.locator, q.reason, q.excerpt) for q in found.quarantined)
            )
            out.quarantined += len(found.quarantined)
            for card in found.cards:
                out.cards += 1
                person = _store_card(db, card, names, out)
                if person is not None:
                    touched.add(person)
        mark_people(db, touched)
    return out


def _store_card(
    db: sqlite_utils.Database, card: ContactCard, names: dict[str, list[int]], out: ContactImport
) -> int | None:
    """Store one card; the person whose contacts changed, or ``None`` when nothing did."""
    row = db.execute(
        "SELECT id, person_id, full_name, organization, title, birthday, anniversary,"
        " started_at, location, emails FROM contacts WHERE source = ? AND source_uid = ?",
        [card.source, card.uid],
    ).fetchone()
    if row is not None:
        cid, person, *stored = row
        added = attach_addresses(db, person, card.emails)
        out.addresses += len(added)
        if list(stored) == _values(card) and not added:
            out.known += 1  # its categories too: a tag you took off stays off
            return None
        out.tags += len(put_tags(db, person, card.categories))
        sets = ", ".join(f"{f} = ?" for f in (*_STORED, "emails"))
        db.execute(f"UPDATE contacts SET {sets} WHERE id = ?", [*_values(card), cid])
        out.updated += 1
        return person
    match = match_card(card, people_by_address(db, card.emails), names)
    person = match.person
    if person is None:
        person = new_person(db, card.full_name)
        out.candidates += 1
        if card.full_name:
            names.setdefault(name_key(card.full_name), []).append(person)
    elif match.how == "address":
        out.by_address += 1
    else:
        out.by_name += 1
    out.addresses += len(attach_addresses(db, person, card.emails))
    out.tags += len(put_tags(db, person, card.categories))
    db.execute(
        f"INSERT INTO contacts(person_id, source, source_uid, {', '.join(_STORED)}, emails,"
        " suggested) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            person,
            card.source,
            card.uid,
            *_values(card),
            json.dumps(list(match.maybe)) if match.maybe else None,
        ],
    )
    if match.maybe:
        reason = (
            "its addresses belong to several people"
            if match.how == "address"
            else "several people bear this name"
        )
        out.suggestions.append(
            Suggestion(card.full_name or card.emails[0], person, match.maybe, reason)
        )
    return person


def pending_suggestions(db: sqlite_utils.Database) -> list[Suggestion]:
    """The merges imports suggested that are still open: cards on a person of their own
    while other people bear their name (or hold their addresses); people merged or
    gone since are left out."""
    people = {p for (p,) in db.execute("SELECT id FROM people")}
    out = []
    for person, name, suggested in db.execute(
        "SELECT person_id, full_name, suggested FROM contacts WHERE suggested IS NOT NULL"
        " ORDER BY id"
    ):
        others = tuple(p for p in json.loads(suggested) if p in people and p != person)
        if others:
            out.append(Suggestion(name or "", person, others, "a contact card of the same name"))
    return out


def move_contacts(db: sqlite_utils.Database, keep: int, other: int) -> list[int]:
    """Give ``other``'s cards to ``keep`` (a merge; in its transaction); their merge
    suggestions are settled. Returns the ids of the cards moved."""
    ids = [r[0] for r in db.execute("SELECT id FROM contacts WHERE person_id = ?", [other])]
    db.execute(
        "UPDATE contacts SET person_id = ?, suggested = NULL WHERE person_id = ?", [keep, other]
    )
    db.execute("UPDATE contacts SET suggested = NULL WHERE person_id = ?", [keep])
    return ids


def give_contacts(db: sqlite_utils.Database, ids: Iterable[int], person: int) -> None:
    """Give the cards ``ids`` to ``person`` (a split, or the undo of a merge; in its
    transaction)."""
    db.conn.executemany(
        "UPDATE contacts SET person_id = ? WHERE id = ?", [(person, i) for i in ids]
    )


def cards_with_address(db: sqlite_utils.Database, person: int, address: str) -> list[int]:
    """The ids of ``person``'s cards that list ``address``."""
    return [
        cid
        for cid, emails in db.execute(
            "SELECT id, emails FROM contacts WHERE person_id = ?", [person]
        )
        if address in json.loads(emails or "[]")
    ]


CONTACT_KINDS: dict[str, tuple[Callable[[Path], CardFile], tuple[str, ...]]] = {
    "vcard": (read_vcards, (".vcf", ".vcard")),
    "linkedin": (read_connections, (".csv",)),
}


def read_contact_files(kind: str, paths: Sequence[Path]) -> list[CardFile]:
    """Read ``paths`` with the ``kind`` reader (``vcard`` or ``linkedin``). A file named
    on the command line must be of that kind (else :class:`UserError`); under a
    directory, only files with the kind's extensions are read."""
    reader, suffixes = CONTACT_KINDS[kind]
    found: list[CardFile] = []
    for path in paths:
        if not path.exists():
            raise UserError(f"no such file or directory: {path}")
        if path.is_dir():
            files = [f for _, f in walk_files([path]) if f.suffix.lower() in suffixes]
            if not files:
                raise UserError(f"nothing to import: {path} holds no {'/'.join(suffixes)} files")
            found.extend(reader(f) for f in files)
        else:
            found.append(reader(path))
    return found


def check_import(kind: str, paths: Sequence[Path], result: ContactImport) -> None:
    """Raise :class:`UserError` when an import found no card at all, only unreadable ones
    (never "imported 0")."""
    if result.cards:
        return
    where = " ".join(shlex.quote(str(p)) for p in paths)
    noun = "contacts" if kind == "vcard" else "connections"
    if result.quarantined:
        n = result.quarantined
        raise UserError(
            f"no {noun} found in {where}, only what could not be read: {n} "
            f"item{'s' if n != 1 else ''} quarantined (`syncd quarantine list` shows why)"
        )
    raise UserError(f"nothing to import: no {noun} found in {where}")


def import_contact_files(
    db: sqlite_utils.Database, kind: str, paths: Sequence[Path]
) -> ContactImport:
    """``syncd import vcard|linkedin PATH...``: read, store, and refuse an import that
    found nothing usable (after keeping what it quarantined)."""
    if kind not in CONTACT_KINDS:
        raise UserError(f"cannot import {kind!r} contacts (importable: {', '.join(CONTACT_KINDS)})")
    result = import_cards(db, read_contact_files(kind, paths))
    check_import(kind, paths, result)
    return result
