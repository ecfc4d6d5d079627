"""Run a connector's reader into the store, batch by batch."""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable

import sqlite_utils

from connectors.base import Reader
from syncd.core.gcpause import paused_gc
from syncd.pipeline.accounts import load_cursors
from syncd.pipeline.ingest import Ingestor, IngestStats
from syncd.pipeline.introductions import refresh as refresh_introductions
from syncd.store.db import checkpoint_beside

log = logging.getLogger(__name__)


# A group's commit writes its pages to the WAL and (past wal_autocheckpoint) copies the
# WAL into the store: while the parse workers still run, that work overlaps theirs; the
# last group's is done alone, after them. Groups of 12,500 items keep that last part
# short (a group of 50,000 was a whole 50k import: 0.2 s at the end, one core idle).
GROUP_ITEMS = 12_500


def run_reader(
    db: sqlite_utils.Database,
    account_id: int,
    reader: Reader,
    on_progress: Callable[[int, IngestStats], None] | None = None,
    group_seconds: float = 0.0,
) -> IngestStats:
    """Fetch everything new from ``reader`` and store it batch by batch.

    Each batch is applied atomically with its cursors. By default every batch
    is its own transaction. Bulk imports pass ``group_seconds``: batches are
    then committed in groups, every ``group_seconds`` or :data:`GROUP_ITEMS`
    items, and whenever the loop ends, also by an error or by a stop request
    raised from ``on_progress``; the batches applied so far are complete, so
    they are kept, while a batch that failed left nothing (a savepoint). One
    commit per group writes each hot index page once per group instead of
    once per batch. The write lock is held for the group, so the daemon, whose
    syncs share the store with the CLI, keeps one transaction per batch.
    """
    cursors = load_cursors(db, account_id)
    bulk = bool(group_seconds)
    ingestor = Ingestor(db, account_id, defer_keys=bulk)
    total = IngestStats()
    started = 0.0
    items = 0
    # A bulk import keeps the cyclic GC paused for its whole loop, not only while a batch
    # is built and while it is stored: in between, collections would walk each batch just
    # built (tens of thousands of objects) once more. (Syncs keep the pauses per batch.)
    pause = paused_gc() if bulk else contextlib.nullcontext()
    try:
        with pause:
            for batch in reader.fetch(cursors):
                if batch.only_counts():  # unchanged files: nothing to store, no transaction
                    total.add(IngestStats(duplicates=batch.known, unchanged=batch.unchanged))
                    if on_progress is not None:
                        on_progress(batch.progress, total)
                    continue
                if not db.conn.in_transaction:
                    db.execute("BEGIN IMMEDIATE")
                    started, items = time.monotonic(), 0
                with paused_gc():
                    stats = ingestor.apply(batch)
                total.add(stats)
                items += len(batch.mail) + len(batch.events)
                log.debug("batch applied: %s", stats)
                if items >= GROUP_ITEMS or time.monotonic() - started >= group_seconds:
                    ingestor.commit()
                if on_progress is not None:
                    on_progress(batch.progress, total)
    except BaseException:
        # Keep the batches applied before the failure; never hide the failure itself.
        if db.conn.in_transaction:
            try:
                ingestor.commit()
            except sqlite3.Error:
                log.exception("could not commit the batches applied before a failure")
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
        raise
    if db.conn.in_transaction:
        ingestor.commit()
    # A bulk import's WAL is copied into the store while the introductions are looked
    # for, not by the close after them (one core would idle through each in turn).
    with checkpoint_beside(db) if bulk else contextlib.nullcontext():
        refresh_introductions(db)  # from the stored headers, after every ingest
    return total
