"""What every page and action of the dashboard needs: the home, the instant, the store.

The store is opened once per server thread (SQLite connections stay on the thread
that opened them); the instant is ``--now`` when the server was started with one,
else the clock at each request. Before showing or changing anything the flags are
brought up to date, exactly as every CLI command does first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import sqlite_utils

from rules.engine import Report, evaluate
from rules.settings import RulesConfig
from rules.settings import load_config as load_rules
from syncd.config.schema import Config, load_config
from syncd.core.home import Home
from syncd.core.timeutil import now_epoch
from syncd.pipeline.identity import my_keys
from syncd.pipeline.kinds import excluded
from syncd.store.db import open_db


@dataclass
class WebContext:
    """The home the dashboard shows, and ``--now`` when one was given."""

    home: Home
    fixed_now: int | None = None
    _local: threading.local = field(default_factory=threading.local)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's connection to the store (opened and migrated on first use)."""
        db = getattr(self._local, "db", None)
        if db is None:
            self.home.ensure()
            db = self._local.db = open_db(self.home.db_path)
        return db

    def now(self) -> int:
        """The instant pages are evaluated at."""
        return self.fixed_now if self.fixed_now is not None else now_epoch(None)

    def config(self) -> Config:
        """``config.toml``, validated (an invalid one is a :class:`ConfigError`)."""
        return load_config(self.home.config_path)

    def rules(self) -> RulesConfig:
        """The rule settings (defaults + ``config.toml``)."""
        return load_rules(self.home.config_path)

    def refresh(self, now: int) -> Report:
        """Evaluate the rules as of ``now``, incrementally (as ``syncd flags`` does)."""
        return evaluate(self.db, now, self.rules(), my_keys=my_keys, excluded=excluded)
