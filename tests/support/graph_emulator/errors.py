"""Graph's JSON error envelope: ``{"error": {"code", "message", "innerError"}}``."""

from __future__ import annotations

import json


class ApiError(Exception):
    """An error answer: HTTP status, Graph's error ``code`` and message, ``Retry-After``."""

    def __init__(self, status: int, code: str, message: str = "", retry_after: float | None = None):
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message or code
        self.retry_after = retry_after

    def payload(self) -> bytes:
        """The JSON body Graph sends with it."""
        return json.dumps(
            {"error": {"code": self.code, "message": self.message, "innerError": {}}}
        ).encode()

    def headers(self) -> dict[str, str]:
        """Response headers (``Retry-After`` in seconds when set; Graph sends whole seconds,
        a time-scaled emulator fractions of one)."""
        out = {"Content-Type": "application/json"}
        if self.retry_after is not None:
            out["Retry-After"] = f"{max(0.0, self.retry_after):g}"
        return out
