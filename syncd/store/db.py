"""The SQLite store: one file, WAL, foreign keys, versioned migrations.

All state lives here (config and secrets do not). Writers use
:meth:`sqlite_utils.Database.atomic` explicitly; a sync batch, its derived
touchpoints and its cursor are committed together.

Several processes share one store (two imports, an import while the daemon
syncs), so: the file and its WAL are private to the user (0600); pending
migrations are applied once, inside one ``BEGIN IMMEDIATE`` transaction (a
second process waits, then finds nothing pending); and every transaction
takes the write lock up front (:class:`Store`), so a writer waits for another
under the busy timeout instead of failing at once with "database is locked"
(SQLite refuses, without waiting, to upgrade a read transaction to a write
when another connection committed in between).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils

from syncd.store.migrations import migrations

log = logging.getLogger(__name__)


def _as_is(value: bytes | None) -> bytes | None:
    """A parameter bound as it is (NULL, or a BLOB)."""
    return value


# CPython 3.11's sqlite3 binds int, float and str directly but sends None and bytes
# through its adaptation protocol, which looks ``__adapt__`` up on a type that has none:
# an AttributeError formatted and cleared for every NULL bound (about 2,000 instructions;
# a bulk import binds some 7 NULLs a message). A registered adapter is a dict hit instead.
# Process-wide, and the same values are bound.
sqlite3.register_adapter(type(None), _as_is)
sqlite3.register_adapter(bytes, _as_is)

BUSY_TIMEOUT = 30.0  # seconds a connection waits for another's write lock
PRIVATE_MODE = 0o600
_STORE_SUFFIXES = ("", "-wal", "-shm", "-journal")


class Store(sqlite_utils.Database):
    """A :class:`sqlite_utils.Database` whose transactions take the write lock up front.

    The outermost :meth:`atomic` block begins with ``BEGIN IMMEDIATE`` (nested ones
    are savepoints, as in sqlite-utils), so it waits for a concurrent writer under
    the busy timeout and never fails half-way when it starts writing.

    sqlite-utils plugins are not run on it: the store is syncd's own, so a plugin
    installed beside syncd for another use must not change its connections (and
    looking them up scans every installed package's entry points, ~40 ms per process).
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn, execute_plugins=False)

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Store]:
        """A transaction holding the write lock from its first statement (a savepoint
        when one is already open)."""
        if self.conn.in_transaction:
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    def _executescript(self, sql: str) -> sqlite3.Cursor:
        """sqlite-utils' :meth:`executescript` with statements split in linear time (its
        own splitter joins the text again at every character: 0.07 s of the migrations
        of a new store). Inside a transaction each statement runs on its own, as there
        (``sqlite3``'s executescript would commit first)."""
        if not self.conn.in_transaction:
            return self.conn.executescript(sql)
        cursor = self.conn.cursor()
        for statement in split_statements(sql):
            cursor.execute(statement)
        return cursor


def split_statements(sql: str) -> Iterator[str]:
    """The complete SQL statements of ``sql`` (stripped), then whatever text follows the
    last one: what sqlite-utils' character-by-character splitter yields, in linear time
    (a statement can only be completed by a semicolon)."""
    pieces = sql.split(";")
    current = ""
    for piece in pieces[:-1]:
        current += piece + ";"
        statement = current.strip()
        if sqlite3.complete_statement(statement):
            yield statement
            current = ""
    rest = (current + pieces[-1]).strip()
    if rest:
        yield rest


def _make_private(path: Path) -> None:
    """Create the store file 0600 when it is missing (SQLite gives its WAL, shared-memory
    and journal files the database file's mode); take group and other access away from
    an existing one and from those files.

    An existing store is never opened here: closing a descriptor of it would drop the
    POSIX locks another connection of this process holds on it.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
    for suffix in _STORE_SUFFIXES:
        part = path.with_name(path.name + suffix)
        try:
            mode = part.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            os.chmod(part, mode & 0o700)


def _use_wal(db: sqlite_utils.Database) -> None:
    """Switch the store to WAL, once. SQLite answers a concurrent switch with "database
    is locked" without calling the busy handler, so this retries within the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


