"""``syncd account add`` options of the server kinds (``imap``, ``caldav``).

:func:`server_options` adds the click options; :func:`server_settings` turns
their values into the account's options (what :mod:`connectors.options`
declares for the kind), refusing options of another kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from connectors.passwords import forget_password, store_password
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home

SERVER_KINDS = ("imap", "caldav")
_IMAP_ONLY = ("host", "port", "security")
_CALDAV_ONLY = ("url",)


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``syncd account add`` with the IMAP and CalDAV options."""
    options = [
        click.option("--host", metavar="HOST", help="IMAP: the server, e.g. imap.fastmail.com."),
        click.option("--port", type=click.IntRange(1, 65535), help="IMAP: its port."),
        click.option(
            "--tls",
            "security",
            flag_value="tls",
            help="IMAP: implicit TLS (port 993; the default).",
        ),
        click.option(
            "--starttls", "security", flag_value="starttls", help="IMAP: STARTTLS (port 143)."
        ),
        click.option(
            "--plaintext",
            "security",
            flag_value="none",
            help="IMAP: no TLS; only to this machine (a local bridge).",
        ),
        click.option(
            "--cafile",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Trust this private CA certificate (PEM).",
        ),
        click.option("--url", metavar="URL", help="CalDAV: the server or calendar home URL."),
        click.option("--username", metavar="USER", help="Login name (default: --address)."),
        click.option(
            "--password-file",
            type=click.Path(path_type=Path, dir_okay=False),
            help="A file holding the password (mode 0600); else `syncd auth NAME` asks once.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def server_settings(kind: str, values: dict[str, Any]) -> dict[str, Any]:
    """The account options of the server options given (None values are absent)."""
    given = {k: v for k, v in values.items() if v is not None}
    if kind not in SERVER_KINDS:
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
            raise UserError(f"{flags}: only for imap and caldav accounts")
        return {}
    wrong = _CALDAV_ONLY if kind == "imap" else _IMAP_ONLY
    extra = [k for k in wrong if k in given]
    if extra:
        flags = ", ".join("--" + k for k in extra)
        raise UserError(f"{flags}: not an option of a {kind} account")
    if kind == "imap" and "host" not in given:
        raise UserError("an imap account needs --host (e.g. imap.fastmail.com)")
    if kind == "caldav" and "url" not in given:
        raise UserError("a caldav account needs --url (e.g. https://caldav.fastmail.com/)")
    return {key: option_value(key, value) for key, value in given.items()}


def option_value(key: str, value: Any) -> Any:
    """Option ``--KEY``'s value as config.toml keeps it: a path must exist and is made
    absolute; anything else as given."""
    if isinstance(value, Path):
        if not value.exists():
            raise UserError(f"--{key.replace('_', '-')}: {value} does not exist")
        return str(value.resolve())
    return value


def ask_password(home: Home, account: AccountConfig, forget: bool) -> str:
    """``syncd auth NAME`` for a server account: ask the password once (hidden) and keep
    it in the OS keyring (or a 0600 file); with ``forget``, drop it. A one-line report."""
    if forget:
        forget_password(account, home)
        return f"forgot the password of {account.name}"
    if account.options.get("password_file"):
        raise UserError(
            f"account {account.name} reads its password from {account.options['password_file']}; "
            "remove password_file to keep it in the keyring instead"
        )
    who = account.options.get("username") or account.address or account.name
    password = click.prompt(f"password (an app password) for {who}", hide_input=True)
    if not password.strip():
        raise UserError("an empty password was not stored")
    where = store_password(account, home, password)
    return f"stored the password of {account.name} in {where}"
