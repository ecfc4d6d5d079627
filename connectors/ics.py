"""Local iCalendar (.ics) files: every VEVENT instance becomes an :class:`EventObservation`.

Parsing is icalendar's; recurrences (RRULE, RDATE, EXDATE, RECURRENCE-ID
overrides, ``RANGE=THISANDFUTURE``, X-WR-TIMEZONE) are expanded by
recurring-ical-events between the earliest DTSTART of the file and a horizon
(default: two years from now), so unbounded rules terminate.

Only metadata is kept: times, status, organizer, attendees, summary and the
version (SEQUENCE, DTSTAMP). Descriptions, attachments and alarms are never
stored, not even in quarantine excerpts.

One batch per file; its cursor is ``{size, mtime_ns, done}``, so an unchanged
file costs one ``stat``. A changed file is read again completely and replaces
the file's stored instances (``replace_scopes``), so instances that left the
file are removed. Bad input never stops an import: a file that cannot be
parsed is quarantined whole; when the expansion of a calendar fails, its
events are expanded UID by UID and only the failing UIDs are quarantined.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import recurring_ical_events
from dateutil import rrule as _rrule

from connectors import ics_convert as convert
from connectors import ics_repair as repair
from connectors.base import Batch, Cursor, EventObservation, Quarantined, Reader
from connectors.ics_repair import EXCERPT
from connectors.localfiles import account_paths, int_option, unchanged, walk_files
from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from syncd.mail.addresses import has_control

log = logging.getLogger(__name__)

HORIZON_SECONDS = 2 * 365 * 86400
MAX_INSTANCES = 50_000  # per UID; more means a runaway rule (e.g. FREQ=MINUTELY forever)
SLOW_EMPTY_RULE_SECONDS = 1.0
# Components that are valid iCalendar but carry no events: ignored, not errors.
KNOWN_COMPONENTS = frozenset(
    (
        "VTODO",
        "VJOURNAL",
        "VFREEBUSY",
        "VALARM",
        "VAVAILABILITY",
        "AVAILABLE",
        "VTIMEZONE",
        "STANDARD",
        "DAYLIGHT",
        "VLOCATION",
        "VRESOURCE",
        "PARTICIPANT",
    )
)
# Single-valued by RFC 5545; a repeated one leaves the event's time ambiguous.
SINGLE_TIME_PROPERTIES = ("DTSTART", "DTEND", "DURATION", "RECURRENCE-ID")
_EARLIEST = datetime(1, 1, 3, tzinfo=UTC)
_LATEST = datetime(9999, 12, 1, tzinfo=UTC)


class IcsReader:
    """Reads .ics files (a file, or every ``*.ics`` under a directory)."""

    def __init__(
        self,
        paths: list[Path],
        horizon_end: int | None = None,
        max_instances: int = MAX_INSTANCES,
    ):
        self.paths = [Path(p).resolve() for p in paths]
        self.horizon_end = int(
            horizon_end if horizon_end is not None else time.time() + HORIZON_SECONDS
        )
        self.max_instances = max_instances

    def _files(self) -> list[Path]:
        """``*.ics`` files (any case) under directories, plus the files named explicitly."""
        explicit = {p for p in self.paths if p.is_file()}
        seen: set[Path] = set()
        out: list[Path] = []
        for _root, path in walk_files(self.paths):
            path = path.resolve()
            if path in seen:
                continue
            if path in explicit or path.name.lower().endswith(".ics"):
                seen.add(path)
                out.append(path)
        return out

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Files still to read (one unit per file)."""
        total = 0
        for path in self._files():
            try:
                st = path.stat()
            except OSError:
                total += 1
                continue
            if not unchanged(cursors.get(str(path)), st):
                total += 1
        return total

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """One batch per new or changed file, carrying the file's cursor (then a batch
        counting the unchanged files and their event instances)."""
        skipped = Batch()
        for path in self._files():
            scope = str(path)
            try:
                st = path.stat()
            except OSError as exc:
                log.warning("cannot stat %s: %s", path, exc)
                yield Batch(
                    quarantined=[Quarantined(scope, scope, f"cannot read file: {exc}")],
                    progress=1,
                )
                continue
            cursor = cursors.get(scope)
            if unchanged(cursor, st):
                skipped.unchanged += 1
                skipped.known += cursor.get("events", 0)
                continue
            yield self.read_file(path, st)
        if skipped.unchanged:
            yield skipped

    def read_file(self, path: Path, st: Any | None = None) -> Batch:
        """Parse and expand one file into a batch (never raises for bad content)."""
        scope = str(path)
        st = st if st is not None else path.stat()
        cursor = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "done": True}
        try:
            data = path.read_bytes()
        except OSError as exc:
            return Batch(
                quarantined=[Quarantined(scope, scope, f"cannot read file: {exc}")], progress=1
            )
        parsed = _FileParse(path, data, self.horizon_end, self.max_instances)
        try:
            parsed.run()
        except Exception as exc:  # a bug here must not stop the import of other files
            log.exception("reading %s failed", path)
            # No cursor: the file is read again next time (by a fixed syncd, say).
            return Batch(
                quarantined=[
                    Quarantined(scope, scope, f"could not be read: {repair.describe(exc)}", b"")
                ],
                progress=1,
            )
        batch = Batch(
            events=parsed.events,
            quarantined=list(parsed.quarantined.values()),
            cursors={scope: {**cursor, "events": len(parsed.events)}},
            progress=1,
        )
        if parsed.readable:
            # The file was understood: it holds the calendar completely.
            batch.replace_scopes = {scope}
        log.debug(
            "%s: %d instances, %d quarantined", path, len(parsed.events), len(parsed.quarantined)
        )
        return batch


