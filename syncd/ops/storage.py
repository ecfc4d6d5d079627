"""``syncd doctor``'s checks of the files: the home, the tokens and the database.

Each lists every problem it finds, and a permission problem (a file or
directory you cannot read or write, a read-only file system) is told apart
from a damaged database: the fixes differ (``chmod`` / ``chown`` / a remount
against a backup or a resync).
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import sqlite_utils

from syncd.config.spec import path_problem
from syncd.core.environment import sqlite_failure
from syncd.core.home import Home
from syncd.ops.checks import FAIL, OK, WARN, Check, private
from syncd.store.db import Store
from syncd.store.migrations import migrations

DAMAGED_HINT = "move it aside and import or sync again, or restore it from a backup"


def access_problem(path: Path, directory: bool = False) -> str | None:
    """Why you cannot read and write ``path`` (a read-only file system, owner bits
    missing, another owner), or None. Mode bits are looked at too, so the answer holds
    for root (whom ``access()`` lets through) as for anyone."""
    try:
        st = path.stat()
        read_only = bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError as exc:
        return f"{path} cannot be examined: {(exc.strerror or str(exc)).lower()}"
    mode = stat.S_IMODE(st.st_mode)
    if read_only:
        return f"{path} is on a read-only file system"
    need = stat.S_IRUSR | stat.S_IWUSR | (stat.S_IXUSR if directory else 0)
    what = "searchable, readable and writable" if directory else "readable and writable"
    if st.st_uid == os.geteuid() and mode & need != need:
        return f"{path} is not {what} by you (mode {mode:04o})"
    if not os.access(path, os.R_OK | os.W_OK | (os.X_OK if directory else 0)):
        return f"{path} is not {what} by you (owner uid {st.st_uid}, mode {mode:04o})"
    return None


def check_home(home: Home) -> list[Check]:
    """The home exists, is a directory you can write, and is private to you."""
    root = home.root
    problem = path_problem(root)
    if problem and "does not exist" in problem:
        return [Check("home", FAIL, problem, "syncd init (or any import) creates it")]
    if problem:
        return [Check("home", FAIL, problem, "give --home a directory of your own")]
    if not root.is_dir():
        return [
            Check(
                "home",
                FAIL,
                f"{root} is a file, not a directory",
                "give --home a directory (syncd creates it), or move the file away",
            )
        ]
    checks: list[Check] = []
    access = access_problem(root, directory=True)
    if access:
        checks.append(Check("home", FAIL, f"permission problem: {access}", f"chmod 700 {root}"))
    mode = stat.S_IMODE(root.stat().st_mode)
    if not private(mode):
        message = f"{root} is accessible to other users ({mode:04o})"
        checks.append(Check("home", WARN, message, f"chmod 700 {root}"))
    return checks or [Check("home", OK, f"{root} (private, {mode:04o})")]


def check_secret(path: Path, where: str) -> list[Check]:
    """A token file exists and only you can read it."""
    if not path.exists():
        return [Check(where, FAIL, f"token file {path} does not exist", "syncd auth ...")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if not private(mode):
        return [
            Check(
                where,
                FAIL,
                f"token file {path} is readable by others ({mode:04o})",
                f"chmod 600 {path}",
            )
        ]
    return []


def check_tokens(home: Home) -> list[Check]:
    """The tokens directory and its files are private."""
    tokens = home.tokens_dir
    if not tokens.is_dir():
        return []
    checks: list[Check] = []
    mode = stat.S_IMODE(tokens.stat().st_mode)
    if not private(mode):
        checks.append(
            Check(
                "tokens",
                FAIL,
                f"{tokens} is accessible to others ({mode:04o})",
                f"chmod 700 {tokens}",
            )
        )
    for path in sorted(tokens.iterdir()):
        checks += check_secret(path, "tokens")
    if not checks:
        checks.append(Check("tokens", OK, f"{tokens}: private"))
    return checks


def _store_files(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}{s}") for s in ("", "-wal", "-shm")) if p.exists()]


def _permission_checks(path: Path, home_private: bool) -> list[Check]:
    checks: list[Check] = []
    denied = False
    for file in _store_files(path):
        problem = None if denied else access_problem(file)  # the WAL follows the store
        denied = denied or problem is not None
        if problem:
            checks.append(
                Check(
                    "database",
                    FAIL,
                    f"permission problem (the database is not damaged): {problem}",
                    f"chmod 600 {file}; chown $USER {file} if another user owns it",
                )
            )
        mode = stat.S_IMODE(file.stat().st_mode)
        if not home_private and not private(mode):
            checks.append(
                Check(
                    "database",
                    WARN,
                    f"{file} is readable by others ({mode:04o})",
                    f"chmod 600 {file}",
                )
            )
    return checks


def _failure_check(path: Path, exc: sqlite3.Error) -> Check:
    kind = sqlite_failure(exc)
    if kind == "damaged":
        return Check("database", FAIL, f"{path} is damaged: {exc}", DAMAGED_HINT)
    if kind == "locked":
        return Check(
            "database", WARN, f"{path} is locked by another program", "run syncd doctor again"
        )
    if kind in ("cantopen", "readonly"):
        return Check(
            "database",
            FAIL,
            f"permission problem: {path} cannot be opened ({exc})",
            f"ls -l {path.parent}; chmod 600 {path}",
        )
    return Check("database", FAIL, f"{path}: {exc}", DAMAGED_HINT)


def _integrity(db: sqlite_utils.Database, path: Path) -> list[Check]:
    checks: list[Check] = []
    quick = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
    if quick != ["ok"]:
        checks.append(
            Check("database", FAIL, f"{path} is damaged: {'; '.join(quick[:3])}", DAMAGED_HINT)
        )
    fk = db.execute("PRAGMA foreign_key_check").fetchall()
    if fk:
        checks.append(Check("database", FAIL, f"{len(fk)} foreign key violation(s)"))
    pending = [m.name for m in migrations.pending(db)]
    if pending:
        checks.append(
            Check(
                "database",
                WARN,
                f"{len(pending)} migration(s) pending ({', '.join(pending)})",
                "any syncd command applies them",
            )
        )
    return checks


def check_database(home: Home, db=None) -> list[Check]:
    """The store's files are yours to read and write, it opens, passes ``quick_check``
    and the foreign key check, and has every migration. ``db``: an open store to use."""
    path = home.db_path
    if db is None and not path.exists():
        return [
            Check("database", WARN, f"no {path.name} yet (created by the first sync or import)")
        ]
    home_private = home.root.is_dir() and private(stat.S_IMODE(home.root.stat().st_mode))
    checks = _permission_checks(path, home_private)
    conn = None
    try:
        if db is None:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
            db = Store(conn)
        checks += _integrity(db, path)
    except sqlite3.Error as exc:
        checks.append(_failure_check(path, exc))
    finally:
        if conn is not None:
            conn.close()
    if not checks:
        size = path.stat().st_size if path.exists() else 0
        checks.append(Check("database", OK, f"{path} ({size // 1024} KiB): integrity ok"))
    return checks
