"""A real mailbox imported folder by folder: after each import the person kinds inferred
incrementally (new messages folded into the stored statistics) equal a full pass's."""

from __future__ import annotations

from rules.settings import build_config
from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.core.timeutil import parse_instant
from syncd.pipeline import kinds
from syncd.pipeline.local_import import import_paths
from tests.support.helpers import shared_data
from tests.support.kinds_passes import full_pass_kinds, stored_kinds

T = build_config({}).kinds
ALLEN_ME = ["phillip.allen@enron.com"]
# inbox first: the later folders hold new messages and copies of stored ones
FOLDERS = ["inbox", "straw", "discussion_threads", "notes_inbox", "sent", "all_documents"]


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
        assert stored_kinds(ctx.db) == full_pass_kinds(ctx.db, T), folder
    assert "incremental" in paths, paths
    assert any(kind != "human" for _, kind, _, _ in stored_kinds(ctx.db))
