"""Person kinds are inferred again exactly when what inference reads has changed, told by
rowid maxima (no scan of the messages): a new message, a new copy of a stored message
(its folder and labels count), a merge of two messages, a new person."""

from __future__ import annotations

from rules.settings import build_config
from syncd.pipeline.kinds import STATE_KEY, classify
from syncd.store.db import get_setting, open_db
from tests.support.synthetic import World

T = build_config({}).kinds
NOW = 1_700_000_000


def _classified(db) -> object:
    with db.atomic():
        classify(db, T)
    return get_setting(db, STATE_KEY)


def test_each_kind_of_change_makes_inference_run_again():
    db = open_db(":memory:")
    w = World(db)
    first = w.mail_in("ana@x.org", NOW - 100, "hello")
    second = w.mail_in("bo@x.org", NOW - 50, "hi")
    state = _classified(db)
    assert _classified(db) == state  # nothing changed: the same signature, no new pass

    w.mail_in("ana@x.org", NOW - 10, "again")  # a new message
    after_message = _classified(db)
    assert after_message != state

    with db.atomic():  # a second copy of a stored message, found in a Sent folder
        account = db.execute("INSERT INTO accounts(name, kind) VALUES ('t', 'local')").lastrowid
        db.execute(
            "INSERT INTO observations(account_id, folder, content_hash, locator, headers,"
            " message_id) VALUES (?, 'Sent', 'h', 'uid:1', '{}', ?)",
            [account, first],
        )
    after_copy = _classified(db)
    assert after_copy != after_message

    with db.atomic():  # two stored messages merged into one
        db.execute("INSERT INTO message_aliases(id, message_id) VALUES (?, ?)", [second, first])
    after_merge = _classified(db)
    assert after_merge != after_copy

    w.person("new@x.org")  # a new person
    assert _classified(db) != after_merge
