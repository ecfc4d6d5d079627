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

An import cannot be misread: a file named on the command line that is plainly
of another kind (an .ics given as mbox, binary data, an archive) is refused
before anything is read, naming the import that reads it
(:func:`check_files`); an import that found nothing at all, or only items it
had to quarantine, is an error (:meth:`LocalImport.check`), never "imported 0".
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

import connectors
from connectors.base import Reader
from connectors.localfiles import sniff, walk_files
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.pipeline.accounts import ensure_account, load_cursors
from syncd.pipeline.identity import add_my_addresses
from syncd.pipeline.ingest import IngestStats, rederive_all
from syncd.pipeline.runner import run_reader

LOCAL_ACCOUNT = "local"
IMPORT_KINDS = ("mbox", "maildir", "ics", "gmail-json")
# Commit an import every ~8 s (or GROUP_ITEMS items, see run_reader). Each commit writes every
# page its group dirtied, and the random 64-bit logical-message keys dirty nearly every
# leaf page of message_keys per group once the table is large: fewer, larger groups
# write each page less often (bench/RESULTS.md, Ingest), while GROUP_ITEMS keeps the
# last group, committed after the parse workers are done, short. Another writer (the
# daemon) waits for the lock within the 30 s busy timeout.
IMPORT_GROUP_SECONDS = 8.0
ICS_HORIZON_SECONDS = 2 * 365 * 86400

ProgressCallback = Callable[[int, IngestStats], None]

# What each import reads, what :func:`connectors.localfiles.sniff` may find in a file it
# accepts, and which import reads what sniff finds.
NOUNS = {
    "mbox": "an mbox file",
    "maildir": "an email message file",
    "ics": "an iCalendar (.ics) file",
    "gmail-json": "a file of Gmail API message resources",
}
ITEMS = {"mbox": "messages", "maildir": "messages", "ics": "events", "gmail-json": "messages"}
ACCEPTS = {
    "mbox": frozenset({"mbox", "message", "empty", "text"}),
    "maildir": frozenset({"message", "empty", "text"}),
    "ics": frozenset({"ics", "empty", "text"}),
}
LOOKS_LIKE = {
    "mbox": ("an mbox file", "mbox"),
    "message": ("one email message", "maildir"),
    "ics": ("an iCalendar file", "ics"),
    "json": ("JSON", "gmail-json"),
}


@dataclass(slots=True)
class LocalImport:
    """An import ready to run: its reader and the work ahead (0 when unknown)."""

    db: sqlite_utils.Database
    account_id: int
    kind: str
    reader: Reader
    total: int
    paths: tuple[Path, ...] = ()

    def run(self, on_progress: ProgressCallback | None = None) -> IngestStats:
        """Read everything new into the store; ``on_progress(units, stats)`` after each batch."""
        return run_reader(
            self.db, self.account_id, self.reader, on_progress, group_seconds=IMPORT_GROUP_SECONDS
        )

    def check(self, stats: IngestStats) -> None:
        """Raise :class:`UserError` when the import found nothing it could use: no file, no
        message or event (only quarantined items), and nothing unchanged since before."""
        if stats.observations or stats.skipped or stats.events or stats.duplicates:
            return
        if stats.unchanged and not stats.quarantined:
            return  # read before (by a syncd that did not count what they held)
        where = " ".join(shlex.quote(str(p)) for p in self.paths) or "the paths given"
        items = ITEMS.get(self.kind, "items")
        if stats.quarantined:
            n = stats.quarantined
            raise UserError(
                f"no {items} found in {where}, only what could not be read: {n} "
                f"item{'s' if n != 1 else ''} quarantined (`syncd quarantine list` shows why)"
            )
        if next(walk_files(list(self.paths)), None) is None:
            raise UserError(f"nothing to import: {where} holds no files")
        raise UserError(f"nothing to import: no {items} found in {where}")


def check_files(kind: str, paths: Sequence[Path]) -> None:
    """Refuse a file named in ``paths`` that is plainly not of ``kind`` (another import's
    kind, binary data, a compressed archive), before anything is read or stored.
    Directories are left to :meth:`LocalImport.check`."""
    accepts = ACCEPTS.get(kind)
    if accepts is None:
        return  # gmail-json checks its own files, line by line
    for path in paths:
        if not path.is_file():
            continue
        try:
            found = sniff(path)
        except OSError as exc:
            raise UserError(f"cannot read {path}: {exc.strerror}") from None
        if found in accepts:
            continue
        if found == "compressed":
            raise UserError(f"{path} is compressed: unpack it first, then import what it holds")
        if found not in LOOKS_LIKE:
            raise UserError(f"{path} is not {NOUNS[kind]}: it holds {found} data")
        looks, other = LOOKS_LIKE[found]
        raise UserError(
            f"{path} looks like {looks}, not {NOUNS[kind]}: "
            f"import it with `syncd import {other} {shlex.quote(str(path))}`"
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
    check_files(kind, paths)
    account_id = ensure_account(db, LOCAL_ACCOUNT, "local")
    if me and add_my_addresses(db, list(me), source="user"):
        rederive_all(db)
    reader = connectors.open_reader(import_account(kind, paths, now, options), home)
    total = reader.estimate(load_cursors(db, account_id))
    return LocalImport(db, account_id, kind, reader, total, tuple(paths))


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
