"""One owner per table: each table is written by exactly one module (design.md §1).

The source of ``syncd/``, ``connectors/`` and ``rules/`` is scanned for SQL
writes (``INSERT``/``REPLACE INTO``, ``UPDATE``, ``DELETE FROM``, in string
literals and f-strings, docstrings aside) and sqlite-utils table writes
(``db["t"].insert(...)``, ``db.table("t").upsert(...)``, ...). Migrations in
``syncd/store/migrations.py`` create, alter and backfill tables: they are schema, not
writers. The CLI, the daemon and the dashboard run no SQL at all: they call the owners'
functions (or read-only ones in ``syncd/report/``).
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from syncd.store.db import open_db
from tests.support.helpers import REPO

PACKAGES = ("syncd", "connectors", "rules")

# table -> the one module that writes it (keep README.md "Who writes which table" in step)
OWNERS = {
    "accounts": "syncd/pipeline/accounts.py",
    "account_state": "syncd/pipeline/accounts.py",
    "cursors": "syncd/pipeline/accounts.py",
    "messages": "syncd/pipeline/ingest.py",
    "message_keys": "syncd/pipeline/ingest.py",
    "message_aliases": "syncd/pipeline/ingest.py",
    "observations": "syncd/pipeline/ingest.py",
    "events": "syncd/pipeline/ingest.py",
    "quarantine": "syncd/pipeline/ingest.py",
    "touchpoints": "syncd/pipeline/ingest.py",
    "people": "syncd/pipeline/identity.py",
    "addresses": "syncd/pipeline/identity.py",
    "my_addresses": "syncd/pipeline/identity.py",
    "person_kinds": "syncd/pipeline/kinds.py",
    "ignores": "syncd/pipeline/kinds.py",
    "address_stats": "syncd/pipeline/address_stats.py",
    "kind_people": "syncd/pipeline/kinds.py",
    "rules_dirty": "rules/dirty.py",
    "rules_dirty_people": "rules/dirty.py",
    "rules_people": "rules/aggregates.py",
    "flags": "rules/flags.py",
    "manual_touches": "syncd/pipeline/manual.py",
    "tags": "syncd/pipeline/tags.py",
    "contacts": "syncd/pipeline/contacts.py",
    "person_merges": "syncd/pipeline/merging.py",
    "introductions": "syncd/pipeline/introductions.py",
    "followups": "syncd/followup/ledger.py",
    "outbox": "syncd/followup/outbox.py",
    "settings": "syncd/store/db.py",
}
NO_SQL = ("syncd/commands", "syncd/daemon", "syncd/web", "syncd/cli.py")

NAME = r"([A-Za-z_][A-Za-z0-9_]*)"
SQL_WRITE = re.compile(
    rf"\bINTO\s+{NAME}"  # INSERT [OR ...] INTO t, REPLACE INTO t
    rf"|\bDELETE\s+FROM\s+{NAME}"
    rf"|(?<!DO )\bUPDATE\s+(?!SET\b|OF\b|ON\b){NAME}"  # not ON CONFLICT DO UPDATE SET
)
DYNAMIC_TARGET = re.compile(r"\b(INTO|DELETE\s+FROM|UPDATE)\s*$")
SQLITE_UTILS_WRITES = {"insert", "insert_all", "upsert", "upsert_all", "update", "delete",
                       "delete_where"}  # fmt: skip
SQL_WORDS = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE|PRAGMA|BEGIN|COMMIT|ROLLBACK)\b")
EXECUTE = re.compile(r"\bexecute(many|script)?\(")


def _is_migration(node: ast.AST) -> bool:
    return isinstance(node, ast.FunctionDef) and any(
        isinstance(d, ast.Call) and getattr(d.func, "id", None) == "migrations"
        for d in node.decorator_list
    )


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _sqlite_utils_table(call: ast.Call) -> str | None:
    """The table of ``<db>["t"].insert(...)`` / ``<db>.table("t").upsert(...)``, "?" when the
    name is computed, None when ``call`` is not such a write."""
    func = call.func
    if not isinstance(func, ast.Attribute) or func.attr not in SQLITE_UTILS_WRITES:
        return None
    target = func.value
    if isinstance(target, ast.Subscript) and _dotted(target.value).endswith("db"):
        key = target.slice
    elif (
        isinstance(target, ast.Call)
        and isinstance(target.func, ast.Attribute)
        and target.func.attr == "table"
        and _dotted(target.func.value).endswith("db")
        and target.args
    ):
        key = target.args[0]
    else:
        return None
    return key.value if isinstance(key, ast.Constant) and isinstance(key.value, str) else "?"


def table_writes(source: str) -> list[str]:
    """The tables ``source`` writes, one entry per write ("?" for a computed table name)."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if _is_migration(node):
            skip.update(id(n) for n in ast.walk(node))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # docstrings and other bare strings
    found: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for match in SQL_WRITE.finditer(node.value):
                found.append(next(g for g in match.groups() if g))
        elif isinstance(node, ast.JoinedStr):
            for part in node.values:
                if isinstance(part, ast.Constant) and DYNAMIC_TARGET.search(part.value):
                    found.append("?")
        elif isinstance(node, ast.Call):
            table = _sqlite_utils_table(node)
            if table is not None:
                found.append(table)
    return found


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def _writers() -> dict[str, set[str]]:
    writers: dict[str, set[str]] = defaultdict(set)
    for path in _sources():
        for table in table_writes(path.read_text(encoding="utf-8")):
            writers[table].add(path.relative_to(REPO).as_posix())
    return writers


