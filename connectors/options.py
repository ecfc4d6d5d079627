"""What each connector accepts in ``[accounts.NAME]``: its option keys and their types.

``kind``, ``address``, ``me`` and ``enabled`` are every account's (checked by
:mod:`syncd.config.schema`); the other keys of an account's table are its
connector's options, declared here next to the connectors that read them
(a test holds each connector's reads to this table). :func:`account_problems`
checks an account: a kind with a connector, no unknown option (with a "did you
mean"), the right types, and paths that exist.
"""

from __future__ import annotations

from connectors import KNOWN
from syncd.config.schema import AccountConfig
from syncd.config.spec import Option, check_paths, check_value, unknown_key

LOCAL = {
    "paths": Option("paths", "the files or directories to read (a list)"),
}
GOOGLE = {
    "api_endpoint": Option("url", "a base URL replacing Google's (a proxy, an emulator)"),
    "token_file": Option("file", 'a JSON file {"token": "..."} holding a bare access token'),
    "client_secrets": Option("file", "your OAuth client's JSON (for syncd auth)"),
    "quota_per_minute": Option("number", "API units per minute", 1, 1e9),
    "quota_window": Option("number", "seconds over which the quota is paced", 0.01, 86400),
    "timeout": Option("number", "seconds to wait for one request", 0.05, 3600),
    "backoff_base": Option("number", "seconds of the first retry delay", 0, 600),
    "max_attempts": Option("int", "tries per request", 1, 100),
    "batch_size": Option("int", "calls per batch request", 1, 100),
    "page_size": Option("int", "items per list page", 1, 500),
}
PASSWORD = {
    "username": Option("string", "the login name (default: the account's address)"),
    "password_file": Option("file", "a file holding the password (mode 0600; else syncd auth)"),
    "timeout": Option("number", "seconds to wait for the server", 0.05, 3600),
}
GRAPH = {
    "api_endpoint": Option("url", "a base URL replacing https://graph.microsoft.com/v1.0"),
    "token_file": Option("file", 'a JSON file {"token": "..."} holding a bare access token'),
    "client_id": Option("string", "your app registration's client id (for syncd auth)"),
    "tenant": Option("string", "common, organizations, consumers or a tenant id"),
    "calendar": Option("string", "the calendar's name or id (default: the default calendar)"),
    "read_calendar": Option("bool", "read the calendar too (default: true)"),
    "filter_other": Option("bool", "treat mail Focused Inbox files under Other as bulk"),
    "history_days": Option("int", "days of calendar history read (default: 3650)", 1, 36500),
    "page_size": Option("int", "items per delta page", 1, 1000),
    "requests_per_window": Option("number", "requests per window (Outlook: 10000)", 1, 1e9),
    "window": Option("number", "seconds of the request window (Outlook: 600)", 0.01, 86400),
    "concurrency": Option("int", "requests in flight (at most 4)", 1, 4),
    "timeout": Option("number", "seconds to wait for one request", 0.05, 3600),
    "backoff_base": Option("number", "seconds of the first retry delay", 0, 600),
    "max_attempts": Option("int", "tries per request", 1, 100),
}

OPTIONS: dict[str, dict[str, Option]] = {
    "mbox": {**LOCAL, "workers": Option("int", "parser processes (0: none, default: 2)", 0, 64)},
    "maildir": dict(LOCAL),
    "ics": {**LOCAL, "horizon_end": Option("int", "expand recurrences up to (epoch seconds)")},
    "gmail": {
        **GOOGLE,
        "filter_categories": Option("bool", "treat Promotions/Social/Updates/Forums as bulk"),
        "send_digest": Option("bool", "send the weekly digest through this account"),
    },
    "gcal": {**GOOGLE, "calendar": Option("string", "the calendar id (default: primary)")},
    "outlook": dict(GRAPH),
    "imap": {
        **PASSWORD,
        "host": Option("string", "the IMAP server"),
        "port": Option("int", "its port (default: 993 with tls, 143 with starttls)", 1, 65535),
        "security": Option("string", "tls (default), starttls, or none (loopback only)"),
        "cafile": Option("file", "a private CA's certificate (PEM) to trust"),
        "batch_size": Option("int", "messages per fetch and per committed batch", 1, 10000),
        "smtp_host": Option("string", "the digest's submission server (default: smtp.DOMAIN)"),
        "smtp_port": Option("int", "its port (default: 587, 465 with tls)", 1, 65535),
        "smtp_security": Option("string", "starttls (default), tls, or none (loopback only)"),
    },
    "caldav": {
        **PASSWORD,
        "url": Option("url", "the CalDAV server (or calendar home) URL"),
        "calendar": Option("string", "the calendar's name or URL (default: the first)"),
        "cafile": Option("file", "a private CA's certificate (PEM) to trust"),
        "batch_size": Option("int", "events per request and per committed batch", 1, 1000),
    },
    "exchange": {
        **PASSWORD,
        "ews_url": Option("url", "the EWS endpoint, https://HOST/EWS/Exchange.asmx"),
        "server": Option("string", "the Exchange host (the standard EWS path is used)"),
        "auth": Option("string", "ntlm (default), basic, or oauth (a bearer token)"),
        "ca_bundle": Option("file", "a private CA's certificate (PEM) to trust"),
        "calendar": Option("bool", "read the calendar too (default: true)"),
        "page_size": Option("int", "changes per SyncFolderItems page and batch", 1, 512),
        "max_attempts": Option("int", "tries per request (busy server, timeouts)", 1, 100),
        "backoff_base": Option("number", "seconds of the first retry delay", 0, 600),
        "window_past_days": Option("int", "calendar days read back (default: 365)", 1, 3650),
        "window_future_days": Option("int", "calendar days read ahead (default: 90)", 1, 3650),
    },
}
ACCOUNT_KINDS = tuple(k for k in OPTIONS if k in KNOWN)  # what `syncd account add` offers


def account_problems(account: AccountConfig, check_files: bool = True) -> list[str]:
    """Every problem of ``account``'s kind and options; with ``check_files``, also the
    ``paths`` and files it names that do not exist (only for an enabled account)."""
    where = f"accounts.{account.name}"
    options = OPTIONS.get(account.kind)
    if options is None or account.kind not in KNOWN:
        if not account.enabled:
            return []  # kept for later, never opened
        return [
            f"{where}.kind: syncd has no {account.kind} connector yet; it reads "
            f"{', '.join(ACCOUNT_KINDS)} (enabled = false keeps the table without using it)"
        ]
    problems: list[str] = []
    for key, value in account.options.items():
        option = options.get(key)
        if option is None:
            what = f"setting for a {account.kind} account"
            problems.append(unknown_key(where, key, options, what))
            continue
        wrong = check_value(f"{where}.{key}", value, option)
        problems += wrong
        if check_files and account.enabled and not wrong:
            problems += check_paths(f"{where}.{key}", value, option)
    if "paths" in options and "paths" not in account.options:
        problems.append(
            f'{where}.paths: needed: the files or directories to read, e.g. ["~/Mail/archive"]'
        )
    return problems
