"""The sync engine: run every configured account's connector into the store.

Each account is synced on its own: a failure is recorded in
``account_state`` (with backoff for transient errors and a ``needs_auth``
mark for revoked grants) and never stops the other accounts. A
:class:`~syncd.core.errors.CursorExpired` from a connector drops that account's
cursors and runs a full resync once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlite_utils

import connectors
from syncd.config.schema import AccountConfig, Config
from syncd.core.errors import AuthRequired, CursorExpired, SyncdError, TransientError
from syncd.core.home import Home
from syncd.pipeline.accounts import drop_cursors, ensure_account, failures, record_state
from syncd.pipeline.identity import add_my_addresses
from syncd.pipeline.ingest import IngestStats, rederive_all
from syncd.pipeline.runner import run_reader

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(hours=6)


@dataclass(slots=True)
class AccountResult:
    """The outcome of one account's sync."""

    name: str
    ok: bool
    stats: IngestStats
    error: str | None = None
    needs_auth: bool = False


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sync_account(
    db: sqlite_utils.Database,
    home: Home,
    account: AccountConfig,
    on_progress: Callable[[int, IngestStats], None] | None = None,
) -> AccountResult:
    """Sync one account; errors are recorded and returned, never raised.

    ``on_progress`` is called after each committed batch; whatever it raises
    (the daemon's stop request) propagates, at a batch boundary.
    """
    account_id = ensure_account(db, account.name, account.kind, account.address)
    mine = [a for a in [account.address, *account.me] if a]
    if mine and add_my_addresses(db, mine, source=f"account:{account.name}"):
        rederive_all(db)
    record_state(db, account_id, last_started=_now())
    stats = IngestStats()
    try:
        try:
            stats = run_reader(db, account_id, connectors.open_reader(account, home), on_progress)
        except CursorExpired as exc:
            log.warning("account %s: cursor expired (%s); full resync", account.name, exc)
            drop_cursors(db, account_id)
            stats = run_reader(db, account_id, connectors.open_reader(account, home), on_progress)
    except AuthRequired as exc:
        record_state(db, account_id, last_finished=_now(), last_result="needs-auth",
                     last_error=str(exc), needs_auth=1)  # fmt: skip
        return AccountResult(account.name, False, stats, str(exc), needs_auth=True)
    except (SyncdError, OSError) as exc:
        failed = failures(db, account_id) + 1
        delay = getattr(exc, "retry_after", None) if isinstance(exc, TransientError) else None
        backoff = (
            timedelta(seconds=delay) if delay else min(timedelta(minutes=2**failed), MAX_BACKOFF)
        )
        retry = (datetime.now(UTC) + backoff).strftime("%Y-%m-%dT%H:%M:%SZ")
        record_state(db, account_id, last_finished=_now(), last_result="error",
                     last_error=str(exc), failures=failed, retry_after=retry)  # fmt: skip
        log.warning("account %s: sync failed: %s", account.name, exc)
        return AccountResult(account.name, False, stats, str(exc))
    record_state(db, account_id, last_finished=_now(), last_result="ok", last_error=None,
                 failures=0, retry_after=None, needs_auth=0,
                 items=stats.observations + stats.events)  # fmt: skip
    return AccountResult(account.name, True, stats)


def sync_all(
    db: sqlite_utils.Database,
    home: Home,
    config: Config,
    on_progress: Callable[[int, IngestStats], None] | None = None,
) -> list[AccountResult]:
    """Sync every enabled account, one after the other (``on_progress``: see sync_account)."""
    if config.me and add_my_addresses(db, config.me, source="config"):
        rederive_all(db)
    return [
        sync_account(db, home, account, on_progress)
        for account in config.accounts.values()
        if account.enabled
    ]
