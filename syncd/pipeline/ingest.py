"""Ingest: store a connector's batch, its logical messages and touchpoints, and its cursor.

One batch is one transaction: observations, the logical-message assignment,
the derived touchpoints, the quarantine and the cursor commit together or not
at all, so a crash never leaves a cursor ahead of its data.

Logical messages (design.md §2 rule 2): copies sharing a Message-ID *or* a
fingerprint are one message. Keys of both kinds live in ``message_keys``
(merged-away messages in ``message_aliases``);
a copy touching several existing messages merges them (union-find). The
merged view (:mod:`syncd.pipeline.logical`) is built with commutative
operations, so import order never matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from operator import itemgetter

import sqlite_utils

from connectors.base import Batch, EventObservation, MailObservation
from rules.dirty import mark_addresses
from syncd.mail.addresses import is_valid
from syncd.mail.touchpoints import (
    EMAIL_IN,
    EMAIL_OUT,
    MEETING,
    meeting_participants,
    skipped_folder,
)
from syncd.pipeline.accounts import save_cursors
from syncd.pipeline.identity import AddressBook, add_my_addresses, my_keys
from syncd.pipeline.logical import (
    LogicalMessage,
    canonical_update,
    from_observation,
    from_row,
    same_facts,
    single_row,
    single_touchpoints,
    touchpoint_rows,
)
from syncd.store.db import execute_in, get_setting, messages_by_key, select_in

EXCERPT_BYTES = 65536  # of a quarantined item


def store_quarantined(
    db: sqlite_utils.Database, account_id: int, items: Iterable[tuple[str, str, str, bytes]]
) -> None:
    """Keep ``(scope, locator, reason, excerpt)`` items of ``account_id`` in the quarantine
    (a repeat replaces its row); also for items that are no mail (contact cards)."""
    db.conn.executemany(
        "INSERT OR REPLACE INTO quarantine(account_id, scope, locator, reason, excerpt)"
        " VALUES (?, ?, ?, ?, ?)",
        [
            (account_id, scope, locator, reason, excerpt[:EXCERPT_BYTES])
            for scope, locator, reason, excerpt in items
        ],
    )


@dataclass(slots=True)
class IngestStats:
    """Counts for one or more batches."""

    observations: int = 0
    duplicates: int = 0
    skipped: int = 0
    quarantined: int = 0
    events: int = 0
    messages_touched: int = 0
    flawed: int = 0  # imported without part of them (noted in the quarantine)
    unchanged: int = 0  # files left unread: nothing changed since they were read

    def add(self, other: IngestStats) -> None:
        """Accumulate ``other`` into this one."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_STATE_SELECT = (
    "SELECT id, canonical_hash, sender, sent_at, subject, recipients, bulk, signals,"
    " copies, in_reply_to, thread_root, names FROM messages"
)


