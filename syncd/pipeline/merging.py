"""Merging and splitting people (``syncd merge`` / ``split``): the owner of ``person_merges``.

A merge of B into A moves everything of B to A: addresses (and so their
touchpoints), logged touches, contact cards, tags, the user's kind correction
and the user's decisions on B's flags (done, dismissed, snoozed: re-keyed to A
unless A has the same flag); B's other flags are closed as ``merged`` by the next
evaluation, and both people are marked for re-evaluation. A split gives one
address (and its gmail dot/plus variants) of a person to a new person; its
touchpoints follow it, as do the cards that list it.

Each merge and split is logged with what moved, so ``syncd merge --undo ID``
puts a merged person back (addresses, name, pin, logged touches, cards, kind
correction) and a split is undone by merging again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from rules.dirty import mark_people
from rules.flags import move_decisions
from syncd.core.errors import UserError
from syncd.mail.addresses import match_key
from syncd.pipeline.contacts import cards_with_address, give_contacts, move_contacts
from syncd.pipeline.identity import (
    merge_people,
    move_addresses,
    new_person,
    people_info,
    person_addresses,
    rename_person,
)
from syncd.pipeline.kinds import corrections, set_kind
from syncd.pipeline.manual import give_touches, touch_ids
from syncd.pipeline.tags import put_tags, tags_for


@dataclass(frozen=True, slots=True)
class Change:
    """One logged merge or split: ``person`` kept (or split), ``other`` merged away (or
    made); ``detail`` says what moved."""

    id: int
    action: str
    person: int
    other: int
    detail: dict[str, Any]


def _log(db: sqlite_utils.Database, action: str, person: int, other: int, detail: dict) -> Change:
    cur = db.execute(
        "INSERT INTO person_merges(action, person_id, other_id, detail) VALUES (?, ?, ?, ?)",
        [action, person, other, json.dumps(detail, ensure_ascii=False)],
    )
    return Change(int(cur.lastrowid or 0), action, person, other, detail)


def merge(db: sqlite_utils.Database, keep: int, other: int) -> Change:
    """Merge person ``other`` into ``keep`` (see the module docstring); returns the log entry."""
    if keep == other:
        raise UserError("cannot merge a person with itself")
    with db.atomic():
        people = dict(
            (r[0], r[1:])
            for r in db.execute(
                "SELECT id, name, tier_pin FROM people WHERE id IN (?, ?)", [keep, other]
            )
        )
        for p in (keep, other):
            if p not in people:
                raise UserError(f"no person {p}")
        kinds = dict(corrections(db))
        detail: dict[str, Any] = {
            "name": people[other][0],
            "display_name": people_info(db, {other})[other]["name"],
            "tier_pin": people[other][1],
            "keep_name": people[keep][0],
            "keep_tier_pin": people[keep][1],
            "addresses": person_addresses(db, other),
            "manual_touches": touch_ids(db, other),
            "tags": list(tags_for(db, [other]).get(other, ())),
            "contacts": move_contacts(db, keep, other),
            "kind": kinds.get(other),
            "kind_moved": bool(kinds.get(other) and keep not in kinds),
            "flags": move_decisions(db, keep, other),
        }
        if detail["kind_moved"]:
            set_kind(db, keep, detail["kind"])
        merge_people(db, keep, other)
        mark_people(db, [keep, other])
        return _log(db, "merge", keep, other, detail)


def split(db: sqlite_utils.Database, person: int, address: str) -> Change:
    """Give ``address`` of ``person`` (with its match-key variants) to a new person."""
    address = address.strip().lower()
    with db.atomic():
        mine = person_addresses(db, person)
        if address not in mine:
            listed = ", ".join(mine) or "none"
            raise UserError(f"person {person} has no address {address!r} (its addresses: {listed})")
        key = match_key(address)
        moving = [a for a in mine if match_key(a) == key]
        if len(moving) == len(mine):
            raise UserError(
                f"{address} is all person {person} has: nothing to split off"
                " (syncd merge joins people; syncd kind or ignore correct one)"
            )
        cards = cards_with_address(db, person, address)
        made = new_person(db)
        move_addresses(db, moving, made)
        give_contacts(db, cards, made)
        mark_people(db, [person, made])
        return _log(db, "split", person, made, {"addresses": moving, "contacts": cards})


def changes(db: sqlite_utils.Database, limit: int = 20) -> list[Change]:
    """The latest logged merges and splits, newest first."""
    return [
        Change(i, a, p, o, json.loads(d))
        for i, a, p, o, d in db.execute(
            "SELECT id, action, person_id, other_id, detail FROM person_merges"
            " ORDER BY id DESC LIMIT ?",
            [limit],
        )
    ]


def undo_merge(db: sqlite_utils.Database, change_id: int) -> Change:
    """Put back the person a logged merge merged away: the same id, name, tier pin,
    addresses, logged touches, cards, tags and kind correction (its tags stay on the
    person kept too; so do flag decisions). Returns the merge undone, with the
    addresses put back (those split off meanwhile stay where they are)."""
    with db.atomic():
        row = db.execute(
            "SELECT id, action, person_id, other_id, detail FROM person_merges WHERE id = ?",
            [change_id],
        ).fetchone()
        if row is None or row[1] != "merge":
            raise UserError(
                f"no merge with id {change_id} (syncd merge --log lists them; a split is"
                " undone by merging the two people again)"
            )
        change = Change(row[0], row[1], row[2], row[3], json.loads(row[4]))
        d = change.detail
        if db.execute("SELECT 1 FROM people WHERE id = ?", [change.other]).fetchone():
            raise UserError(f"merge {change_id} was undone already (person {change.other} exists)")
        new_person(db, d["name"], person_id=change.other, tier_pin=d["tier_pin"])
        still = set(person_addresses(db, change.person))
        restored = [a for a in d["addresses"] if a in still]
        move_addresses(db, restored, change.other)
        give_touches(db, d["manual_touches"], change.other)
        give_contacts(db, d["contacts"], change.other)
        put_tags(db, change.other, d.get("tags", []))
        rename_person(db, change.person, d["keep_name"], d["keep_tier_pin"])
        if d["kind"]:
            set_kind(db, change.other, d["kind"])
        if d["kind_moved"]:
            set_kind(db, change.person, None)
        db.execute("DELETE FROM person_merges WHERE id = ?", [change_id])
        mark_people(db, [change.person, change.other])
        return Change(
            change.id, "unmerge", change.person, change.other, {**d, "addresses": restored}
        )
