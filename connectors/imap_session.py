"""IMAP connections for the ``imap`` connector: settings, TLS, login, typed errors.

Security is ``tls`` (implicit TLS, port 993, the default), ``starttls``
(port 143, upgraded before login) or ``none`` (plaintext, only to a loopback
host such as a local bridge or a test server). Certificates are verified
against the system store, or against ``cafile`` for a private CA; a refused
certificate says so. Library exceptions never leave this module: a refused
login is :class:`~syncd.core.errors.AuthRequired`, a dropped connection or a
timeout :class:`~syncd.core.errors.TransientError`.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import imapclient
from imapclient import exceptions as imap_errors

from connectors.base import LOOPBACK
from connectors.passwords import account_password
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, SyncdError, TransientError, UserError
from syncd.core.home import Home

SECURITY = ("tls", "starttls", "none")
DEFAULT_PORT = {"tls": 993, "starttls": 143, "none": 143}
RETRY_SECONDS = 60
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ImapSettings:
    """Where and how to connect to one IMAP account."""

    name: str
    host: str
    port: int
    security: str
    username: str
    cafile: str | None
    timeout: float

    @classmethod
    def of(cls, account: AccountConfig) -> ImapSettings:
        """The settings of a configured ``imap`` account, checked."""
        o = account.options
        host = str(o.get("host") or "")
        if not host:
            raise UserError(f"account {account.name}: host is needed (the IMAP server)")
        security = str(o.get("security") or "tls")
        if security not in SECURITY:
            raise UserError(f"account {account.name}: security must be one of {SECURITY}")
        if security == "none" and host not in LOOPBACK:
            raise UserError(
                f"account {account.name}: plaintext IMAP is only allowed to this machine "
                "(127.0.0.1); use --tls or --starttls"
            )
        username = str(o.get("username") or account.address or "")
        if not username:
            raise UserError(f"account {account.name}: needs --username or --address")
        return cls(
            name=account.name,
            host=host,
            port=int(o.get("port") or DEFAULT_PORT[security]),
            security=security,
            username=username,
            cafile=str(o["cafile"]) if o.get("cafile") else None,
            timeout=float(o.get("timeout") or 60),
        )

    def tls_context(self) -> ssl.SSLContext:
        """A verifying TLS context (system CAs, or ``cafile``)."""
        if self.cafile and not Path(self.cafile).exists():
            raise UserError(f"account {self.name}: the CA file {self.cafile} does not exist")
        return ssl.create_default_context(cafile=self.cafile)


def refused_certificate(settings: ImapSettings, exc: ssl.SSLError) -> UserError:
    """The one-line error for a certificate the client does not trust."""
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    return UserError(
        f"account {settings.name}: the certificate of {settings.host} is not trusted ({reason}); "
        "for a private CA name its certificate with --cafile FILE"
    )


def connect(settings: ImapSettings, password: str) -> imapclient.IMAPClient:
    """A logged-in connection (typed errors only)."""
    try:
        use_tls = settings.security == "tls"
        client = imapclient.IMAPClient(
            settings.host,
            port=settings.port,
            ssl=use_tls,
            ssl_context=settings.tls_context() if use_tls else None,
            timeout=settings.timeout,
        )
        if settings.security == "starttls":
            client.starttls(settings.tls_context())
    except ssl.SSLCertVerificationError as exc:
        raise refused_certificate(settings, exc) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise TransientError(
            f"account {settings.name}: cannot reach {settings.host}:{settings.port} ({exc})",
            retry_after=RETRY_SECONDS,
        ) from None
    try:
        client.login(settings.username, password)
    except imap_errors.LoginError:
        with contextlib.suppress(Exception):
            client.shutdown()
        raise AuthRequired(
            f"account {settings.name}: {settings.host} refused the login of {settings.username}; "
            f"run `syncd auth {settings.name}` with an app password"
        ) from None
    except (OSError, imaplib.IMAP4.error) as exc:
        raise TransientError(
            f"account {settings.name}: login interrupted ({exc})", retry_after=RETRY_SECONDS
        ) from None
    return client


def guarded(settings: ImapSettings, call: Callable[[], T]) -> T:
    """Run one IMAP command; a dropped connection or a server error becomes a typed error."""
    try:
        return call()
    except SyncdError:
        raise
    except (OSError, imaplib.IMAP4.abort, imap_errors.IMAPClientAbortError) as exc:
        raise TransientError(
            f"account {settings.name}: the connection to {settings.host} dropped ({exc})",
            retry_after=RETRY_SECONDS,
        ) from None
    except imaplib.IMAP4.error as exc:
        raise TransientError(
            f"account {settings.name}: {settings.host} answered an error ({exc})",
            retry_after=RETRY_SECONDS,
        ) from None


@contextlib.contextmanager
def session(
    account: AccountConfig, home: Home
) -> Iterator[tuple[imapclient.IMAPClient, ImapSettings]]:
    """A logged-in connection for ``account``, logged out afterwards."""
    settings = ImapSettings.of(account)
    client = connect(settings, account_password(account, home))
    try:
        yield client, settings
    finally:
        with contextlib.suppress(Exception, socket.timeout):
            client.logout()
