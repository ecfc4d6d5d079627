"""Google API errors: their reason, status and ``Retry-After``, and what they mean for a sync
(rate limit, daily quota, missing scope, revoked grant, server trouble)."""

from __future__ import annotations

import email.utils
import json
import socket
import time
from typing import Any

RATE_REASONS = frozenset({"userRateLimitExceeded", "rateLimitExceeded"})
DAILY_REASONS = frozenset({"dailyLimitExceeded", "quotaExceeded"})
SCOPE_REASONS = frozenset({"insufficientPermissions", "ACCESS_TOKEN_SCOPE_INSUFFICIENT"})
SERVER_STATUSES = frozenset({500, 502, 503, 504})


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
    """The HTTP status of an HttpError."""
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
    from google.auth.exceptions import RefreshError

    return isinstance(exc, RefreshError)
