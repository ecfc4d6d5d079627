"""Identity: who is "me", which addresses belong to which person, merges, tier pins.

The owner of ``people``, ``addresses`` and ``my_addresses``.

A person's display name is the one the user set (``people.name``), else the
smallest display name carried by their touchpoints (see :mod:`syncd.report.people`).

Each stored address (lower-cased, in the form it was seen) maps to one person.
Addresses sharing a match key (gmail dot/plus variants) join the same person
automatically; other merges are the user's (``syncd people merge``).
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from syncd.core.errors import UserError
from syncd.mail.addresses import GMAIL_DOMAINS, is_valid, match_key, parse_address_list
from syncd.pipeline.manual import move_touches
from syncd.pipeline.tags import move_tags
from syncd.store.db import select_in


def my_keys(db: sqlite_utils.Database) -> frozenset[str]:
    """Match keys of all of my addresses."""
    return frozenset(r[0] for r in db.execute("SELECT match_key FROM my_addresses"))


def add_my_addresses(db: sqlite_utils.Database, addresses: Iterable[str], source: str) -> bool:
    """Record addresses as mine; True when the set of my match keys grew.

    The caller must rederive touchpoints when it grew (directions change).
    """
    before = my_keys(db)
    with db.atomic():
        for address in addresses:
            address = address.strip().lower()
            if not is_valid(address):
                raise UserError(f"not an email address: {address!r}")
            db.execute(
                "INSERT OR IGNORE INTO my_addresses(match_key, address, source) VALUES (?, ?, ?)",
                [match_key(address), address, source],
            )
    return my_keys(db) != before


class AddressBook:
    """Resolves addresses to people, creating people on first sight.

    Lives for one transaction; caches what it has looked up.
    """

    def __init__(self, db: sqlite_utils.Database):
        self.db = db
        self._person: dict[str, int] = {}
        self._by_key: dict[str, int] = {}

    def ensure(self, addresses: Iterable[str]) -> None:
        """Make sure every address has a person (new match keys get a new person)."""
        missing = [a for a in dict.fromkeys(addresses) if a not in self._person]
        self._person.update(
            select_in(
                self.db, "SELECT address, person_id FROM addresses WHERE address IN (?...)", missing
            )
        )
        for address in missing:
            if address in self._person:
                continue
            key = match_key(address)
            person = self._by_key.get(key)
            if person is None:
                row = self.db.execute(
                    "SELECT person_id FROM addresses WHERE match_key = ? LIMIT 1", [key]
                ).fetchone()
                person = (
                    row[0]
                    if row
                    else self.db.execute("INSERT INTO people DEFAULT VALUES").lastrowid
                )
            self._by_key[key] = person
            self._person[address] = person
            self.db.execute(
                "INSERT INTO addresses(address, match_key, person_id) VALUES (?, ?, ?)",
                [address, key, person],
            )


def display_names(db: sqlite_utils.Database, people: Iterable[int] | None = None) -> dict[int, str]:
    """Each person's name (of ``people``, default everyone): the user's choice, else the
    smallest name on their touchpoints."""
    sql = (
        "SELECT a.person_id, min(t.name) FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.name IS NOT NULL AND t.name != ''"
    )
    if people is None:
        names = dict(db.execute(sql + " GROUP BY a.person_id").fetchall())
        names.update(db.execute("SELECT id, name FROM people WHERE name IS NOT NULL").fetchall())
        return names
    ids = sorted(set(people))
    given = dict(
        select_in(db, "SELECT id, name FROM people WHERE id IN (?...) AND name IS NOT NULL", ids)
    )
    rest = [p for p in ids if p not in given]  # a given name makes touchpoints moot
    names = dict(select_in(db, f"{sql} AND a.person_id IN (?...) GROUP BY a.person_id", rest))
    names.update(given)
    return names


def resolve_person(db: sqlite_utils.Database, ref: str) -> int:
    """A person id from an id, an address, or an unambiguous name."""
    ref = ref.strip()
    if ref.isdigit():
        row = db.execute("SELECT id FROM people WHERE id = ?", [int(ref)]).fetchone()
        if row:
            return row[0]
    lowered = ref.lower()
    row = db.execute("SELECT person_id FROM addresses WHERE address = ?", [lowered]).fetchone()
    if row:
        return row[0]
    if is_valid(lowered):
        row = db.execute(
            "SELECT person_id FROM addresses WHERE match_key = ?", [match_key(lowered)]
        ).fetchone()
        if row:
            return row[0]
    rows = sorted(pid for pid, name in display_names(db).items() if name.lower() == lowered)
    if len(rows) == 1:
        return rows[0]
    if len(rows) > 1:
        ids = ", ".join(str(r) for r in rows)
        raise UserError(f"{ref!r} names several people (ids {ids}); use an id or an address")
    raise UserError(f"no person matches {ref!r}")


def merge_people(db: sqlite_utils.Database, keep: int, other: int) -> None:
    """Move every address of person ``other`` to ``keep`` and delete ``other``."""
    if keep == other:
        raise UserError("cannot merge a person with itself")
    with db.atomic():
        db.execute("UPDATE addresses SET person_id = ? WHERE person_id = ?", [keep, other])
        db.execute(
            "UPDATE people SET name = coalesce(name, (SELECT name FROM people WHERE id = ?)),"
            " tier_pin = coalesce(tier_pin, (SELECT tier_pin FROM people WHERE id = ?))"
            " WHERE id = ?",
            [other, other, keep],
        )
        move_touches(db, keep, other)
        move_tags(db, keep, other)
        db.execute("DELETE FROM people WHERE id = ?", [other])


def pin_tier(db: sqlite_utils.Database, person: int, tier: str | None) -> None:
    """Pin ``person`` to ``tier`` (pins win over scores); ``None`` removes the pin."""
    with db.atomic():
        db.execute("UPDATE people SET tier_pin = ? WHERE id = ?", [tier, person])


def tier_pins(db: sqlite_utils.Database) -> dict[int, str]:
    """The pinned tier of each pinned person."""
    return dict(db.execute("SELECT id, tier_pin FROM people WHERE tier_pin IS NOT NULL"))


@dataclass(frozen=True, slots=True)
class MergeSuggestion:
    """Two people who are probably one, and why."""

    keep: int
    other: int
    reason: str


def _loose_key(address: str) -> str:
    local, _, domain = address.partition("@")
    if domain in GMAIL_DOMAINS:
        domain = "gmail.com"
    return local.split("+", 1)[0].replace(".", "") + "@" + domain


def suggest_merges(db: sqlite_utils.Database) -> list[MergeSuggestion]:
    """People that look like one: same display name, or dot/plus variants of one address."""
    by_name: dict[str, set[int]] = defaultdict(set)
    by_loose: dict[str, set[int]] = defaultdict(set)
    for address, person, name in db.execute(
        "SELECT a.address, a.person_id, min(t.name) FROM addresses a"
        " LEFT JOIN touchpoints t ON t.address = a.address GROUP BY a.address"
    ):
        if name and len(name.split()) >= 2:
            by_name[" ".join(name.lower().split())].add(person)
        by_loose[_loose_key(address)].add(person)
    out: dict[tuple[int, int], str] = {}
    for label, groups in (("same display name", by_name), ("address variants", by_loose)):
        for key, people in groups.items():
            if len(people) < 2:
                continue
            ordered = sorted(people)
            for other in ordered[1:]:
                out.setdefault((ordered[0], other), f"{label}: {key}")
    return [MergeSuggestion(k, o, r) for (k, o), r in sorted(out.items())]


def suggest_me(db: sqlite_utils.Database, limit: int = 3) -> list[tuple[str, int]]:
    """Likely "me" addresses: the dominant senders of Sent folders not yet known as mine."""
    mine = my_keys(db)
    counts: Counter[str] = Counter()
    rows = db.execute(
        "SELECT o.headers FROM observations o WHERE o.skipped IS NULL "
        "AND (lower(o.folder) LIKE '%sent%' OR o.labels LIKE '%\"SENT\"%')"
    )
    for (headers,) in rows:
        senders = parse_address_list(json.loads(headers).get("from", [])[:1])
        if senders and match_key(senders[0][1]) not in mine:
            counts[senders[0][1]] += 1
    total = sum(counts.values())
    return [(a, n) for a, n in counts.most_common(limit) if total and n / total >= 0.05]


def people_info(
    db: sqlite_utils.Database, ids: set[int], unnamed: str | None = None
) -> dict[int, dict[str, Any]]:
    """Name, touched addresses, tier (a pin wins), pin and last touch of ``ids``.

    The name is the one given (``syncd people merge``), else the first display
    name seen in a touchpoint, else the first address, else ``unnamed``.
    """
    info: dict[int, dict[str, Any]] = {
        p: {"name": None, "emails": [], "tier": "acquaintance"} for p in ids
    }
    wanted = sorted(ids)
    for pid, address in select_in(
        db,
        "SELECT person_id, address FROM addresses a WHERE person_id IN (?...)"
        " AND EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
        " ORDER BY person_id, address",
        wanted,
    ):
        info[pid]["emails"].append(address)
    for pid, name in select_in(
        db,
        "SELECT a.person_id, min(t.name) FROM addresses a"
        " JOIN touchpoints t ON t.address = a.address"
        " WHERE a.person_id IN (?...) AND t.name IS NOT NULL AND t.name != ''"
        " GROUP BY a.person_id",
        wanted,
    ):
        info[pid]["name"] = name
    # a given name wins over the touchpoints' (read after them)
    for pid, name, pin in select_in(
        db, "SELECT id, name, tier_pin FROM people WHERE id IN (?...)", wanted
    ):
        if name:
            info[pid]["name"] = name
        if pin:
            info[pid]["pinned"] = pin
    for pid, tier, last in select_in(
        db, "SELECT person_id, tier, last_touch FROM rules_people WHERE person_id IN (?...)", wanted
    ):
        info[pid]["tier"] = tier
        info[pid]["last_touch"] = last
    for p in info.values():
        if p.get("pinned"):
            p["tier"] = p["pinned"]
        p["name"] = p["name"] or (p["emails"][0] if p["emails"] else unnamed)
    return info


def people_tiers(db: sqlite_utils.Database, ids: set[int]) -> dict[int, str]:
    """The tier :func:`people_info` gives each of ``ids`` (a pin wins), from two small
    index reads instead of its per-person queries."""
    tiers = dict.fromkeys(ids, "acquaintance")
    for pid, tier in db.execute(
        "SELECT person_id, tier FROM rules_people INDEXED BY rules_people_tiered"
        " WHERE tier != 'acquaintance'"
    ):
        if pid in tiers:
            tiers[pid] = tier
    for pid, pin in db.execute(
        "SELECT id, tier_pin FROM people INDEXED BY people_pinned WHERE tier_pin IS NOT NULL"
    ):
        if pid in tiers and pin:
            tiers[pid] = pin
    return tiers


def name_key(name: str) -> str:
    """A name for matching: case, diacritics and spacing ignored (``José  Núñez`` ≈ ``jose
    nunez``)."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def people_by_name(db: sqlite_utils.Database) -> dict[str, list[int]]:
    """Every person's display name (see :func:`display_names`) by :func:`name_key`."""
    out: dict[str, list[int]] = defaultdict(list)
    for pid, name in sorted(display_names(db).items()):
        if name and name_key(name):
            out[name_key(name)].append(pid)
    return dict(out)


