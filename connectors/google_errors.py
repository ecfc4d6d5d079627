"""Google API errors: their reason, status and ``Retry-After``, and what they mean for a sync
(rate limit, daily quota, missing scope, revoked grant, server trouble).

googleapiclient's ``HttpError`` never leaves :mod:`connectors.google_api`: an error
answer that is not retried there (and is not about the grant or the quota) becomes a
:class:`GoogleApiError`, of the subclass for its status (:class:`BadRequest`,
:class:`Forbidden`, :class:`NotFound`, :class:`Conflict`, :class:`Gone`), which the
connectors catch by type.
"""

from __future__ import annotations

import email.utils
import json
import socket
import time
from typing import Any

from syncd.core.errors import SyncdError

RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
DAILY_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded"})
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
SERVER_STATUSES = frozenset({500, 502, 503, 504})


class GoogleApiError(SyncdError):
    """An error answer of the Google API that retrying will not cure (``HTTP 400/403/404...``).

    ``status`` is the HTTP status, ``reason`` Google's error reason
    (``notFound``, ``duplicate`` ...), ``detail`` its error message and
    ``what`` the call (``events.get``).
    """

    def __init__(self, status: int, reason: str = "", detail: str = "", what: str = "call"):
        self.status = status
        self.reason = reason
        self.detail = detail
        self.what = what
        text = f"Google API {what}: HTTP {status}"
        if reason:
            text += f" ({reason})"
        if detail:
            text += f": {detail}"
        super().__init__(text)


class BadRequest(GoogleApiError):
    """HTTP 400: the request was refused as invalid (e.g. a page token no longer valid)."""


class Forbidden(GoogleApiError):
    """HTTP 403 for a reason other than rate, quota or scope."""


class NotFound(GoogleApiError):
    """HTTP 404: no such message, event, calendar, or a history id too old."""


class Conflict(GoogleApiError):
    """HTTP 409: the identifier exists already (an event inserted before a crash)."""


class Gone(GoogleApiError):
    """HTTP 410: deleted, or a sync token expired."""


_BY_STATUS: dict[int, type[GoogleApiError]] = {
    400: BadRequest,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
}


def api_error(exc: Any, what: str = "call") -> GoogleApiError:
    """The typed error for an ``HttpError`` ``exc`` of call ``what``."""
    status = status_of(exc)
    kind = _BY_STATUS.get(status, GoogleApiError)
    return kind(status, error_reason(exc), error_message(exc)[:300], what)


def error_reason(exc: Any) -> str:
    """``errors[0].reason`` (or ``error.status``) of a Google JSON error, else ''."""
    content = getattr(exc, "content", b"") or b""
    try:
        data = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
        err = data.get("error", {})
        if isinstance(err, dict):
            errors = err.get("errors") or [{}]
            return errors[0].get("reason") or err.get("status", "") or ""
        return str(err)
    except (ValueError, AttributeError, TypeError, IndexError):
        return ""


def status_of(exc: Any) -> int:
    """The HTTP status of an HttpError or a :class:`GoogleApiError` (0 for anything else)."""
    if isinstance(exc, GoogleApiError):
        return exc.status
    resp = getattr(exc, "resp", None)
    try:
        return int(getattr(resp, "status", 0) or 0)
    except (TypeError, ValueError):
        return 0


def retry_after(exc: Any) -> float | None:
    """``Retry-After`` (seconds or an HTTP date) of an HttpError, if any."""
    resp = getattr(exc, "resp", None)
    value = resp.get("retry-after") if hasattr(resp, "get") else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed:
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def error_message(exc: Any) -> str:
    """``error.message`` of a Google JSON error, else ''."""
    content = getattr(exc, "content", b"") or b""
    try:
        data = json.loads(content.decode("utf-8") if isinstance(content, bytes) else content)
        err = data.get("error", {})
        return str(err.get("message", "")) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError, TypeError):
        return ""


def classify(exc: Any) -> str:
    """``rate``, ``daily``, ``server``, ``auth``, ``scope`` or ``other`` for an HttpError.

    Gmail's "Too many concurrent requests for user" (429) is about parallel calls
    inside a batch, not the quota: ``server`` (retry with smaller batches, same pace).
    """
    status = status_of(exc)
    reason = error_reason(exc)
    if status in (403, 429) and "concurrent" in error_message(exc).lower():
        return "server"
    if status == 429 or (status == 403 and reason in RATE_REASONS):
        return "rate"
    if status == 403 and reason in DAILY_REASONS:
        return "daily"
    if status == 401:
        return "auth"
    if status == 403 and reason in SCOPE_REASONS:
        return "scope"
    if status in SERVER_STATUSES or status == 408:
        return "server"
    return "other"


def is_transport_error(exc: BaseException) -> bool:
    """Timeouts, refused or reset connections, broken responses."""
    import httplib2

    return isinstance(
        exc, TimeoutError | socket.timeout | ConnectionError | httplib2.HttpLib2Error | OSError
    )


def refresh_detail(exc: BaseException) -> str:
    """A short reason for a failed token refresh (``invalid_grant: ...``, or the bare token)."""
    first = str(exc.args[0]) if exc.args else ""
    if "necessary fields" in first:  # a bare access token (token file): it cannot be refreshed
        return "the access token was rejected and cannot be refreshed"
    return (first or type(exc).__name__)[:120]


def auth_error(exc: BaseException) -> bool:
    """True for a failed token refresh (google-auth's ``RefreshError``)."""
    from google.auth.exceptions import RefreshError

    return isinstance(exc, RefreshError)
