"""Connectors: one module per source, all speaking :mod:`connectors.base`.

Modules are imported lazily by name (:func:`load`), so a missing optional
dependency breaks only its own connector. Each module is opened through one
seam: ``open_reader(account, home)`` where it reads and, if it writes,
``open_writer(account, home)`` (see :mod:`connectors.base`);
:func:`open_reader` / :func:`open_writer` here load the account's connector
and call them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from connectors.base import Reader, Writer
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home

# Connector names (account kinds, import kinds); a "-" in a name is a "_" in its module's.
KNOWN = (
    "mbox",
    "maildir",
    "ics",
    "gmail-json",
    "gmail",
    "gcal",
    "icsfile",
    "imap",
    "caldav",
    "exchange",
    "outlook",
)


def load(name: str) -> ModuleType:
    """Import ``connectors.<name>``; a missing dependency becomes a clear :class:`UserError`."""
    if name not in KNOWN:
        raise UserError(f"unknown connector {name!r} (known: {', '.join(KNOWN)})")
    try:
        return importlib.import_module(f"connectors.{name.replace('-', '_')}")
    except ImportError as exc:
        raise UserError(f"connector {name!r} needs a missing package: {exc.name or exc}") from exc


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The reader of ``account``: its connector's ``open_reader(account, home)``."""
    opener = getattr(load(account.kind), "open_reader", None)
    if opener is None:
        raise UserError(f"account {account.name}: connector {account.kind!r} cannot read")
    return opener(account, home)


def open_writer(account: AccountConfig, home: Home) -> Writer:
    """The writer of ``account``: its connector's ``open_writer(account, home)``."""
    opener = getattr(load(account.kind), "open_writer", None)
    if opener is None:
        raise UserError(f"account {account.name}: connector {account.kind!r} cannot take writes")
    return opener(account, home)
