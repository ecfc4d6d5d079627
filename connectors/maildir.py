"""Maildir and trees of .eml files: every regular file is one message.

Folders are directories relative to the import root (``cur``/``new``/``tmp``
are not folders of their own). Only the header block of each file is read.
Cursor per file: size and mtime; an unchanged file is not opened again.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from connectors.base import Batch, Cursor, MailObservation, Quarantined, Reader
from connectors.localfiles import account_paths, folder_name, unchanged, walk_files
from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from syncd.mail.metadata import content_hash, header_block, scan_headers, summarize

BATCH_FILES = 2000
READ_STEP = 65536
MAX_HEADER_BYTES = 4 * 1024 * 1024


def read_header_bytes(path: Path) -> bytes:
    """The header block of a message file, reading no more of the body than needed."""
    data = b""
    with open(path, "rb") as fh:
        while len(data) < MAX_HEADER_BYTES:
            chunk = fh.read(READ_STEP)
            if not chunk:
                break
            data += chunk
            block = header_block(data)
            if len(block) < len(data):
                return block
    return header_block(data)


class MaildirReader:
    """Reads every regular file under the given paths as one message."""

    def __init__(self, paths: list[Path]):
        self.paths = [Path(p).resolve() for p in paths]

    def _files(self) -> list[tuple[str, Path]]:
        return [
            (folder_name(root, path, strip_maildir=True), path)
            for root, path in walk_files(self.paths)
        ]

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Number of files to read."""
        return sum(1 for _, p in self._files() if not unchanged(cursors.get(str(p)), p.stat()))

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Yield batches of up to 2000 files each, with their cursors (then a batch
        counting the unchanged files)."""
        batch = Batch()
        skipped = Batch()
        for folder, path in self._files():
            st = path.stat()
            scope = str(path)
            cursor = cursors.get(scope)
            if unchanged(cursor, st):
                skipped.unchanged += 1
                skipped.known += cursor.get("messages", 1)
                continue
            try:
                block = read_header_bytes(path)
            except OSError as exc:
                batch.quarantined.append(Quarantined(folder, scope, f"unreadable: {exc.strerror}"))
                block = None
            messages = 0
            if block is not None:
                headers = scan_headers(block)
                if headers:
                    obs = MailObservation(folder=folder, locator=scope, headers=headers)
                    obs.summary = summarize(headers, None)
                    obs.hash = content_hash(headers)
                    batch.mail.append(obs)
                    messages = 1
                else:
                    batch.quarantined.append(
                        Quarantined(folder, scope, "no recognisable headers", block[:4096])
                    )
            batch.cursors[scope] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "done": True,
                "messages": messages,
            }
            batch.progress += 1
            if batch.progress >= BATCH_FILES:
                yield batch
                batch = Batch()
        if batch.progress:
            yield batch
        if skipped.unchanged:
            yield skipped


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a ``maildir`` account: every message file under its ``paths``."""
    return MaildirReader(account_paths(account))
