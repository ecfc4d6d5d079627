"""Two processes on one home: both finish, or the second waits (issue 12, item 9).

Each race runs in forked processes started together at a barrier, many rounds
over; a round fails when either side raises (``table accounts already exists``,
``database is locked``) or the store ends up with anything twice.
"""

from __future__ import annotations

import multiprocessing
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from connectors.base import Batch, MailObservation
from syncd.config.schema import AccountConfig, save_account
from syncd.core.home import Home
from syncd.daemon.loop import Daemon
from syncd.jobs import JOBS
from syncd.mail.metadata import scan_headers
from syncd.pipeline.accounts import account_states, ensure_account
from syncd.pipeline.ingest import Ingestor
from syncd.pipeline.local_import import import_paths
from syncd.store.db import open_db
from tests.support.helpers import message, write_mbox

ME = "me@example.com"
ROUNDS = 20
FORK = multiprocessing.get_context("fork")


def _mbox(path: Path, n: int, sender: str = "ann@x.example") -> Path:
    return write_mbox(path, [message(sender=sender, to=ME, subject=f"note {i}") for i in range(n)])


def _run(barrier, results, name: str, work: Callable[[], None]) -> None:
    """A racer: wait for the other, do the work, report "ok" or the traceback."""
    try:
        barrier.wait(timeout=30)
        work()
        results[name] = "ok"
    except BaseException:
        results[name] = traceback.format_exc()


def race(**works: Callable[[], None]) -> dict[str, str]:
    """Run each work in its own forked process, all released at once; their outcomes."""
    with FORK.Manager() as manager:
        results = manager.dict()
        barrier = FORK.Barrier(len(works))
        procs = [
            FORK.Process(target=_run, args=(barrier, results, name, work))
            for name, work in works.items()
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=60)
            assert p.exitcode == 0, f"racer exited {p.exitcode}"
        return dict(results)


def _import(home: Home, mbox: Path) -> Callable[[], None]:
    def work() -> None:
        home.ensure()
        db = open_db(home.db_path)
        import_paths(db, home, "mbox", [mbox], [ME], options={"workers": 0})
        db.close()

    return work


def _daemon_sync(home: Home) -> Callable[[], None]:
    """The daemon's sync job of account ``acc``: sync, then evaluate the rules."""

    def work() -> None:
        daemon = Daemon(home, JOBS, {})
        daemon.open()
        try:
            assert daemon._sync_job("acc") == "ok"
            assert daemon._rules_job() == "ok"
        finally:
            daemon.close()

    return work


def test_two_imports_on_a_fresh_home_both_finish_every_time(tmp_path):
    mbox = _mbox(tmp_path / "mail.mbox", 30)
    for round_ in range(ROUNDS):
        home = Home(tmp_path / f"home{round_}")
        outcome = race(first=_import(home, mbox), second=_import(home, mbox))
        assert outcome == {"first": "ok", "second": "ok"}, f"round {round_}: {outcome}"
        db = open_db(home.db_path)
        assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 30
        assert db.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
        applied = db.execute("SELECT name, count(*) FROM _sqlite_migrations GROUP BY name")
        assert all(n == 1 for _, n in applied)
        db.close()


def test_an_import_while_the_daemon_syncs_and_evaluates_both_finish(tmp_path):
    """The daemon's sync job (sync, then the rules engine) against a bulk import that
    holds the write lock for its groups: each waits for the other, none fails."""
    for round_ in range(ROUNDS // 2):
        root = tmp_path / f"r{round_}"
        home = Home(root / "home")
        home.ensure()
        synced = _mbox(root / "synced.mbox", 200, sender="bo@y.example")
        save_account(
            home.config_path,
            AccountConfig("acc", "mbox", address=ME, options={"paths": [str(synced)]}),
        )
        imported = _mbox(root / "imported.mbox", 2000)

        outcome = race(importer=_import(home, imported), daemon=_daemon_sync(home))
        assert outcome == {"importer": "ok", "daemon": "ok"}, f"round {round_}: {outcome}"
        db = open_db(home.db_path)
        assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 2200
        assert [s.last_result for s in account_states(db)] == ["ok"]
        db.close()


def _write_meanwhile(path: Path, go, done) -> None:
    db = open_db(path)
    go.wait(10)
    with db.atomic():
        db.execute("INSERT INTO settings(key, value) VALUES ('other', '1')")
    done.set()
    db.close()


def test_a_transaction_that_reads_first_still_writes_when_another_writer_came_between(
    tmp_path,
):
    """A batch reads, another process writes meanwhile, then the batch writes: the write
    lock taken up front makes the other wait (a deferred transaction failed at once with
    "database is locked", the busy timeout notwithstanding)."""
    path = tmp_path / "s.db"
    db = open_db(path)
    account = ensure_account(db, "local", "local")
    raw = message(sender="ann@x.example", to=ME)
    batch = Batch(mail=[MailObservation("inbox", "x:0", scan_headers(raw))])
    go, done = FORK.Event(), FORK.Event()
    other = FORK.Process(target=_write_meanwhile, args=(path, go, done))
    other.start()
    try:
        with db.atomic():
            db.execute("SELECT count(*) FROM observations").fetchone()
            go.set()
            time.sleep(0.3)  # the other process is now at its write
            stats = Ingestor(db, account).apply(batch)
    finally:
        other.join(30)
    assert other.exitcode == 0 and done.is_set()
    assert stats.observations == 1
    assert db.execute("SELECT value FROM settings WHERE key = 'other'").fetchone() == ("1",)
