"""Google's JSON error envelope."""

from __future__ import annotations

import json

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    410: "FAILED_PRECONDITION",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
DOMAINS = {
    "userRateLimitExceeded": "usageLimits",
    "rateLimitExceeded": "usageLimits",
    "quotaExceeded": "usageLimits",
}


class ApiError(Exception):
    """An error response: HTTP status, message and the ``errors[0].reason``."""

    def __init__(
        self, status: int, message: str, reason: str = "", retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or {
            400: "badRequest",
            401: "authError",
            404: "notFound",
            500: "backendError",
            503: "backendError",
        }.get(status, "error")
        self.retry_after = retry_after

    def body(self) -> bytes:
        """The JSON body Google sends."""
        return json.dumps(
            {
                "error": {
                    "code": self.status,
                    "message": self.message,
                    "errors": [
                        {
                            "message": self.message,
                            "domain": DOMAINS.get(self.reason, "global"),
                            "reason": self.reason,
                        }
                    ],
                    "status": STATUS_NAMES.get(self.status, "UNKNOWN"),
                }
            }
        ).encode()

    def headers(self) -> dict[str, str]:
        """Extra response headers (Retry-After, WWW-Authenticate)."""
        out = {}
        if self.retry_after is not None:
            out["Retry-After"] = f"{self.retry_after:.3f}"
        if self.status == 401:
            out["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/"'
        return out
