"""The Exchange calendar through EWS: a rolling window of instances, attendees included.

Each sync reads the window ``[now - window_past_days, now + window_future_days]``
(now: ``SYNCD_NOW`` / ``--now`` when given)
with a ``CalendarView`` ``FindItem`` (Exchange expands recurrences into
occurrences) asking for ids and change keys only; the instances that are new
or changed since the last sync are fetched with ``GetItem`` for exactly
:data:`FIELDS` (times, UID, cancellation, sequence, organizer, attendees, my
response, subject; FindItem cannot return attendee lists) — never the body.
An instance is keyed by UID + original start (as the .ics connector keys it).

The cursor (scope :data:`SCOPE`) maps each instance id to its change key and
key, plus the window. An instance that was inside the window last time,
still is, and is gone now was deleted (it comes as a cancelled observation
that wins over older copies). Instances that left the window behind stay
stored: a past meeting still happened.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from exchangelib import EWSDateTime
from exchangelib.folders import Calendar

from connectors.base import (
    Attendee,
    Batch,
    Cursor,
    EventObservation,
    Quarantined,
    deleted_event,
    event_hash,
)
from connectors.ews_session import Session
from syncd.core.timeutil import now_epoch

log = logging.getLogger(__name__)

SCOPE = "ews:calendar"
DAY = 86400
FIELDS = ("uid", "start", "end", "original_start", "is_all_day", "is_cancelled",
          "appointment_sequence_number", "last_modified_time", "organizer", "required_attendees",
          "optional_attendees", "resources", "my_response_type", "subject")  # fmt: skip
PARTSTAT = {
    "Accept": "ACCEPTED",
    "Decline": "DECLINED",
    "Tentative": "TENTATIVE",
    "Organizer": "ACCEPTED",
    "NoResponseReceived": "NEEDS-ACTION",
    "Unknown": "NEEDS-ACTION",
}
CHUNK = 100


def _epoch(value: Any) -> int:
    if isinstance(value, datetime):
        return int(value.timestamp())
    # an all-day date
    return int(datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp())


def instance_key(item: Any) -> str:
    """UID + original start (the instance's own start for a single item)."""
    return f"{item.uid}|{_epoch(item.original_start or item.start)}"


def _attendees(item: Any, me: str) -> list[Attendee]:
    out: list[Attendee] = []
    seen: set[str] = set()
    groups = (
        (item.required_attendees, "INDIVIDUAL"),
        (item.optional_attendees, "INDIVIDUAL"),
        (item.resources, "RESOURCE"),
    )
    for people, cutype in groups:
        for att in people or []:
            mb = att.mailbox
            address = (getattr(mb, "email_address", "") or "").strip().lower()
            if not address or address in seen:
                continue
            seen.add(address)
            partstat = PARTSTAT.get(att.response_type or "Unknown", "NEEDS-ACTION")
            if address == me and item.my_response_type:
                partstat = PARTSTAT.get(item.my_response_type, partstat)
            out.append(Attendee(address, (mb.name or "").strip(), cutype, partstat))
    if me not in seen and item.my_response_type == "Decline":
        out.append(Attendee(me, "", "INDIVIDUAL", "DECLINED"))
    return out


def event_observation(item: Any, me: str) -> EventObservation:
    """One instance fetched with :data:`FIELDS`."""
    view = detail = item
    key = instance_key(view)
    start, end = _epoch(view.start), _epoch(view.end)
    attendees = _attendees(detail, me)
    organizer = (getattr(detail.organizer, "email_address", "") or "").lower() or None
    status = "CANCELLED" if view.is_cancelled else "CONFIRMED"
    modified = view.last_modified_time
    version = (int(view.appointment_sequence_number or 0), _epoch(modified) if modified else 0)
    summary = (detail.subject or "").strip()
    digest = event_hash(
        key, start, end, version, bool(view.is_all_day), status, organizer, attendees, summary
    )
    return EventObservation(
        calendar=SCOPE,
        locator=f"ews:{view.id}",
        key=key,
        start=start,
        end=max(end, start),
        status=status,
        organizer=organizer,
        attendees=attendees,
        summary=summary,
        version=version,
        all_day=bool(view.is_all_day),
        hash=digest,
    )


def deleted_observation(key: str) -> EventObservation:
    """An instance deleted from the calendar: no touchpoint, and it wins over older copies."""
    return deleted_event(key, SCOPE, f"ews:deleted:{key}")


class CalendarSync:
    """Reads the calendar's window; see the module docstring."""

    def __init__(self, session: Session, past_days: int = 365, future_days: int = 90,
                 now: float | None = None):  # fmt: skip
        self.session = session
        self.past = past_days * DAY
        self.future = future_days * DAY
        self.now = now

    def window(self) -> tuple[int, int]:
        """The window read now, whole UTC days."""
        now = int(self.now if self.now is not None else now_epoch())
        today = now - now % DAY
        return today - self.past, today + self.future + DAY

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """One batch: new, changed and deleted instances, and the new cursor."""
        cursor = cursors.get(SCOPE) or {}
        seen: dict[str, list[str]] = dict(cursor.get("seen") or {})  # id -> [changekey, key]
        old_start = int(cursor.get("start", 0))
        start, end = self.window()
        account = self.session.account
        calendar = self.session.well_known(Calendar)
        me = self.session.settings.address.lower()
        s = EWSDateTime.from_datetime(datetime.fromtimestamp(start, UTC))
        e = EWSDateTime.from_datetime(datetime.fromtimestamp(end, UTC))
        listed = self.session.call(
            "FindItem (CalendarView)",
            lambda: list(calendar.view(start=s, end=e).only("id", "changekey")),
        )
        now_seen: dict[str, list[str]] = {}
        changed: list[Any] = []
        for ref in listed:
            if isinstance(ref, Exception):
                continue
            before = seen.get(ref.id)
            if before and before[0] == ref.changekey:
                now_seen[ref.id] = before
            else:
                changed.append(ref)
        batch = Batch()
        for n in range(0, len(changed), CHUNK):
            chunk = changed[n : n + CHUNK]
            items = self.session.call(
                "GetItem",
                lambda chunk=chunk: list(
                    account.fetch(
                        ids=[(r.id, r.changekey) for r in chunk],
                        folder=calendar,  # validates the fields (else a GetFolder of the root)
                        only_fields=list(FIELDS),
                    )
                ),
            )
            for ref, item in zip(chunk, items, strict=False):
                if isinstance(item, Exception):
                    continue  # gone meanwhile: seen as deleted next time, if it was known
                try:
                    obs = event_observation(item, me)
                except (AttributeError, TypeError, ValueError, OverflowError) as exc:
                    batch.quarantined.append(Quarantined(SCOPE, str(ref.id), f"unreadable: {exc}"))
                    continue
                now_seen[ref.id] = [str(item.changekey), obs.key]
                batch.events.append(obs)
        still = {key for _, key in now_seen.values()}
        for _, key in seen.values():
            when = key.rsplit("|", 1)[-1]
            inside = when.lstrip("-").isdigit() and max(start, old_start) <= int(when) < end
            if key not in still and inside:
                batch.events.append(deleted_observation(key))
        batch.progress = len(batch.events)
        if batch.events or batch.quarantined or now_seen != seen or not cursor:
            batch.cursors[SCOPE] = {"start": start, "end": end, "seen": now_seen}
            yield batch
