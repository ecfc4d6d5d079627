"""Reading damaged iCalendar data: parsing with recovery (truncated files, broken
RRULEs, missing UIDs), walking components, and redacted excerpts for the quarantine."""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import icalendar

from connectors import ics_convert as convert

log = logging.getLogger("connectors.ics")

EXCERPT = 4096
# Free-text and binary properties: never stored, not even in a quarantine excerpt.
PRIVATE_PROPERTIES = ("DESCRIPTION", "ATTACH", "X-ALT-DESC", "COMMENT", "IMAGE", "CONFERENCE")


def walk_events(component: icalendar.cal.Component) -> list[icalendar.cal.Component]:
    """Every VEVENT, at any depth (as recurring-ical-events collects them)."""
    return list(component.walk("VEVENT"))


def drop_components(component: icalendar.cal.Component, ids: set[int]) -> None:
    """Remove the components whose ``id()`` is in ``ids``, at any depth."""
    component.subcomponents = [c for c in component.subcomponents if id(c) not in ids]
    for child in component.subcomponents:
        drop_components(child, ids)


def ensure_uid(ev: icalendar.cal.Component) -> str:
    """The event's UID; a stable one derived from its content when it has none."""
    uid = convert.first(ev.get("UID"))
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


def component_excerpt(comp: icalendar.cal.Component) -> bytes:
    """The component as text, without free-text or binary properties."""
    try:
        clean = comp.copy()
        for name in PRIVATE_PROPERTIES:
            clean.pop(name, None)
        return clean.to_ical()[:EXCERPT]
    except Exception:
        return repr(dict(comp.items())).encode("utf-8", "replace")[:EXCERPT]


CONTENT_LINE = re.compile(rb"^([A-Za-z0-9-]+)")


def redact(raw: bytes) -> bytes:
    """The first bytes of a file with the values of private properties removed."""
    out: list[bytes] = []
    skipping = False
    size = 0
    for line in raw.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if skipping:
                continue  # a folded continuation of a private value
        else:
            m = CONTENT_LINE.match(line)
            name = m.group(1).decode("ascii").upper() if m else ""
            skipping = name in PRIVATE_PROPERTIES
            if skipping:
                line = f"{name}:[not stored]\r\n".encode()
        out.append(line)
        size += len(line)
        if size >= EXCERPT:
            break
    return b"".join(out)[:EXCERPT]


def forget_foreign_timezones() -> None:
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


def from_ical(data: bytes) -> tuple[list[Any] | None, Exception | None]:
    try:
        return icalendar.Calendar.from_ical(data, multiple=True), None
    except Exception as exc:
        return None, exc


def count_events(components: list[Any]) -> int:
    return sum(len(c.walk("VEVENT")) for c in components)


def repair_rrules(ev: icalendar.cal.Component) -> None:
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


def close_truncated(data: bytes) -> tuple[bytes, list[str]]:
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


def describe(exc: BaseException) -> str:
    text = str(exc).strip() or repr(exc)
    return f"{type(exc).__name__}: {text}"[:500]
