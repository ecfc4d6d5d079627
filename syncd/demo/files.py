"""Writing the example network: message copies as mbox entries and the calendar as .ics."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from pathlib import Path

import icalendar

from syncd.core.files import replace_file
from syncd.demo.model import Event, Mail
from syncd.demo.tables import (
    DAY,
    ME_FORMS,
    PERSONA,
    WORK,
    Addr,
)


@functools.lru_cache(maxsize=4096)
def _mailbox(name: str, address: str) -> str:
    return formataddr((name, address), charset="utf-8") if name else address


def _addresses(addrs: list[Addr]) -> str:
    parts = [_mailbox(n, a) for n, a in addrs]
    return ",\n ".join(parts) if len(parts) > 3 else ", ".join(parts)


def message_bytes(m: Mail, folder: str) -> bytes:
    """The mbox entry of the copy of ``m`` in ``folder``."""
    alt = folder in m.alt_ids
    sender = m.sender[1]
    outbound = sender.lower() in ME_FORMS
    envelope = datetime.fromtimestamp(m.at if outbound else m.received, UTC)
    lines = [f"From {sender} {envelope:%a %b} {envelope.day:2d} {envelope:%H:%M:%S %Y}"]
    if not outbound:
        lines.append(f"Return-Path: {m.return_path or '<' + sender + '>'}")
        to_gmail = any(a.lower().endswith("@gmail.com") for _, a in m.to + m.cc)
        host = "mx.google.com" if to_gmail else "mx.whitfield-consulting.example"
        received = format_datetime(datetime.fromtimestamp(m.received, UTC))
        lines.append(f"Received: from mail.{sender.partition('@')[2]} by {host}; {received}")
    lines.append(f"Message-ID: {m.alt_ids.get(folder, m.mid)}")
    # The re-filed copy writes its Date in UTC: the same instant, another form.
    lines.append(f"Date: {format_datetime(datetime.fromtimestamp(m.at, UTC if alt else m.tz))}")
    lines.append(f"From: {_addresses([m.sender])}")
    for name, addrs in (("To", m.to), ("Cc", m.cc), ("Bcc", m.bcc)):
        if addrs:
            lines.append(f"{name}: {_addresses(addrs)}")
    subject = m.subject if m.subject.isascii() else Header(m.subject, "utf-8").encode()
    if alt and subject.isascii():
        subject = subject.replace(" ", "  ", 1)  # the same once whitespace is collapsed
    lines.append(f"Subject: {subject}")
    if m.reply is not None:
        lines.append(f"In-Reply-To: {m.reply.mid}")
        lines.append("References: " + "\n ".join(m.references))
    lines += [f"{k}: {v}" for k, v in m.extra]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", ""]
    lines += ["(message body omitted: syncd reads headers only)", "", ""]
    return "\n".join(lines).encode("utf-8")


def calendar_bytes(events: list[Event], start: int, anchor: int) -> bytes:
    """The demo calendar: ``events`` as one VCALENDAR, time zones for ``start``..``anchor``."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//syncd//demo network//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", PERSONA)
    stamp = datetime.fromtimestamp(anchor - 3 * DAY, UTC)

    def who(name: str, address: str, cutype: str = "", partstat: str = "") -> icalendar.vCalAddress:
        # Outlook-style upper-case scheme for one organisation.
        scheme = "MAILTO:" if address.endswith("harbourline.example") else "mailto:"
        value = icalendar.vCalAddress(scheme + address)
        value.params["CN"] = name
        if cutype:
            value.params["CUTYPE"] = cutype
            value.params["ROLE"] = "NON-PARTICIPANT" if cutype == "ROOM" else "REQ-PARTICIPANT"
            value.params["PARTSTAT"] = partstat
        return value

    def component(ev: Event, start, end, status: str, recurrence_id=None) -> icalendar.Event:
        v = icalendar.Event()
        v.add("uid", ev.uid)
        v.add("dtstamp", stamp)
        if recurrence_id is not None:
            v.add("recurrence-id", recurrence_id)
        v.add("dtstart", start.date() if ev.all_day else start)
        v.add("dtend", end.date() if ev.all_day else end)
        v.add("summary", ev.summary)
        if ev.location:
            v.add("location", ev.location)
        v.add("status", status)
        v.add("sequence", 0 if recurrence_id is None else 1)
        if recurrence_id is None and ev.rrule:
            day = ev.start.strftime("%a")[:2].upper()
            rule = {"FREQ": ev.rrule["freq"].upper()}
            rule |= {
                k.upper(): ev.rrule[k] for k in ("interval", "count", "until") if k in ev.rrule
            }
            rule["BYDAY"] = "1" + day if ev.rrule["freq"] == "monthly" else day
            v.add("rrule", rule)
            for x in ev.exdates:
                v.add("exdate", x)
        if len(ev.attendees) > 1 or ev.organizer[1] != WORK:
            v.add("organizer", who(*ev.organizer))
            for attendee in ev.attendees:
                v.add("attendee", who(*attendee))
        return v

    for ev in events:
        cal.add_component(component(ev, ev.start, ev.end, ev.status))
        for original, (s, e, status) in ev.overrides.items():
            cal.add_component(component(ev, s, e, status, recurrence_id=original))
    first = datetime.fromtimestamp(start - 400 * DAY, UTC).date()
    last = datetime.fromtimestamp(anchor + 800 * DAY, UTC).date()
    # Sorted: add_missing_timezones() follows set order, which varies between processes.
    zones = [
        icalendar.Timezone.from_tzid(z, first_date=first, last_date=last)
        for z in sorted(cal.get_missing_tzids())
    ]
    cal.subcomponents[:0] = zones
    return cal.to_ical()


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` unless the file already holds exactly it (its mtime then stays)."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return
    replace_file(path, data)
