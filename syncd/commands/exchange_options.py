"""``syncd account add exchange`` options: where the server is, how to log in, TLS.

:func:`exchange_options` adds the click options; :func:`exchange_settings`
turns the values given (with ``--username`` / ``--password-file`` of
:mod:`syncd.commands.server_options`) into the account's options, as
:mod:`connectors.options` declares them for the kind.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from syncd.commands.server_options import option_value
from syncd.core.errors import UserError

EXCHANGE_KEYS = ("ews_url", "server", "autodiscover", "auth", "ca_bundle", "no_calendar")
SHARED_KEYS = ("username", "password_file")


def exchange_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``syncd account add`` with the Exchange options."""
    options = [
        click.option("--ews-url", metavar="URL", help="Exchange: https://HOST/EWS/Exchange.asmx."),
        click.option("--server", metavar="HOST", help="Exchange: the server's host name."),
        click.option(
            "--autodiscover",
            is_flag=True,
            default=None,
            help="Exchange: find the server from the address (the default without a URL).",
        ),
        click.option(
            "--auth",
            type=click.Choice(["ntlm", "basic", "oauth"]),
            help="Exchange: ntlm (default), basic, or oauth (a bearer token).",
        ),
        click.option(
            "--ca-bundle",
            type=click.Path(path_type=Path, dir_okay=False),
            help="Exchange: trust this private CA certificate (PEM).",
        ),
        click.option(
            "--no-calendar",
            is_flag=True,
            default=None,
            help="Exchange, Outlook: read mail only, not the calendar.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def split_exchange(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(exchange values, the rest)`` of the extra options ``syncd account add`` received."""
    mine = {k: values.pop(k, None) for k in EXCHANGE_KEYS}
    return mine, values


def exchange_settings(kind: str, mine: dict[str, Any], server: dict[str, Any]) -> dict[str, Any]:
    """The account options of an ``exchange`` account (a clear error for misplaced flags)."""
    given = {k: v for k, v in mine.items() if v is not None}
    if kind != "exchange":
        if given:
            flags = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
            raise UserError(f"{flags}: only for exchange accounts")
        return {}
    foreign = sorted(k for k, v in server.items() if v is not None and k not in SHARED_KEYS)
    if foreign:
        flags = ", ".join("--" + k.replace("_", "-") for k in foreign)
        raise UserError(f"{flags}: not an option of an exchange account")
    if given.get("ews_url") and given.get("server"):
        raise UserError("give --ews-url or --server, not both")
    if given.get("autodiscover") and (given.get("ews_url") or given.get("server")):
        raise UserError("--autodiscover finds the server itself: drop --ews-url/--server")
    out: dict[str, Any] = {}
    for key in ("ews_url", "server", "auth"):
        if given.get(key):
            out[key] = given[key]
    if given.get("no_calendar"):
        out["calendar"] = False
    for key, value in [("ca_bundle", given.get("ca_bundle"))] + [
        (k, server.get(k)) for k in SHARED_KEYS
    ]:
        if value is not None:
            out[key] = option_value(key, value)
    return out
