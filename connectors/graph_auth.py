"""Microsoft grants for ``outlook`` accounts: scopes, msal flows, the token cache.

Scopes are least-privilege: ``Mail.ReadBasic`` (Graph then refuses bodies: the
metadata-only guarantee), ``Calendars.ReadWrite`` when follow-ups go to this
account's calendar (``[planner] calendar = "account:NAME"``), else
``Calendars.Read`` (none with ``read_calendar = false``), ``Mail.Send`` only
when the digest goes through it (``[digest] via = "account:NAME"``), plus
``offline_access`` (msal adds it by itself) for silent refreshes.

Tokens: an account with ``token_file`` (``{"token": "..."}``) uses that bare
access token, never refreshed (emulators, tests). Otherwise msal's
``PublicClientApplication`` (the user's app registration: ``client_id``,
``tenant``) with its token cache persisted by msal-extensions, encrypted in
the OS keyring / libsecret when available, else in a 0600 file under
``HOME/tokens/``; access tokens are refreshed silently from it.
``SYNCD_KEYRING=0`` forces the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from connectors.secret_store import bare_token, read_token_file
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, TransientError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

MAIL_READ = "Mail.ReadBasic"
MAIL_SEND = "Mail.Send"
CALENDARS_READ = "Calendars.Read"
CALENDARS_WRITE = "Calendars.ReadWrite"
AUTHORITY = "https://login.microsoftonline.com/"
TENANTS = ("common", "organizations", "consumers")


def _routes_here(config: Any, section: str, key: str, name: str) -> bool:
    table = config.section(section) if config is not None else {}
    return table.get(key) == f"account:{name}"


def scopes_for(account: AccountConfig, config: Any = None) -> list[str]:
    """The least-privilege Graph scopes of ``account`` (``config``: planner and digest routes)."""
    scopes = [MAIL_READ]
    if _routes_here(config, "planner", "calendar", account.name):
        scopes.append(CALENDARS_WRITE)
    elif account.options.get("read_calendar", True) is not False:
        scopes.append(CALENDARS_READ)
    if _routes_here(config, "digest", "via", account.name):
        scopes.append(MAIL_SEND)
    return scopes


def authority_for(account: AccountConfig) -> str:
    """``https://login.microsoftonline.com/<tenant>`` (tenant: common, organizations,
    consumers or a tenant id / domain; default ``common``)."""
    tenant = str(account.options.get("tenant") or "common").strip()
    if not tenant or "/" in tenant:
        raise UserError(
            f"account {account.name}: tenant must be common, organizations, consumers or an id"
        )
    return AUTHORITY + tenant


def client_id_of(account: AccountConfig) -> str:
    """The app registration's client id, or a :class:`UserError` saying how to get one."""
    client_id = account.options.get("client_id")
    if not isinstance(client_id, str) or not client_id.strip():
        raise UserError(
            f"account {account.name} has no client_id: register an app in the Azure portal "
            "(App registrations, 'Mobile and desktop applications' redirect URI "
            "http://localhost, 'Allow public client flows' on) and pass --client-id "
            f"(syncd account add outlook {account.name} ... --client-id ID)"
        )
    return client_id.strip()


