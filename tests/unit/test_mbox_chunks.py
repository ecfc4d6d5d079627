"""mbox chunks: the first and the last bytes of an import are read in short chunks (the
importer starts storing early and the workers' last chunks are short), and however the
files are cut, every message is read once, in order."""

from __future__ import annotations

import itertools
import os
import time
from datetime import UTC, datetime, timedelta

import psutil

import connectors.mbox as mbox
from connectors.mbox import MboxReader
from tests.support.helpers import message, write_mbox

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _msgs(n: int, prefix: str) -> list[bytes]:
    return [
        message(
            sender=f"p{i % 5}@x.example",
            to="me@corp.example",
            date=T0 + timedelta(hours=i),
            subject=f"{prefix} {i} " + "x" * (i % 300),
        )
        for i in range(n)
    ]


def _starts(path) -> list[int]:
    data = path.read_bytes()
    return [0] + [i + 1 for i in range(len(data)) if data.startswith(b"\nFrom ", i)]


def test_chunks_taper_at_both_ends_and_cover_every_file_at_message_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(mbox, "BATCH_BYTES", 16 * 1024)
    paths = [
        write_mbox(tmp_path / "mail" / "a", _msgs(150, "a")),
        write_mbox(tmp_path / "mail" / "b", _msgs(7, "b")),  # short: inside the taper
        write_mbox(tmp_path / "mail" / "c", _msgs(150, "c")),
    ]
    chunks, _, _ = MboxReader([tmp_path / "mail"], workers=2)._chunks({})
    for path in paths:
        mine = [c for c in chunks if c.path == str(path.resolve())]
        assert mine[0].start == 0 and mine[-1].end == path.stat().st_size
        assert all(a.end == b.start for a, b in itertools.pairwise(mine))  # contiguous
        assert {c.start for c in mine} <= set(_starts(path))  # cut at message starts only
    sizes = [c.end - c.start for c in chunks]
    assert sizes[0] < mbox.BATCH_BYTES // 8  # the importer gets a short first chunk
    assert sizes[-1] < mbox.BATCH_BYTES // 8  # and the workers end on a short one
    assert max(sizes) > mbox.BATCH_BYTES // 2  # full chunks in the middle


def test_tapered_reads_equal_one_chunk_per_file(tmp_path, monkeypatch):
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(400, "m"))
    whole = [m.locator for b in MboxReader([path], workers=1).fetch({}) for m in b.mail]
    monkeypatch.setattr(mbox, "BATCH_BYTES", 8 * 1024)
    for workers in (1, 2):
        batches = list(MboxReader([path], workers=workers).fetch({}))
        assert len(batches) > 8
        assert [m.locator for b in batches for m in b.mail] == whole
    assert len(whole) == 400


def test_parse_workers_run_below_the_importers_priority(tmp_path, monkeypatch):
    """The importer is the pipeline's critical path: its workers yield the CPU to it."""
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(400, "m"))
    monkeypatch.setattr(mbox, "BATCH_BYTES", 8 * 1024)
    before = {p.pid for p in psutil.Process().children()}
    batches = MboxReader([path], workers=2).fetch({})
    try:
        assert next(batches).mail  # the pool is running
        workers = [p for p in psutil.Process().children() if p.pid not in before]
        assert len(workers) == 2
        assert mbox.WORKER_NICE > 0
        expected = min(os.getpriority(os.PRIO_PROCESS, 0) + mbox.WORKER_NICE, 19)
        # A worker lowers its priority in its initializer, before it takes any task; the
        # one that has not had a task yet may still be starting, so give it a moment.
        deadline = time.monotonic() + 10
        while [w.nice() for w in workers] != [expected, expected]:
            assert time.monotonic() < deadline, [w.nice() for w in workers]
            time.sleep(0.02)
    finally:
        batches.close()
