"""Where syncd keeps things: config, state and tokens under one home directory."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


@dataclass(frozen=True)
class Home:
    """The directory holding ``config.toml``, ``syncd.db`` and ``tokens/``."""

    root: Path

    @classmethod
    def resolve(cls, option: str | None) -> Home:
        """``--home``, else ``SYNCD_HOME``, else the platform's user data directory."""
        text = option or os.environ.get("SYNCD_HOME")
        root = Path(text).expanduser() if text else Path(platformdirs.user_data_dir("syncd"))
        return cls(root.resolve())

    @property
    def db_path(self) -> Path:
        """The SQLite state file."""
        return self.root / "syncd.db"

    @property
    def config_path(self) -> Path:
        """The user's TOML configuration."""
        return self.root / "config.toml"

    @property
    def tokens_dir(self) -> Path:
        """OAuth tokens when no OS keyring is available (files are 0600)."""
        return self.root / "tokens"

    def ensure(self) -> None:
        """Create the home directory, private to the user."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
