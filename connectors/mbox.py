"""mbox files: every ``From `` line at the start of a line begins a message.

Only header blocks are read (a lean byte scanner over an mmap); bodies are
skipped with ``find``. Large files are scanned in parallel chunks by a process
pool. Cursor per file: size, mtime, the offset read up to and a sampled hash
of that prefix; an appended mbox is read from that offset only.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from email.utils import parsedate_tz
from pathlib import Path

from connectors.base import Batch, Cursor, MailObservation, Quarantined
from connectors.localfiles import folder_name, prefix_sample, unchanged, walk_files
from syncd.mailmeta import content_hash, scan_headers, summarize

BATCH_BYTES = 8 * 1024 * 1024
SEPARATOR = b"\nFrom "


def _envelope_time(line: bytes) -> int | None:
    """The date of an mbox ``From sender date`` line, as epoch seconds."""
    import calendar

    parts = line.decode("latin-1").split(None, 2)
    if len(parts) < 3:
        return None
    parsed = parsedate_tz(parts[2])
    if parsed is None:
        return None
    try:
        return calendar.timegm(parsed[:9]) - (parsed[9] or 0)
    except (ValueError, OverflowError):
        return None


def scan_range(
    path: str, folder: str, start: int, end: int
) -> tuple[list[MailObservation], list[Quarantined]]:
    """Parse the messages that begin in ``[start, end)`` of an mbox file.

    ``start`` must be a message start (offset 0 or just after a newline
    followed by ``From ``). A message runs until the next separator, even
    past ``end``.
    """
    mail: list[MailObservation] = []
    bad: list[Quarantined] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0 or start >= size:
            return mail, bad
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            pos = start
            while pos < end:
                nxt = mm.find(SEPARATOR, pos)
                msg_end = size if nxt < 0 else nxt + 1
                line_end = mm.find(b"\n", pos, msg_end)
                if line_end < 0:
                    line_end = msg_end
                first = mm[pos:line_end]
                # The From_ line's date is whoever wrote the mbox (Enron's is the
                # conversion date), not the server's receipt time: never a fallback.
                received = None
                body_start = line_end + 1 if first.startswith(b"From ") else pos
                head_end = _header_end(mm, body_start, msg_end)
                block = mm[body_start:head_end]
                locator = f"{path}:{pos}"
                headers = scan_headers(block)
                if not headers:
                    if block.strip():
                        bad.append(Quarantined(folder, locator, "no recognisable headers", block[:4096]))
                else:
                    obs = MailObservation(
                        folder=folder, locator=locator, headers=headers, received_at=received
                    )
                    obs.summary = summarize(headers, received)
                    obs.hash = content_hash(headers)
                    mail.append(obs)
                pos = msg_end
    return mail, bad


def _header_end(mm: mmap.mmap, start: int, limit: int) -> int:
    candidates = [
        i
        for i in (mm.find(b"\n\n", start, limit), mm.find(b"\r\n\r\n", start, limit))
        if i >= 0
    ]
    return min(candidates) if candidates else limit


def message_starts(path: str, start: int, size: int, step: int) -> list[int]:
    """Chunk boundaries: offsets near every ``step`` bytes that begin a message."""
    bounds = [start]
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        pos = start + step
        while pos < size:
            nxt = mm.find(SEPARATOR, pos)
            if nxt < 0:
                break
            bounds.append(nxt + 1)
            pos = nxt + 1 + step
    bounds.append(size)
    return bounds


class MboxReader:
    """Reads mbox files (a file, or every file under a directory)."""

    def __init__(self, paths: list[Path], workers: int | None = None):
        self.paths = [Path(p).resolve() for p in paths]
        self.workers = workers if workers is not None else min(2, os.cpu_count() or 1)

    def _files(self) -> list[tuple[str, Path]]:
        return [(folder_name(root, path), path) for root, path in walk_files(self.paths)]

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Bytes still to read."""
        total = 0
        for _, path in self._files():
            st = path.stat()
            cursor = cursors.get(str(path))
            if not unchanged(cursor, st):
                total += st.st_size - (cursor or {}).get("offset", 0) if cursor else st.st_size
        return max(total, 0)

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Yield batches of about 8 MiB of mbox each, with the file's cursor."""
        pool = ProcessPoolExecutor(self.workers) if self.workers > 1 else None
        try:
            for folder, path in self._files():
                yield from self._fetch_file(folder, path, cursors.get(str(path)), pool)
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)

    def _fetch_file(
        self, folder: str, path: Path, cursor: Cursor | None, pool: ProcessPoolExecutor | None
    ) -> Iterator[Batch]:
        st = path.stat()
        scope = str(path)
        if unchanged(cursor, st):
            return
        start = 0
        with open(path, "rb") as fh:
            if cursor and st.st_size >= cursor.get("offset", 0) > 0:
                if prefix_sample(fh, cursor["offset"]) == cursor.get("sample"):
                    start = cursor["offset"]
        size = st.st_size
        bounds = message_starts(scope, start, size, BATCH_BYTES)
        ranges = list(zip(bounds, bounds[1:], strict=False))
        if pool is not None and len(ranges) > 1:
            results = pool.map(scan_range, *zip(*[(scope, folder, a, b) for a, b in ranges], strict=True))
        else:
            results = (scan_range(scope, folder, a, b) for a, b in ranges)
        for (a, b), (mail, bad) in zip(ranges, results, strict=True):
            with open(path, "rb") as fh:
                sample = prefix_sample(fh, b)
            done = b >= size
            yield Batch(
                mail=mail,
                quarantined=bad,
                cursors={
                    scope: {
                        "offset": b,
                        "sample": sample,
                        "size": size,
                        "mtime_ns": st.st_mtime_ns,
                        "done": done,
                    }
                },
                progress=b - a,
            )
        if not ranges:
            with open(path, "rb") as fh:
                sample = prefix_sample(fh, size)
            yield Batch(
                cursors={
                    scope: {"offset": size, "sample": sample, "size": size,
                            "mtime_ns": st.st_mtime_ns, "done": True}
                }
            )


def reader(paths: list[Path], **options) -> MboxReader:
    """The connector entry point used by ``syncd import mbox``."""
    return MboxReader(paths, **options)
