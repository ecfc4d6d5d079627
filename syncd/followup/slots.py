"""Free-slot search: the earliest free stretch of working time after an instant.

Working hours are local wall-clock times on chosen weekdays in one time zone
(``zoneinfo``), so a 09:00 start stays 09:00 across daylight-saving changes;
a wall time that does not exist on a transition day is shifted forward by
``zoneinfo``'s usual rules. Candidate starts lie on a grid of ``step`` seconds
counted from the start of the working day (09:00, 09:15, ...).

Busy intervals are half-open ``[start, end)`` epoch seconds; a slot may start
exactly when a busy interval ends. Everything here is a pure function.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """Weekdays (0 = Monday), the local start and end of the day, and the zone."""

    days: frozenset[int]
    start: time
    end: time
    tz: ZoneInfo

    def window(self, day: date) -> tuple[int, int] | None:
        """The working interval of ``day`` in epoch seconds, or None on a day off."""
        if day.weekday() not in self.days:
            return None
        lo = datetime.combine(day, self.start, self.tz)
        hi = datetime.combine(day, self.end, self.tz)
        a, b = int(lo.timestamp()), int(hi.timestamp())
        return (a, b) if b > a else None

    def local_day(self, epoch: int) -> date:
        """The local calendar day of an instant."""
        return datetime.fromtimestamp(epoch, self.tz).date()

    def contains(self, start: int, end: int) -> bool:
        """Whether ``[start, end)`` lies within one working day's hours."""
        window = self.window(self.local_day(start))
        return window is not None and window[0] <= start and end <= window[1]


def week_of(epoch: int, tz: ZoneInfo) -> str:
    """The ISO week (``2026-W23``) of an instant in ``tz``; weeks start on Monday."""
    year, week, _ = datetime.fromtimestamp(epoch, tz).isocalendar()
    return f"{year}-W{week:02d}"


def merge(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, non-overlapping union of half-open intervals (empty ones dropped)."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


class Busy:
    """A set of busy intervals that grows as slots are taken."""

    def __init__(self, intervals: Iterable[tuple[int, int]] = ()):
        self._items = merge(intervals)
        self._starts = [s for s, _ in self._items]

    def add(self, start: int, end: int) -> None:
        """Mark ``[start, end)`` busy."""
        self._items = merge([*self._items, (start, end)])
        self._starts = [s for s, _ in self._items]

    def conflict(self, start: int, end: int) -> tuple[int, int] | None:
        """A busy interval overlapping ``[start, end)``, if any."""
        i = bisect.bisect_left(self._starts, end)
        if i and self._items[i - 1][1] > start:
            return self._items[i - 1]
        return None

    def __iter__(self):
        return iter(self._items)


def find_slot(
    hours: WorkingHours,
    busy: Busy,
    earliest: int,
    latest: int,
    length: int,
    step: int = 900,
    day_ok: Callable[[date], bool] = lambda d: True,
) -> tuple[int, int] | None:
    """The earliest free ``[start, start + length)`` within working hours.

    ``start >= earliest`` and ``start + length <= latest``; on a grid of
    ``step`` seconds from the start of each working day; on days for which
    ``day_ok`` holds. None when no such slot exists.
    """
    if length <= 0 or step <= 0:
        raise ValueError("length and step must be positive")
    day = hours.local_day(earliest)
    last = hours.local_day(latest)
    while day <= last:
        window = hours.window(day) if day_ok(day) else None
        if window is not None:
            lo, hi = window
            t = lo
            if earliest > lo:
                t = lo + -(-(earliest - lo) // step) * step
            while t + length <= min(hi, latest):
                hit = busy.conflict(t, t + length)
                if hit is None:
                    return t, t + length
                # jump past the busy interval, back onto the grid
                t = lo + -(-(hit[1] - lo) // step) * step
        day += timedelta(days=1)
    return None


def free_days(
    hours: WorkingHours, earliest: int, latest: int, day_ok: Callable[[date], bool] = lambda d: True
) -> list[date]:
    """The working days from ``earliest`` to ``latest`` (local days) for which ``day_ok`` holds."""
    out, day, last = [], hours.local_day(earliest), hours.local_day(latest)
    while day <= last:
        if hours.window(day) is not None and day_ok(day):
            out.append(day)
        day += timedelta(days=1)
    return out


def nearest_slot(
    hours: WorkingHours,
    busy: Busy,
    day: date,
    preferred: time,
    earliest: int,
    latest: int,
    length: int,
    step: int = 900,
) -> tuple[int, int] | None:
    """The free ``[start, start + length)`` on ``day`` nearest to the local time ``preferred``.

    Starts lie on the day's grid of ``step`` seconds, at or after ``earliest``,
    ending by ``latest`` and by the end of the working day; between two equally
    near starts the earlier wins. None when the day has no such slot.
    """
    if length <= 0 or step <= 0:
        raise ValueError("length and step must be positive")
    window = hours.window(day)
    if window is None:
        return None
    lo, hi = window
    target = int(datetime.combine(day, preferred, hours.tz).timestamp())
    best: int | None = None
    t = lo
    while t + length <= min(hi, latest):
        nearer = best is None or abs(t - target) < abs(best - target)
        if nearer and t >= earliest and busy.conflict(t, t + length) is None:
            best = t
        t += step
    return None if best is None else (best, best + length)


def parse_hours(text: str) -> tuple[time, time]:
    """``"09:00-17:30"`` as two times; ValueError when malformed or empty."""
    a, sep, b = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a range such as '09:00-17:00'")
    start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
    if end <= start:
        raise ValueError(f"{text!r} ends before it starts")
    return start, end