class Ingestor:
    """Applies batches for one account. Not thread-safe; one per sync.

    With ``defer_keys`` (a bulk import committing batches in groups), the
    logical-message keys of the applied batches are held in memory and inserted
    by :meth:`commit`, through which the caller commits each group: one insert in key
    order per group instead of one per batch. The random 64-bit keys then reach
    each page of ``message_keys`` once per group, in order (about half the cost
    of inserting them batch by batch). The stored rows are the same.
    """

    def __init__(self, db: sqlite_utils.Database, account_id: int, defer_keys: bool = False):
        self.db = db
        self.account_id = account_id
        self.me = my_keys(db)
        self.broadcast_threshold = get_setting(db, "broadcast_threshold", 20)
        self.max_attendees = get_setting(db, "max_meeting_attendees", 20)
        self.defer_keys = defer_keys
        self._pending: dict[int, int] = {}  # deferred keys of applied batches -> message
        self._new_keys: list[tuple[int, int]] = []  # of the batch being applied

    def commit(self) -> None:
        """Commit the caller's open transaction, the deferred keys inserted first: every
        commit of a bulk import goes through here, so none leaves keys behind."""
        if self._pending:
            self._insert_keys(self._pending.items())
            self._pending.clear()
        self.db.execute("COMMIT")

    def _insert_keys(self, rows: Iterable[tuple[int, int]]) -> None:
        self.db.conn.executemany(
            "INSERT INTO message_keys(key, message_id) VALUES (?, ?)",
            # in key order: neighbouring inserts share B-tree pages (keys are unique:
            # sorting by the key alone skips comparing tuples, a third of the sort's time)
            sorted(rows, key=itemgetter(0)),
        )

    def apply(self, batch: Batch) -> IngestStats:
        """Commit one batch with its cursor in one transaction (a savepoint of the
        caller's transaction when one is open)."""
        stats = IngestStats(duplicates=batch.known, unchanged=batch.unchanged)
        self._new_keys = []
        with self.db.atomic():
            if batch.owner_addresses:
                self._add_owner(batch.owner_addresses)
            book = AddressBook(self.db)
            if batch.mail:
                self._apply_mail(batch.mail, book, stats)
            if batch.events or batch.replace_scopes:
                self._apply_events(batch, book, stats)
            for scope in batch.replace_scopes:
                # a complete re-read supersedes what was quarantined from that scope before
                self.db.execute(
                    "DELETE FROM quarantine WHERE account_id = ? AND scope = ?",
                    [self.account_id, scope],
                )
            self._quarantine((q.scope, q.locator, q.reason, q.excerpt) for q in batch.quarantined)
            stats.quarantined += len(batch.quarantined)
            save_cursors(self.db, self.account_id, batch.cursors)
        # only a batch that was applied defers its keys (a failed one left nothing)
        self._pending.update(self._new_keys)
        return stats

    def _quarantine(self, items: Iterable[tuple[str, str, str, bytes]]) -> None:
        """Store ``(scope, locator, reason, excerpt)`` items (a repeat replaces its row)."""
        store_quarantined(self.db, self.account_id, items)

    def _add_owner(self, addresses: tuple[str, ...]) -> None:
        """Count a source's own addresses as mine; rederive everything if that is news."""
        valid = [a for a in addresses if is_valid(a.strip().lower())]
        if valid and add_my_addresses(self.db, valid, source=f"account:{self.account_id}"):
            rederive_all(self.db)
            self.me = my_keys(self.db)

    # -- mail ---------------------------------------------------------------

    def _apply_mail(
        self, mail: list[MailObservation], book: AddressBook, stats: IngestStats
    ) -> None:
        db = self.db
        fresh: dict[tuple[str, str], MailObservation] = {}
        for obs in mail:
            obs.summarized()
            key = (obs.folder, obs.hash)
            if key in fresh:
                stats.duplicates += 1
            else:
                fresh[key] = obs
        counted: list[MailObservation] = []
        skipped: list[MailObservation] = []
        undated: list[MailObservation] = []
        for obs in fresh.values():
            if skipped_folder(obs.folder, obs.labels):
                skipped.append(obs)
            elif obs.summary.sent_at is None:
                undated.append(obs)
            else:
                counted.append(obs)
        # Copies already stored (a re-import of the same folder content) are dropped. A
        # counted copy's stored twin has the same keys, so it belongs to the message those
        # keys lead to; a copy in a skipped folder belongs to no message. (An undated copy
        # is never stored: it is quarantined again.)
        existing = messages_by_key(
            db,
            sorted({k for obs in counted for k in obs.summary.logical_keys64()}),
            self._pending,
        )
        stored = self._stored_copies(sorted(set(existing.values())), skipped)
        if stored:
            before = len(counted) + len(skipped)
            counted = [obs for obs in counted if (obs.folder, obs.hash) not in stored]
            skipped = [obs for obs in skipped if (obs.folder, obs.hash) not in stored]
            stats.duplicates += before - len(counted) - len(skipped)
        stats.skipped += len(skipped)
        if stored or undated:
            kept = {id(obs) for obs in counted} | {id(obs) for obs in skipped}
            rows = [obs for obs in fresh.values() if id(obs) in kept]
        else:
            rows = list(fresh.values())
        self._quarantine(
            (obs.folder, obs.locator, _undated_reason(obs), obs.headers_json().encode())
            for obs in undated
        )
        stats.quarantined += len(undated)
        # Counted copies imported without part of them (an address with control
        # characters, an implausible Date): noted in the quarantine, so they are counted.
        flawed = [obs for obs in counted if obs.summary.flaws]
        if flawed:
            self._quarantine(
                (
                    obs.folder,
                    obs.locator,
                    "imported without " + " and ".join(obs.summary.flaws),
                    obs.headers_json().encode(),
                )
                for obs in flawed
            )
            stats.flawed += len(flawed)
        stats.observations += len(rows)
        assignment = self._assign_logical(counted, existing, book, stats) if counted else []
        message_of = dict(zip(map(id, counted), assignment, strict=True))
        db.conn.executemany(
            "INSERT INTO observations(account_id, folder, content_hash, locator, headers, labels,"
            " received_at, skipped, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    self.account_id,
                    o.folder,
                    o.hash,
                    o.locator,
                    o.headers_json(),
                    json.dumps(list(o.labels)) if o.labels else None,
                    o.received_at,
                    skipped_folder(o.folder, o.labels),
                    message_of.get(id(o)),
                )
                for o in rows
            ],
        )

    def _assign_logical(
        self,
        counted: list[MailObservation],
        existing: dict[int, int],
        book: AddressBook,
        stats: IngestStats,
    ) -> list[int]:
        """Group the batch's copies with each other and with stored messages; store the
        merged states and their touchpoints.

        Copies sharing a key, or keys of one stored message, form one group
        (union-find over copy indexes); ``existing`` maps the stored keys among
        theirs (or more) to their messages. Returns the logical message id of
        each copy, in order. Touchpoints are derived from the merged states in
        memory; a stored message whose merged state did not change (another
        copy of it) only gets its copy count updated.
        """
        db = self.db
        parent = list(range(len(counted)))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = i = parent[parent[i]]
            return i

        def union(i: int, j: int) -> None:
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)

        first: dict[int, int] = {}  # key -> the first copy holding it
        for i, obs in enumerate(counted):
            for k in obs.summary.logical_keys64():
                j = first.setdefault(k, i)
                if j != i:
                    union(i, j)
        anchor: dict[int, int] = {}  # stored message -> a copy linked to it
        for k, i in first.items():
            mid = existing.get(k)
            if mid is not None:
                union(i, anchor.setdefault(mid, i))
        roots = [find(i) for i in range(len(counted))]
        members: dict[int, list[int]] = {}
        for i, root in enumerate(roots):
            members.setdefault(root, []).append(i)
        mids_of: dict[int, list[int]] = {}
        for mid, i in anchor.items():
            mids_of.setdefault(roots[i], []).append(mid)
        old = self._load_states(sorted(anchor))
        next_id = (db.execute("SELECT max(id) FROM messages").fetchone()[0] or 0) + 1
        target_of: dict[int, int] = {}
        inserts: list[tuple] = []  # new messages
        upserts: list[tuple] = []  # stored messages whose merged state changed
        canonical_updates: list[tuple] = []
        retired: list[tuple[int, int]] = []  # (retired id, surviving id)
        stale: list[int] = []  # stored messages whose touchpoints are rederived
        derived: list[LogicalMessage] = []
        touchpoints: list[tuple] = []  # of new one-copy messages (no merged state built)
        me, threshold = self.me, self.broadcast_threshold
        for root, copies in members.items():
            mids = mids_of.get(root)
            if mids is None and len(copies) == 1:
                # The common case: a new message with one copy, stored as that copy says.
                obs = counted[copies[0]]
                inserts.append(single_row(obs, next_id))
                touchpoints += single_touchpoints(obs, next_id, me, threshold)
                target_of[root] = next_id
                next_id += 1
                continue
            mids = sorted(mids or ())
            if len(mids) == 1 and same_facts(old[mids[0]], [counted[i] for i in copies]):
                # More copies of a stored message: its touchpoints stand.
                update = canonical_update(old[mids[0]], [counted[i] for i in copies])
                canonical_updates.append(update)
                target_of[root] = mids[0]
                continue
            pieces = [from_observation(counted[i], 0) for i in copies]
            if mids:
                state = from_row(old[mids[0]])
                for other in mids[1:]:
                    state.absorb(from_row(old[other]))
                    retired.append((other, mids[0]))
                stale.extend(mids)
            else:
                state = pieces.pop()
                state.id = next_id
                next_id += 1
            for piece in pieces:
                state.absorb(piece)
            target_of[root] = state.id
            (upserts if mids else inserts).append(state.row())
            derived.append(state)
        execute_in(
            db,
            "DELETE FROM touchpoints WHERE kind IN (?, ?) AND ref IN (?...)",
            stale,
            before=(EMAIL_IN, EMAIL_OUT),
        )
        for gone, survivor in retired:
            db.execute(
                "UPDATE message_aliases SET message_id = ? WHERE message_id = ?", [survivor, gone]
            )
            db.execute(
                "INSERT INTO message_aliases(id, message_id) VALUES (?, ?)", [gone, survivor]
            )
            db.execute(
                "UPDATE observations SET message_id = ? WHERE message_id = ?", [survivor, gone]
            )
        execute_in(db, "DELETE FROM messages WHERE id IN (?...)", [gone for gone, _ in retired])
        columns = (
            "INTO messages(id, canonical_hash, sender, sent_at, subject, recipients, bulk,"
            " signals, copies, in_reply_to, thread_root, names)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        db.conn.executemany("INSERT " + columns, inserts)
        db.conn.executemany("INSERT OR REPLACE " + columns, upserts)
        db.conn.executemany(
            "UPDATE messages SET canonical_hash = ?, in_reply_to = ?, thread_root = ?,"
            " copies = copies + ? WHERE id = ?",
            canonical_updates,
        )
        new_keys = [(k, target_of[roots[i]]) for k, i in first.items() if k not in existing]
        if self.defer_keys:
            self._new_keys = new_keys  # inserted by commit, with the rest of the group
        else:
            self._insert_keys(new_keys)
        self._store_touchpoints(derived, book, touchpoints)
        stats.messages_touched += len(inserts) + len(upserts) + len(canonical_updates)
        return [target_of[root] for root in roots]

    def _stored_copies(
        self, message_ids: list[int], skipped: list[MailObservation]
    ) -> set[tuple[str, str]]:
        """``(folder, content hash)`` of this account's stored copies of ``message_ids``, and
        of those ``skipped`` copies (no message) that are stored already."""
        db = self.db
        found: set[tuple[str, str]] = set(
            select_in(
                db,
                "SELECT folder, content_hash FROM observations WHERE message_id IN (?...)"
                " AND account_id = ?",
                message_ids,
                after=(self.account_id,),
            )
        )
        by_folder: dict[str, list[str]] = {}
        for obs in skipped:
            by_folder.setdefault(obs.folder, []).append(obs.hash)
        for folder, hashes in by_folder.items():
            found.update(
                select_in(
                    db,
                    "SELECT folder, content_hash FROM observations WHERE message_id IS NULL"
                    " AND account_id = ? AND folder = ? AND content_hash IN (?...)",
                    hashes,
                    before=(self.account_id, folder),
                )
            )
        return found

    def _load_states(self, message_ids: list[int]) -> dict[int, tuple]:
        """The stored ``messages`` rows of ``message_ids`` (decoded only when merged)."""
        rows = select_in(self.db, f"{_STATE_SELECT} WHERE id IN (?...)", message_ids)
        return {row[0]: row for row in rows}

    def _store_touchpoints(
        self, states: list[LogicalMessage], book: AddressBook, rows: list[tuple]
    ) -> None:
        """Insert ``rows`` and the touchpoints of freshly merged ``states`` (old ones
        already deleted)."""
        rows += [
            row
            for state in states
            for row in touchpoint_rows(state, self.me, self.broadcast_threshold)
        ]
        book.ensure(r[2] for r in rows)
        rows.sort(key=_by_address_and_time)  # index order: inserts share B-tree pages
        insert_touchpoints(self.db, rows)

    # -- events -------------------------------------------------------------

    def _apply_events(self, batch: Batch, book: AddressBook, stats: IngestStats) -> None:
        """Store event instances per source (account, calendar) and rederive their keys.

        The same instance (key = UID + instance start) may come from several
        calendars or files; each source keeps its own row, so one source
        dropping it does not delete what another still holds. Touchpoints are
        derived once per key, from the winning row (highest version).
        """
        db = self.db
        incoming: dict[tuple[str, str], EventObservation] = {}
        for ev in batch.events:
            current = incoming.get((ev.calendar, ev.key))
            if current is None or (ev.version, ev.hash) > (current.version, current.hash):
                incoming[(ev.calendar, ev.key)] = ev
        affected: set[str] = set()
        for scope in batch.replace_scopes:
            gone = [
                (id_, key)
                for id_, key in db.execute(
                    "SELECT id, key FROM events WHERE account_id = ? AND scope = ?",
                    [self.account_id, scope],
                )
                if (scope, key) not in incoming
            ]
            ids = [i for i, _ in gone]
            execute_in(
                db,
                "DELETE FROM touchpoints WHERE kind = ? AND ref IN (?...)",
                ids,
                before=(MEETING,),
            )
            execute_in(db, "DELETE FROM events WHERE id IN (?...)", ids)
            affected.update(k for _, k in gone)
        for (scope, key), ev in incoming.items():
            row = db.execute(
                "SELECT id, content_hash FROM events"
                " WHERE account_id = ? AND scope = ? AND key = ?",
                [self.account_id, scope, key],
            ).fetchone()
            values = [
                ev.hash,
                json.dumps(list(ev.version)),
                ev.start,
                ev.end,
                ev.status,
                ev.organizer,
                json.dumps([[a.address, a.cutype, a.partstat, a.name] for a in ev.attendees]),
                ev.summary,
                int(ev.all_day),
            ]
            if row is None:
                db.execute(
                    "INSERT INTO events(content_hash, version, start, end, status, organizer,"
                    " attendees, summary, all_day, account_id, scope, key)"
                    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    [*values, self.account_id, scope, key],
                )
            elif row[1] != ev.hash:
                db.execute(
                    "UPDATE events SET content_hash=?, version=?, start=?, end=?, status=?,"
                    " organizer=?, attendees=?, summary=?, all_day=? WHERE id=?",
                    [*values, row[0]],
                )
            else:
                stats.duplicates += 1
                continue
            stats.events += 1
            affected.add(key)
        derive_events(db, sorted(affected), book, self.me, self.max_attendees)


def _undated_reason(obs: MailObservation) -> str:
    """Why a copy without a time is quarantined."""
    flaws = obs.summary.flaws if obs.summary else ()
    return "no usable Date or Received time" + (f" ({'; '.join(flaws)})" if flaws else "")


def insert_touchpoints(db: sqlite_utils.Database, rows: Sequence[tuple]) -> None:
    """Insert touchpoints ``(kind, ref, address, at, name)`` and mark their addresses for
    the rules engine's incremental evaluation (:func:`rules.dirty.mark_addresses`).

    The one way to add touchpoints: since m009 no per-row trigger marks them
    (deletes and updates still do). The caller owns the transaction.
    """
    if not rows:
        return
    db.conn.executemany(
        "INSERT INTO touchpoints(kind, ref, address, at, name) VALUES (?, ?, ?, ?, ?)", rows
    )
    mark_addresses(db, (row[2] for row in rows))


def derive_messages(
    db: sqlite_utils.Database,
    message_ids: list[int],
    book: AddressBook,
    me: frozenset[str],
    broadcast_threshold: int,
) -> None:
    """Replace the email touchpoints of ``message_ids`` with freshly derived ones."""
    execute_in(
        db,
        "DELETE FROM touchpoints WHERE kind IN (?, ?) AND ref IN (?...)",
        message_ids,
        before=(EMAIL_IN, EMAIL_OUT),
    )
    rows = []
    for row in select_in(db, f"{_STATE_SELECT} WHERE id IN (?...)", message_ids):
        rows.extend(touchpoint_rows(from_row(row), me, broadcast_threshold))
    book.ensure(r[2] for r in rows)
    insert_touchpoints(db, rows)


def _by_address_and_time(row: tuple) -> tuple:
    return row[2], row[3]


def derive_events(
    db: sqlite_utils.Database,
    keys: list[str],
    book: AddressBook,
    me: frozenset[str],
    max_attendees: int,
) -> None:
    """Replace the meeting touchpoints of the instances ``keys`` with freshly derived ones.

    Of several rows for one key (one per source), the highest (version, hash)
    wins; its id is the touchpoints' ``ref``.
    """
    candidates: dict[str, tuple] = {}
    for row in select_in(
        db,
        "SELECT key, version, content_hash, id, status, organizer, attendees, end"
        " FROM events WHERE key IN (?...)",
        keys,
    ):
        rank = (tuple(json.loads(row[1])), row[2], -row[3])
        if row[0] not in candidates or rank > candidates[row[0]][0]:
            candidates[row[0]] = (rank, row)
    execute_in(
        db,
        "DELETE FROM touchpoints WHERE kind = ? AND ref IN"
        " (SELECT id FROM events WHERE key IN (?...))",
        keys,
        before=(MEETING,),
    )
    rows = []
    for _, (_, _, _, id_, status, organizer, attendees, end) in candidates.values():
        people = json.loads(attendees)
        triples = [(a, c, p) for a, c, p, _ in people]
        for address in meeting_participants(status, organizer, triples, me, max_attendees):
            name = next((n for a, _, _, n in people if a == address and n), None)
            rows.append((MEETING, id_, address, end, name))
    book.ensure(r[2] for r in rows)
    insert_touchpoints(db, rows)


def rederive_all(db: sqlite_utils.Database) -> None:
    """Recompute every touchpoint (after my addresses or thresholds changed)."""
    me = my_keys(db)
    with db.atomic():
        book = AddressBook(db)
        db.execute("DELETE FROM touchpoints")
        ids = [r[0] for r in db.execute("SELECT id FROM messages ORDER BY id")]
        derive_messages(db, ids, book, me, get_setting(db, "broadcast_threshold", 20))
        keys = [r[0] for r in db.execute("SELECT DISTINCT key FROM events ORDER BY key")]
        derive_events(db, keys, book, me, get_setting(db, "max_meeting_attendees", 20))
