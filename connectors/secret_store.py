"""Secrets of connector accounts: OAuth grants and passwords, by account name.

They live in the OS keyring (the ``keyring`` package, when a usable backend
exists) or else in 0600 JSON files under ``HOME/tokens/`` (a 0700 directory).
``SYNCD_KEYRING=0`` forces the file store. Never in the configuration.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, UserError
from syncd.core.files import replace_file
from syncd.core.home import Home

log = logging.getLogger(__name__)

KEYRING_SERVICE = "syncd"


def usable_keyring() -> Any | None:
    """The keyring module when a real backend is available, else None."""
    if os.environ.get("SYNCD_KEYRING", "").strip().lower() in ("0", "no", "off", "false", "file"):
        return None
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except Exception:
        return None
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return None
    if type(backend).__module__.endswith(("null", "fail")):
        return None
    return keyring


class TokenStore:
    """Grants by account name: the OS keyring when usable, else 0600 files."""

    def __init__(self, home: Home):
        self.home = home
        self._keyring = usable_keyring()

    @property
    def where(self) -> str:
        """Where new grants are stored, for messages."""
        if self._keyring is not None:
            return f"the OS keyring ({type(self._keyring.get_keyring()).__name__})"
        return str(self.home.tokens_dir)

    def _user(self, name: str) -> str:
        return f"{self.home.root}:{name}"

    def _file(self, name: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        return self.home.tokens_dir / f"{safe}.json"

    def load(self, name: str) -> dict[str, Any] | None:
        """The stored grant of account ``name``, or None."""
        if self._keyring is not None:
            try:
                text = self._keyring.get_password(KEYRING_SERVICE, self._user(name))
            except Exception as exc:
                log.warning("keyring unavailable (%s); using token files", type(exc).__name__)
                self._keyring = None
                text = None
            if text:
                return json.loads(text)
        path = self._file(name)
        if path.exists():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise AuthRequired(
                    f"account {name}: the stored grant {path} is unreadable ({exc}); "
                    f"run `syncd auth {name}`"
                ) from None
        return None

    def save(self, name: str, grant: dict[str, Any]) -> None:
        """Store (or replace) the grant of account ``name``."""
        text = json.dumps(grant, sort_keys=True)
        if self._keyring is not None:
            try:
                self._keyring.set_password(KEYRING_SERVICE, self._user(name), text)
                path = self._file(name)
                if path.exists():
                    path.unlink()
                return
            except Exception as exc:
                log.warning(
                    "keyring refused the token (%s); using a token file", type(exc).__name__
                )
                self._keyring = None
        self.home.ensure()
        self.home.tokens_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.home.tokens_dir, 0o700)
        replace_file(self._file(name), text, mode=0o600)

    def delete(self, name: str) -> None:
        """Forget the grant of account ``name`` (wherever it is)."""
        if self._keyring is not None:
            with contextlib.suppress(Exception):
                self._keyring.delete_password(KEYRING_SERVICE, self._user(name))
        path = self._file(name)
        if path.exists():
            path.unlink()


def read_token_file(account: AccountConfig) -> tuple[Path, Any]:
    """The path and parsed JSON of the account's ``token_file`` (for proxies, emulators
    and tests); a missing or unreadable file is a :class:`UserError` naming it."""
    path = Path(str(account.options["token_file"])).expanduser()
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"account {account.name}: token file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"account {account.name}: unreadable token file {path}: {exc}") from None


def bare_token(account: AccountConfig, path: Path, data: Any) -> str:
    """The access token of a token file holding ``{"token": "..."}``."""
    if not isinstance(data, dict) or not isinstance(data.get("token"), str):
        raise UserError(f'account {account.name}: token file {path} must hold {{"token": "..."}}')
    return data["token"]
