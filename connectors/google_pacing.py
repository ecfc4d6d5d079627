"""Spending a per-user Google quota at the rate Google allows (:class:`Pacer`)."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from syncd.core.errors import SyncdError

log = logging.getLogger(__name__)


class Stopped(SyncdError):
    """The fetch was abandoned (the consumer went away)."""


class Pacer:
    """Spend at most ``per_window`` units in any ``window`` seconds, evenly.

    A token bucket refills at ``per_window / window`` units per second up to
    ``burst`` (default: four seconds' worth); a sliding log of what was spent
    keeps any window under the limit too. Both run at ``margin`` of the
    limit, leaving room for clock skew. On a rate-limit answer the limit is
    learned from what the server accepted in the last window, and sending
    pauses (``Retry-After`` or exponential backoff, once per congestion).
    What it learns is logged to ``logger`` (the API client's logger; by
    default this module's).
    """

    def __init__(
        self,
        per_window: float,
        window: float = 60.0,
        margin: float = 0.99,
        burst: float | None = None,
        backoff_base: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ):
        self.log = logger or log
        self.configured = per_window * margin
        self.limit = self.configured
        self.window = window
        self.backoff_base = backoff_base
        self.clock = clock
        self.rate = self.limit / window
        # Four seconds of burst let the pace catch up after a stall (the window still holds).
        self.burst = burst if burst is not None else max(self.rate * 4, 1.0)
        self.tokens = self.burst
        self.stamp = clock()
        self.spent: deque[list[float]] = deque()
        self.total = 0.0
        self.not_before = 0.0
        self.strikes = 0
        self.congested = False
        self.rejected_calls = 0
        self.congested_at: float | None = None
        self.lock = threading.Lock()

    def maybe_reset(self, windows: float = 10.0) -> None:
        """Forget a learned limit when the last congestion is ``windows`` windows old."""
        with self.lock:
            if self.congested_at is None or self.limit >= self.configured:
                return
            if self.clock() - self.congested_at > windows * self.window:
                self.limit = self.configured
                self.rate = self.limit / self.window
                self.burst = max(self.rate * 4, 1.0)
                self.congested_at = None

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        while self.spent and self.spent[0][0] <= now - self.window:
            self.total -= self.spent.popleft()[1]

    def delay(self, units: float) -> float:
        """Seconds to wait before ``units`` may be spent (0: now)."""
        with self.lock:
            now = self.clock()
            self._refill(now)
            wait = max(0.0, self.not_before - now)
            need = min(units, self.burst)
            if self.tokens < need:
                wait = max(wait, (need - self.tokens) / self.rate)
            if self.total + units > self.limit and self.spent:
                over = self.total + units - self.limit
                freed = 0.0
                for at, spent in self.spent:
                    freed += spent
                    if freed >= over:
                        wait = max(wait, at + self.window - now + 0.001)
                        break
            return wait

    def acquire(self, units: float, sleep: Callable[[float], Any] = time.sleep) -> list[float]:
        """Block until ``units`` may be spent, then spend them; returns the log entry."""
        while True:
            wait = self.delay(units)
            if wait <= 0:
                with self.lock:
                    now = self.clock()
                    self._refill(now)
                    self.tokens -= units
                    entry = [now, units]
                    self.spent.append(entry)
                    self.total += units
                return entry
            sleep(wait)

    def settle(self, entry: list[float]) -> None:
        """The call of ``entry`` completed: date its spending now.

        The server charged it somewhere between sending and now; dating it at
        the end keeps the sliding window safe whatever the latency.
        """
        with self.lock:
            entry[0] = max(entry[0], self.clock())

    def refund(self, units: float) -> None:
        """Units spent on calls the server rejected (they were not charged)."""
        with self.lock:
            self.tokens = min(self.burst, self.tokens + units)
            while units > 0 and self.spent:
                take = min(units, self.spent[-1][1])
                self.spent[-1][1] -= take
                self.total -= take
                units -= take
                if self.spent[-1][1] <= 0:
                    self.spent.pop()

    def allowed_batch(self, unit_cost: float, largest: int) -> int:
        """How many calls of ``unit_cost`` one batch may hold at the current pace (2 s worth)."""
        with self.lock:
            return max(1, min(largest, int(self.rate * 2 / max(unit_cost, 1e-9))))

    def success(self) -> None:
        """A call was accepted: the congestion (if any) is over."""
        with self.lock:
            self.congested = False
            self.strikes = 0

    def rate_limited(self, retry: float | None = None, calls: int = 1) -> float:
        """The server rejected ``calls`` calls for rate; return the pause before the next try."""
        with self.lock:
            now = self.clock()
            self._refill(now)
            self.rejected_calls += calls
            self.congested_at = now
            if not self.congested:
                # What the server accepted in the last window is its limit (when its window is
                # ours); a little less keeps clear of it. Never below 2% of the configured pace.
                self.congested = True
                self.limit = max(0.95 * self.total, 0.02 * self.configured, 1.0)
                self.rate = self.limit / self.window
                self.burst = max(min(self.burst, self.rate * 2), 1.0)
                self.tokens = min(self.tokens, 0.0)
                self.log.info(
                    "rate limited: now pacing at %.1f units/s (%.0f per %.0f s)",
                    self.rate,
                    self.limit,
                    self.window,
                )
            self.strikes += 1
            pause = (
                retry
                if retry is not None
                else min(self.backoff_base * 2 ** (self.strikes - 1), self.window)
            )
            pause *= 1 + random.random() * 0.1
            self.not_before = max(self.not_before, now + pause)
            return pause


_PACERS: dict[tuple[str, str], Pacer] = {}
_PACERS_LOCK = threading.Lock()


def shared_pacer(key: tuple[str, str], factory: Callable[[], Pacer]) -> Pacer:
    """One pacer per (account, api) in this process: reader and writers share the quota."""
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            pacer = _PACERS[key] = factory()
        return pacer


def forget_pacers() -> None:
    """Drop every shared pacer (tests)."""
    with _PACERS_LOCK:
        _PACERS.clear()
