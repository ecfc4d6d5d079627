"""Opening an Exchange (EWS) mailbox with exchangelib: endpoint, credentials, TLS.

An ``exchange`` account names its server one of three ways: ``ews_url`` (the
full ``https://HOST/EWS/Exchange.asmx``), ``server`` (a host name: the
standard path is used) or neither (Autodiscover from the account's
``address``). ``auth`` is ``ntlm`` (the on-premises default), ``basic`` or
``oauth`` (a bearer token). The secret comes from ``password_file`` (a 0600
file, for tests and automation) or from the OS keyring, where ``syncd auth
NAME`` puts it (:mod:`connectors.passwords`: the keyring, else a 0600 file
under HOME/tokens). TLS is verified; ``ca_bundle`` names the
certificate of a private CA.

exchangelib runs with its fail-fast retry policy: every failure comes back
at once and :mod:`connectors.ews_errors` decides (retry with back-off, needs
auth, a clear error).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests.adapters
from exchangelib import (
    BASIC,
    DELEGATE,
    NTLM,
    OAUTH2,
    Account,
    Configuration,
    Credentials,
    FailFast,
    OAuth2AuthorizationCodeCredentials,
)
from exchangelib.folders import Root
from exchangelib.properties import DistinguishedFolderId, Mailbox
from exchangelib.protocol import BaseProtocol
from oauthlib.oauth2 import OAuth2Token

from connectors.ews_errors import Retrier
from connectors.passwords import account_password
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

AUTH_TYPES = {"ntlm": NTLM, "basic": BASIC, "oauth": OAUTH2}
DEFAULT_TIMEOUT = 60.0


@dataclass(frozen=True, slots=True)
class Settings:
    """An ``exchange`` account's connection settings, checked."""

    name: str
    address: str
    username: str
    auth: str
    ews_url: str | None
    server: str | None
    ca_bundle: str | None
    timeout: float
    max_attempts: int
    backoff_base: float


def settings(account: AccountConfig, home: Home) -> Settings:
    """The connection settings of ``account`` (a clear :class:`UserError` when they are wrong)."""
    if not account.address:
        raise UserError(f"account {account.name}: an exchange account needs its address")
    auth = str(account.options.get("auth", "ntlm")).lower()
    if auth not in AUTH_TYPES:
        raise UserError(
            f"accounts.{account.name}.auth: must be ntlm, basic or oauth (got {auth!r})"
        )
    ca = account.options.get("ca_bundle")
    if ca:
        ca = str(Path(ca).expanduser())
        if not Path(ca).is_file():
            raise UserError(f"accounts.{account.name}.ca_bundle: no such file {ca}")
    return Settings(
        name=account.name,
        address=account.address,
        username=str(account.options.get("username") or account.address),
        auth=auth,
        ews_url=account.options.get("ews_url"),
        server=account.options.get("server"),
        ca_bundle=ca,
        timeout=float(account.options.get("timeout", DEFAULT_TIMEOUT)),
        max_attempts=int(account.options.get("max_attempts", 5)),
        backoff_base=float(account.options.get("backoff_base", 1.0)),
    )


# -- TLS -------------------------------------------------------------------------------------------

_CA_BUNDLES: dict[str, str] = {}  # host, or ".domain" for every host under it -> CA file
_CA_LOCK = threading.Lock()


def _bundle_for(host: str) -> str | None:
    """The CA bundle configured for ``host``: its own, else its nearest domain's."""
    host = host.lower()
    if host in _CA_BUNDLES:
        return _CA_BUNDLES[host]
    labels = host.split(".")
    for i in range(1, len(labels)):
        bundle = _CA_BUNDLES.get("." + ".".join(labels[i:]))
        if bundle:
            return bundle
    return None


