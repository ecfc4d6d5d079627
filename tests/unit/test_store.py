"""The store: WAL, foreign keys, versioned migrations, atomic batches."""

from __future__ import annotations

import os
import sqlite3
import stat

import pytest
import sqlite_utils

from connectors.base import Batch, MailObservation, Quarantined
from syncd.core.keys import key64
from syncd.mail.metadata import scan_headers
from syncd.pipeline.accounts import ensure_account
from syncd.pipeline.identity import add_my_addresses
from syncd.pipeline.ingest import Ingestor
from syncd.store.db import checkpoint_beside, open_db
from syncd.store.migrations import migrations
from tests.support.helpers import message


def test_wal_foreign_keys_and_migrations(tmp_path):
    db = open_db(tmp_path / "s.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    applied = [m.name for m in migrations.applied(db)]
    assert applied[0] == "m001_initial"
    assert migrations.pending(db) == []
    for table in ("accounts", "cursors", "observations", "messages", "people", "addresses",
                  "my_addresses", "touchpoints", "quarantine"):  # fmt: skip
        assert db[table].exists(), table
    db.close()
    # reopening applies nothing twice
    db = open_db(tmp_path / "s.db")
    assert [m.name for m in migrations.applied(db)] == applied


def test_a_failing_batch_leaves_no_data_and_no_cursor(tmp_path):
    db = open_db(tmp_path / "s.db")
    account = ensure_account(db, "local", "local")
    good = MailObservation(
        "inbox", "x:0", scan_headers(message(sender="a@x.example", to="b@y.example"))
    )
    # The quarantine is written after the mail: a bad excerpt fails the batch late.
    poisoned = Quarantined("inbox", "x:1", "test", excerpt=object())
    batch = Batch(mail=[good], quarantined=[poisoned], cursors={"x": {"offset": 2}})
    with pytest.raises(TypeError):
        Ingestor(db, account).apply(batch)
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 0


def test_foreign_keys_are_enforced(tmp_path):
    import sqlite3

    db = open_db(tmp_path / "s.db")
    with pytest.raises(sqlite3.IntegrityError), db.atomic():
        db.execute("INSERT INTO cursors(account_id, scope, value) VALUES (999, 's', '{}')")


def test_m007_turns_stored_text_keys_into_64_bit_keys(tmp_path):
    """A store from before m007 keeps every logical-message key, now as key64 integers,
    and every observation (m008 rebuilds the table)."""
    path = tmp_path / "old.db"
    db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m007_message_keys_64")
    db.execute("INSERT INTO messages(id, canonical_hash, recipients) VALUES (7, 'h', '{}')")
    db.execute("INSERT INTO message_keys(key, message_id) VALUES ('m:a@b', 7), ('f:00ff', 7)")
    db.execute("INSERT INTO accounts(id, name, kind) VALUES (1, 'local', 'local')")
    db.execute(
        "INSERT INTO observations(account_id, folder, content_hash, locator, headers, message_id)"
        " VALUES (1, 'inbox', 'h', 'f:0', '{}', 7)"
    )
    db.conn.close()
    db = open_db(path)
    rows = set(db.execute("SELECT key, message_id FROM message_keys").fetchall())
    assert rows == {(key64("m:a@b"), 7), (key64("f:00ff"), 7)}
    assert key64("m:a@b") != key64("m:a@c")
    # m008: observations kept, with the one index
    kept = db.execute("SELECT account_id, folder, content_hash, message_id FROM observations")
    assert kept.fetchall() == [(1, "inbox", "h", 7)]
    assert [i.name for i in db["observations"].indexes] == ["observations_copy"]


def test_a_merged_away_message_is_found_through_its_alias(tmp_path):
    """A copy bridging two stored messages merges them (the lower id survives); a later
    copy known only by a key of the retired message joins the survivor."""
    db = open_db(tmp_path / "s.db")
    ingest = Ingestor(db, ensure_account(db, "local", "local"))
    when = "Fri, 01 Mar 2024 12:00:00 +0000"

    def apply(folder: str, message_id: str, subject: str) -> None:
        raw = message(
            sender="ann@x.example", to="me@y.example", date=when, subject=subject,
            message_id=message_id,
        )  # fmt: skip
        ingest.apply(Batch(mail=[MailObservation(folder, f"{folder}:0", scan_headers(raw))]))

    apply("a", "<first@x>", "one")  # message 1
    apply("b", "<second@x>", "two")  # message 2
    assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    apply("c", "<first@x>", "two")  # Message-ID of 1, fingerprint of 2: one message
    apply("d", "<second@x>", "other")  # only the Message-ID of the retired message 2
    assert db.execute("SELECT id FROM messages").fetchall() == [(1,)]
    assert db.execute("SELECT id, message_id FROM message_aliases").fetchall() == [(2, 1)]
    assert {r[0] for r in db.execute("SELECT message_id FROM observations")} == {1}
    assert db.execute("SELECT copies FROM messages").fetchone()[0] == 4
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_new_touchpoints_mark_their_addresses_for_the_rules_once_per_batch(tmp_path):
    """m009: no per-row insert trigger; ingest marks each touched address in rules_dirty
    (deletes and updates are still marked by triggers)."""
    db = open_db(tmp_path / "s.db")
    triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert "rules_touch_insert" not in triggers
    assert {"rules_touch_delete", "rules_touch_update"} <= triggers
    account = ensure_account(db, "local", "local")
    mail = [
        MailObservation(
            "inbox",
            f"x:{i}",
            scan_headers(message(sender=sender, to="me@x.example", subject=f"s{i}")),
        )
        for i, sender in enumerate(["ann@y.example", "bob@y.example", "ann@y.example"])
    ]
    with db.atomic():
        add_my_addresses(db, ["me@x.example"], source="user")
    Ingestor(db, account).apply(Batch(mail=mail))
    touched = {r[0] for r in db.execute("SELECT DISTINCT address FROM touchpoints")}
    assert touched == {"ann@y.example", "bob@y.example"}
    assert {r[0] for r in db.execute("SELECT address FROM rules_dirty")} == touched
    db.execute("DELETE FROM rules_dirty")
    with db.atomic():
        db.execute("DELETE FROM touchpoints WHERE address = 'bob@y.example'")
    assert [r[0] for r in db.execute("SELECT address FROM rules_dirty")] == ["bob@y.example"]


def test_the_store_and_its_wal_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        db = open_db(tmp_path / "s.db")
        db.execute("INSERT INTO settings(key, value) VALUES ('k', '1')")  # creates the WAL
        for name in ("s.db", "s.db-wal", "s.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
        db.close()
        # a store made before (0644) is made private when opened
        (tmp_path / "s.db").chmod(0o644)
        open_db(tmp_path / "s.db").close()
        assert stat.S_IMODE((tmp_path / "s.db").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_checkpoint_beside_copies_the_wal_into_the_store_file_during_the_block(tmp_path):
    db = open_db(tmp_path / "s.db")
    db.execute("PRAGMA wal_autocheckpoint=0")  # nothing reaches the file unless copied
    with db.atomic():
        db.execute("CREATE TABLE t (v TEXT)")
        db.conn.executemany("INSERT INTO t VALUES (?)", [(str(i),) for i in range(2000)])
    with checkpoint_beside(db):
        db.execute("INSERT INTO t VALUES ('written beside')")  # the block may write
    # The store file alone (no WAL) holds what was committed before the block.
    copy = tmp_path / "copy.db"
    copy.write_bytes((tmp_path / "s.db").read_bytes())
    alone = sqlite3.connect(copy)
    assert alone.execute("SELECT count(*) FROM t").fetchone()[0] in (2000, 2001)
    alone.close()
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 2001


def test_checkpoint_beside_does_nothing_for_a_store_in_memory():
    db = open_db(":memory:")
    with checkpoint_beside(db):
        db.execute("CREATE TABLE t (v TEXT)")
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_null_and_blob_parameters_are_stored_as_null_and_blob():
    """The store's adapters for None and bytes (a shortcut past sqlite3's adaptation
    protocol) bind exactly what sqlite3 binds without them."""
    db = open_db(":memory:")
    db.execute("CREATE TABLE t(a, b, c)")
    db.conn.executemany("INSERT INTO t VALUES (?, ?, ?)", [(None, b"\x00x", "s"), (1, None, b"")])
    rows = db.execute(
        "SELECT typeof(a), typeof(b), typeof(c), b, c FROM t ORDER BY rowid"
    ).fetchall()
    assert rows == [("null", "blob", "text", b"\x00x", "s"), ("integer", "null", "blob", None, b"")]
