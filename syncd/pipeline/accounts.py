"""Accounts and their sync bookkeeping: the owner of ``accounts``, ``account_state`` and
``cursors``.

An account row is created on its first sync or import. ``account_state`` holds
the last run of each account (result, error, backoff, the need for ``syncd
auth``); ``cursors`` the committed position of each of its scopes, written in
the same transaction as the batch they follow (:func:`save_cursors`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from connectors.base import Cursor

# -- accounts ----------------------------------------------------------------


def ensure_account(
    db: sqlite_utils.Database, name: str, kind: str, address: str | None = None
) -> int:
    """The id of account ``name``, creating it if needed."""
    row = db.execute("SELECT id FROM accounts WHERE name = ?", [name]).fetchone()
    if row:
        return row[0]
    with db.atomic():  # another process may create it meanwhile: then that one is it
        db.execute(
            "INSERT OR IGNORE INTO accounts(name, kind, address) VALUES (?, ?, ?)",
            [name, kind, address],
        )
        return db.execute("SELECT id FROM accounts WHERE name = ?", [name]).fetchone()[0]


def account_id(db: sqlite_utils.Database, name: str) -> int | None:
    """The id of the stored account ``name``, or None."""
    row = db.execute("SELECT id FROM accounts WHERE name = ?", [name]).fetchone()
    return row[0] if row else None


def stored_accounts(db: sqlite_utils.Database) -> list[tuple[int, str, str, str | None]]:
    """Every stored account as ``(id, name, kind, address)``, by id."""
    return db.execute("SELECT id, name, kind, address FROM accounts ORDER BY id").fetchall()


# -- account_state -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountState:
    """The last sync of one account, as stored (timestamps are ISO 8601 text)."""

    account_id: int
    name: str
    last_started: str | None
    last_finished: str | None
    last_result: str | None
    last_error: str | None
    failures: int
    retry_after: str | None
    needs_auth: int


_STATE_SELECT = (
    "SELECT s.account_id, a.name, s.last_started, s.last_finished, s.last_result,"
    " s.last_error, s.failures, s.retry_after, s.needs_auth"
    " FROM account_state s JOIN accounts a ON a.id = s.account_id"
)


def record_state(db: sqlite_utils.Database, account_id: int, **fields) -> None:
    """Update columns of the account's ``account_state`` row (created if missing)."""
    with db.atomic():
        db.execute("INSERT OR IGNORE INTO account_state(account_id) VALUES (?)", [account_id])
        sets = ", ".join(f"{k} = ?" for k in fields)
        db.execute(
            f"UPDATE account_state SET {sets} WHERE account_id = ?", [*fields.values(), account_id]
        )


def clear_auth(db: sqlite_utils.Database, account_id: int) -> None:
    """A new grant: the account no longer needs ``syncd auth`` and leaves backoff."""
    with db.atomic():
        db.execute(
            "UPDATE account_state SET needs_auth = 0, failures = 0, retry_after = NULL"
            " WHERE account_id = ?",
            [account_id],
        )


def failures(db: sqlite_utils.Database, account_id: int) -> int:
    """Failed syncs in a row of the account (0 when it has no state yet)."""
    row = db.execute(
        "SELECT failures FROM account_state WHERE account_id = ?", [account_id]
    ).fetchone()
    return row[0] if row else 0


def account_states(db: sqlite_utils.Database) -> list[AccountState]:
    """The sync state of every account that has one."""
    return [AccountState(*row) for row in db.execute(_STATE_SELECT)]


def account_state(db: sqlite_utils.Database, name: str) -> AccountState | None:
    """The sync state of account ``name``, if it has one."""
    row = db.execute(_STATE_SELECT + " WHERE a.name = ?", [name]).fetchone()
    return AccountState(*row) if row else None


def needing_auth(db: sqlite_utils.Database) -> list[str]:
    """Names of the accounts waiting for ``syncd auth``, sorted."""
    return [
        name
        for (name,) in db.execute(
            "SELECT a.name FROM account_state s JOIN accounts a ON a.id = s.account_id"
            " WHERE s.needs_auth = 1 ORDER BY a.name"
        )
    ]


# -- cursors -------------------------------------------------------------------


def load_cursors(db: sqlite_utils.Database, account_id: int) -> dict[str, Cursor]:
    """All committed cursors of an account, by scope."""
    return {
        scope: json.loads(value)
        for scope, value in db.execute(
            "SELECT scope, value FROM cursors WHERE account_id = ?", [account_id]
        )
    }


def save_cursors(db: sqlite_utils.Database, account_id: int, cursors: dict[str, Cursor]) -> None:
    """Store the cursors of a batch (the caller's transaction holds the batch too)."""
    for scope, cursor in cursors.items():
        db.execute(
            "INSERT INTO cursors(account_id, scope, value) VALUES (?, ?, ?) "
            "ON CONFLICT(account_id, scope) DO UPDATE SET value = excluded.value, "
            "updated_at = strftime('%Y-%m-%dT%H:%M:%SZ','now')",
            [account_id, scope, json.dumps(cursor)],
        )


def drop_cursors(db: sqlite_utils.Database, account_id: int) -> None:
    """Forget every cursor of the account: its next sync reads everything again."""
    with db.atomic():
        db.execute("DELETE FROM cursors WHERE account_id = ?", [account_id])


def last_sync(db: sqlite_utils.Database, account_id: int | None) -> str | None:
    """When a cursor of the account last moved (ISO 8601), or None."""
    return db.execute(
        "SELECT max(updated_at) FROM cursors WHERE account_id = ?", [account_id]
    ).fetchone()[0]