class CaBundleAdapter(requests.adapters.HTTPAdapter):
    """Verifies a host's certificate against its account's ``ca_bundle`` (others: the system's)."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        """Send ``request``, verifying against the CA bundle configured for its host."""
        host = urlsplit(request.url).hostname or ""
        bundle = _bundle_for(host)
        if bundle and kwargs.get("verify", True) is not False:
            kwargs["verify"] = bundle  # also over REQUESTS_CA_BUNDLE from the environment
        return super().send(request, *args, **kwargs)


# Installed once for every exchangelib session (protocols are cached and pooled by
# exchangelib): hosts without a configured bundle keep the system's trust store.
BaseProtocol.HTTP_ADAPTER_CLS = CaBundleAdapter


def _register_ca_bundle(url_or_host: str, bundle: str) -> None:
    host = urlsplit(url_or_host).hostname if "://" in url_or_host else url_or_host
    with _CA_LOCK:
        _CA_BUNDLES[(host or url_or_host).lower()] = bundle


# -- the account -----------------------------------------------------------------------------------


def _credentials(s: Settings, password: str) -> Any:
    if s.auth == "oauth":
        token = OAuth2Token({"access_token": password, "token_type": "Bearer"})
        return OAuth2AuthorizationCodeCredentials(access_token=token)
    return Credentials(s.username, password)


@dataclass
class Session:
    """An open mailbox: the exchangelib ``Account`` plus the retrier for its calls."""

    account: Any
    settings: Settings
    retrier: Retrier
    _root: Any = field(default=None, init=False, repr=False)

    def call(self, what: str, fn: Any) -> Any:
        """``fn()`` with the account's retries and error translation.

        After :meth:`close` the next call opens new connections."""
        return self.retrier.run(what, fn)

    def well_known(self, folder_cls: Any) -> Any:
        """The mailbox's distinguished folder ``folder_cls`` (``MsgFolderRoot``,
        ``Calendar``), addressed by its well-known name without a request.

        exchangelib's own properties (``account.msg_folder_root``, ``account.calendar``)
        look the root and the folder up with ``GetFolder`` in every new session, two
        requests per sync with nothing new; the operations syncd sends with a folder
        (SyncFolderHierarchy, SyncFolderItems, FindItem) take a ``DistinguishedFolderId``
        as well as a ``FolderId``."""
        if self._root is None:
            self._root = Root(account=self.account, _distinguished_id=self._distinguished(Root))
        if folder_cls is Root:
            return self._root
        return folder_cls(root=self._root, _distinguished_id=self._distinguished(folder_cls))

    def _distinguished(self, folder_cls: Any) -> DistinguishedFolderId:
        mailbox = Mailbox(email_address=self.account.primary_smtp_address)
        return DistinguishedFolderId(id=folder_cls.DISTINGUISHED_FOLDER_ID, mailbox=mailbox)

    def close(self) -> None:
        """Close the pooled HTTP connections. exchangelib keeps its protocol (and its
        sessions) cached between syncs; each pooled connection has a keep-alive watch
        thread waking every few seconds, so a daemon at rest must not keep them."""
        with contextlib.suppress(Exception):
            self.account.protocol.close()


def open_session(account: AccountConfig, home: Home) -> Session:
    """Connect to the account's mailbox (version probing happens here)."""
    s = settings(account, home)
    password = account_password(account, home)
    creds = _credentials(s, password)
    retrier = Retrier(s.name, s.max_attempts, s.backoff_base)
    if s.ca_bundle:
        for host in _ca_hosts(s):
            _register_ca_bundle(host, s.ca_bundle)
    if s.ews_url or s.server:
        config = Configuration(
            credentials=creds,
            service_endpoint=s.ews_url,
            server=None if s.ews_url else s.server,
            auth_type=AUTH_TYPES[s.auth],
            retry_policy=FailFast(),
        )
        ews = retrier.run(
            "connect",
            lambda: _account(s.address, config=config, autodiscover=False, timeout=s.timeout),
        )
    else:
        # The account's auth type and fail-fast policy hold for the discovered endpoint too
        # (else exchangelib guesses the auth type from an unauthenticated request).
        found = Configuration(
            credentials=creds, auth_type=AUTH_TYPES[s.auth], retry_policy=FailFast()
        )
        ews = retrier.run(
            "autodiscover",
            lambda: _account(
                s.address, config=found, autodiscover=True, timeout=s.timeout, ca=s.ca_bundle
            ),
        )
    return Session(ews, s, retrier)


def _ca_hosts(s: Settings) -> list[str]:
    """The hosts known before connecting that ``ca_bundle`` vouches for: the configured
    endpoint; with Autodiscover, the address's domain and every host under it (Autodiscover
    asks ``autodiscover.DOMAIN`` and the SRV record's host; ``_account`` adds the EWS host
    found, wherever it is)."""
    if s.ews_url or s.server:
        return [str(s.ews_url or s.server)]
    domain = s.address.split("@")[-1]
    return [domain, f".{domain}"]


def _account(address: str, timeout: float, ca: str | None = None, **kwargs: Any) -> Any:
    acc = Account(address, access_type=DELEGATE, **kwargs)
    if ca:  # the EWS endpoint Autodiscover found is verified against the account's CA too
        _register_ca_bundle(acc.protocol.service_endpoint, ca)
    acc.protocol.TIMEOUT = timeout
    _ = acc.version  # the probe: a wrong URL, password or certificate shows here
    return acc
