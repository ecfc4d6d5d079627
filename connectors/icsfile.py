"""A local ``.ics`` calendar as a write target (the outbox's calendar writer).

One file holds one calendar. Every event syncd writes carries its idempotency
key twice: in the iCal ``UID`` (``syncd-<sha256(key)[:32]>@syncd.local``) and
verbatim in ``X-SYNCD-KEY``. :meth:`IcsFileWriter.apply` re-reads the file
and returns the existing event when the key is there already, so a retry after
a crash between the write and the outbox commit finds the event instead of
adding a second one.

Writes are atomic (a temporary file ``.NAME.tmp-PID`` in the same directory,
fsync, rename) and serialised between processes with ``flock`` on a hidden
sidecar lock file (``.NAME.lock``). A temporary file left by a writer that was
killed mid-write is removed by the next writer (under the lock, so it cannot
be anyone's work in progress) or the next read. Events the user added to the
file are kept as they are.

Event times are written in the payload's ``timezone`` (``DTSTART;TZID=...``
with its ``VTIMEZONE``), so calendars show them at the user's wall-clock time.
The title and description come from people's names and mail subjects: control
characters are dropped and their length is bounded (:data:`SUMMARY_MAX`,
:data:`DESCRIPTION_MAX`) before they are written.

:class:`IcsFileWriter` is a :class:`connectors.base.CalendarWriter`: beyond
``apply`` / ``remove`` it offers

- ``lookup(key) -> RemoteEvent | None``: the event's current start and end as
  the calendar has them now, or None when it is gone (the user deleted it); and
- ``busy(start, end) -> list[(start, end)]``: busy intervals of the calendar in
  that range (every event that is not cancelled and not ``TRANSP:TRANSPARENT``;
  recurrences expanded), for free/busy.

The seam: :func:`open_writer` takes an account of kind ``icsfile`` whose
options are ``path`` (the file; relative paths are under the home) and
``timezone`` (IANA, for floating times; default UTC). The outbox opens its
``ics:PATH`` targets this way (:func:`syncd.followup.outbox.resolve_writer`).
This module only writes: the calendar is read back like any other ``.ics``
file by :mod:`connectors.ics`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events

from connectors.base import Action, CalendarWriter, RemoteEvent
from syncd.config.schema import AccountConfig
from syncd.core.errors import TransientError, UserError
from syncd.core.home import Home
from syncd.core.text import bounded, drop_controls

log = logging.getLogger(__name__)

PRODID = "-//syncd//follow-ups//EN"
KEY_PROPERTY = "X-SYNCD-KEY"
UID_DOMAIN = "syncd.local"
SUMMARY_MAX = 200  # characters of an event title
DESCRIPTION_MAX = 2000  # characters of an event description


def uid_for(key: str) -> str:
    """The iCal UID of the event carrying idempotency key ``key``."""
    return f"syncd-{hashlib.sha256(key.encode()).hexdigest()[:32]}@{UID_DOMAIN}"


def _epoch(value: object, tz: ZoneInfo) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=tz)
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day, tzinfo=tz).timestamp())
    raise ValueError(f"not a date or date-time: {value!r}")


def _stamp(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def summary_text(title: object) -> str:
    """An event title as written: one line, no control characters, at most SUMMARY_MAX."""
    return bounded(" ".join(drop_controls(title, keep_newlines=False).split()), SUMMARY_MAX)


def description_text(text: object) -> str:
    """An event description as written: no control characters but line breaks, bounded."""
    return bounded(drop_controls(text).strip(), DESCRIPTION_MAX)


def event_zone(name: object, default: ZoneInfo) -> tzinfo:
    """A follow-up's zone: the payload's ``timezone``, else ``default`` (UTC stays ``Z``)."""
    zone = default
    if name:
        try:
            zone = ZoneInfo(str(name))
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("unknown time zone %r in a follow-up: using %s", name, default.key)
    return UTC if zone.key == "UTC" else zone


def follow_up_event(action: Action, tz: tzinfo) -> icalendar.Event:
    """The VEVENT of an ``event.create`` action: UID from the key, the key in X-SYNCD-KEY,
    plain bounded title and description, opaque, in zone ``tz``."""
    p = action.payload
    ev = icalendar.Event()
    ev.add("UID", uid_for(action.key))
    ev.add("DTSTAMP", _stamp(int(p.get("created", p["start"]))))
    ev.add("DTSTART", datetime.fromtimestamp(int(p["start"]), tz))
    ev.add("DTEND", datetime.fromtimestamp(int(p["end"]), tz))
    ev.add("SUMMARY", summary_text(p["title"]) or "Follow up")
    if description := description_text(p.get("description")):
        ev.add("DESCRIPTION", description)
    ev.add("CATEGORIES", ["syncd", "follow-up"])
    ev.add("TRANSP", "OPAQUE")
    ev.add("STATUS", "CONFIRMED")
    ev.add("SEQUENCE", 0)
    ev.add(KEY_PROPERTY, action.key)
    return ev


def event_span(ev: icalendar.cal.Component, tz: ZoneInfo) -> tuple[int, int]:
    """An event's start and end (epoch seconds; floating times in ``tz``)."""
    start = _epoch(ev.decoded("DTSTART"), tz)
    if "DTEND" in ev:
        end = _epoch(ev.decoded("DTEND"), tz)
    elif "DURATION" in ev:
        end = start + int(ev.decoded("DURATION").total_seconds())
    else:
        end = start
    return start, end


