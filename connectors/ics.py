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

import calendar as _calendar
import hashlib
import json
import logging
import re
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import icalendar
import recurring_ical_events
from dateutil import rrule as _rrule

from connectors.base import Attendee, Batch, Cursor, EventObservation, Quarantined
from connectors.localfiles import unchanged, walk_files

log = logging.getLogger(__name__)

HORIZON_SECONDS = 2 * 365 * 86400
MAX_INSTANCES = 50_000  # per UID; more means a runaway rule (e.g. FREQ=MINUTELY forever)
SLOW_EMPTY_RULE_SECONDS = 1.0
EXCERPT = 4096
# Free-text and binary properties: never stored, not even in a quarantine excerpt.
PRIVATE_PROPERTIES = ("DESCRIPTION", "ATTACH", "X-ALT-DESC", "COMMENT", "IMAGE", "CONFERENCE")
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
        """One batch per new or changed file, carrying the file's cursor."""
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
            if unchanged(cursors.get(scope), st):
                continue
            yield self.read_file(path, st)

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
                    Quarantined(scope, scope, f"could not be read: {_describe(exc)}", b"")
                ],
                progress=1,
            )
        batch = Batch(
            events=parsed.events,
            quarantined=list(parsed.quarantined.values()),
            cursors={scope: cursor},
            progress=1,
        )
        if parsed.readable:
            # The file was understood: it holds the calendar completely.
            batch.replace_scopes = {scope}
        log.debug(
            "%s: %d instances, %d quarantined", path, len(parsed.events), len(parsed.quarantined)
        )
        return batch