def parse_calendar(
    scope: str, data: bytes, horizon_end: int | None = None
) -> tuple[list[EventObservation], list[Quarantined], bool]:
    """Parse and expand iCalendar ``data`` as one file named ``scope`` would be:
    its instances, what was quarantined, and whether the data was understood
    (another source of iCalendar text, e.g. a CalDAV resource, reuses the file rules)."""
    end = int(horizon_end if horizon_end is not None else time.time() + HORIZON_SECONDS)
    parsed = _FileParse(scope, data, end, MAX_INSTANCES)
    parsed.run()
    return parsed.events, list(parsed.quarantined.values()), parsed.readable


class _FileParse:
    """The work on one file: parse, check, expand, convert; collects quarantine."""

    def __init__(self, path: Path | str, data: bytes, horizon_end: int, max_instances: int):
        self.path = path
        self.scope = str(path)
        self.data = data
        self.horizon = min(datetime.fromtimestamp(horizon_end, UTC), _LATEST)
        self.max_instances = max_instances
        self.events: list[EventObservation] = []
        self.quarantined: dict[str, Quarantined] = {}
        self.readable = False

    def quarantine(self, locator: str, reason: str, excerpt: bytes = b"") -> None:
        log.info("quarantined %s: %s", locator, reason)
        self.quarantined.setdefault(
            locator, Quarantined(self.scope, locator, reason, excerpt[:EXCERPT])
        )

    def run(self) -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            calendars = self._parse()
            if calendars is None:
                return
            self.readable = True
            for cal in calendars:
                self._calendar(cal)
            self._note_control_addresses()
        for w in caught:
            log.debug("%s: %s", self.path, w.message)

    # -- parsing ----------------------------------------------------------------

    def _parse(self) -> list[icalendar.Calendar] | None:
        data = self.data
        repair.forget_foreign_timezones()
        components, error = repair.from_ical(data)
        closed, missing = repair.close_truncated(data)
        if missing:
            # A truncated file: the parser drops components left open. Close them and keep
            # that reading when it recovers more events (a typo'd END line is not a cut).
            recovered, _ = repair.from_ical(closed)
            if recovered is not None and (
                components is None
                or repair.count_events(recovered) > repair.count_events(components)
            ):
                components, error = recovered, None
            else:
                missing = []
        if components is None:
            self.quarantine(
                self.scope,
                f"not a readable iCalendar file: {repair.describe(error)}",
                repair.redact(data),
            )
            return None
        calendars: list[icalendar.Calendar] = []
        loose = icalendar.Calendar()
        strangers: list[str] = []
        for comp in components:
            if comp.name == "VCALENDAR":
                calendars.append(comp)
                continue
            # A bare VEVENT file, or events wrapped in something else: read them as one calendar.
            found = [c for c in comp.walk() if c.name in ("VEVENT", "VTIMEZONE")]
            for c in found:
                loose.add_component(c)
            if not found and comp.name not in KNOWN_COMPONENTS:
                strangers.append(comp.name)
        if loose.subcomponents:
            calendars.append(loose)
        if not calendars and (strangers or not components) and data.strip():
            if strangers:
                names = ", ".join(repr(n) for n in strangers)
                reason = f"not an iCalendar calendar (top-level components: {names})"
            else:
                reason = "no complete iCalendar component found"
            self.quarantine(self.scope, reason, repair.redact(data))
            return None
        if missing:
            self.quarantine(
                self.scope,
                "truncated file: missing "
                + ", ".join(f"END:{m}" for m in missing)
                + "; the events before the cut were read",
                repair.redact(data[-EXCERPT:]),
            )
        return calendars

    # -- one calendar -------------------------------------------------------------

    def _calendar(self, cal: icalendar.Calendar) -> None:
        events = repair.walk_events(cal)
        if not events:
            return
        bad: set[int] = set()
        earliest: datetime | None = None
        for ev in events:
            uid = repair.ensure_uid(ev)
            repair.repair_rrules(ev)
            try:
                prop = ev.get("DTSTART")
                if prop is None:
                    raise _Skip("no DTSTART")
                for name in SINGLE_TIME_PROPERTIES:
                    value = ev.get(name)
                    if isinstance(value, list) and len(value) > 1:
                        raise _Skip(f"{name} appears {len(value)} times; it must be single")
                start = convert.utc(convert.first(prop).dt)
            except Exception as exc:
                reason = (
                    str(exc)
                    if isinstance(exc, _Skip)
                    else f"unusable DTSTART: {repair.describe(exc)}"
                )
                self.quarantine(
                    self._locator(uid), f"event {uid!r}: {reason}", repair.component_excerpt(ev)
                )
                bad.add(id(ev))
                continue
            earliest = start if earliest is None or start < earliest else earliest
            for value in convert.rdates(ev):
                earliest = value if value < earliest else earliest
        if bad:
            repair.drop_components(cal, bad)
            events = [ev for ev in events if id(ev) not in bad]
        if not events:
            return
        window_start = max(
            (earliest or datetime(1970, 1, 1, tzinfo=UTC)) - timedelta(days=1), _EARLIEST
        )
        if window_start >= self.horizon:
            return
        skipped = self._unexpandable_uids(events, window_start)
        if skipped:
            repair.drop_components(cal, {id(ev) for ev in events if str(ev["UID"]) in skipped})
            events = [ev for ev in events if str(ev["UID"]) not in skipped]
            if not events:
                return
        offsets = convert.this_and_future_offsets(events)
        try:
            self.events.extend(self._expand(cal, window_start, offsets))
            return
        except Exception as exc:
            log.info(
                "%s: expanding the calendar failed (%s); retrying event by event",
                self.path,
                repair.describe(exc),
            )
        # Fallback: expand each UID on its own, with the calendar's properties and timezones.
        timezones = [c for c in cal.subcomponents if c.name == "VTIMEZONE"]
        groups: dict[str, list[icalendar.Event]] = {}
        for ev in events:
            groups.setdefault(str(ev["UID"]), []).append(ev)
        for uid, members in groups.items():
            sub = icalendar.Calendar()
            for name, value in cal.items():
                sub[name] = value
            sub.subcomponents = [*timezones, *members]
            try:
                self.events.extend(self._expand(sub, window_start, offsets))
            except Exception as exc:
                self.quarantine(
                    self._locator(uid),
                    f"event {uid!r}: recurrence expansion failed: {repair.describe(exc)}",
                    b"".join(repair.component_excerpt(m) for m in members),
                )

    def _note_control_addresses(self) -> None:
        """Note (in the quarantine) events with an attendee or organizer address holding a
        control character: such an address is not a person, and is counted here."""
        flagged: dict[str, bool] = {}
        for ev in self.events:
            addresses = [a.address for a in ev.attendees]
            if ev.organizer:
                addresses.append(ev.organizer)
            for address in addresses:
                bad = flagged.get(address)
                if bad is None:
                    bad = flagged[address] = has_control(address)
                if bad:
                    self.quarantine(  # once per event, not per instance (path#uid)
                        ev.locator.rpartition("@")[0],
                        "event imported without an address with control characters",
                    )
                    break

    def _locator(self, uid: str) -> str:
        return f"{self.path}#{uid}"

    def _unexpandable_uids(self, events: list[icalendar.Event], window_start: datetime) -> set[str]:
        """UIDs whose rules would yield more than ``max_instances`` before the horizon.

        Also drops rules that can never occur (``BYMONTH=2;BYMONTHDAY=30``):
        dateutil searches up to the year 9999 for them, which takes seconds,
        and the expansion would search again. Without the rule the event keeps
        exactly its instances: DTSTART and any RDATE.
        """
        counts: dict[str, int] = {}
        start_naive = window_start.replace(tzinfo=None)
        end_naive = self.horizon.replace(tzinfo=None)
        for ev in events:
            rules = ev.get("RRULE")
            if rules is None:
                continue
            uid = str(ev["UID"])
            try:
                dtstart = convert.utc(convert.first(ev["DTSTART"]).dt).replace(tzinfo=None)
            except Exception:
                continue
            kept = []
            for rule in rules if isinstance(rules, list) else [rules]:
                began = time.monotonic()
                produced = 0
                try:
                    text = rule.to_ical().decode()
                    parsed = _rrule.rrulestr(text, dtstart=dtstart, ignoretz=True)
                    for when in parsed:
                        produced += 1
                        if when >= end_naive:
                            break
                        if when >= start_naive:
                            counts[uid] = counts.get(uid, 0) + 1
                            if counts[uid] > self.max_instances:
                                break
                except Exception:
                    kept.append(rule)  # the expansion itself will judge this rule
                    continue
                if produced or time.monotonic() - began < SLOW_EMPTY_RULE_SECONDS:
                    kept.append(rule)
                else:
                    log.info(
                        "%s: event %r: dropped a rule that never occurs: %s", self.path, uid, text
                    )
            if len(kept) < (len(rules) if isinstance(rules, list) else 1):
                ev.pop("RRULE")
                for rule in kept:
                    ev.add("RRULE", rule)
        runaway = {uid for uid, n in counts.items() if n > self.max_instances}
        for uid in runaway:
            self.quarantine(
                self._locator(uid),
                f"event {uid!r}: its recurrence rule yields more than {self.max_instances}"
                f" instances before {self.horizon:%Y-%m-%d}; not expanded",
            )
        return runaway

    def _expand(
        self, cal: icalendar.Calendar, window_start: datetime, offsets: dict[tuple[str, int], int]
    ) -> list[EventObservation]:
        query = recurring_ical_events.of(cal, components=("VEVENT",))
        series = getattr(query, "series", None)
        if series is None:  # not the 3.x layout: take the documented (slower) way
            return [
                self._from_copy(inst, offsets) for inst in query.between(window_start, self.horizon)
            ]
        out: list[EventObservation] = []
        metas: dict[int, convert.EventMeta] = {}
        for one in series:
            for occ in one.between(window_start, self.horizon):
                source = _source_component(occ)
                if source is None:
                    out.append(self._from_copy(occ.as_component(False), offsets))
                    continue
                meta = metas.get(id(source))
                if meta is None:
                    meta = metas[id(source)] = convert.EventMeta(source)
                sequence = getattr(occ, "sequence", -1)
                out.append(
                    convert.observation(self.path, meta, occ.start, occ.end, sequence, offsets)
                )
        return out

    def _from_copy(
        self, comp: icalendar.cal.Component, offsets: dict[tuple[str, int], int]
    ) -> EventObservation:
        """An instance from the component recurring-ical-events builds for it."""
        end = convert.first(comp.get("DTEND"))
        return convert.observation(
            self.path,
            convert.EventMeta(comp),
            convert.first(comp["DTSTART"]).dt,
            end.dt if end is not None else None,
            -1,
            offsets,
        )


def _source_component(occurrence: Any) -> icalendar.cal.Component | None:
    """The component an occurrence was made from (None when the library hides it).

    Reading it directly spares a copy of the component per instance, which is
    most of the expansion's cost.
    """
    adapter = getattr(occurrence, "_adapter", None)
    component = getattr(adapter, "_component", None)
    return component if isinstance(component, icalendar.cal.Component) else None


class _Skip(Exception):
    """An event that is quarantined for a plain reason (no exception chain to show)."""


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of an ``ics`` account: the ``.ics`` files under its ``paths``.

    Option ``horizon_end`` (epoch seconds): where recurrences stop being expanded
    (default: two years from now).
    """
    return IcsReader(account_paths(account), horizon_end=int_option(account, "horizon_end"))
