"""Run a connector's reader into the store, batch by batch."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import sqlite_utils

from connectors.base import Cursor, Reader
from syncd.ingest import Ingestor, IngestStats

log = logging.getLogger(__name__)


def load_cursors(db: sqlite_utils.Database, account_id: int) -> dict[str, Cursor]:
    """All committed cursors of an account, by scope."""
    return {
        scope: json.loads(value)
        for scope, value in db.execute(
            "SELECT scope, value FROM cursors WHERE account_id = ?", [account_id]
        )
    }


def run_reader(
    db: sqlite_utils.Database,
    account_id: int,
    reader: Reader,
    on_progress: Callable[[int, IngestStats], None] | None = None,
) -> IngestStats:
    """Fetch everything new from ``reader`` and commit it batch by batch."""
    cursors = load_cursors(db, account_id)
    ingestor = Ingestor(db, account_id)
    total = IngestStats()
    for batch in reader.fetch(cursors):
        stats = ingestor.apply(batch)
        total.add(stats)
        log.debug("batch committed: %s", stats)
        if on_progress is not None:
            on_progress(batch.progress, total)
    return total