def test_the_scanner_sees_every_form_of_write():
    source = '''
"""INSERT INTO docstrings_are_prose"""
def m001(db): ...
@migrations()
def m002(db):
    db.execute("INSERT INTO schema_backfill SELECT 1")
def f(db, t, cols):
    db.execute("INSERT INTO a(x) VALUES (?)", [1])
    db.execute("INSERT OR IGNORE INTO b(x) VALUES (?)", [1])
    db.conn.executemany("REPLACE INTO c(x) VALUES (?)", [])
    db.execute(f"UPDATE d SET x = ? WHERE id IN ({cols})")
    db.execute("UPDATE e INDEXED BY e_x SET x = 1")
    db.execute(f"DELETE FROM f WHERE id IN ({cols})")
    db.execute("INSERT " + "INTO g(x) VALUES (1)")
    db.execute("INSERT INTO h(k) VALUES (1) ON CONFLICT(k) DO UPDATE SET k = excluded.k")
    db["i"].insert({"x": 1})
    self.db.table("j").upsert({"x": 1}, pk="x")
    db[t].delete_where("x = 1")
    db.execute(f"DELETE FROM {t}")
    db.execute("SELECT x FROM k")
    {}.update({})
'''
    assert sorted(table_writes(source)) == sorted([*"abcdefghij", "?", "?"])


def test_every_table_has_one_listed_owner():
    db = open_db(":memory:")
    tables = {
        name
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        if not name.startswith(("sqlite_", "_sqlite_"))  # SQLite's and the migrations' own
    }
    assert tables == set(OWNERS)


def test_each_table_is_written_by_its_owner_only():
    writers = _writers()
    assert "?" not in writers, f"a table named at run time is written by {writers.get('?')}"
    unowned = sorted(set(writers) - set(OWNERS))
    assert unowned == [], f"writes to tables with no owner: {unowned}"
    wrong = {
        table: sorted(modules) for table, modules in writers.items() if modules != {OWNERS[table]}
    }
    assert wrong == {}, "each table must have exactly its owner as writer"
    assert set(writers) == set(OWNERS), "an owner stopped writing its table: update OWNERS"


def test_the_cli_and_the_daemon_run_no_sql():
    offenders = []
    for path in _sources():
        relative = path.relative_to(REPO).as_posix()
        if not relative.startswith(NO_SQL):
            continue
        text = path.read_text(encoding="utf-8")
        for lineno, line in enumerate(text.splitlines(), 1):
            if EXECUTE.search(line):
                offenders.append(f"{relative}:{lineno}: {line.strip()}")
        tree = ast.parse(text)
        docs = {
            id(n.value)
            for n in ast.walk(tree)
            if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docs
                and SQL_WORDS.search(node.value)
            ):
                offenders.append(f"{relative}:{node.lineno}: SQL text {node.value[:60]!r}")
    assert offenders == []
