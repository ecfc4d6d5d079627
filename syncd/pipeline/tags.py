"""Tags on people: the owner of ``tags`` (``syncd tag`` / ``untag``).

A tag is a word the user puts on people (``investor``, ``alumni``, ``family``):
stored normalised (NFC, trimmed, lower case) and checked by
:func:`rules.tags.tag_problem` (no spaces, control characters, commas or
semicolons). Tags filter ``syncd people`` / ``flags`` / ``export``, feed the
audit, and may carry a cadence of their own in the config (``[rules.tags.NAME]
cadence_days``, read by the rules); each change marks its people for
re-evaluation so their flags follow at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from rules.dirty import mark_people
from rules.tags import MAX_LENGTH, normalise_tag, person_tags, tag_problem
from syncd.core.errors import UserError

_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True, slots=True)
class TagChange:
    """What one ``tag`` / ``untag`` did to a person: the tags it changed, the ones it
    found already so, and the person's tags afterwards."""

    person_id: int
    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    tags: tuple[str, ...]


def clean_tags(raw: Iterable[str]) -> tuple[str, ...]:
    """``raw`` tag names normalised, duplicates dropped (order kept); every invalid
    one is reported at once as a :class:`UserError`."""
    names = list(raw)
    problems = [p for p in (tag_problem(r) for r in names) if p is not None]
    if problems:
        raise UserError("; ".join(problems))
    if not names:
        raise UserError("no tag given")
    return tuple(dict.fromkeys(normalise_tag(r) for r in names))


def clean_tag(raw: str) -> str:
    """One tag name normalised (a :class:`UserError` when it cannot be a tag)."""
    return clean_tags([raw])[0]


def add_tags(db: sqlite_utils.Database, person: int, raw: Iterable[str]) -> TagChange:
    """Put the tags ``raw`` on ``person``; those it has already stay as they are."""
    names = clean_tags(raw)
    with db.atomic():
        had = set(tags_for(db, [person]).get(person, ()))
        new = tuple(t for t in names if t not in had)
        db.conn.executemany(
            "INSERT OR IGNORE INTO tags(person_id, tag) VALUES (?, ?)", [(person, t) for t in new]
        )
        if new:
            mark_people(db, [person])
    after = tags_for(db, [person]).get(person, ())
    return TagChange(person, new, tuple(t for t in names if t in had), after)


def remove_tags(db: sqlite_utils.Database, person: int, raw: Iterable[str]) -> TagChange:
    """Take the tags ``raw`` off ``person``; a tag it does not have is a :class:`UserError`
    (naming the tags it has), and then nothing is removed."""
    names = clean_tags(raw)
    with db.atomic():
        had = tags_for(db, [person]).get(person, ())
        missing = [t for t in names if t not in had]
        if missing:
            has = ", ".join(had) if had else "none"
            raise UserError(
                f"person {person} has no tag {', '.join(repr(t) for t in missing)}"
                f" (its tags: {has})"
            )
        db.conn.executemany(
            "DELETE FROM tags WHERE person_id = ? AND tag = ?", [(person, t) for t in names]
        )
        mark_people(db, [person])
    after = tags_for(db, [person]).get(person, ())
    return TagChange(person, names, (), after)


def tags_for(
    db: sqlite_utils.Database, person_ids: Iterable[int] | None = None
) -> dict[int, tuple[str, ...]]:
    """The sorted tags of each of ``person_ids`` (every tagged person when ``None``);
    people without tags are absent."""
    if person_ids is not None:
        return person_tags(db, person_ids)
    out: dict[int, list[str]] = {}
    for pid, tag in db.execute("SELECT person_id, tag FROM tags ORDER BY person_id, tag"):
        out.setdefault(pid, []).append(tag)
    return {pid: tuple(tags) for pid, tags in out.items()}


def people_tagged(db: sqlite_utils.Database, tag: str) -> list[int]:
    """The ids of the people tagged ``tag`` (normalised first), ascending."""
    name = normalise_tag(tag)
    return [p for (p,) in db.execute("SELECT person_id FROM tags WHERE tag = ? ORDER BY 1", [name])]


def tag_counts(db: sqlite_utils.Database) -> dict[str, int]:
    """Every tag in use with its number of people, by name."""
    return dict(db.execute("SELECT tag, count(*) FROM tags GROUP BY tag ORDER BY tag"))


def require_tag(db: sqlite_utils.Database, raw: str) -> str:
    """``raw`` normalised, when someone carries it (a filter on an unknown tag is more
    likely a typo than a question): otherwise a :class:`UserError` listing the tags."""
    name = clean_tag(raw)
    counts = tag_counts(db)
    if name not in counts:
        known = ", ".join(counts) or "none yet (syncd tag PERSON TAG)"
        raise UserError(f"no one is tagged {name!r}; tags in use: {known}")
    return name


def tag_from_label(label: str) -> str | None:
    """A tag made from a free label (a vCard CATEGORIES value such as ``Work Friends``):
    spaces, commas and semicolons become ``-``, control characters go; None when
    nothing usable is left."""
    name = _SEPARATORS.sub("-", normalise_tag(label)).strip("-")[:MAX_LENGTH]
    name = "".join(ch for ch in name if tag_problem(ch) is None)
    return name if name and tag_problem(name) is None else None


def put_tags(db: sqlite_utils.Database, person: int, labels: Iterable[str]) -> tuple[str, ...]:
    """Tag ``person`` with the tags made from ``labels`` (:func:`tag_from_label`; the
    unusable ones are dropped), inside the caller's transaction (an import); returns
    the tags that were new."""
    had = set(tags_for(db, [person]).get(person, ()))
    names = [t for t in dict.fromkeys(tag_from_label(lb) for lb in labels) if t]
    new = tuple(t for t in names if t not in had)
    if new:
        db.conn.executemany(
            "INSERT OR IGNORE INTO tags(person_id, tag) VALUES (?, ?)", [(person, t) for t in new]
        )
        mark_people(db, [person])
    return new


def move_tags(db: sqlite_utils.Database, keep: int, other: int) -> None:
    """Give ``other``'s tags to ``keep`` (a merge of people; in its transaction)."""
    db.execute(
        "INSERT OR IGNORE INTO tags(person_id, tag, created_at)"
        " SELECT ?, tag, created_at FROM tags WHERE person_id = ?",
        [keep, other],
    )
    db.execute("DELETE FROM tags WHERE person_id = ?", [other])
    mark_people(db, [keep])
