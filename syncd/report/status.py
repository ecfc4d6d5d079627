"""The store's figures that ``syncd status`` shows (read-only)."""

from __future__ import annotations

import sqlite_utils

from syncd.pipeline.accounts import last_sync


def account_figures(db: sqlite_utils.Database, account_id: int | None) -> dict:
    """Stored copies, quarantined items and the last cursor move of one account
    (``account_id`` None: an account configured but never synced)."""
    return {
        "observations": db.execute(
            "SELECT count(*) FROM observations WHERE account_id = ?", [account_id]
        ).fetchone()[0],
        "quarantined": db.execute(
            "SELECT count(*) FROM quarantine WHERE account_id = ?", [account_id]
        ).fetchone()[0],
        "last_sync": last_sync(db, account_id),
    }


def store_figures(db: sqlite_utils.Database) -> dict:
    """Copies, logical messages, events, people, touchpoints and quarantined items stored."""

    def one(sql: str) -> int:
        return db.execute(sql).fetchone()[0]

    bulk = dict(
        db.execute(
            "SELECT CASE WHEN signals IS NOT NULL THEN 'source signal' ELSE 'headers' END, count(*)"
            " FROM messages WHERE bulk IS NOT NULL OR signals IS NOT NULL GROUP BY 1"
        ).fetchall()
    )
    return {
        "observations": one("SELECT count(*) FROM observations"),
        "skipped_copies": one("SELECT count(*) FROM observations WHERE skipped IS NOT NULL"),
        "logical_messages": one("SELECT count(*) FROM messages"),
        "bulk_messages": bulk.get("headers", 0),
        "source_signal_messages": bulk.get("source signal", 0),
        "events": one("SELECT count(*) FROM events"),
        "people": one(
            "SELECT count(DISTINCT a.person_id) FROM touchpoints t"
            " JOIN addresses a ON a.address = t.address"
        ),
        "touchpoints": one("SELECT count(*) FROM touchpoints"),
        "quarantined": one("SELECT count(*) FROM quarantine"),
    }
