"""One-shot import of local exports (``syncd import``, the demo) into the ``local`` account.

The files are read through the same seam as a configured account: the
connector's ``open_reader`` (:func:`connectors.open_reader`) on an account of
the import's kind whose ``paths`` option lists the files, so an import and a
sync of an ``mbox`` account read alike. Cursors are kept per file under the
``local`` account, so re-importing an unchanged file does no work.

Nothing here prints: :func:`prepare_import` returns the work ahead
(:attr:`LocalImport.total`, in the reader's units) and
:meth:`LocalImport.run` takes an ``on_progress`` callback, which the CLI
turns into a progress bar.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

import connectors
from connectors.base import Reader
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.pipeline.accounts import ensure_account, load_cursors
from syncd.pipeline.identity import add_my_addresses
from syncd.pipeline.ingest import IngestStats, rederive_all
from syncd.pipeline.runner import run_reader

LOCAL_ACCOUNT = "local"
IMPORT_KINDS = ("mbox", "maildir", "ics", "gmail-json")
IMPORT_GROUP_SECONDS = 2.0  # commit an import every ~2 s (see run_reader)
ICS_HORIZON_SECONDS = 2 * 365 * 86400

ProgressCallback = Callable[[int, IngestStats], None]


@dataclass(slots=True)
class LocalImport:
    """An import ready to run: its reader and the work ahead (0 when unknown)."""

    db: sqlite_utils.Database
    account_id: int
    kind: str
    reader: Reader
    total: int

    def run(self, on_progress: ProgressCallback | None = None) -> IngestStats:
        """Read everything new into the store; ``on_progress(units, stats)`` after each batch."""
        return run_reader(
            self.db, self.account_id, self.reader, on_progress, group_seconds=IMPORT_GROUP_SECONDS
        )


def import_account(
    kind: str, paths: Sequence[Path], now: int, options: dict[str, Any] | None = None
) -> AccountConfig:
    """The account an import of ``paths`` reads through (see the module docstring).

    ``.ics`` recurrences are expanded two years past the later of ``now`` and
    the clock; ``options`` add connector options (``workers`` for mbox).
    """
    opts: dict[str, Any] = {"paths": [str(p) for p in paths]}
    if kind == "ics":
        opts["horizon_end"] = max(now, int(time.time())) + ICS_HORIZON_SECONDS
    opts.update(options or {})
    return AccountConfig(name=LOCAL_ACCOUNT, kind=kind, options=opts)


def prepare_import(
    db: sqlite_utils.Database,
    home: Home,
    kind: str,
    paths: Sequence[Path],
    me: Sequence[str] = (),
    now: int = 0,
    options: dict[str, Any] | None = None,
) -> LocalImport:
    """Open the ``kind`` reader over ``paths`` for the local account; ``me`` are my addresses."""
    if kind not in IMPORT_KINDS:
        raise UserError(f"cannot import {kind!r} files (importable: {', '.join(IMPORT_KINDS)})")
    account_id = ensure_account(db, LOCAL_ACCOUNT, "local")
    if me and add_my_addresses(db, list(me), source="user"):
        rederive_all(db)
    reader = connectors.open_reader(import_account(kind, paths, now, options), home)
    total = reader.estimate(load_cursors(db, account_id))
    return LocalImport(db, account_id, kind, reader, total)


def import_paths(
    db: sqlite_utils.Database,
    home: Home,
    kind: str,
    paths: Sequence[Path],
    me: Sequence[str] = (),
    now: int = 0,
    on_progress: ProgressCallback | None = None,
    options: dict[str, Any] | None = None,
) -> IngestStats:
    """Import ``paths`` with the ``kind`` connector into the local account (no progress bar)."""
    return prepare_import(db, home, kind, paths, me, now, options).run(on_progress)