def people_by_address(db: sqlite_utils.Database, addresses: Iterable[str]) -> dict[str, int]:
    """The person of each known address in ``addresses`` (the address itself, else an
    address with the same match key); unknown addresses are absent."""
    out: dict[str, int] = {}
    for address in dict.fromkeys(addresses):
        row = (
            db.execute("SELECT person_id FROM addresses WHERE address = ?", [address]).fetchone()
            or db.execute(
                "SELECT person_id FROM addresses WHERE match_key = ? ORDER BY person_id LIMIT 1",
                [match_key(address)],
            ).fetchone()
        )
        if row:
            out[address] = row[0]
    return out


def new_person(
    db: sqlite_utils.Database,
    name: str | None = None,
    person_id: int | None = None,
    tier_pin: str | None = None,
) -> int:
    """A new person (no address yet) named ``name`` (``person_id`` restores a merged
    person under its old id); the caller owns the transaction."""
    cur = db.execute(
        "INSERT INTO people(id, name, tier_pin) VALUES (?, ?, ?)", [person_id, name, tier_pin]
    )
    return int(cur.lastrowid or 0)


def rename_person(
    db: sqlite_utils.Database, person: int, name: str | None, tier_pin: str | None
) -> None:
    """Set ``person``'s given name and tier pin (the undo of a merge; in its transaction)."""
    db.execute("UPDATE people SET name = ?, tier_pin = ? WHERE id = ?", [name, tier_pin, person])


def attach_addresses(db: sqlite_utils.Database, person: int, addresses: Iterable[str]) -> list[str]:
    """Give ``person`` the ``addresses`` no one has yet (by address or match key); returns
    those added. Addresses of other people stay theirs. The caller owns the transaction."""
    known = people_by_address(db, addresses)
    added = []
    for address in dict.fromkeys(addresses):
        if address in known or not is_valid(address):
            continue
        db.execute(
            "INSERT INTO addresses(address, match_key, person_id) VALUES (?, ?, ?)",
            [address, match_key(address), person],
        )
        added.append(address)
    return added


def person_addresses(db: sqlite_utils.Database, person: int) -> list[str]:
    """Every stored address of ``person``, sorted."""
    return [
        a
        for (a,) in db.execute(
            "SELECT address FROM addresses WHERE person_id = ? ORDER BY address", [person]
        )
    ]


def move_addresses(db: sqlite_utils.Database, addresses: Iterable[str], person: int) -> None:
    """Give the stored ``addresses`` to ``person`` (a split, or its undo); their touchpoints
    follow them. The caller owns the transaction and marks people for re-evaluation."""
    db.conn.executemany(
        "UPDATE addresses SET person_id = ? WHERE address = ?", [(person, a) for a in addresses]
    )
