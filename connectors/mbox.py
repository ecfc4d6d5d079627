"""mbox files: every ``From `` line at the start of a line begins a message.

Only header blocks are read (a lean scanner over an mmap); bodies are skipped
with ``find``. Files are cut into chunks of about :data:`BATCH_BYTES` that
begin at a message; with several workers a process pool scans and summarises
the chunks of all files while the caller stores the previous batches. A chunk
yields batches of at most :data:`BATCH_MESSAGES` messages. Workers return
compact ``marshal`` blobs (plain tuples, no dataclasses: pickling those cost
more than parsing) and at most :data:`WINDOW_PER_WORKER` chunks per worker are
in flight, so memory stays flat however large the mailbox. The workers run at a
lower priority (:data:`WORKER_NICE`): the one process storing the batches is the
pipeline's critical path, so it gets a core whenever it can run and the workers
take the rest. Cursor per file:
size, mtime, the offset read up to and a sampled hash of that prefix; an
appended mbox is read from that offset only.

Workers die with the process that started them, even when it is killed with
``kill -9`` (:func:`_die_with_parent`): on Linux the kernel sends them SIGKILL
(``PR_SET_PDEATHSIG``); elsewhere a watchdog thread notices the new parent.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import marshal
import mmap
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

from connectors.base import Batch, Cursor, MailObservation, Quarantined, Reader
from connectors.localfiles import (
    account_paths,
    folder_name,
    int_option,
    prefix_sample,
    unchanged,
    walk_files,
)
from syncd.config.schema import AccountConfig
from syncd.core.gcpause import paused_gc
from syncd.core.home import Home
from syncd.mail.metadata import (
    MailSummary,
    content_hash,
    encode_headers,
    scan_headers,
    scan_lf_block,
    stored_summary_fields,
)

BATCH_BYTES = 4 * 1024 * 1024
# The first chunks of an import are BATCH_BYTES / 16, / 8, / 4 and / 2, and so are its
# last ones (in reverse): the importer starts storing once a short chunk is read instead
# of waiting for a full one, and has only short chunks left to store once the workers
# are done (a pipeline's fill and drain, when one of the two cores would idle).
TAPER = (16, 8, 4, 2)
BATCH_MESSAGES = 4000
# Chunks submitted ahead per worker. The workers must not wait while the importer
# commits (a commit that checkpoints the WAL takes ~0.15 s at 50k): with 2 per worker
# they filled the window and idled. A chunk's result is 0.3-1.7 MB. (A 50k import,
# 10 runs paired with 2 per worker: 7 % less wall time.)
WINDOW_PER_WORKER = 4
# How much lower the workers' priority is (os.nice). Three processes share two cores:
# at equal priority the importer, the part nothing can run beside, lost a third of its
# core to the workers; now it runs whenever it has a batch and the workers fill in.
# (A 50k import, 10 runs paired with equal priority: 9 % less wall time; nice 5 and 19
# gained less.)
WORKER_NICE = 10
SEPARATOR = b"\nFrom "
EXCERPT = 4096

# Searched with re, not mmap.find: re's search for a literal was faster on the bench
# corpus (mmap.find runs a two-way search over the rest of the file for each message).
_SEPARATOR = re.compile(re.escape(SEPARATOR))
_BLANK = re.compile(b"\n\n")
_NON_SPACE = re.compile(rb"\S")
NO_HEADERS = "no recognisable headers"
NO_MESSAGE = "no message after the `From ` line"

# One batch of a chunk: (start, end, mail rows, quarantined rows, prefix sample at end),
# where a mail row is (offset, headers as JSON, content hash, MailSummary fields in order)
# and a quarantined row is (offset, excerpt, reason).
Part = tuple[int, int, list[tuple], list[tuple[int, bytes, str]], str]


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
PARENT_POLL_SECONDS = 1.0


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when process ``parent`` ends, however it
    ends (a worker left behind would hold the mbox open and burn CPU for no one)."""
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent died before the death signal was armed
        os._exit(1)
    if not armed:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _start_worker(parent: int) -> None:
    """Pool worker initializer: die with process ``parent`` (:func:`_die_with_parent`) and
    yield the CPU to it (:data:`WORKER_NICE`)."""
    _die_with_parent(parent)
    if hasattr(os, "nice"):  # not on Windows
        # the priority is a preference, never a reason to fail
        with contextlib.suppress(OSError):
            os.nice(WORKER_NICE)


