"""``syncd doctor``: an ``exchange`` account that points at Exchange Online is told to
move to ``outlook`` (Microsoft Graph): Microsoft switches EWS off for Exchange Online
from 1 October 2026 (for good on 1 April 2027)."""

from __future__ import annotations

from urllib.parse import urlsplit

from syncd.config.schema import AccountConfig
from syncd.ops.checks import WARN, Check

ONLINE_HOSTS = ("outlook.office365.com", "outlook.office.com", "outlook.live.com")


def online_host(account: AccountConfig) -> str | None:
    """The Exchange Online host an ``exchange`` account is configured with, or None."""
    url = account.options.get("ews_url")
    host = urlsplit(url).hostname if isinstance(url, str) else None
    server = account.options.get("server")
    for candidate in (host, server if isinstance(server, str) else None):
        if candidate and candidate.strip().lower().rstrip(".").endswith(ONLINE_HOSTS):
            return candidate.strip().lower()
    return None


def exchange_online_check(account: AccountConfig) -> Check | None:
    """A warning for an ``exchange`` account on Exchange Online, else None."""
    if account.kind != "exchange":
        return None
    host = online_host(account)
    if host is None:
        return None
    address = account.address or "ADDR"
    return Check(
        f"account {account.name}",
        WARN,
        f"{host} is Exchange Online, whose EWS Microsoft switches off from 1 October 2026",
        f"use Microsoft Graph instead: syncd account add outlook {account.name}-365 "
        f"--address {address} --client-id ID (README: Microsoft 365 and Outlook.com)",
    )
