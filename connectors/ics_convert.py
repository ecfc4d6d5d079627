"""iCalendar components to :class:`EventObservation` instances: metadata only (times,
status, organizer, attendees, summary, version)."""

from __future__ import annotations

import calendar as _calendar
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import icalendar

from connectors.base import Attendee, EventObservation


class EventMeta:
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
        self.uid = str(first(comp["UID"]))
        rid = first(comp.get("RECURRENCE-ID"))
        self.rid = epoch(rid.dt) if rid is not None else None
        self.rid_range = str(rid.params.get("RANGE", "")).upper() if rid is not None else ""
        self.status = str(first(comp.get("STATUS")) or "").strip().upper() or "CONFIRMED"
        organizer = first(comp.get("ORGANIZER"))
        self.organizer = attendee_address(organizer) if organizer is not None else None
        self.attendees: list[Attendee] = []
        seen: set[str] = set()
        props = comp.get("ATTENDEE")
        for prop in props if isinstance(props, list) else ([props] if props is not None else []):
            address = attendee_address(prop)
            if address is None or address in seen:
                continue
            seen.add(address)
            params = getattr(prop, "params", {})
            self.attendees.append(
                Attendee(
                    address=address,
                    name=param(params, "CN"),
                    cutype=param(params, "CUTYPE").upper() or "INDIVIDUAL",
                    partstat=param(params, "PARTSTAT").upper() or "NEEDS-ACTION",
                )
            )
        self.summary = str(first(comp.get("SUMMARY")) or "").strip()
        self.sequence = to_int(first(comp.get("SEQUENCE")))
        self.stamp = stamp(first(comp.get("DTSTAMP")))
        self.digest = json.dumps(
            [
                self.status,
                self.organizer,
                [[a.address, a.name, a.cutype, a.partstat] for a in self.attendees],
                self.summary,
            ],
            ensure_ascii=False,
        )


def observation(
    path: Path,
    meta: EventMeta,
    start_value: Any,
    end_value: Any,
    sequence: int,
    offsets: dict[tuple[str, int], int],
) -> EventObservation:
    """One instance: the component's metadata at one start/end."""
    all_day = isinstance(start_value, date) and not isinstance(start_value, datetime)
    start = epoch(start_value)
    if end_value is None:
        end_value = start_value + timedelta(days=1) if all_day else start_value
    end = max(epoch(end_value), start)
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


def attendee_address(prop: Any) -> str | None:
    """The e-mail address of an ORGANIZER/ATTENDEE value, lower-cased, or None.

    ``mailto:`` values give their address; other URIs only through an EMAIL
    parameter; a bare ``user@host`` value is taken as is.
    """
    value = str(prop).strip()
    if value.lower().startswith("mailto:"):
        address = value[7:]
    else:
        email = param(getattr(prop, "params", {}), "EMAIL")
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


def param(params: Any, name: str) -> str:
    try:
        value = params.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value).strip().strip('"').strip()


def first(value: Any) -> Any:
    """A property that appears once; the first when a (broken) file repeats it."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def to_int(value: Any) -> int:
    try:
        return int(value) if value is not None else 0
    except Exception:
        return 0


def stamp(prop: Any) -> int:
    try:
        return epoch(prop.dt) if prop is not None else 0
    except Exception:
        return 0


def epoch(value: Any) -> int:
    """UTC epoch seconds: aware times converted, floating times and dates taken as UTC."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return _calendar.timegm(value.timetuple())
        return _calendar.timegm(value.utctimetuple())
    if isinstance(value, date):
        return _calendar.timegm((value.year, value.month, value.day, 0, 0, 0))
    raise TypeError(f"expected a date or date-time, got {value!r}")


def utc(value: Any) -> datetime:
    """``value`` as an aware UTC datetime (same rules as :func:`epoch`)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise TypeError(f"expected a date or date-time, got {value!r}")


def rdates(ev: icalendar.Event) -> Iterator[datetime]:
    """RDATE values (they may lie before DTSTART); broken ones are left to the expansion."""
    props = ev.get("RDATE")
    for prop in props if isinstance(props, list) else ([props] if props is not None else []):
        try:
            for item in prop.dts:
                value = item.dt
                if isinstance(value, tuple):
                    value = value[0]
                yield utc(value)
        except Exception:
            continue


def this_and_future_offsets(events: list[icalendar.Event]) -> dict[tuple[str, int], int]:
    """``(uid, recurrence-id) -> DTSTART - RECURRENCE-ID`` of RANGE=THISANDFUTURE overrides.

    The instances such an override carries all repeat its RECURRENCE-ID; their
    own original time is their start minus this shift.
    """
    out: dict[tuple[str, int], int] = {}
    for ev in events:
        rid = first(ev.get("RECURRENCE-ID"))
        if rid is None or str(rid.params.get("RANGE", "")).upper() != "THISANDFUTURE":
            continue
        try:
            rid_epoch = epoch(rid.dt)
            out[(str(ev["UID"]), rid_epoch)] = epoch(first(ev["DTSTART"]).dt) - rid_epoch
        except Exception:
            continue
    return out