def _watch_parent(parent: int) -> None:
    """Exit this process once it is no longer ``parent``'s child (it was reparented)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


class _Chunk(NamedTuple):
    folder: str
    path: str
    start: int
    end: int
    size: int
    mtime_ns: int


def _scan(path: str, start: int, end: int, limit: int) -> list[Part]:
    """Scan the messages that begin in ``[start, end)`` of an mbox file.

    ``start`` must be a message start (offset 0 or just after a newline
    followed by ``From ``). A message runs until the next separator, even
    past ``end``. The messages are cut into parts of at most ``limit``
    messages, each with the file's prefix sample up to its end (its cursor).
    """
    parts: list[Part] = []
    mail: list[tuple] = []
    bad: list[tuple[int, bytes, str]] = []
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0 or start >= size:
            return [(start, end, mail, bad, prefix_sample(fh, end))]
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            find = mm.find
            next_message = _SEPARATOR.search
            blank_line = _BLANK.search
            first = pos = start
            while pos < end:
                if len(mail) + len(bad) >= limit:
                    parts.append((first, pos, mail, bad, prefix_sample(fh, pos)))
                    first, mail, bad = pos, [], []
                nxt = next_message(mm, pos)
                msg_end = size if nxt is None else nxt.start() + 1
                if mm[pos : pos + 5] == b"From ":
                    line_end = find(b"\n", pos, msg_end)
                    body_start = msg_end + 1 if line_end < 0 else line_end + 1
                else:
                    body_start = pos
                # The header block ends at the first blank line (LF or CRLF). A CRLF
                # one is looked for only after a CR (most mboxes have none: one memchr).
                blank = blank_line(mm, body_start, msg_end)
                head_end = -1 if blank is None else blank.start()
                stop = msg_end if head_end < 0 else head_end + 3
                cr = find(b"\r", body_start, stop)
                crlf = find(b"\r\n\r\n", cr, stop) if cr >= 0 else -1
                if crlf >= 0 and (head_end < 0 or crlf < head_end):
                    head_end = crlf
                elif head_end < 0:
                    head_end = msg_end
                block = mm[body_start:head_end]
                headers = scan_headers(block) if 0 <= cr < head_end else scan_lf_block(block)
                if headers:
                    mail.append(
                        (
                            pos,
                            encode_headers(headers),
                            content_hash(headers),
                            stored_summary_fields(headers),
                        )
                    )
                elif block.strip():
                    bad.append((pos, block[:EXCERPT], NO_HEADERS))
                else:
                    _nothing_read(mm, pos, body_start, msg_end, bad)
                pos = msg_end
        parts.append((first, end, mail, bad, prefix_sample(fh, end)))
    return parts


def _nothing_read(
    mm: mmap.mmap, pos: int, body_start: int, msg_end: int, bad: list[tuple[int, bytes, str]]
) -> None:
    """A message with an empty header block is set aside, never dropped: text without
    headers (after blank lines), or a From line with nothing after it (one endless
    line, an empty message). White space between messages is nothing."""
    text = _NON_SPACE.search(mm, body_start, msg_end) if body_start < msg_end else None
    if text is not None:
        bad.append((pos, mm[text.start() : min(msg_end, text.start() + EXCERPT)], NO_HEADERS))
    elif body_start > pos:
        bad.append((pos, mm[pos : min(msg_end, pos + EXCERPT)], NO_MESSAGE))


def _scan_packed(path: str, start: int, end: int, limit: int) -> bytes:
    """:func:`_scan` for a pool worker, as one ``marshal`` blob (cheap to ship) of one
    blob per part (unpacked one at a time)."""
    with paused_gc():
        return marshal.dumps([marshal.dumps(part) for part in _scan(path, start, end, limit)])


def _unpack(chunk: _Chunk, blob: bytes) -> Batch:
    with paused_gc():
        return _batch(chunk, marshal.loads(blob))


def _observations(folder: str, path: str, rows: list[tuple]) -> list[MailObservation]:
    return [
        MailObservation(
            folder=folder,
            locator=f"{path}:{pos}",
            headers_json=headers,
            # The From_ line's date is whoever wrote the mbox (Enron's is the
            # conversion date), not the server's receipt time: never a fallback.
            received_at=None,
            summary=MailSummary(*fields),
            hash=digest,
        )
        for pos, headers, digest, fields in rows
    ]


def _quarantined(folder: str, path: str, rows: list[tuple[int, bytes, str]]) -> list[Quarantined]:
    return [Quarantined(folder, f"{path}:{pos}", reason, excerpt) for pos, excerpt, reason in rows]


def message_starts(path: str, start: int, size: int, step: int) -> list[int]:
    """Chunk boundaries: offsets near every ``step`` bytes that begin a message."""
    bounds = [start]
    if size > start + step:
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


def _tapered(chunks: list[_Chunk]) -> list[_Chunk]:
    """``chunks`` with the first and the last bytes of the import cut into the shorter
    chunks of :data:`TAPER` (at message starts; the chunks' order and content kept)."""
    total = sum(c.end - c.start for c in chunks)
    head = list(itertools.accumulate(BATCH_BYTES // d for d in TAPER))
    cuts = sorted({c for c in [*head, *(total - h for h in head)] if 0 < c < total})
    out: list[_Chunk] = []
    done = 0
    for chunk in chunks:
        length = chunk.end - chunk.start
        inside = [chunk.start + c - done for c in cuts if done < c < done + length]
        out.extend(_cut(chunk, inside) if inside else [chunk])
        done += length
    return out


def _cut(chunk: _Chunk, offsets: list[int]) -> list[_Chunk]:
    """``chunk`` cut at the first message start at or after each of ``offsets``
    (ascending, inside the chunk)."""
    bounds = [chunk.start]
    with open(chunk.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        for offset in offsets:
            if offset <= bounds[-1]:
                continue
            nxt = mm.find(SEPARATOR, offset - 1, chunk.end)
            if nxt < 0:
                break
            bounds.append(nxt + 1)
    bounds.append(chunk.end)
    return [chunk._replace(start=a, end=b) for a, b in itertools.pairwise(bounds)]


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

    def _chunks(self, cursors: dict[str, Cursor]) -> tuple[list[_Chunk], Batch, dict[str, int]]:
        """The chunks still to read, file by file, in order; a batch counting the unchanged
        files and the messages known before (theirs, and those before an appended file's
        new part); the messages counted before each chunked file's start."""
        chunks = []
        skipped = Batch()
        counted: dict[str, int] = {}
        for folder, path in self._files():
            st = path.stat()
            scope = str(path)
            cursor = cursors.get(scope)
            if unchanged(cursor, st):
                skipped.unchanged += 1
                skipped.known += cursor.get("messages", 0)
                continue
            start = 0
            if cursor and st.st_size >= cursor.get("offset", 0) > 0:
                with open(path, "rb") as fh:
                    if prefix_sample(fh, cursor["offset"]) == cursor.get("sample"):
                        start = cursor["offset"]
                        counted[scope] = cursor.get("messages", 0)
                        skipped.known += counted[scope]  # read before: already known
            bounds = message_starts(scope, start, st.st_size, BATCH_BYTES)
            chunks.extend(
                _Chunk(folder, scope, a, b, st.st_size, st.st_mtime_ns)
                for a, b in itertools.pairwise(bounds)
            )
        return _tapered(chunks), skipped, counted

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Yield batches of at most :data:`BATCH_MESSAGES` messages, about
        :data:`BATCH_BYTES` of mbox, each with its file's cursor (which counts the
        file's messages so far); first a batch counting the unchanged files."""
        chunks, skipped, counted = self._chunks(cursors)
        if skipped.unchanged or skipped.known:
            yield skipped
        for batch in self._read(chunks):
            for scope, cursor in batch.cursors.items():
                counted[scope] = cursor["messages"] = counted.get(scope, 0) + len(batch.mail)
            yield batch

    def _read(self, chunks: list[_Chunk]) -> Iterator[Batch]:
        """The batches of ``chunks``, in order (through the worker pool when it pays)."""
        limit = BATCH_MESSAGES
        if self.workers <= 1 or sum(c.end > c.start for c in chunks) <= 1:
            for chunk in chunks:
                for part in _scan(chunk.path, chunk.start, chunk.end, limit):
                    yield _batch(chunk, part)
            return
        pool = ProcessPoolExecutor(self.workers, initializer=_start_worker, initargs=(os.getpid(),))
        window = WINDOW_PER_WORKER * self.workers
        queue = iter(chunks)
        pending: deque[tuple[_Chunk, Future[bytes]]] = deque()

        def submit() -> None:
            chunk = next(queue, None)
            if chunk is not None:
                future = pool.submit(_scan_packed, chunk.path, chunk.start, chunk.end, limit)
                pending.append((chunk, future))

        try:
            for _ in range(window):
                submit()
            while pending:
                chunk, future = pending.popleft()
                parts = marshal.loads(future.result())
                submit()
                for part in parts:
                    yield _unpack(chunk, part)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def _batch(chunk: _Chunk, part: Part) -> Batch:
    start, end, mail, bad, sample = part
    return Batch(
        mail=_observations(chunk.folder, chunk.path, mail),
        quarantined=_quarantined(chunk.folder, chunk.path, bad),
        cursors={
            chunk.path: {
                "offset": end,
                "sample": sample,
                "size": chunk.size,
                "mtime_ns": chunk.mtime_ns,
                "done": end >= chunk.size,
            }
        },
        progress=end - start,
    )


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of an ``mbox`` account: the mbox files under its ``paths``.

    Option ``workers``: parser processes (default: up to two; 0 reads in this process).
    """
    return MboxReader(account_paths(account), workers=int_option(account, "workers"))
