"""Store._executescript splits scripts as sqlite-utils does (its splitter is quadratic):
the same statements, hence the same schema for a new store."""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.db import _iter_complete_sql_statements

from syncd.store.db import Store, open_db, split_statements

TRICKY = [
    "",
    "  \n",
    "SELECT 1",
    "SELECT 1;",
    "SELECT 1; SELECT 2;\n-- trailing comment",
    "INSERT INTO t VALUES ('a;b'); SELECT ';';",
    "CREATE TRIGGER x AFTER INSERT ON t BEGIN\n  INSERT INTO u VALUES (1);\n"
    "  DELETE FROM u;\nEND;\nSELECT 2",
    "/* a; b */ SELECT 1; -- c; d\nSELECT 2 ;  ;",
    'SELECT "x;y" ; SELECT [z;] ;',
]


def test_split_statements_equals_sqlite_utils_splitter():
    for sql in TRICKY:
        assert list(split_statements(sql)) == list(_iter_complete_sql_statements(sql)), sql


def test_migrations_split_alike_and_build_the_same_schema(tmp_path, monkeypatch):
    scripts: list[str] = []
    ours = Store._executescript

    def recording(self, sql):
        scripts.append(sql)
        return ours(self, sql)

    monkeypatch.setattr(Store, "_executescript", recording)
    db = open_db(tmp_path / "ours.db")
    assert len(scripts) > 10
    for sql in scripts:
        assert list(split_statements(sql)) == list(_iter_complete_sql_statements(sql))
    monkeypatch.setattr(Store, "_executescript", sqlite_utils.Database._executescript)
    theirs = open_db(tmp_path / "theirs.db")
    schema = "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name"
    assert db.execute(schema).fetchall() == theirs.execute(schema).fetchall()