def cache_path(home: Home, name: str) -> Path:
    """Where the msal token cache of account ``name`` lives (when it is a file)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return home.tokens_dir / f"{safe}.msal.json"


def _keyring_wanted() -> bool:
    return os.environ.get("SYNCD_KEYRING", "").strip().lower() not in (
        "0",
        "no",
        "off",
        "false",
        "file",
    )


def open_cache(home: Home, name: str) -> Any:
    """The persisted msal token cache of account ``name`` (msal-extensions): encrypted by
    the OS (keyring / libsecret) when possible, else a 0600 file."""
    from msal_extensions import FilePersistence, PersistedTokenCache, build_encrypted_persistence

    path = cache_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    persistence = None
    if _keyring_wanted():
        try:
            persistence = build_encrypted_persistence(str(path))
        except Exception as exc:  # no libsecret / keychain: a private file instead
            log.debug("no encrypted token cache (%s); using a 0600 file", type(exc).__name__)
    if persistence is None:
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
        os.chmod(path, 0o600)
        persistence = FilePersistence(str(path))
    return PersistedTokenCache(persistence)


def application(
    account: AccountConfig, home: Home, http_client: Any = None, cache: Any = None
) -> Any:
    """msal's ``PublicClientApplication`` for ``account`` with its persisted cache (msal
    asks the authority for its metadata here: network errors become
    :class:`~syncd.core.errors.TransientError`)."""
    import msal

    kwargs: dict[str, Any] = {}
    if http_client is not None:
        kwargs["http_client"] = http_client
    with login_errors(account):
        return msal.PublicClientApplication(
            client_id_of(account),
            authority=authority_for(account),
            token_cache=cache if cache is not None else open_cache(home, account.name),
            **kwargs,
        )


@contextlib.contextmanager
def login_errors(account: AccountConfig) -> Iterator[None]:
    """Network failures talking to Microsoft's login service as :class:`TransientError`,
    an authority msal refuses (a wrong tenant) as :class:`UserError`."""
    import requests

    try:
        yield
    except requests.RequestException as exc:
        raise TransientError(
            f"account {account.name}: cannot reach Microsoft's login service "
            f"({type(exc).__name__}); try again later",
            retry_after=300,
        ) from None
    except ValueError as exc:
        raise UserError(
            f"account {account.name}: Microsoft refused the sign-in setup: {exc}"
        ) from None


def has_grant(cache: Any) -> bool:
    """Whether the token cache holds a signed-in account (no network needed)."""
    import msal

    return any(True for _ in cache.search(msal.TokenCache.CredentialType.ACCOUNT))


def _token_file(account: AccountConfig) -> Callable[[bool], str | None]:
    def read() -> str:
        path, data = read_token_file(account)
        return bare_token(account, path, data)

    current = read()

    def token(refresh: bool) -> str | None:
        nonlocal current
        if not refresh:
            return current
        fresh = read()  # a bare token cannot be refreshed; a rewritten file can
        if fresh == current:
            return None
        current = fresh
        return current

    return token


def cached_accounts(app: Any, account: AccountConfig) -> list[dict[str, Any]]:
    """The signed-in accounts of ``app``'s cache: the one of ``account.address`` first
    (any, when the cache has no account of that name)."""
    return list(app.get_accounts(username=account.address) or app.get_accounts())


def cached_sign_in(
    account: AccountConfig, home: Home, scopes: list[str], http_client: Any = None
) -> str | None:
    """The username whose cached grant already covers ``scopes`` (an access token got
    silently: from the cache, or through its refresh token), or None when the user must
    sign in. No request at all when the cache holds no grant."""
    cache = open_cache(home, account.name)
    if not has_grant(cache):
        return None
    app = application(account, home, http_client, cache)
    accounts = cached_accounts(app, account)
    if not accounts:
        return None
    with login_errors(account):
        result = app.acquire_token_silent(scopes, account=accounts[0])
    if not result or "access_token" not in result:
        return None
    return str(accounts[0].get("username") or account.address or account.name)


def token_source(
    account: AccountConfig, home: Home, scopes: list[str], http_client: Any = None
) -> Callable[[bool], str | None]:
    """A function giving the account's access token (``True``: after a 401, try a fresh
    one; None when there is none). A missing grant is :class:`AuthRequired`."""
    if account.options.get("token_file"):
        return _token_file(account)
    missing = AuthRequired(
        f"account {account.name} has no Microsoft grant yet; run `syncd auth {account.name}`"
    )
    cache = open_cache(home, account.name)
    if not has_grant(cache):
        raise missing
    app = application(account, home, http_client, cache)
    accounts = cached_accounts(app, account)
    if not accounts:
        raise missing
    lock = threading.Lock()

    def acquire(force: bool) -> str | None:
        with lock, login_errors(account):
            result = app.acquire_token_silent(scopes, account=accounts[0], force_refresh=force)
        if not result or "access_token" not in result:
            if force:
                return None
            detail = (result or {}).get("error", "no cached grant for these permissions")
            raise AuthRequired(
                f"account {account.name}: Microsoft refused the grant ({detail}); "
                f"run `syncd auth {account.name}`"
            )
        return str(result["access_token"])

    acquire(False)
    return acquire


def authorize(
    account: AccountConfig,
    home: Home,
    scopes: list[str],
    device_code: bool = False,
    echo: Callable[[str], None] = print,
    http_client: Any = None,
) -> str:
    """Run msal's interactive browser flow (or the device code flow) and keep the grant in
    the persisted cache; returns the signed-in username."""
    app = application(account, home, http_client)
    with login_errors(account):
        result = _sign_in(app, account, scopes, device_code, echo)
    if "access_token" not in result:
        detail = (str(result.get("error_description") or "").splitlines() or [""])[0]
        raise UserError(f"Microsoft sign-in failed: {result.get('error')}: {detail}")
    granted = {s.lower() for s in str(result.get("scope", "")).split()}
    missing = [s for s in scopes if s.lower() not in granted and granted]
    if missing:
        raise UserError(
            f"the grant lacks {', '.join(missing)}; run `syncd auth {account.name}` again "
            "and allow every permission asked for"
        )
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or account.address or account.name)


def _sign_in(
    app: Any,
    account: AccountConfig,
    scopes: list[str],
    device_code: bool,
    echo: Callable[[str], None],
) -> dict[str, Any]:
    if device_code:
        flow = app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            raise UserError(
                f"Microsoft refused the device code flow: {flow.get('error_description', flow)}"
            )
        echo(str(flow["message"]))
        return app.acquire_token_by_device_flow(flow)
    return app.acquire_token_interactive(
        scopes=scopes, login_hint=account.address or None, prompt="select_account"
    )


def forget(account: AccountConfig, home: Home) -> None:
    """Drop the account's cached grant."""
    path = cache_path(home, account.name)
    for p in (path, path.with_name(path.name + ".lockfile")):
        if p.exists():
            p.unlink()