MEMORY = ":memory:"


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed, 0600) the store at ``path`` and apply pending migrations.

    ``":memory:"`` opens a private in-memory store (tests, benchmarks).
    """
    if str(path) != MEMORY:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _make_private(path)
    # Autocommit at the driver level: every transaction is explicit (db.atomic()).
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT, isolation_level=None)
    db = Store(conn)
    _use_wal(db)
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    # A 16 MiB page cache (used only as needed) and a WAL checkpoint every 32 MiB
    # instead of 4: bulk imports rewrite fewer index pages and sync less often.
    db.execute("PRAGMA cache_size=-16384")
    db.execute("PRAGMA wal_autocheckpoint=8192")
    apply_migrations(db)
    return db


def apply_migrations(db: sqlite_utils.Database) -> None:
    """Apply the pending migrations once, however many processes open the store at once.

    The check for pending work only reads; the work itself runs in one
    ``BEGIN IMMEDIATE`` transaction, which re-checks under the write lock, so a
    second process waits for the first and then applies nothing.
    """
    if not migrations.pending(db):
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        migrations.apply(db)
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


CHUNK = 500  # values per ``IN (...)`` list: well under SQLite's bound-parameter limit


IN_LIST = "(?...)"  # in the SQL of select_in / execute_in: the list of values


def select_in(
    db: sqlite_utils.Database,
    sql: str,
    values: Sequence,
    before: Sequence = (),
    after: Sequence = (),
) -> Iterator[tuple]:
    """The rows of ``sql`` for all of ``values``, whose one :data:`IN_LIST` stands for
    the values, sent :data:`CHUNK` at a time (SQLite bounds the parameters of a
    statement); ``before`` and ``after`` are the parameters on either side of it.

    Rows come chunk by chunk, so an ``ORDER BY`` holds within a chunk only. Each chunk's
    statement runs when the rows reach it (the caller's loop costs no generator frame
    per row)."""
    return itertools.chain.from_iterable(
        db.execute(statement, params) for statement, params in _chunked(sql, values, before, after)
    )


def execute_in(
    db: sqlite_utils.Database,
    sql: str,
    values: Sequence,
    before: Sequence = (),
    after: Sequence = (),
) -> None:
    """Run a statement without rows (``DELETE``, ``UPDATE``) for all of ``values``, as
    :func:`select_in` does."""
    for statement, params in _chunked(sql, values, before, after):
        db.execute(statement, params)


def _chunked(
    sql: str, values: Sequence, before: Sequence, after: Sequence
) -> Iterator[tuple[str, list]]:
    head, found, tail = sql.partition(IN_LIST)
    if not found or IN_LIST in tail:
        raise ValueError(f"the statement needs exactly one {IN_LIST}: {sql}")
    for start in range(0, len(values), CHUNK):
        chunk = values[start : start + CHUNK]
        yield f"{head}({','.join('?' * len(chunk))}){tail}", [*before, *chunk, *after]


def messages_by_key(
    db: sqlite_utils.Database, keys: list[int], pending: Mapping[int, int] | None = None
) -> dict[int, int]:
    """The live logical message of each stored key among ``keys`` (``key64`` values).

    A key stays with the message it was stored with; if that message was
    merged into another, ``message_aliases`` names the survivor. ``pending``
    holds keys written in this transaction but not yet inserted (key -> the
    message it was stored with); they are found there, not looked up.
    """
    found: dict[int, int] = {}
    if pending:
        found = {k: pending[k] for k in keys if k in pending}
        if found:
            keys = [k for k in keys if k not in found]
    found.update(
        select_in(db, "SELECT key, message_id FROM message_keys WHERE key IN (?...)", keys)
    )
    if found:
        alias = dict(
            select_in(
                db,
                "SELECT id, message_id FROM message_aliases WHERE id IN (?...)",
                sorted(set(found.values())),
            )
        )
        if alias:
            found = {key: alias.get(mid, mid) for key, mid in found.items()}
    return found


def get_setting(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    """A JSON value from the ``settings`` table."""
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return json.loads(row[0]) if row else default


def put_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
    """Store a JSON value in the ``settings`` table (caller owns the transaction)."""
    db.execute(
        "INSERT INTO settings(key, value) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [key, json.dumps(value)],
    )


@contextlib.contextmanager
def write_transaction(db: sqlite_utils.Database) -> Iterator[bool]:
    """A write transaction that takes the write lock up front (a store from
    :func:`open_db` begins with ``BEGIN IMMEDIATE``: see :meth:`Store.atomic`); a savepoint
    when the caller already has a transaction. Yields whether it is the outermost one
    (whether other connections see the same data)."""
    outermost = not db.conn.in_transaction
    with db.atomic():
        yield outermost


def rollback(db: sqlite_utils.Database) -> None:
    """Roll back the connection's open transaction, if there is one (on shutdown)."""
    if db.conn.in_transaction:
        db.conn.execute("ROLLBACK")


def release_cache(db: sqlite_utils.Database) -> None:
    """Free the connection's page cache (``PRAGMA shrink_memory``), up to 16 MB after a
    large query; the pages are read again, from the OS cache, when next needed."""
    db.execute("PRAGMA shrink_memory")


@contextlib.contextmanager
def checkpoint_beside(db: sqlite_utils.Database) -> Iterator[None]:
    """Copy the WAL into the store file while the body runs: a passive checkpoint (it
    waits for no one, and no one waits for it) on a connection of its own, in a thread.

    The last connection to close checkpoints the WAL, alone and at the very end (a bulk
    import's last group: ~0.1 s at 50k messages); done beside the work that follows the
    last commit, only what that work writes is left to the close. Nothing happens for
    a store without a file or not in WAL mode. A failed checkpoint is only logged: the
    WAL keeps the data, and the close tries again.
    """
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if not path or db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        yield
        return

    def checkpoint() -> None:
        try:
            conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None)
            try:
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                conn.close()
        except sqlite3.Error:
            log.debug("background WAL checkpoint failed", exc_info=True)

    thread = threading.Thread(target=checkpoint, name="wal-checkpoint", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join()


def optimize(db: sqlite_utils.Database) -> None:
    """Let SQLite refresh the planner statistics that are stale (``PRAGMA optimize``)."""
    db.execute("PRAGMA optimize")
