"""Passwords of IMAP and CalDAV accounts (app passwords): a file, else the OS keyring.

``password_file`` (an account option, for automation) names a file holding
the password on its first line; it must not be readable by others. Otherwise
the password is the one ``syncd auth NAME`` stored: in the OS keyring, or a
0600 file under ``HOME/tokens`` where no keyring is usable (the same store
as the Google grants: :class:`connectors.secret_store.TokenStore`).
"""

from __future__ import annotations

import stat
from pathlib import Path

from connectors.secret_store import TokenStore
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, UserError
from syncd.core.home import Home

PASSWORD_KINDS = ("imap", "caldav")


def read_password_file(path: Path) -> str:
    """The first line of ``path``; refused when others may read it."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the password file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UserError(f"the password file {path} is readable by others: chmod 600 {path}")
    line = text.splitlines()[0] if text.splitlines() else ""
    if not line:
        raise UserError(f"the password file {path} is empty")
    return line


def account_password(account: AccountConfig, home: Home) -> str:
    """The password of ``account``: its ``password_file``, else the stored one."""
    file = account.options.get("password_file")
    if file:
        return read_password_file(Path(str(file)).expanduser())
    stored = TokenStore(home).load(account.name) or {}
    password = stored.get("password")
    if not isinstance(password, str) or not password:
        raise AuthRequired(
            f"account {account.name} has no password yet: run `syncd auth {account.name}` "
            "(an app password for most providers)"
        )
    return password


def store_password(account: AccountConfig, home: Home, password: str) -> str:
    """Keep ``password`` for ``account`` (keyring, else a 0600 file); where it went."""
    store = TokenStore(home)
    store.save(account.name, {"password": password})
    return store.where


def forget_password(account: AccountConfig, home: Home) -> None:
    """Drop the stored password of ``account``."""
    TokenStore(home).delete(account.name)
