"""Per-address statistics for the person-kind detectors: the owner of ``address_stats``.

:class:`Folder` folds logical messages (with what their copies say: a Sent folder,
source categories) into :class:`~syncd.mail.kinds.AddressStats`. A full pass folds every
message (:func:`gather_stats`); the statistics are kept, so a later pass folds in only the
messages added since (:mod:`syncd.pipeline.kinds` decides when that is valid).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable

import sqlite_utils

from syncd.mail.addresses import match_key
from syncd.mail.kinds import AddressStats, is_source_category, subject_template

CATEGORY = re.compile(r"CATEGORY_[A-Z]+")
SENT_FOLDER = "(lower(o.folder) LIKE '%sent%' OR o.labels LIKE '%\"SENT\"%')"


def observed(
    db: sqlite_utils.Database, after: int = 0
) -> tuple[dict[int, int], dict[int, set[str]]]:
    """Per message with id above ``after``: whether a copy is in a Sent folder, and the
    source categories its copies carry."""
    in_sent: dict[int, int] = {}
    categories: dict[int, set[str]] = {}
    for mid, in_sent_folder, labels in db.execute(
        f"SELECT message_id, max({SENT_FOLDER}), group_concat(labels) FROM observations o"
        " WHERE message_id > ? GROUP BY message_id",
        [after],
    ):
        in_sent[mid] = in_sent_folder
        if labels and "CATEGORY_" in labels:
            categories[mid] = set(CATEGORY.findall(labels)) - {"CATEGORY_PERSONAL"}
    return in_sent, categories


MESSAGE_COLUMNS = "id, sender, subject, recipients, signals, names"


class Folder:
    """Folds logical messages into per-address statistics. A message's contribution is a
    function of the message, its copies and my keys alone, so folding every message (the
    full pass) and folding only new ones into stored statistics (the incremental pass)
    give the same statistics."""

    def __init__(self, mine: frozenset[str], load: Callable[[str], AddressStats]) -> None:
        self.mine = mine
        self.load = load
        self.stats: dict[str, AddressStats] = {}
        self.known: dict[str, bool] = {}

    def get(self, address: str) -> AddressStats:
        """The statistics of ``address`` (loaded on first use)."""
        s = self.stats.get(address)
        if s is None:
            s = self.stats[address] = self.load(address)
        return s

    def is_mine(self, address: str) -> bool:
        """Whether ``address`` is one of mine (memoized)."""
        hit = self.known.get(address)
        if hit is None:
            hit = self.known[address] = match_key(address) in self.mine
        return hit

    def fold(self, row: tuple, in_sent: int, categories: set[str]) -> None:
        """Add one message (a ``MESSAGE_COLUMNS`` row) with what its copies say."""
        _, sender, subject, recipients, signals, names = row
        get, is_mine = self.get, self.is_mine
        parsed = json.loads(recipients)
        direct = [*parsed.get("to", []), *parsed.get("cc", [])]
        rcpts = [*direct, *parsed.get("bcc", [])]
        sender_mine = sender is not None and is_mine(sender)
        if names != "{}":
            for address, name in json.loads(names).items():
                if name:
                    get(address).names.add(name)
        if sender and not sender_mine:
            s = get(sender)
            s.sent += 1
            s.templates[subject_template(subject or "")] += 1
            if any(is_mine(a) for a in direct):
                s.sent_to_me += 1
            if in_sent:
                s.sent_in_sent_folder += 1
            found = {x for x in (signals or "").split(",") if is_source_category(x)}
            for signal in found | categories:
                s.source_signals[signal] += 1
        theirs = [a for a in rcpts if not is_mine(a)]
        for address in theirs:
            r = get(address)
            if sender_mine:
                r.received_from_me += 1
            elif sender:
                r.writers.add(sender)
        if len(rcpts) == 1 and theirs and not sender_mine and not in_sent:
            get(theirs[0]).sole_recipient += 1
        involved_me = sender_mine or len(theirs) < len(rcpts)
        others = set(theirs)
        if sender and not sender_mine:
            others.add(sender)
        for address in others:
            if len(others) == 1 and involved_me:
                get(address).exclusive += 1
            else:
                get(address).with_others += 1


def messages_after(db: sqlite_utils.Database, after: int = 0) -> Iterable[tuple]:
    """The logical messages with id above ``after``, as :meth:`Folder.fold` takes them."""
    return db.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > ? ORDER BY id", [after])


def fold_messages(
    db: sqlite_utils.Database,
    rows: Iterable[tuple],
    mine: frozenset[str],
    after: int = 0,
    load: Callable[[str], AddressStats] = AddressStats,
) -> dict[str, AddressStats]:
    """The statistics of the addresses ``rows`` (:func:`messages_after` ``after``) name,
    each from ``load(address)`` with those messages folded in."""
    in_sent, categories = observed(db, after)
    folder = Folder(mine, load)
    none: set[str] = set()
    for row in rows:
        folder.fold(row, in_sent.get(row[0], 0), categories.get(row[0], none))
    return folder.stats


def gather_stats(db: sqlite_utils.Database, mine: frozenset[str]) -> dict[str, AddressStats]:
    """Per-address statistics over every logical message (see :class:`AddressStats`)."""
    return fold_messages(db, messages_after(db), mine)


STATS_COLUMNS = (
    "address, sent, sent_to_me, received_from_me, exclusive, with_others,"
    " sent_in_sent_folder, sole_recipient, names, writers, templates, source_signals"
)


def _stats_row(s: AddressStats) -> tuple:
    # writers are read only while the address has sent nothing, and sent never
    # decreases between two full passes: once it sent, they are not kept
    return (
        s.address,
        s.sent,
        s.sent_to_me,
        s.received_from_me,
        s.exclusive,
        s.with_others,
        s.sent_in_sent_folder,
        s.sole_recipient,
        json.dumps(sorted(s.names)),
        json.dumps([] if s.sent else sorted(s.writers)),
        json.dumps(s.templates),
        json.dumps(s.source_signals),
    )


def _stats_from_row(row: tuple) -> AddressStats:
    a, sent, to_me, from_me, excl, others, in_sent, sole, names, writers, tpl, signals = row
    return AddressStats(
        a,
        names=set(json.loads(names)),
        sent=sent,
        sent_to_me=to_me,
        received_from_me=from_me,
        exclusive=excl,
        with_others=others,
        sent_in_sent_folder=in_sent,
        sole_recipient=sole,
        writers=set(json.loads(writers)),
        templates=Counter(json.loads(tpl)),
        source_signals=Counter(json.loads(signals)),
    )


def stored_stats(db: sqlite_utils.Database, address: str) -> AddressStats | None:
    """The stored statistics of ``address`` (None when no message names it)."""
    row = db.execute(
        f"SELECT {STATS_COLUMNS} FROM address_stats WHERE address = ?", [address]
    ).fetchone()
    return None if row is None else _stats_from_row(row)


def load_stats(db: sqlite_utils.Database, address: str) -> AddressStats:
    """The stored statistics of ``address`` (empty when it has none), to fold into."""
    return stored_stats(db, address) or AddressStats(address)


def save_stats(db: sqlite_utils.Database, stats: Iterable[AddressStats]) -> None:
    """Store (replace) the statistics of each address of ``stats``."""
    db.conn.executemany(
        f"INSERT OR REPLACE INTO address_stats({STATS_COLUMNS}) VALUES ({','.join('?' * 12)})",
        (_stats_row(s) for s in stats),
    )


def clear_stats(db: sqlite_utils.Database) -> None:
    """Forget every address's statistics (before a full pass stores them again)."""
    db.execute("DELETE FROM address_stats")
