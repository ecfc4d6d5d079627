"""Per-user quota as Google counts it: units in a sliding window, per API.

Gmail charges each method its documented unit cost (batch inner calls each
count); Calendar counts requests. ``window`` is in seconds and scales time:
a test may run a "minute" in 0.6 s with the same limit, which keeps the ratio
of work to quota the same while running 100 times faster.
"""

from __future__ import annotations

import threading
import time
from collections import deque

# https://developers.google.com/gmail/api/reference/quota (units per method call)
GMAIL_COSTS: dict[str, int] = {
    "gmail.users.getProfile": 1,
    "gmail.users.watch": 100,
    "gmail.users.stop": 50,
    "gmail.users.labels.list": 1,
    "gmail.users.labels.get": 1,
    "gmail.users.labels.create": 5,
    "gmail.users.labels.update": 5,
    "gmail.users.labels.patch": 5,
    "gmail.users.labels.delete": 5,
    "gmail.users.history.list": 2,
    "gmail.users.messages.list": 5,
    "gmail.users.messages.get": 5,
    "gmail.users.messages.send": 100,
    "gmail.users.messages.insert": 25,
    "gmail.users.messages.import": 25,
    "gmail.users.messages.modify": 5,
    "gmail.users.messages.trash": 5,
    "gmail.users.messages.untrash": 5,
    "gmail.users.messages.delete": 10,
    "gmail.users.messages.batchModify": 50,
    "gmail.users.messages.batchDelete": 50,
    "gmail.users.messages.attachments.get": 5,
    "gmail.users.threads.get": 10,
    "gmail.users.threads.list": 10,
    "gmail.users.drafts.list": 5,
    "gmail.users.drafts.get": 5,
}
GMAIL_DEFAULT_COST = 5


def cost(method_id: str) -> int:
    """Quota units of one call (Calendar: one request)."""
    if method_id.startswith("gmail."):
        return GMAIL_COSTS.get(method_id, GMAIL_DEFAULT_COST)
    return 1


class SlidingWindow:
    """At most ``limit`` units in any ``window`` seconds (``limit=None``: unlimited)."""

    def __init__(self, limit: int | None, window: float = 60.0):
        self.limit = limit
        self.window = window
        self.spent: deque[tuple[float, int]] = deque()
        self.total = 0
        self.lock = threading.Lock()

    def _trim(self, now: float) -> None:
        while self.spent and self.spent[0][0] <= now - self.window:
            _, units = self.spent.popleft()
            self.total -= units

    def try_spend(self, units: int) -> float | None:
        """Spend ``units`` now and return None, or return seconds until they would fit."""
        with self.lock:
            if self.limit is None:
                return None
            now = time.monotonic()
            self._trim(now)
            if self.total + units <= self.limit:
                self.spent.append((now, units))
                self.total += units
                return None
            # When would enough of the window have expired?
            need = self.total + units - self.limit
            freed = 0
            for at, spent in self.spent:
                freed += spent
                if freed >= need:
                    return max(0.0, at + self.window - now)
            return self.window

    def used(self) -> int:
        """Units spent in the current window."""
        with self.lock:
            self._trim(time.monotonic())
            return self.total
