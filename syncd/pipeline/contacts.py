"""Contacts: the owner of ``contacts`` (imported vCards and LinkedIn connections).

Each imported card is one row attached to a person. The readers here give the
other modules what the cards say about people (organisation, title, birthday,
work anniversary, location) without touching the table themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from syncd.store.db import chunks


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
        rows = []
        for chunk in chunks(sorted(set(person_ids))):
            marks = ",".join("?" * len(chunk))
            rows += db.execute(
                select + f" WHERE person_id IN ({marks}) ORDER BY person_id, id", list(chunk)
            ).fetchall()
        rows.sort(key=lambda r: r[0])
    fields: dict[int, dict[str, str]] = {}
    sources: dict[int, list[str]] = {}
    for person, source, *values in rows:
        entry = fields.setdefault(person, {})
        for field, value in zip(_FIELDS, values, strict=True):
            if value:
                entry[field] = value
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
