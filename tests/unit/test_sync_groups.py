"""run_reader's group commits: a failure or a stop keeps the batches applied before it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import Batch, MailObservation, Quarantined
from syncd.mail.metadata import scan_headers
from syncd.pipeline.accounts import ensure_account, load_cursors
from syncd.pipeline.runner import run_reader
from syncd.store.db import open_db
from tests.support.helpers import message

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def batch(n: int, poisoned: bool = False) -> Batch:
    """Batch ``n``: one message and the cursor of scope ``s<n>``; a poisoned batch fails
    late (its quarantine excerpt cannot be stored), after its mail was written."""
    raw = message(sender=f"p{n}@x.example", to="me@y.example", date=T0 + timedelta(hours=n))
    bad = [Quarantined("inbox", f"x:{n}", "test", excerpt=object())] if poisoned else []
    return Batch(
        mail=[MailObservation("inbox", f"x:{n}", scan_headers(raw))],
        quarantined=bad,
        cursors={f"s{n}": {"n": n}},
        progress=1,
    )


class ListReader:
    """A reader over prepared batches (what a connector yields)."""

    def __init__(self, batches: list[Batch]):
        self.batches = batches

    def fetch(self, cursors):
        """The prepared batches, in order."""
        yield from self.batches

    def estimate(self, cursors) -> int:
        """One unit per batch."""
        return len(self.batches)


def stored(db) -> tuple[int, set[str]]:
    count = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    return count, set(load_cursors(db, 1))


@pytest.mark.parametrize("group_seconds", [0.0, 3600.0])
def test_a_failing_batch_keeps_the_batches_before_it(tmp_path, group_seconds):
    db = open_db(tmp_path / "s.db")
    account = ensure_account(db, "local", "local")
    reader = ListReader([batch(1), batch(2), batch(3, poisoned=True), batch(4)])
    with pytest.raises(TypeError):
        run_reader(db, account, reader, group_seconds=group_seconds)
    assert not db.conn.in_transaction
    assert stored(db) == (2, {"s1", "s2"})


def test_a_stop_from_on_progress_keeps_the_applied_group(tmp_path):
    db = open_db(tmp_path / "s.db")
    account = ensure_account(db, "local", "local")
    seen: list[int] = []

    class Stop(BaseException):
        pass

    def on_progress(amount, stats) -> None:
        seen.append(stats.observations)
        if len(seen) == 2:
            raise Stop

    reader = ListReader([batch(1), batch(2), batch(3)])
    with pytest.raises(Stop):
        run_reader(db, account, reader, on_progress, group_seconds=3600.0)
    assert stored(db) == (2, {"s1", "s2"})
    # the next run resumes with the rest (the reader decides by the committed cursors)
    assert run_reader(db, account, ListReader([batch(3)])).observations == 1
    assert stored(db) == (3, {"s1", "s2", "s3"})


def test_a_group_is_invisible_to_other_connections_until_committed(tmp_path):
    db = open_db(tmp_path / "s.db")
    account = ensure_account(db, "local", "local")
    other = open_db(tmp_path / "s.db")
    counts: list[int] = []

    def on_progress(amount, stats) -> None:
        counts.append(other.execute("SELECT count(*) FROM observations").fetchone()[0])

    run_reader(db, account, ListReader([batch(1), batch(2)]), on_progress, group_seconds=3600.0)
    assert counts == [0, 0]  # one open group while the batches arrive
    assert other.execute("SELECT count(*) FROM observations").fetchone()[0] == 2


def test_a_bulk_import_leaves_its_batches_in_the_store_file_not_only_in_the_wal(tmp_path):
    """The WAL is checkpointed beside the work after the last commit (not all by the
    close): the store file alone already holds every batch."""
    db = open_db(tmp_path / "s.db")
    account = ensure_account(db, "local", "local")
    run_reader(db, account, ListReader([batch(n) for n in range(5)]), group_seconds=60.0)
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "s.db").read_bytes())
    alone = sqlite3.connect(copy)
    assert alone.execute("SELECT count(*) FROM observations").fetchone()[0] == 5
    alone.close()


def _copy(folder: str, n: int, **fields) -> MailObservation:
    return MailObservation(
        folder, f"{folder}:{n}", scan_headers(message(to="me@y.example", **fields))
    )


def _merging_batches() -> list[Batch]:
    """Copies that meet across batches: by Message-ID, by fingerprint, and one copy
    joining two stored messages (a merge, recorded in ``message_aliases``)."""
    x = {"sender": "a@x.example", "date": T0, "subject": "one", "message_id": "<x@t>"}
    y = {"sender": "b@x.example", "date": T0 + timedelta(hours=1), "subject": "two"}
    return [
        Batch(mail=[_copy("inbox", 1, **x), _copy("inbox", 2, **y, message_id="<y@t>")]),
        Batch(mail=[_copy("archive", 3, **x), _copy("inbox", 4, **y, message_id="<x@t>")]),
        Batch(mail=[_copy("archive", 5, **y, message_id="<y@t>"), _copy("inbox", 6, **x)]),
        Batch(mail=[_copy("inbox", 7, sender="c@x.example", message_id="<y@t>")]),
    ]


def _tables(db) -> dict[str, list]:
    """Every table's rows, without timestamp columns, order-free."""
    out = {}
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [c for (c,) in db.execute(f"SELECT name FROM pragma_table_info('{table}')")]
        kept = [c for c in columns if c not in ("created_at", "updated_at", "applied_at")]
        rows = db.execute(f"SELECT {', '.join(kept)} FROM {table}").fetchall()
        out[table] = sorted(map(repr, rows))
    return out


def test_a_bulk_import_defers_its_keys_to_the_commit_and_stores_the_same_rows(tmp_path):
    """A bulk import inserts the logical-message keys of a group at its commit (one group
    of four batches here); copies meeting a key of an earlier batch of the group still
    find it, and the store ends as batch-by-batch ingest leaves it."""
    stores = []
    for name, group_seconds in (("batches", 0.0), ("group", 3600.0)):
        db = open_db(tmp_path / f"{name}.db")
        account = ensure_account(db, "local", "local")
        run_reader(db, account, ListReader(_merging_batches()), group_seconds=group_seconds)
        stores.append(_tables(db))
    by_batch, grouped = stores
    assert by_batch["message_aliases"]  # the merge happened
    assert len(by_batch["messages"]) == 1  # all copies met in one logical message
    assert grouped == by_batch