class _FileParse:
    """The work on one file: parse, check, expand, convert; collects quarantine."""

    def __init__(self, path: Path, data: bytes, horizon_end: int, max_instances: int):
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
        for w in caught:
            log.debug("%s: %s", self.path, w.message)

    # -- parsing ----------------------------------------------------------------

    def _parse(self) -> list[icalendar.Calendar] | None:
        data = self.data
        _forget_foreign_timezones()
        components, error = _from_ical(data)
        closed, missing = _close_truncated(data)
        if missing:
            # A truncated file: the parser drops components left open. Close them and keep
            # that reading when it recovers more events (a typo'd END line is not a cut).
            recovered, _ = _from_ical(closed)
            if recovered is not None and (
                components is None or _count_events(recovered) > _count_events(components)
            ):
                components, error = recovered, None
            else:
                missing = []
        if components is None:
            self.quarantine(
                self.scope, f"not a readable iCalendar file: {_describe(error)}", _redact(data)
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
            self.quarantine(self.scope, reason, _redact(data))
            return None
        if missing:
            self.quarantine(
                self.scope,
                "truncated file: missing "
                + ", ".join(f"END:{m}" for m in missing)
                + "; the events before the cut were read",
                _redact(data[-EXCERPT:]),
            )
        return calendars

    # -- one calendar -------------------------------------------------------------

    def _calendar(self, cal: icalendar.Calendar) -> None:
        events = _walk_events(cal)
        if not events:
            return
        bad: set[int] = set()
        earliest: datetime | None = None
        for ev in events:
            uid = _ensure_uid(ev)
            _repair_rrules(ev)
            try:
                prop = ev.get("DTSTART")
                if prop is None:
                    raise _Skip("no DTSTART")
                for name in SINGLE_TIME_PROPERTIES:
                    value = ev.get(name)
                    if isinstance(value, list) and len(value) > 1:
                        raise _Skip(f"{name} appears {len(value)} times; it must be single")
                start = _utc(_first(prop).dt)
            except Exception as exc:
                reason = (
                    str(exc) if isinstance(exc, _Skip) else f"unusable DTSTART: {_describe(exc)}"
                )
                self.quarantine(
                    self._locator(uid), f"event {uid!r}: {reason}", _component_excerpt(ev)
                )
                bad.add(id(ev))
                continue
            earliest = start if earliest is None or start < earliest else earliest
            for value in _rdates(ev):
                earliest = value if value < earliest else earliest
        if bad:
            _drop_components(cal, bad)
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
            _drop_components(cal, {id(ev) for ev in events if str(ev["UID"]) in skipped})
            events = [ev for ev in events if str(ev["UID"]) not in skipped]
            if not events:
                return
        offsets = _this_and_future_offsets(events)
        try:
            self.events.extend(self._expand(cal, window_start, offsets))
            return
        except Exception as exc:
            log.info(
                "%s: expanding the calendar failed (%s); retrying event by event",
                self.path,
                _describe(exc),
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
                    f"event {uid!r}: recurrence expansion failed: {_describe(exc)}",
                    b"".join(_component_excerpt(m) for m in members),
                )

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
                dtstart = _utc(_first(ev["DTSTART"]).dt).replace(tzinfo=None)
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
        metas: dict[int, _Meta] = {}
        for one in series:
            for occ in one.between(window_start, self.horizon):
                source = _source_component(occ)
                if source is None:
                    out.append(self._from_copy(occ.as_component(False), offsets))
                    continue
                meta = metas.get(id(source))
                if meta is None:
                    meta = metas[id(source)] = _Meta(source)
                sequence = getattr(occ, "sequence", -1)
                out.append(_observation(self.path, meta, occ.start, occ.end, sequence, offsets))
        return out

    def _from_copy(
        self, comp: icalendar.cal.Component, offsets: dict[tuple[str, int], int]
    ) -> EventObservation:
        """An instance from the component recurring-ical-events builds for it."""
        end = _first(comp.get("DTEND"))
        return _observation(
            self.path,
            _Meta(comp),
            _first(comp["DTSTART"]).dt,
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


# -- conversion -----------------------------------------------------------------------


class _Meta:
    """The per-component part of an observation (shared by all instances of a series)."""

    __slots__ = (
        "attendees",
        "digest",
        "organizer",
        "rid",
        "rid_range",
        "sequence",
        "stamp",
        "status",
        "summary",
        "uid",
    )

    def __init__(self, comp: icalendar.cal.Component):
        self.uid = str(_first(comp["UID"]))
        rid = _first(comp.get("RECURRENCE-ID"))
        self.rid = _epoch(rid.dt) if rid is not None else None
        self.rid_range = str(rid.params.get("RANGE", "")).upper() if rid is not None else ""
        self.status = str(_first(comp.get("STATUS")) or "").strip().upper() or "CONFIRMED"
        organizer = _first(comp.get("ORGANIZER"))
        self.organizer = _address(organizer) if organizer is not None else None
        self.attendees: list[Attendee] = []
        seen: set[str] = set()
        props = comp.get("ATTENDEE")
        for prop in props if isinstance(props, list) else ([props] if props is not None else []):
            address = _address(prop)
            if address is None or address in seen:
                continue
            seen.add(address)
            params = getattr(prop, "params", {})
            self.attendees.append(
                Attendee(
                    address=address,
                    name=_param(params, "CN"),
                    cutype=_param(params, "CUTYPE").upper() or "INDIVIDUAL",
                    partstat=_param(params, "PARTSTAT").upper() or "NEEDS-ACTION",
                )
            )
        self.summary = str(_first(comp.get("SUMMARY")) or "").strip()
        self.sequence = _int(_first(comp.get("SEQUENCE")))
        self.stamp = _stamp(_first(comp.get("DTSTAMP")))
        self.digest = json.dumps(
            [
                self.status,
                self.organizer,
                [[a.address, a.name, a.cutype, a.partstat] for a in self.attendees],
                self.summary,
            ],
            ensure_ascii=False,
        )


def _observation(
    path: Path,
    meta: _Meta,
    start_value: Any,
    end_value: Any,
    sequence: int,
    offsets: dict[tuple[str, int], int],
) -> EventObservation:
    """One instance: the component's metadata at one start/end."""
    all_day = isinstance(start_value, date) and not isinstance(start_value, datetime)
    start = _epoch(start_value)
    if end_value is None:
        end_value = start_value + timedelta(days=1) if all_day else start_value
    end = max(_epoch(end_value), start)
    instance = start
    if meta.rid is not None:
        instance = meta.rid
        if meta.rid_range == "THISANDFUTURE":
            offset = offsets.get((meta.uid, meta.rid))
            if offset is not None:
                instance = start - offset  # an instance carried by a THISANDFUTURE override
    key = f"{meta.uid}|{instance}"
    version = (sequence if sequence >= 0 else meta.sequence, meta.stamp)
    digest = hashlib.blake2b(
        f"{key}\x00{start}\x00{end}\x00{version}\x00{int(all_day)}\x00{meta.digest}".encode(),
        digest_size=16,
    ).hexdigest()
    return EventObservation(
        calendar=str(path),
        locator=f"{path}#{meta.uid}@{start}",
        key=key,
        start=start,
        end=end,
        status=meta.status,
        organizer=meta.organizer,
        attendees=list(meta.attendees),
        summary=meta.summary,
        version=version,
        all_day=all_day,
        hash=digest,
    )


def _address(prop: Any) -> str | None:
    """The e-mail address of an ORGANIZER/ATTENDEE value, lower-cased, or None.

    ``mailto:`` values give their address; other URIs only through an EMAIL
    parameter; a bare ``user@host`` value is taken as is.
    """
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        address = value[7:]
    else:
        email = _param(getattr(prop, "params", {}), "EMAIL")
        if email:
            address = email[7:] if email.lower().startswith("mailto:") else email
        elif ":" not in value and value.count("@") == 1:
            address = value
        else:
            return None
    if "%" in address:
        address = unquote(address)
    address = address.strip().strip("<>").strip().lower()
    return address or None


def _param(params: Any, name: str) -> str:
    try:
        value = params.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip().strip('"').strip()


def _first(value: Any) -> Any:
    """A property that appears once; the first when a (broken) file repeats it."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _int(value: Any) -> int:
    try:
        return int(value) if value is not None else 0
    except Exception:
        return 0


def _stamp(prop: Any) -> int:
    try:
        return _epoch(prop.dt) if prop is not None else 0
    except Exception:
        return 0


def _epoch(value: Any) -> int:
    """UTC epoch seconds: aware times converted, floating times and dates taken as UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return _calendar.timegm(value.timetuple())
        return _calendar.timegm(value.utctimetuple())
    if isinstance(value, date):
        return _calendar.timegm((value.year, value.month, value.day, 0, 0, 0))
    raise TypeError(f"expected a date or date-time, got {value!r}")


def _utc(value: Any) -> datetime:
    """``value`` as an aware UTC datetime (same rules as :func:`_epoch`)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"expected a date or date-time, got {value!r}")


def _rdates(ev: icalendar.Event) -> Iterator[datetime]:
    """RDATE values (they may lie before DTSTART); broken ones are left to the expansion."""
    props = ev.get("RDATE")
    for prop in props if isinstance(props, list) else ([props] if props is not None else []):
        try:
            for item in prop.dts:
                value = item.dt
                if isinstance(value, tuple):
                    value = value[0]
                yield _utc(value)
        except Exception:
            continue


def _this_and_future_offsets(events: list[icalendar.Event]) -> dict[tuple[str, int], int]:
    """``(uid, recurrence-id) -> DTSTART - RECURRENCE-ID`` of RANGE=THISANDFUTURE overrides.

    The instances such an override carries all repeat its RECURRENCE-ID; their
    own original time is their start minus this shift.
    """
    out: dict[tuple[str, int], int] = {}
    for ev in events:
        rid = _first(ev.get("RECURRENCE-ID"))
        if rid is None or str(rid.params.get("RANGE", "")).upper() != "THISANDFUTURE":
            continue
        try:
            rid_epoch = _epoch(rid.dt)
            out[(str(ev["UID"]), rid_epoch)] = _epoch(_first(ev["DTSTART"]).dt) - rid_epoch
        except Exception:
            continue
    return out


# -- components ---------------------------------------------------------------------


def _walk_events(component: icalendar.cal.Component) -> list[icalendar.cal.Component]:
    """Every VEVENT, at any depth (as recurring-ical-events collects them)."""
    return list(component.walk("VEVENT"))


def _drop_components(component: icalendar.cal.Component, ids: set[int]) -> None:
    """Remove the components whose ``id()`` is in ``ids``, at any depth."""
    component.subcomponents = [c for c in component.subcomponents if id(c) not in ids]
    for child in component.subcomponents:
        _drop_components(child, ids)


def _ensure_uid(ev: icalendar.cal.Component) -> str:
    """The event's UID; a stable one derived from its content when it has none."""
    uid = _first(ev.get("UID"))
    if uid is not None and str(uid).strip():
        if isinstance(ev.get("UID"), list):
            ev["UID"] = str(uid)
        return str(uid)
    h = hashlib.blake2b(digest_size=12)
    try:
        clean = ev.copy()  # properties only, with their parameters
        for name in ("DTSTAMP", "LAST-MODIFIED", "UID"):
            clean.pop(name, None)
        h.update(clean.to_ical())
    except Exception:
        for name, value in sorted(ev.items(), key=lambda kv: kv[0]):
            h.update(f"{name}={value!r};{getattr(value, 'params', '')!r}".encode())
    uid = f"syncd-nouid-{h.hexdigest()}"
    ev["UID"] = uid
    return uid


def _component_excerpt(comp: icalendar.cal.Component) -> bytes:
    """The component as text, without free-text or binary properties."""
    try:
        clean = comp.copy()
        for name in PRIVATE_PROPERTIES:
            clean.pop(name, None)
        return clean.to_ical()[:EXCERPT]
    except Exception:
        return repr(dict(comp.items())).encode("utf-8", "replace")[:EXCERPT]


_CONTENT_LINE = re.compile(rb"^([A-Za-z0-9-]+)")


def _redact(raw: bytes) -> bytes:
    """The first bytes of a file with the values of private properties removed."""
    out: list[bytes] = []
    skipping = False
    size = 0
    for line in raw.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if skipping:
                continue  # a folded continuation of a private value
        else:
            m = _CONTENT_LINE.match(line)
            name = m.group(1).decode("ascii").upper() if m else ""
            skipping = name in PRIVATE_PROPERTIES
            if skipping:
                line = f"{name}:[not stored]\r\n".encode()
        out.append(line)
        size += len(line)
        if size >= EXCERPT:
            break
    return b"".join(out)[:EXCERPT]


def _forget_foreign_timezones() -> None:
    """Clear icalendar's process-wide cache of VTIMEZONE definitions.

    icalendar remembers each custom VTIMEZONE by TZID for the life of the
    process, so a file would otherwise see zones another file defined, and a
    second definition of the same TZID would be ignored: the result of a file
    would depend on what was read before it.
    """
    try:
        from icalendar.timezone import tzp

        tzp.use(tzp.name)  # re-selecting the provider starts an empty cache
    except Exception as exc:  # an icalendar without this API: keep going
        log.debug("cannot reset icalendar's timezone cache: %s", exc)


def _from_ical(data: bytes) -> tuple[list[Any] | None, Exception | None]:
    try:
        return icalendar.Calendar.from_ical(data, multiple=True), None
    except Exception as exc:
        return None, exc


def _count_events(components: list[Any]) -> int:
    return sum(len(c.walk("VEVENT")) for c in components)


def _repair_rrules(ev: icalendar.cal.Component) -> None:
    """Recover RRULEs broken only by blanks (``BYDAY=MO, TU`` from Exchange CDO exports)."""
    rules = ev.get("RRULE")
    if rules is None:
        return
    fixed = []
    changed = False
    for rule in rules if isinstance(rules, list) else [rules]:
        if isinstance(rule, str) and getattr(rule, "expected_type", None) == "vRecur":
            try:
                rule = icalendar.vRecur.from_ical(re.sub(r"\s+", "", str(rule)))
                changed = True
            except Exception:
                pass
        fixed.append(rule)
    if changed:
        log.info("repaired an RRULE with blanks in event %s", ev.get("UID"))
        ev.pop("RRULE")
        for rule in fixed:
            ev.add("RRULE", rule)


def _close_truncated(data: bytes) -> tuple[bytes, list[str]]:
    """``data`` with END lines appended for components a truncated file left open."""
    stack: list[str] = []
    for line in data.splitlines():
        text = line.strip().upper()
        if text.startswith(b"BEGIN:"):
            stack.append(text[6:].decode("ascii", "replace"))
        elif text.startswith(b"END:"):
            name = text[4:].decode("ascii", "replace")
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
    if not stack:
        return data, []
    missing = list(reversed(stack))
    tail = b"".join(f"END:{name}\r\n".encode() for name in missing)
    sep = b"" if data.endswith((b"\n", b"\r")) else b"\r\n"
    return data + sep + tail, missing


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"[:500]


def reader(paths: list[Path], **options) -> IcsReader:
    """The connector entry point used by ``syncd import ics``."""
    return IcsReader(paths, **options)