def busy_intervals(
    cal: icalendar.Calendar, start: int, end: int, tz: ZoneInfo
) -> list[tuple[int, int]]:
    """Busy intervals of ``cal`` overlapping ``[start, end)``: recurrences expanded,
    cancelled and transparent events left out."""
    lo = datetime.fromtimestamp(start, UTC) - timedelta(days=1)
    hi = datetime.fromtimestamp(end, UTC) + timedelta(days=1)
    out = []
    for ev in recurring_ical_events.of(cal).between(lo, hi):
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            continue
        if str(ev.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT":
            continue
        s, e = event_span(ev, tz)
        if e > start and s < end:
            out.append((s, e))
    return sorted(out)


class IcsFileWriter:
    """Writes follow-up events into one local ``.ics`` file (created on first write)."""

    def __init__(self, path: Path | str, tz: str | ZoneInfo = "UTC", name: str = "syncd"):
        self.path = Path(path).expanduser()
        self.tz = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        self.name = name

    def __repr__(self) -> str:
        return f"IcsFileWriter({str(self.path)!r})"

    # -- file access

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock = self.path.with_name(f".{self.path.name}.lock")
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise UserError(f"cannot write the calendar {self.path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._sweep()
            yield
        finally:
            os.close(fd)

    def _temps(self) -> list[Path]:
        try:
            return list(self.path.parent.glob(f".{self.path.name}.tmp-*"))
        except OSError:
            return []

    def _sweep(self) -> None:
        """Remove temporary files of writers that died mid-write (call under the lock)."""
        for tmp in self._temps():
            with contextlib.suppress(OSError):
                tmp.unlink()
                log.info("removed %s, left by an interrupted write", tmp)

    def _sweep_if_idle(self) -> None:
        """:meth:`_sweep` when no writer holds the lock now (readers never wait for it)."""
        if not self._temps():
            return
        lock = self.path.with_name(f".{self.path.name}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self._sweep()
        except OSError:
            pass  # a writer is at work: its temporary file is not litter
        finally:
            os.close(fd)

    def _read(self) -> icalendar.Calendar:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            cal = icalendar.Calendar()
            cal.add("PRODID", PRODID)
            cal.add("VERSION", "2.0")
            cal.add("CALSCALE", "GREGORIAN")
            cal.add("X-WR-CALNAME", f"{self.name} follow-ups")
            return cal
        except OSError as exc:
            raise TransientError(f"cannot read {self.path}: {exc.strerror}", 60) from None
        try:
            return icalendar.Calendar.from_ical(data)
        except ValueError as exc:
            # Never overwrite a calendar we cannot read: the user's data would be lost.
            raise UserError(f"{self.path} is not a readable iCalendar file: {exc}") from None

    def _write(self, cal: icalendar.Calendar) -> None:
        data = cal.to_ical()
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        try:
            mode = self.path.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            dfd = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise TransientError(f"cannot write {self.path}: {exc.strerror}", 60) from None

    @staticmethod
    def _find(cal: icalendar.Calendar, key: str) -> icalendar.Event | None:
        uid = uid_for(key)
        for ev in cal.walk("VEVENT"):
            mine = str(ev.get(KEY_PROPERTY, "")) == key or str(ev.get("UID", "")) == uid
            if mine and "RECURRENCE-ID" not in ev:
                return ev
        return None

    # -- the Writer protocol

    def apply(self, action: Action) -> str:
        """Create the event of ``action`` (kind ``event.create``) unless it exists; its UID."""
        if action.kind != "event.create":
            raise UserError(f"the .ics writer cannot perform {action.kind!r}")
        p = action.payload
        with self._locked():
            cal = self._read()
            found = self._find(cal, action.key)
            if found is not None:
                log.info("event %s exists already in %s", action.key, self.path)
                return str(found["UID"])
            tz = self._zone(p.get("timezone"))
            ev = follow_up_event(action, tz)
            cal.add_component(ev)
            if tz is not UTC:
                cal.add_missing_timezones()
            self._write(cal)
            return str(ev["UID"])

    def _zone(self, name: object) -> tzinfo:
        """The event's zone: the payload's ``timezone``, else the writer's (UTC stays ``Z``)."""
        return event_zone(name, self.tz)

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Delete the event carrying ``action.key`` (all its instances); missing is fine."""
        with self._locked():
            cal = self._read()
            uid = uid_for(action.key)
            doomed = [
                ev
                for ev in cal.subcomponents
                if ev.name == "VEVENT"
                and (str(ev.get(KEY_PROPERTY, "")) == action.key or str(ev.get("UID", "")) == uid)
            ]
            if not doomed:
                return
            cal.subcomponents = [c for c in cal.subcomponents if c not in doomed]
            self._write(cal)

    # -- what the user did, and free/busy

    def lookup(self, key: str) -> RemoteEvent | None:
        """The event with ``key`` as the file has it now (None: deleted or cancelled)."""
        self._sweep_if_idle()
        cal = self._read()
        ev = self._find(cal, key)
        if ev is None or str(ev.get("STATUS", "")).upper() == "CANCELLED":
            return None
        start, end = event_span(ev, self.tz)
        return RemoteEvent(str(ev["UID"]), start, end)

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        """Busy intervals overlapping ``[start, end)`` (recurrences expanded)."""
        self._sweep_if_idle()
        return busy_intervals(self._read(), start, end, self.tz)

    def keys(self) -> set[str]:
        """The idempotency keys of every syncd event in the file."""
        return {str(ev[KEY_PROPERTY]) for ev in self._read().walk("VEVENT") if KEY_PROPERTY in ev}


def open_writer(account: AccountConfig, home: Home) -> CalendarWriter:
    """The writer of an ``icsfile`` account's ``.ics`` file (options ``path``, ``timezone``)."""
    path = account.options.get("path")
    if not isinstance(path, str | Path) or not str(path).strip():
        raise UserError(f"{account.name}: an .ics calendar target needs a file path")
    tz = account.options.get("timezone") or "UTC"
    try:
        zone = ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError(f"{account.name}: unknown time zone {tz!r}") from None
    file = Path(path).expanduser()
    if not file.is_absolute():
        file = home.root / file
    return IcsFileWriter(file, zone)
