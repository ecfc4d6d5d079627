"""``syncd account add outlook`` options: the app registration, the tenant, what to read.

:func:`outlook_options` adds the click options; :func:`split_outlook` takes
their values (and ``--no-calendar``, shared with Exchange, for an outlook
account) out of the extra options; :func:`outlook_settings` turns them into
the account's options as :mod:`connectors.options` declares them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from syncd.core.errors import UserError

OUTLOOK_KEYS = ("tenant", "client_id", "filter_other")


def outlook_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``syncd account add`` with the Outlook (Microsoft Graph) options."""
    options = [
        click.option(
            "--tenant",
            metavar="TENANT",
            help="Outlook: common (default), organizations, consumers, or your tenant id.",
        ),
        click.option(
            "--client-id",
            metavar="ID",
            help="Outlook: your app registration's client id (README: registering one).",
        ),
        click.option(
            "--filter-other",
            is_flag=True,
            default=None,
            help="Outlook: treat mail Focused Inbox files under Other as bulk.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def split_outlook(kind: str, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(outlook values, the rest)``; ``--no-calendar`` is the outlook account's too."""
    mine = {k: values.pop(k, None) for k in OUTLOOK_KEYS}
    if kind == "outlook":
        mine["no_calendar"] = values.pop("no_calendar", None)
    return mine, values


def outlook_settings(kind: str, mine: dict[str, Any], address: str | None) -> dict[str, Any]:
    """The account options of an ``outlook`` account (a clear error for misplaced flags)."""
    given = {k: v for k, v in mine.items() if v is not None}
    if kind != "outlook":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
            raise UserError(f"{flags}: only for outlook accounts")
        return {}
    if not address:
        raise UserError("an outlook account needs --address (the mailbox's address)")
    out: dict[str, Any] = {}
    if given.get("tenant"):
        out["tenant"] = str(given["tenant"]).strip()
    if given.get("client_id"):
        out["client_id"] = str(given["client_id"]).strip()
    if given.get("filter_other"):
        out["filter_other"] = True
    if given.get("no_calendar"):
        out["read_calendar"] = False
    return out
