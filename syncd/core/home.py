"""Where syncd keeps things: the one place that knows the paths.

``--home DIR`` (or ``$SYNCD_HOME``) keeps everything under DIR: ``config.toml``,
``syncd.db``, ``tokens/``. Without it syncd uses the platform's places
(platformdirs): ``config.toml`` in the user config directory
(``~/.config/syncd`` on Linux), state and tokens in the user data directory
(``~/.local/share/syncd``). A home made before that split, with its
``config.toml`` beside the data, keeps working. ``--config FILE`` (or
``$SYNCD_CONFIG``) names the configuration file explicitly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from syncd.core.environment import explain_os_error, not_a_directory, symlink_loop

CONFIG_NAME = "config.toml"


def _absolute(path: Path) -> Path:
    """``path`` made absolute with symbolic links resolved; a loop is a clean error."""
    try:
        return path.expanduser().resolve()
    except RuntimeError:  # Python < 3.13: "Symlink loop from ..."
        raise symlink_loop(path.absolute()) from None
    except OSError as exc:
        raise explain_os_error(exc) from None


@dataclass(frozen=True)
class Home:
    """The directory holding ``syncd.db`` and ``tokens/`` and, unless ``config_file``
    names another place, ``config.toml``."""

    root: Path
    config_file: Path | None = None

    @classmethod
    def resolve(cls, option: str | None, config: str | None = None) -> Home:
        """``--home``, else ``SYNCD_HOME``, else the platform's directories; ``--config``
        (else ``SYNCD_CONFIG``) names the configuration file."""
        text = option or os.environ.get("SYNCD_HOME")
        config = config or os.environ.get("SYNCD_CONFIG")
        config_file = _absolute(Path(config)) if config else None
        if text:
            return cls(_absolute(Path(text)), config_file)
        home = cls.platform()
        return cls(home.root, config_file) if config_file else home

    @classmethod
    def platform(cls) -> Home:
        """The platform's user directories: data and tokens in the user data directory,
        ``config.toml`` in the user config directory (beside the data when it is there
        already, from an older syncd, or when both are one directory, as on macOS)."""
        data = _absolute(Path(platformdirs.user_data_dir("syncd")))
        config = _absolute(Path(platformdirs.user_config_dir("syncd")))
        legacy = (data / CONFIG_NAME).exists() and not (config / CONFIG_NAME).exists()
        if config == data or legacy:
            return cls(data)
        return cls(data, config / CONFIG_NAME)

    @property
    def db_path(self) -> Path:
        """The SQLite state file."""
        return self.root / "syncd.db"

    @property
    def config_path(self) -> Path:
        """The user's TOML configuration."""
        return self.config_file or self.root / CONFIG_NAME

    @property
    def tokens_dir(self) -> Path:
        """OAuth tokens when no OS keyring is available (files are 0600)."""
        return self.root / "tokens"

    def command_line(self) -> list[str]:
        """The global options that name this home to another ``syncd`` (the service)."""
        extra = ["--config", str(self.config_file)] if self.config_file else []
        return ["--home", str(self.root), *extra]

    def ensure(self) -> None:
        """Create the home directory, private to the user; a file in the way, a missing
        permission or a read-only disk is an :class:`EnvironmentProblem` in plain words."""
        if self.root.exists() and not self.root.is_dir():
            raise not_a_directory(self.root)
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise explain_os_error(exc) from None

    def ensure_config_dir(self) -> None:
        """Create the directory of ``config.toml`` (private to the user)."""
        try:
            self.config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise explain_os_error(exc) from None
