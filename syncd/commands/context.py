"""The state every CLI command shares: home, evaluation instant, database."""

from __future__ import annotations

import json

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


pass_ctx = click.make_pass_decorator(Context)


def echo_json(value: object) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))
