"""A real mailbox imported folder by folder: after each import the person kinds inferred
incrementally (new messages folded into the stored statistics) equal a full pass's."""

from __future__ import annotations

import sqlite3

import sqlite_utils

from rules.settings import build_config
from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.core.timeutil import parse_instant
from syncd.pipeline import kinds
from syncd.pipeline.local_import import import_paths
from tests.support.helpers import shared_data

T = build_config({}).kinds
ALLEN_ME = ["phillip.allen@enron.com"]
# inbox first: the later folders hold new messages and copies of stored ones
FOLDERS = ["inbox", "straw", "discussion_threads", "notes_inbox", "sent", "all_documents"]


def _kinds(db: sqlite_utils.Database) -> list[tuple]:
    return list(db.execute("SELECT person_id, kind, source, evidence FROM person_kinds ORDER BY 1"))


def _full_pass(db: sqlite_utils.Database) -> list[tuple]:
    clone = sqlite_utils.Database(sqlite3.connect(":memory:"))
    db.conn.backup(clone.conn)
    with clone.atomic():
        kinds.classify(clone, T, force=True)
    return _kinds(clone)


def test_enron_folder_by_folder_kinds_equal_a_full_pass(tmp_path, monkeypatch):
    mail = shared_data("enron", "allen-p")
    ctx = Context(Home(tmp_path / "home"), parse_instant("2030-01-01"))
    paths: list[str] = []
    incremental = kinds._classify_incremental

    def spy(db, thresholds):
        changes = incremental(db, thresholds)
        paths.append("full" if changes is None else "incremental")
        return changes

    monkeypatch.setattr(kinds, "_classify_incremental", spy)
    for folder in FOLDERS:
        import_paths(
            ctx.db, ctx.home, "mbox", [mail / folder], ALLEN_ME, now=ctx.now, options={"workers": 1}
        )
        with ctx.db.atomic():
            kinds.classify(ctx.db, T)
        assert _kinds(ctx.db) == _full_pass(ctx.db), folder
    assert "incremental" in paths, paths
    assert any(kind != "human" for _, kind, _, _ in _kinds(ctx.db))
