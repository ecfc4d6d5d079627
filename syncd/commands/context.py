"""The state every CLI command shares: home, evaluation instant, database."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
from pathlib import Path

import click
import sqlite_utils

from syncd.core.home import Home
from syncd.store.db import open_db


class Context:
    """What every command needs: the home, the instant, the database."""

    def __init__(self, home: Home, now: int, verbose: int = 0):
        self.home = home
        self.now = now
        self.verbose = verbose
        self._db: sqlite_utils.Database | None = None

    @property
    def db(self) -> sqlite_utils.Database:
        """The store, opened (and migrated) on first use."""
        if self._db is None:
            self.home.ensure()
            self._db = open_db(self.home.db_path)
        return self._db

    def close(self) -> None:
        """Close the store if the command opened it (its WAL is then copied in and removed)."""
        if self._db is not None:
            self._db.conn.close()
            self._db = None


pass_ctx = click.make_pass_decorator(Context)


# JSON escapes C0 controls itself; DEL and the C1 controls (0x9b is a one-byte CSI) it
# leaves raw with ensure_ascii=False, so a crafted name could still reach a terminal.
_JSON_RAW = re.compile(r"[\x7f-\x9f\u2028\u2029]")


def echo_json(value: object) -> None:
    """Print ``value`` as indented JSON (non-ASCII kept, every control character escaped)."""
    text = json.dumps(value, indent=2, ensure_ascii=False)
    click.echo(_JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text))


def program_name() -> str:
    """How the user can run this syncd again, for hints: ``syncd`` when that is on PATH
    (and is this one), else the path it was started by (``.venv/bin/syncd``), else
    ``python -m syncd``."""
    argv0 = Path(sys.argv[0])
    found = shutil.which("syncd")
    if argv0.name == "syncd" and argv0.exists():
        if found and Path(found).resolve() == argv0.resolve():
            return "syncd"
        return shlex.quote(str(argv0))
    if found:
        return "syncd"
    return f"{shlex.quote(sys.executable)} -m syncd"
