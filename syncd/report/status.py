"""The store's figures that ``syncd status`` shows (read-only)."""

from __future__ import annotations

import sqlite_utils

from syncd.config.schema import AccountConfig
from syncd.pipeline.accounts import account_states, last_sync, stored_accounts


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


def account_rows(db: sqlite_utils.Database, configured: dict[str, AccountConfig]) -> list[dict]:
    """Every stored or configured account with its last sync, result, errors and figures:
    what ``syncd status`` and ``syncd account list`` both show."""
    states = {s.account_id: s for s in account_states(db)}
    rows = stored_accounts(db)
    known = {r[1] for r in rows}
    rows += [(None, a.name, a.kind, a.address) for a in configured.values() if a.name not in known]
    out = []
    for aid, name, kind, address in rows:
        state = states.get(aid)
        account = configured.get(name)
        out.append(
            {
                "name": name,
                "kind": kind,
                "address": address,
                "configured": account is not None,
                "enabled": bool(account and account.enabled),
                "last_sync_started": state.last_started if state else None,
                "last_sync_finished": state.last_finished if state else None,
                "last_result": state.last_result if state else None,
                "last_error": state.last_error if state else None,
                "failures": state.failures if state else 0,
                "retry_after": state.retry_after if state else None,
                "needs_auth": bool(state and state.needs_auth),
                **account_figures(db, aid),
            }
        )
    return out
