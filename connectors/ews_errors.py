"""What exchangelib's failures mean for a sync, and retrying the ones that pass.

exchangelib runs fail-fast (:mod:`connectors.ews_session`), so each failure
comes here at once. :class:`Retrier` retries what passes with exponential
back-off: ``ErrorServerBusy`` (waiting at least its ``BackOffMilliseconds``
hint), throttling (HTTP 503, ``ErrorTooManyObjectsOpened``,
``ErrorExceededConnectionCount``), timeouts and reset connections. A call
is whole or nothing (a page of changes is fetched again, never half
committed), so a retry neither loses nor duplicates anything. When the
attempts run out the error is a :class:`~syncd.core.errors.TransientError`
with ``retry_after``. A refused or expired password is
:class:`~syncd.core.errors.AuthRequired` (the account needs ``syncd auth``;
other accounts go on); an untrusted certificate a :class:`UserError` naming
``--ca-bundle``. exchangelib's exceptions never leave the connector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from exchangelib.errors import (
    AutoDiscoverFailed,
    ErrorAccessDenied,
    ErrorExceededConnectionCount,
    ErrorInternalServerTransientError,
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorPasswordExpired,
    ErrorServerBusy,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    EWSError,
    RedirectError,
    SOAPError,
    TransportError,
    UnauthorizedError,
)
from oauthlib.oauth2.rfc6749.errors import InsecureTransportError

from syncd.core.errors import AuthRequired, SyncdError, TransientError, UserError

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_DELAY = 300.0
RETRIED = (
    ErrorServerBusy,
    ErrorInternalServerTransientError,
    ErrorTimeoutExpired,
    ErrorTooManyObjectsOpened,
    ErrorExceededConnectionCount,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    ConnectionResetError,
    TimeoutError,
)
CERTIFICATE_WORDS = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed", "SSLError")


class EwsError(SyncdError):
    """An EWS answer that retrying will not change (``code`` is the EWS response code)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class SyncStateInvalid(EwsError):
    """``ErrorInvalidSyncStateData``: the server cannot continue from the stored sync state."""


class ItemNotFound(EwsError):
    """``ErrorItemNotFound``: the item is gone."""


def is_certificate_error(exc: BaseException) -> bool:
    """True when ``exc`` (or what caused it) is a failed TLS certificate check."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.SSLError):
            return True
        if any(w in str(seen) for w in CERTIFICATE_WORDS):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(name: str, what: str, exc: BaseException) -> SyncdError:
    """The syncd error for an exchangelib failure ``exc`` of call ``what`` (not retried)."""
    if isinstance(exc, UnauthorizedError | ErrorPasswordExpired):
        return AuthRequired(
            f"account {name}: Exchange refused the password (expired or changed); "
            f"run `syncd auth {name}`"
        )
    if is_certificate_error(exc):
        return UserError(
            f"account {name}: the server's TLS certificate is not trusted; if your organisation "
            "uses a private CA, give its certificate with --ca-bundle FILE "
            f"(ca_bundle in [accounts.{name}])"
        )
    if isinstance(exc, InsecureTransportError):
        return UserError(f"account {name}: --auth oauth needs an https:// EWS URL")
    if isinstance(exc, AutoDiscoverFailed):
        return UserError(
            f"account {name}: Autodiscover found no Exchange server; give it with "
            "--ews-url https://HOST/EWS/Exchange.asmx or --server HOST"
        )
    if isinstance(exc, RedirectError):
        return UserError(f"account {name}: the EWS URL redirects elsewhere; check --ews-url")
    if isinstance(exc, ErrorInvalidSyncStateData):
        return SyncStateInvalid("ErrorInvalidSyncStateData", f"account {name}: {what}: {exc}")
    if isinstance(exc, ErrorItemNotFound):
        return ItemNotFound("ErrorItemNotFound", f"account {name}: {what}: the item is gone")
    if isinstance(exc, ErrorAccessDenied):
        return UserError(f"account {name}: Exchange denied {what}: {exc}")
    if isinstance(exc, SOAPError):
        return EwsError("SOAPError", f"account {name}: {what}: the server refused it ({exc})")
    if isinstance(exc, TransportError | requests.exceptions.RequestException):
        return TransientError(f"account {name}: cannot reach the Exchange server ({exc})", 60.0)
    if isinstance(exc, EWSError):
        return EwsError(type(exc).__name__, f"account {name}: {what}: {exc}")
    return EwsError(type(exc).__name__, f"account {name}: {what}: {type(exc).__name__}: {exc}")


class Retrier:
    """Runs calls with retries and exponential back-off; see the module docstring."""

    def __init__(
        self,
        name: str,
        max_attempts: int = 5,
        backoff_base: float = 1.0,
        sleep: Callable[[float], Any] = time.sleep,
    ):
        self.name = name
        self.max_attempts = max(1, max_attempts)
        self.backoff_base = backoff_base
        self.sleep = sleep
        self.retries = 0  # how many calls were retried (for tests and status)

    def delay(self, attempt: int, exc: BaseException) -> float:
        """Seconds to wait before attempt ``attempt + 1``: doubling, at least the server's hint."""
        wait = min(MAX_DELAY, self.backoff_base * (2**attempt))
        hint = getattr(exc, "back_off", None)
        # exchangelib turns 503s and timeouts into ErrorServerBusy("Reraised from ...") with
        # its own guess as back_off; only the server's BackOffMilliseconds is a hint.
        if isinstance(exc, ErrorServerBusy) and hint and not str(exc).startswith("Reraised"):
            wait = max(wait, min(MAX_DELAY, float(hint)))
        return wait

    def run(self, what: str, fn: Callable[[], T]) -> T:
        """``fn()``, retried while it fails in a way that may pass; else a syncd error."""
        for attempt in range(self.max_attempts):
            try:
                return fn()
            except RETRIED as exc:
                if is_certificate_error(exc):
                    raise translate(self.name, what, exc) from exc
                wait = self.delay(attempt, exc)
                if attempt + 1 >= self.max_attempts:
                    raise TransientError(
                        f"account {self.name}: Exchange is busy or unreachable ({what}: "
                        f"{type(exc).__name__}); retrying later",
                        retry_after=max(wait, 30.0),
                    ) from None
                log.info("exchange %s: %s failed (%s), retry in %.1fs",
                         self.name, what, type(exc).__name__, wait)  # fmt: skip
                self.retries += 1
                self.sleep(wait)
            except SyncdError:
                raise
            except Exception as exc:  # exchangelib's own errors end here, typed
                raise translate(self.name, what, exc) from exc
        raise AssertionError("unreachable")
