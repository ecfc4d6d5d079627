"""Cursors: unchanged files cost nothing, appended mboxes ingest only what is new."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from connectors.maildir import MaildirReader
from connectors.mbox import MboxReader
from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.pipeline.accounts import ensure_account, load_cursors
from syncd.pipeline.local_import import import_paths
from syncd.pipeline.runner import run_reader
from syncd.report.people import compute_people
from syncd.store.db import open_db
from tests.support.helpers import message, write_mbox

ME = "me@corp.example"
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _msgs(n: int, start: int = 0) -> list[bytes]:
    return [
        message(sender=f"p{i % 7}@x.example", to=ME, date=T0 + timedelta(hours=i), subject=f"s{i}")
        for i in range(start, start + n)
    ]


def test_unchanged_mbox_is_not_read_again(tmp_path):
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(30))
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    first = run_reader(db, account, MboxReader([path], workers=1))
    assert first.observations == 30
    reader = MboxReader([path], workers=1)
    assert reader.estimate(load_cursors(db, account)) == 0
    (batch,) = reader.fetch(load_cursors(db, account))  # nothing to store, a count
    assert batch.only_counts() and (batch.unchanged, batch.known) == (1, 30)


def test_appended_mbox_ingests_only_new_messages(tmp_path):
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(30))
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    run_reader(db, account, MboxReader([path], workers=1))
    size_before = path.stat().st_size
    appended = write_mbox(tmp_path / "extra", _msgs(5, start=30)).read_bytes()
    with open(path, "ab") as fh:
        fh.write(appended)
    reader = MboxReader([path], workers=1)
    assert reader.estimate(load_cursors(db, account)) == len(appended)
    batches = list(reader.fetch(load_cursors(db, account)))
    assert sum(len(b.mail) for b in batches) == 5
    assert all(int(m.locator.rsplit(":", 1)[1]) >= size_before for b in batches for m in b.mail)


def test_rewritten_mbox_is_reread_without_duplicates(tmp_path):
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(10))
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    run_reader(db, account, MboxReader([path], workers=1))
    write_mbox(path, list(reversed(_msgs(12))))  # rewritten: new order, 2 more messages
    stats = run_reader(db, account, MboxReader([path], workers=1))
    assert (stats.observations, stats.duplicates) == (2, 10)


def test_parallel_and_serial_mbox_reads_agree(tmp_path, monkeypatch):
    import connectors.mbox as mbox

    monkeypatch.setattr(mbox, "BATCH_BYTES", 2048)  # many chunks for the pool
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(200))
    serial = [m.locator for b in MboxReader([path], workers=1).fetch({}) for m in b.mail]
    parallel = [m.locator for b in MboxReader([path], workers=2).fetch({}) for m in b.mail]
    assert len(serial) == 200
    assert serial == parallel


def test_interrupted_import_resumes_after_the_last_committed_batch(tmp_path, monkeypatch):
    import connectors.mbox as mbox

    monkeypatch.setattr(mbox, "BATCH_BYTES", 4096)
    path = write_mbox(tmp_path / "mail" / "inbox", _msgs(100))
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    from syncd.pipeline.ingest import Ingestor

    ingestor = Ingestor(db, account)
    fetched = MboxReader([path], workers=1).fetch({})
    ingestor.apply(next(fetched))
    ingestor.apply(next(fetched))
    fetched.close()  # the "crash": the rest was never committed
    committed = db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert 0 < committed < 100
    stats = run_reader(db, account, MboxReader([path], workers=1))
    assert stats.observations == 100 - committed
    assert stats.duplicates == committed  # known from before, not read again


def test_maildir_cursor_per_file(tmp_path):
    root = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True)
    for i, raw in enumerate(_msgs(6)):
        (root / ("cur" if i % 2 else "new") / f"{i}.host:2,S").write_bytes(raw)
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    assert run_reader(db, account, MaildirReader([root])).observations == 6
    reader = MaildirReader([root])
    assert reader.estimate(load_cursors(db, account)) == 0
    # a new file and a touched file: only those are read
    (root / "new" / "7.host").write_bytes(_msgs(1, start=50)[0])
    touched = root / "new" / "0.host:2,S"
    os.utime(touched, ns=(1, 1))
    assert MaildirReader([root]).estimate(load_cursors(db, account)) == 2
    stats = run_reader(db, account, MaildirReader([root]))
    # the touched file is a duplicate; the 5 unchanged ones are known, not read
    assert (stats.observations, stats.duplicates, stats.unchanged) == (1, 6, 5)


def test_maildir_folders_ignore_cur_new_tmp(tmp_path):
    root = tmp_path / "Maildir"
    (root / ".Sent" / "cur").mkdir(parents=True)
    (root / ".Drafts" / "cur").mkdir(parents=True)
    (root / "cur").mkdir(parents=True)
    (root / ".Sent" / "cur" / "1").write_bytes(message(sender=ME, to="ana@x.example", subject="s"))
    (root / ".Drafts" / "cur" / "2").write_bytes(message(sender=ME, to="bo@y.example", subject="d"))
    (root / "cur" / "3").write_bytes(message(sender="cy@z.example", to=ME, subject="i"))
    ctx = Context(Home(tmp_path / "home"), int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()))
    import_paths(ctx.db, ctx.home, "maildir", [root], [ME], now=ctx.now)
    folders = {r[0] for r in ctx.db.execute("SELECT folder FROM observations")}
    assert folders == {".Sent", ".Drafts", "Maildir"}
    emails = {e for p in compute_people(ctx.db, ctx.now) for e in p.emails}
    assert emails == {"ana@x.example", "cy@z.example"}


def test_maildir_flag_renames_are_known_copies_in_counted_and_skipped_folders(tmp_path):
    """A mail client renames maildir files when flags change: the renamed files are read
    again and recognised as stored copies, in a counted folder and in Drafts alike."""
    root = tmp_path / "Maildir"
    for sub in ("cur", ".Drafts/cur"):
        (root / sub).mkdir(parents=True)
    (root / "cur" / "1.host:2,").write_bytes(_msgs(1)[0])
    (root / "cur" / "2.host:2,").write_bytes(_msgs(1, start=1)[0])
    (root / ".Drafts" / "cur" / "3.host:2,").write_bytes(_msgs(1, start=2)[0])
    db = open_db(tmp_path / "db.sqlite")
    account = ensure_account(db, "local", "local")
    first = run_reader(db, account, MaildirReader([root]))
    assert (first.observations, first.skipped, first.duplicates) == (3, 1, 0)
    for path in list(root.rglob("*:2,")):
        path.rename(path.with_name(path.name + "S"))  # marked as seen
    again = run_reader(db, account, MaildirReader([root]))
    assert (again.observations, again.skipped, again.duplicates) == (0, 0, 3)
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 3
    assert db.execute("SELECT sum(copies) FROM messages").fetchone()[0] == 2
