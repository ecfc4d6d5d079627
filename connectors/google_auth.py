"""Google grants: scopes, the desktop OAuth flow, token storage and refresh.

Tokens live in :class:`connectors.secret_store.TokenStore` (the OS keyring, else a 0600
JSON file under ``HOME/tokens/``). An
account configured with ``token_file`` (``{"token": "..."}``) uses that bare
access token instead: it cannot be refreshed, which is how emulators and tests
authenticate. ``SYNCD_KEYRING=0`` forces the file store.

Scopes are least-privilege: Gmail reads with ``gmail.metadata`` (headers and
labels, never bodies) and adds ``gmail.send`` only when the digest is sent
through the account; Calendar uses ``calendar.events`` (read events, write
follow-ups) and ``calendar.freebusy``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from connectors.secret_store import TokenStore, bare_token, read_token_file
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/"
GMAIL_METADATA = SCOPE + "gmail.metadata"
GMAIL_SEND = SCOPE + "gmail.send"
CALENDAR_EVENTS = SCOPE + "calendar.events"
CALENDAR_FREEBUSY = SCOPE + "calendar.freebusy"
GOOGLE_KINDS = ("gmail", "gcal")
CLIENT_SECRETS_NAME = "client_secret.json"


def sends_digest(account: AccountConfig, config: Any = None) -> bool:
    """Whether the weekly digest goes out through this Gmail account.

    Yes when ``[digest] via = "account:NAME"`` names it, or its ``send_digest`` option is set.
    """
    if account.options.get("send_digest", False) is True:
        return True
    section = config.section("digest") if config is not None else {}
    return section.get("via") == f"account:{account.name}"


def scopes_for(account: AccountConfig, config: Any = None) -> list[str]:
    """The least-privilege scopes an account needs (``config``: the digest's route)."""
    if account.kind == "gmail":
        return [GMAIL_METADATA, *([GMAIL_SEND] if sends_digest(account, config) else [])]
    if account.kind == "gcal":
        return [CALENDAR_EVENTS, CALENDAR_FREEBUSY]
    raise UserError(f"account {account.name} ({account.kind}) does not use Google OAuth")


# -- credentials ------------------------------------------------------------------------------


class Grant:
    """Credentials for one account, and how to save them again after a refresh."""

    def __init__(self, credentials: Any, store: TokenStore | None, name: str):
        self.credentials = credentials
        self.store = store
        self.name = name
        self._saved = credentials.token

    def save_if_refreshed(self) -> None:
        """Persist the credentials when the library refreshed the access token."""
        if self.store is None or self.credentials.token == self._saved:
            return
        self.store.save(self.name, json.loads(self.credentials.to_json()))
        self._saved = self.credentials.token
        log.debug("account %s: refreshed access token saved", self.name)


def _credentials(info: dict[str, Any]) -> Any:
    """Credentials from stored authorized-user JSON, keeping its token endpoint.

    (``from_authorized_user_info`` always puts Google's token endpoint in.)
    """
    from google.oauth2.credentials import Credentials

    creds = Credentials.from_authorized_user_info(info)
    if info.get("token_uri"):
        creds = creds.with_token_uri(info["token_uri"])
    return creds


def load_grant(account: AccountConfig, home: Home, required: list[str] | None = None) -> Grant:
    """The credentials of a Google account: its token file, else the stored grant.

    ``required``: scopes the caller needs (reading, or sending); a stored grant
    without them is :class:`AuthRequired`.
    """
    from google.oauth2.credentials import Credentials

    if account.options.get("token_file"):
        path, data = read_token_file(account)
        if isinstance(data, dict) and data.get("refresh_token"):
            return Grant(_credentials(data), None, account.name)
        token = bare_token(account, path, data)
        return Grant(Credentials(token=token), None, account.name)
    store = TokenStore(home)
    info = store.load(account.name)
    if info is None:
        raise AuthRequired(
            f"account {account.name} has no Google grant yet; run `syncd auth {account.name}`"
        )
    try:
        creds = _credentials(info)
    except ValueError as exc:
        raise AuthRequired(
            f"account {account.name}: the stored grant is incomplete ({exc}); "
            f"run `syncd auth {account.name}`"
        ) from None
    wanted = set(required if required is not None else scopes_for(account)[:1])
    missing = wanted - set(creds.scopes or wanted)
    if missing:
        raise AuthRequired(
            f"account {account.name} needs more access ({', '.join(sorted(missing))}); "
            f"run `syncd auth {account.name}`"
        )
    return Grant(creds, store, account.name)


def client_secrets_path(account: AccountConfig, home: Home, given: Path | None) -> Path:
    """The OAuth client secrets file: ``--client-secrets``, the account's, or the home's."""
    candidates = [given] if given else []
    if account.options.get("client_secrets"):
        candidates.append(Path(account.options["client_secrets"]).expanduser())
    candidates.append(home.root / CLIENT_SECRETS_NAME)
    for path in candidates:
        if path is not None and path.exists():
            return path
    raise UserError(
        "no OAuth client secrets file: create a Google Cloud project, enable the Gmail and "
        "Calendar APIs, create an OAuth client ID of type 'Desktop app', download its JSON "
        f"and pass it with --client-secrets FILE (or save it as {home.root / CLIENT_SECRETS_NAME})"
    )


def authorize(
    account: AccountConfig,
    home: Home,
    client_secrets: Path,
    open_browser: bool = True,
    port: int = 0,
    config: Any = None,
) -> tuple[Any, str]:
    """Run the desktop OAuth flow (a local redirect server) and store the grant.

    Returns the credentials and where they were stored.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    scopes = scopes_for(account, config)
    try:
        flow = InstalledAppFlow.from_client_secrets_file(str(client_secrets), scopes=scopes)
    except (ValueError, KeyError, OSError) as exc:
        raise UserError(f"{client_secrets}: not an OAuth client secrets file ({exc})") from None
    hint = f" for {account.address}" if account.address else ""
    creds = flow.run_local_server(
        host="localhost",
        port=port,
        open_browser=open_browser,
        authorization_prompt_message=(
            f"Authorize syncd{hint} in your browser; if it did not open, visit:\n{{url}}"
        ),
        success_message="syncd is authorized. You may close this window.",
        **({"login_hint": account.address} if account.address else {}),
    )
    granted = set(creds.scopes or scopes)
    if not set(scopes) <= granted:
        raise UserError(
            "the grant lacks scopes syncd needs ("
            + ", ".join(sorted(set(scopes) - granted))
            + "); run `syncd auth` again and allow every permission asked for"
        )
    store = TokenStore(home)
    store.save(account.name, json.loads(creds.to_json()))
    return creds, store.where
