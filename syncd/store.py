"""The SQLite store: one file, WAL, foreign keys, versioned migrations.

All state lives here (config and secrets do not). Writers use
:meth:`sqlite_utils.Database.atomic` explicitly; a sync batch, its derived
touchpoints and its cursor are committed together.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils import Migrations

migrations = Migrations("syncd")


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    """The foundation schema."""
    db.executescript(
        """
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            address TEXT,
            settings TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE TABLE cursors (
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            PRIMARY KEY (account_id, scope)
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            canonical_hash TEXT NOT NULL,
            sender TEXT,
            sent_at INTEGER,
            subject TEXT NOT NULL DEFAULT '',
            recipients TEXT NOT NULL,
            bulk TEXT,
            signals TEXT,
            copies INTEGER NOT NULL DEFAULT 1,
            in_reply_to TEXT,
            thread_root TEXT,
            names TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE message_keys (
            key TEXT PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id)
        ) WITHOUT ROWID;
        CREATE INDEX message_keys_message ON message_keys(message_id);
        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            folder TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            locator TEXT NOT NULL,
            headers TEXT NOT NULL,
            labels TEXT,
            received_at INTEGER,
            skipped TEXT,
            message_id INTEGER REFERENCES messages(id),
            UNIQUE (account_id, folder, content_hash)
        );
        CREATE INDEX observations_message ON observations(message_id);
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            version TEXT NOT NULL,
            start INTEGER NOT NULL,
            end INTEGER NOT NULL,
            status TEXT NOT NULL,
            organizer TEXT,
            attendees TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '',
            all_day INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX events_scope ON events(account_id, scope);
        CREATE TABLE people (
            id INTEGER PRIMARY KEY,
            name TEXT,
            tier_pin TEXT,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now'))
        );
        CREATE TABLE addresses (
            address TEXT PRIMARY KEY,
            match_key TEXT NOT NULL,
            person_id INTEGER NOT NULL REFERENCES people(id),
            name TEXT
        ) WITHOUT ROWID;
        CREATE INDEX addresses_key ON addresses(match_key);
        CREATE INDEX addresses_person ON addresses(person_id);
        CREATE TABLE my_addresses (
            match_key TEXT PRIMARY KEY,
            address TEXT NOT NULL,
            source TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE touchpoints (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            ref INTEGER NOT NULL,
            address TEXT NOT NULL REFERENCES addresses(address),
            at INTEGER NOT NULL,
            name TEXT
        );
        CREATE INDEX touchpoints_ref ON touchpoints(kind, ref);
        CREATE INDEX touchpoints_address ON touchpoints(address, at);
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
            scope TEXT NOT NULL,
            locator TEXT NOT NULL,
            reason TEXT NOT NULL,
            excerpt BLOB,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ','now')),
            UNIQUE (account_id, scope, locator)
        );
        CREATE TABLE settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) WITHOUT ROWID;
        """
    )


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Open (creating if needed) the store at ``path`` and apply pending migrations."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Autocommit at the driver level: every transaction is explicit (db.atomic()).
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)
    db = sqlite_utils.Database(conn)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("PRAGMA synchronous=NORMAL")
    migrations.apply(db)
    return db


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


def ensure_account(
    db: sqlite_utils.Database, name: str, kind: str, address: str | None = None
) -> int:
    """The id of account ``name``, creating it if needed."""
    row = db.execute("SELECT id FROM accounts WHERE name = ?", [name]).fetchone()
    if row:
        return row[0]
    with db.atomic():
        cur = db.execute(
            "INSERT INTO accounts(name, kind, address) VALUES (?, ?, ?)", [name, kind, address]
        )
    return cur.lastrowid
