"""Introductions the owner made: the owner of ``introductions``.

An introduction is one message from me to exactly two other people (To, Cc and Bcc,
my own addresses aside) who had never shared a message before it, with a subject
that reads like one ("Intro: Ana <> Bo", "Meet Bo", "Vorstellung", ...). They
*connected* when a later message that one of them (or anyone but me) wrote has both
among its participants. Everything comes from the stored headers (``messages``),
never from bodies, and the touchpoints (design.md §2) do not change: an introduction
is a row here, read by the ``intro_followup`` rule (:mod:`rules.introductions`), the
audit and the digest.

:func:`refresh` runs after each ingest (:func:`syncd.pipeline.runner.run_reader`)
over the messages stored since its last run; a change of my addresses makes it
start over. Each new or connected introduction marks both people for the rules.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import sqlite_utils

from rules.details import addresses_of
from rules.dirty import mark_people
from syncd.mail.addresses import match_key
from syncd.mail.subjects import prefixed_subject
from syncd.pipeline.identity import my_keys
from syncd.store.db import get_setting, put_setting, select_in, write_transaction

STATE_KEY = "introductions.state"
_INTRO_WORDS = re.compile(
    r"\b(intro|intros|introduction|introductions|introducing|introduce|meet|"
    r"connecting\s+you|connecting\s+the\s+two\s+of\s+you|"
    r"vorstellung|vorstellen|kennenlernen|"  # de
    r"pr[ée]sentation|je\s+vous\s+pr[ée]sente|mise\s+en\s+relation|"  # fr
    r"presentaci[óo]n|te\s+presento|les\s+presento|"  # es
    r"presentazione|apresenta[çc][ãa]o)\b",  # it, pt
    re.I,
)
# "Ana <> Bo", "Ana ↔ Bo", "Ana x Bo" (a lower-case x between two capitalised names)
_BETWEEN_NAMES = re.compile(r"\S\s*(<>|<->|↔)\s*\S|\b[A-Z][\w.'-]*\s+x\s+[A-Z]")


def intro_subject(subject: str | None) -> bool:
    """Whether ``subject`` reads like an introduction (a reply's Re:/Fwd: prefix is not one)."""
    text = subject or ""
    if prefixed_subject(text):
        return False
    return bool(_INTRO_WORDS.search(text) or (_may_name_two(text) and _BETWEEN_NAMES.search(text)))


def _may_name_two(text: str) -> bool:
    """Whether ``text`` holds what :data:`_BETWEEN_NAMES` needs (a ``<>``, ``<->``, ``↔``
    or an ``x``): substring tests, where the regex tries a match at every character."""
    return "x" in text or "<>" in text or "<->" in text or "↔" in text


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """The headers of one logical message that detection reads."""

    id: int
    sender: str | None
    at: int | None
    subject: str
    recipients: tuple[str, ...]
    bulk: bool

    @property
    def participants(self) -> frozenset[str]:
        """Sender and every recipient."""
        return frozenset((*self.recipients, *([self.sender] if self.sender else [])))


def _message(row: tuple) -> StoredMessage:
    mid, sender, at, subject, recipients, bulk = row
    lists = json.loads(recipients)
    everyone = tuple(dict.fromkeys([*lists["to"], *lists["cc"], *lists["bcc"]]))
    return StoredMessage(mid, sender, at, subject or "", everyone, bool(bulk))


def candidate_pair(
    msg: StoredMessage, me: frozenset[str], person_of: dict[str, int]
) -> tuple[str, str] | None:
    """The two introduced addresses (sorted) if ``msg`` is from me, not bulk, dated, with an
    introduction-like subject and exactly two other people among its recipients."""
    if msg.bulk or msg.at is None or not msg.sender or match_key(msg.sender) not in me:
        return None
    if not intro_subject(msg.subject):
        return None
    others = [a for a in msg.recipients if match_key(a) not in me]
    people = {person_of.get(a, a) for a in others}
    if len(others) != 2 or len(people) != 2:
        return None
    a, b = sorted(others)
    return a, b


PAGE = 2000  # messages read at a time: memory stays flat however large the import


def _rows_after(db: sqlite_utils.Database, last: int) -> Iterator[tuple]:
    """The rows (as :func:`_select` reads them) of the messages stored after id ``last``,
    in id order, read a page at a time."""
    while True:
        rows = db.execute(_select("id > ? ORDER BY id LIMIT ?"), [last, PAGE]).fetchall()
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def _likely_intro_rows(db: sqlite_utils.Database, last: int, me: frozenset[str]) -> Iterator[tuple]:
    """The rows of :func:`_rows_after` that :func:`_from_me_like_an_intro` keeps, in id
    order: the messages are read a page at a time without their recipients (the not bulk,
    dated, with a sender, in SQL; from me, by sender, once per sender), and only those
    kept are read whole."""
    mine: dict[str, bool] = {}
    while True:
        page = db.execute(
            "SELECT id, sender, subject FROM messages WHERE id > ? AND sent_at IS NOT NULL"
            " AND (bulk IS NULL OR bulk = '') AND sender IS NOT NULL AND sender != ''"
            " ORDER BY id LIMIT ?",
            [last, PAGE],
        ).fetchall()
        if not page:
            return
        kept = []
        for mid, sender, subject in page:
            from_me = mine.get(sender)
            if from_me is None:
                from_me = mine[sender] = match_key(sender) in me
            if from_me and intro_subject(subject):
                kept.append(mid)
        yield from list(select_in(db, _select("id IN (?...) ORDER BY id"), kept))
        last = page[-1][0]


def _from_me_like_an_intro(row: tuple, me: frozenset[str]) -> bool:
    """The checks of :func:`candidate_pair` that need neither a look-up nor the recipients
    decoded: not bulk, dated, from me, with an introduction-like subject."""
    _, sender, at, subject, _, bulk = row
    return (
        not bulk
        and at is not None
        and bool(sender)
        and match_key(sender) in me
        and intro_subject(subject)
    )


def _select(where: str) -> str:
    return f"SELECT id, sender, sent_at, subject, recipients, bulk FROM messages WHERE {where}"


def _shared(
    db: sqlite_utils.Database, first: Iterable[str], second: Iterable[str]
) -> list[StoredMessage]:
    """Every stored message that has one of ``first`` and one of ``second`` among its
    participants (a LIKE scan; introductions are rare)."""
    first, second = sorted(set(first)), sorted(set(second))

    def has(addresses: list[str]) -> str:
        # the stored recipients are JSON lists: a quoted address is one whole entry
        senders = "sender IN (" + ",".join("?" * len(addresses)) + ")"
        return "(" + " OR ".join([senders] + ["instr(recipients, ?) > 0"] * len(addresses)) + ")"

    params = [*first, *(json.dumps(a) for a in first), *second, *(json.dumps(a) for a in second)]
    rows = db.execute(_select(f"{has(first)} AND {has(second)}"), params).fetchall()
    out = []
    for msg in map(_message, rows):
        if set(first) & msg.participants and set(second) & msg.participants:
            out.append(msg)
    return out


def _person_map(db: sqlite_utils.Database, addresses: Iterable[str]) -> dict[str, int]:
    sql = "SELECT address, person_id FROM addresses WHERE address IN (?...)"
    return dict(select_in(db, sql, sorted(set(addresses))))


def _connection(msgs: Iterable[StoredMessage], after: int, me: frozenset[str]):
    """The first message after ``after`` that someone other than me wrote."""
    later = [
        m
        for m in msgs
        if m.at is not None and m.at > after and m.sender and match_key(m.sender) not in me
    ]
    return min(later, key=lambda m: (m.at, m.id), default=None)


def refresh(db: sqlite_utils.Database) -> int:
    """Detect introductions among the messages stored since the last run and record
    connections; the number of introductions added, removed or connected.

    Runs in its own write transaction (a savepoint inside the caller's), and takes none
    when nothing was stored since the last run.
    """
    state = get_setting(db, STATE_KEY) or {}
    newest = db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
    if state.get("last") == newest and state.get("me") == sorted(my_keys(db)):
        return 0
    with write_transaction(db):
        return _refresh(db)


def _refresh(db: sqlite_utils.Database) -> int:
    me = my_keys(db)
    signature = sorted(me)
    state = get_setting(db, STATE_KEY) or {}
    last = state.get("last", 0) if state.get("me") == signature else 0
    if last == 0:
        db.execute("DELETE FROM introductions")
    newest = db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0
    if newest <= last:
        if state.get("me") != signature:
            put_setting(db, STATE_KEY, {"last": newest, "me": signature})
        return 0
    changes = 0
    marked: set[int] = set()
    stored = _stored_pairs(db)
    people_pairs: dict[int, tuple[int | None, int | None]] = {}
    address_person: dict[str, int] = {}
    if stored:
        pair_people = _person_map(db, [a for pair in stored.values() for a in pair[1:3]])
        people_pairs = {
            mid: (pair_people.get(a), pair_people.get(b)) for mid, (_, a, b, *_) in stored.items()
        }
        watched = addresses_of(db, {p for pair in people_pairs.values() for p in pair if p})
        address_person = {a: p for p, addrs in watched.items() for a in addrs}
    candidates: list[StoredMessage] = []  # what may be a new introduction (rare)
    # With no introduction to watch (an import's usual case) only likely introductions
    # matter: the others are not even read with their recipients.
    rows = _rows_after(db, last) if address_person else _likely_intro_rows(db, last, me)
    for row in rows:
        like_intro = _from_me_like_an_intro(row, me)
        if not like_intro and not address_person:
            continue  # the common case: nothing to decode
        msg = _message(row)
        if like_intro:
            candidates.append(msg)
        # 1. later-stored messages that connect (or precede) a known introduction
        if not address_person or msg.at is None or msg.bulk:
            continue
        present = {address_person[a] for a in msg.participants if a in address_person}
        if len(present) < 2:
            continue
        for mid, (a, b) in people_pairs.items():
            if mid == msg.id or a not in present or b not in present:
                continue
            at, _, _, connected_at = stored[mid]
            if msg.at < at or (msg.at == at and msg.id < mid):
                db.execute("DELETE FROM introductions WHERE message_id = ?", [mid])
            elif msg.sender and match_key(msg.sender) not in me and msg.at > at:
                if connected_at is not None and connected_at <= msg.at:
                    continue
                db.execute(
                    "UPDATE introductions SET connected_at = ?, connected_ref = ?"
                    " WHERE message_id = ?",
                    [msg.at, msg.id, mid],
                )
                stored[mid] = (at, *stored[mid][1:3], msg.at)
            else:
                continue
            changes += 1
            marked.update((a, b))
    # 2. new introductions
    if candidates:
        person_of = _person_map(db, [a for m in candidates for a in m.recipients])
        for msg in candidates:
            pair = candidate_pair(msg, me, person_of)
            if pair is None:
                continue
            pa, pb = person_of.get(pair[0]), person_of.get(pair[1])
            addresses = addresses_of(db, [p for p in (pa, pb) if p is not None])
            first = addresses.get(pa, [pair[0]]) if pa is not None else [pair[0]]
            second = addresses.get(pb, [pair[1]]) if pb is not None else [pair[1]]
            shared = [m for m in _shared(db, first, second) if m.id != msg.id]
            assert msg.at is not None
            if any(m.at is not None and (m.at, m.id) < (msg.at, msg.id) for m in shared):
                continue
            link = _connection(shared, msg.at, me)
            db.execute(
                "INSERT OR REPLACE INTO introductions(message_id, at, address_a, address_b,"
                " subject, connected_at, connected_ref) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    msg.id,
                    msg.at,
                    pair[0],
                    pair[1],
                    msg.subject,
                    link.at if link else None,
                    link.id if link else None,
                ],
            )
            changes += 1
            marked.update(p for p in (pa, pb) if p is not None)
    mark_people(db, marked)
    put_setting(db, STATE_KEY, {"last": newest, "me": signature})
    return changes


def _stored_pairs(db: sqlite_utils.Database) -> dict[int, tuple[int, str, str, int | None]]:
    return {
        mid: (at, a, b, connected)
        for mid, at, a, b, connected in db.execute(
            "SELECT message_id, at, address_a, address_b, connected_at FROM introductions"
        )
    }
