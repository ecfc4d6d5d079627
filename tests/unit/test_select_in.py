"""select_in / execute_in: an ``IN (?...)`` over any number of values, in chunks that stay
under SQLite's bound-parameter limit, with the other parameters on either side."""

from __future__ import annotations

import pytest
import sqlite_utils

from syncd.store.db import CHUNK, execute_in, select_in


@pytest.fixture
def db():
    db = sqlite_utils.Database(memory=True)
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, grp TEXT, at INTEGER)")
    db.conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?)", [(i, "ab"[i % 2], i * 10) for i in range(3000)]
    )
    return db


def test_every_value_is_asked_across_chunk_boundaries(db):
    ids = [*range(0, 3000, 2), 5000]  # 1,501 values: four chunks, one id unknown
    assert len(ids) > 3 * CHUNK
    rows = list(select_in(db, "SELECT id FROM t WHERE id IN (?...) ORDER BY id", ids))
    assert [r[0] for r in rows] == list(range(0, 3000, 2))


def test_parameters_before_and_after_the_list_keep_their_places(db):
    ids = list(range(2 * CHUNK + 7))
    sql = "SELECT id FROM t WHERE grp = ? AND id IN (?...) AND at >= ?"
    rows = {i for (i,) in select_in(db, sql, ids, before=("b",), after=(100,))}
    assert rows == {i for i in ids if i % 2 == 1 and i * 10 >= 100}


def test_no_values_ask_nothing(db):
    assert list(select_in(db, "SELECT id FROM t WHERE id IN (?...)", [])) == []
    execute_in(db, "DELETE FROM t WHERE id IN (?...)", [])
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 3000


def test_execute_in_runs_the_statement_for_every_chunk(db):
    execute_in(db, "DELETE FROM t WHERE grp = ? AND id IN (?...)", list(range(2000)), before=("a",))
    left = [i for (i,) in db.execute("SELECT id FROM t WHERE id < 2000 ORDER BY id")]
    assert left == list(range(1, 2000, 2))
    assert db.execute("SELECT count(*) FROM t WHERE id >= 2000").fetchone()[0] == 1000


@pytest.mark.parametrize("sql", ["SELECT id FROM t WHERE id IN (?)", "SELECT (?...), (?...)"])
def test_a_statement_without_exactly_one_list_is_refused(db, sql):
    with pytest.raises(ValueError, match="exactly one"):
        list(select_in(db, sql, [1]))
