"""Google Calendar: instances from ``events.list`` with sync tokens; follow-ups written back.

Reading (``calendar.events`` scope): ``events.list(singleEvents=true)`` so
recurring events come expanded into instances. The first sync (and any sync
after a 410: the sync token expired) reads every page and replaces the
calendar's stored instances; later syncs send only ``syncToken`` (never
``timeMin``/``timeMax``/``q``/``orderBy``... nor ``showDeleted=false``, which
Google forbids with it) and get what changed, deleted events included.

Each instance becomes an :class:`EventObservation` keyed by iCalUID and
original start (the same key the .ics connector uses), with attendees,
organizer, status and my response; never descriptions. Deleted events come
back with only their ``id``, so the cursor keeps ``id -> key`` for the ids
whose key cannot be derived from the id (Google's instance ids are
``MASTER_YYYYMMDDTHHMMSSZ`` and its iCalUIDs ``MASTER@google.com``).

Writing (:class:`GcalWriter`, the outbox's calendar writer): ``events.insert``
with a deterministic id (base32hex of a hash of the action key) and the key in
``extendedProperties.private``; a 409 after a crash means the event exists
already and is fetched instead. ``remove`` deletes it; free/busy comes from
``freebusy.query`` (``calendar.freebusy`` scope).

The seam (:mod:`connectors.base`): :func:`open_reader` and :func:`open_writer`
take a configured ``gcal`` account (option ``calendar``: a calendar id,
default ``primary``).
"""

from __future__ import annotations

import base64
import calendar as _calendar
import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

from connectors.base import (
    Action,
    Attendee,
    Batch,
    CalendarWriter,
    Cursor,
    EventObservation,
    Quarantined,
    Reader,
    RemoteEvent,
    deleted_event,
    event_hash,
)
from connectors.google_api import GoogleClient, background, open_client
from connectors.google_auth import CALENDAR_EVENTS
from connectors.google_errors import Conflict, Gone, GoogleApiError, NotFound
from syncd.config.schema import AccountConfig
from syncd.core.errors import CursorExpired, SyncdError, TransientError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
DEFAULT_QUOTA = 600  # requests per user per minute
PAGE_SIZE = 2500
PARTSTAT = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentative": "TENTATIVE",
    "needsAction": "NEEDS-ACTION",
}
_SUFFIX = re.compile(r"^(.+)_(\d{8})(?:T(\d{6})Z)?$")
PRIVATE_KEY = "syncdKey"


def scope_of(calendar_id: str) -> str:
    """The cursor and event scope of a calendar."""
    return f"gcal:{calendar_id}"


# -- times -------------------------------------------------------------------------------------


def parse_time(value: dict[str, Any] | None) -> tuple[int, bool] | None:
    """An event time (``{"dateTime"}`` or ``{"date"}``) as UTC epoch seconds and all-day flag.

    All-day dates count from midnight UTC, as in the .ics connector.
    """
    if not value:
        return None
    if value.get("date"):
        d = date.fromisoformat(value["date"])
        return _calendar.timegm((d.year, d.month, d.day, 0, 0, 0)), True
    text = value.get("dateTime")
    if not text:
        return None
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()), False


def rfc3339(epoch: float) -> str:
    """UTC ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch_of(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    raise UserError(f"not a time: {value!r}")


def derived_key(event_id: str) -> str | None:
    """The key of an instance id ``MASTER_YYYYMMDD[THHMMSSZ]`` of a Google-made series."""
    m = _SUFFIX.match(event_id)
    if not m:
        return None
    day = m.group(2)
    clock = m.group(3) or "000000"
    try:
        stamp = _calendar.timegm(
            (
                int(day[:4]),
                int(day[4:6]),
                int(day[6:]),
                int(clock[:2]),
                int(clock[2:4]),
                int(clock[4:]),
            )
        )
    except ValueError:
        return None
    return f"{m.group(1)}@google.com|{stamp}"


# -- conversion --------------------------------------------------------------------------------


def instance_key(item: dict[str, Any]) -> str | None:
    """iCalUID + original start, or None when the item does not carry them."""
    uid = item.get("iCalUID")
    when = parse_time(item.get("originalStartTime")) or parse_time(item.get("start"))
    if not uid or when is None:
        return None
    return f"{uid}|{when[0]}"


def event_observation(item: dict[str, Any], scope: str, key: str) -> EventObservation | None:
    """A live event instance as an observation (None when it has no usable times)."""
    start = parse_time(item.get("start"))
    end = parse_time(item.get("end"))
    if start is None:
        return None
    end_epoch = max(end[0] if end else start[0], start[0])
    attendees = []
    seen = set()
    for att in item.get("attendees") or []:
        address = str(att.get("email", "")).strip().lower()
        if not address or address in seen:
            continue
        seen.add(address)
        attendees.append(
            Attendee(
                address=address,
                name=str(att.get("displayName", "")).strip(),
                cutype="RESOURCE" if att.get("resource") else "INDIVIDUAL",
                partstat=PARTSTAT.get(str(att.get("responseStatus", "")), "NEEDS-ACTION"),
            )
        )
    organizer = str((item.get("organizer") or {}).get("email", "")).strip().lower() or None
    status = str(item.get("status") or "confirmed").upper()
    updated = item.get("updated")
    try:
        stamp = int(_epoch_of(updated)) if updated else 0
    except (ValueError, UserError):
        stamp = 0
    version = (int(item.get("sequence") or 0), stamp)
    summary = str(item.get("summary") or "").strip()
    digest = event_hash(
        key, start[0], end_epoch, version, start[1], status, organizer, attendees, summary
    )
    return EventObservation(
        calendar=scope,
        locator=f"gcal:{item.get('id', '')}",
        key=key,
        start=start[0],
        end=end_epoch,
        status=status,
        organizer=organizer,
        attendees=attendees,
        summary=summary,
        version=version,
        all_day=start[1],
        hash=digest,
    )


def deleted_observation(event_id: str, scope: str, key: str) -> EventObservation:
    """A deleted event or cancelled instance: no touchpoint, and it wins over older copies."""
    return deleted_event(key, scope, f"gcal:{event_id}")


# -- the reader ------------------------------------------------------------------------------------


class GcalReader:
    """Reads one Google calendar's event instances (see the module docstring)."""

    def __init__(self, client: GoogleClient, calendar_id: str = "primary"):
        self.client = client
        self.calendar_id = calendar_id
        self.scope = scope_of(calendar_id)
        self.events = client.service.events()

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """One unit per page still to read (at least one)."""
        return 1

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """One batch: everything (first sync) or what changed since the cursor."""
        self.client.stop = threading.Event()
        cursor = cursors.get(self.scope)
        yield from background(lambda: self._produce(cursor), self.client.stop)

    def _list(self, token: str | None) -> Iterator[dict[str, Any]]:
        page: str | None = None
        while True:
            params: dict[str, Any] = {
                "calendarId": self.calendar_id,
                "singleEvents": True,
                "maxResults": PAGE_SIZE,
            }
            if token:
                params["syncToken"] = token
            if page:
                params["pageToken"] = page
            try:
                resp = self.client.execute(lambda p=params: self.events.list(**p), 1, "events.list")
            except Gone:
                raise CursorExpired("Google Calendar sync token expired: full sync") from None
            except NotFound:
                raise UserError(f"calendar {self.calendar_id!r} not found") from None
            yield resp
            page = resp.get("nextPageToken")
            if not page:
                return

    def _produce(self, cursor: Cursor | None) -> Iterator[Batch]:
        valid = bool(cursor and cursor.get("v") == CURSOR_VERSION and cursor.get("sync_token"))
        token = cursor["sync_token"] if valid else None
        ids: dict[str, str] = dict(cursor.get("ids", {})) if valid else {}
        events: list[EventObservation] = []
        bad: list[Quarantined] = []
        next_token = None
        for resp in self._list(token):
            for item in resp.get("items", []):
                self._item(item, ids, events, bad)
            next_token = resp.get("nextSyncToken") or next_token
        if not next_token:
            raise TransientError("Google Calendar sent no nextSyncToken", retry_after=300)
        new_cursor = {"v": CURSOR_VERSION, "sync_token": next_token, "ids": ids, "done": True}
        if token is not None and not events and not bad and next_token == token:
            return
        batch = Batch(events=events, quarantined=bad, cursors={self.scope: new_cursor}, progress=1)
        if token is None:
            batch.replace_scopes = {self.scope}
        yield batch

    def _item(
        self,
        item: dict[str, Any],
        ids: dict[str, str],
        events: list[EventObservation],
        bad: list[Quarantined],
    ) -> None:
        eid = str(item.get("id", ""))
        if str(item.get("status", "")).lower() == "cancelled":
            key = ids.pop(eid, None) or instance_key(item) or derived_key(eid)
            if key is None:
                log.debug("deleted event without a known key; nothing stored for it")
                return
            events.append(deleted_observation(eid, self.scope, key))
            return
        key = instance_key(item)
        if key is None:
            bad.append(Quarantined(self.scope, f"gcal:{eid}", "event without iCalUID or start"))
            return
        obs = event_observation(item, self.scope, key)
        if obs is None:
            bad.append(Quarantined(self.scope, f"gcal:{eid}", "event without a usable start"))
            return
        if derived_key(eid) != key:
            ids[eid] = key
        else:
            ids.pop(eid, None)
        events.append(obs)


def calendar_option(account: AccountConfig) -> str:
    """The account option ``calendar`` (a calendar id; default ``primary``), checked."""
    calendar_id = account.options.get("calendar") or "primary"
    if not isinstance(calendar_id, str):
        raise UserError(f"account {account.name}: calendar must be a calendar id")
    return calendar_id


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``gcal`` account: its calendar's event instances."""
    calendar_id = calendar_option(account)
    client = open_client(account, home, "calendar", "v3", DEFAULT_QUOTA, [CALENDAR_EVENTS])
    return GcalReader(client, calendar_id)


# -- the writer (outbox) ------------------------------------------------------------------------


def event_id_for(key: str) -> str:
    """A deterministic Google event id for idempotency key ``key``: base32hex, 32 characters."""
    digest = hashlib.blake2b(key.encode(), digest_size=20).digest()
    return base64.b32hexencode(digest).decode().lower().rstrip("=")


class GcalWriter:
    """Writes follow-up events into one calendar, idempotently; reads them back and free/busy.

    The outbox's :class:`~connectors.base.CalendarWriter`: ``event.create``
    (payload ``title``, ``description``, ``start``, ``end`` in epoch seconds,
    ``timezone``), ``remove``, ``lookup`` and ``busy``.
    """

    def __init__(self, client: GoogleClient, calendar_id: str = "primary"):
        self.client = client
        self.calendar_id = calendar_id
        self.events = client.service.events()

    def body(self, action: Action) -> dict[str, Any]:
        """The event resource for an ``event.create`` action."""
        p = action.payload
        if "start" not in p:
            raise UserError("an event.create action needs payload['start']")
        start = _epoch_of(p["start"])
        end = _epoch_of(p["end"]) if p.get("end") is not None else start + 15 * 60
        tz = p.get("timezone") or p.get("time_zone")
        out: dict[str, Any] = {
            "id": event_id_for(action.key),
            "summary": str(p.get("title") or p.get("summary") or "Follow up"),
            "start": {"dateTime": rfc3339(start), **({"timeZone": tz} if tz else {})},
            "end": {"dateTime": rfc3339(max(end, start)), **({"timeZone": tz} if tz else {})},
            "transparency": "opaque",
            "reminders": {"useDefault": True},
            "extendedProperties": {"private": {PRIVATE_KEY: action.key[:1024]}},
        }
        if p.get("description"):
            out["description"] = str(p["description"])
        return out

    def find(self, key: str) -> dict[str, Any] | None:
        """The event written for ``key`` (also when deleted: status ``cancelled``), or None."""
        return self._get(event_id_for(key))

    def _get(self, event_id: str) -> dict[str, Any] | None:
        try:
            return self.client.execute(
                lambda: self.events.get(calendarId=self.calendar_id, eventId=event_id),
                1,
                "events.get",
            )
        except (NotFound, Gone):
            return None

    def apply(self, action: Action) -> str:
        """Insert the event (or find it, after a crash); return its event id.

        An event the user deleted stays deleted: its id is returned as is.
        """
        if action.kind != "event.create":
            raise UserError(f"the Google Calendar writer cannot perform {action.kind!r}")
        body = self.body(action)
        try:
            created = self.client.execute(
                lambda: self.events.insert(
                    calendarId=self.calendar_id, body=body, sendUpdates="none"
                ),
                1,
                "events.insert",
            )
            return str(created["id"])
        except Conflict:
            pass  # inserted before (a crash before the outbox learnt it): find it
        except GoogleApiError as exc:
            raise _refused("the event", exc) from None
        found = self.find(action.key)
        if found is None:
            raise TransientError("event id taken but the event cannot be read", retry_after=300)
        private = (found.get("extendedProperties") or {}).get("private") or {}
        if private.get(PRIVATE_KEY) not in (None, action.key[:1024]):
            raise UserError(f"event id {body['id']} belongs to another follow-up")
        return str(found["id"])

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Delete the event of ``action.key`` (or ``remote_ref``); one already gone is fine."""
        event_id = remote_ref or event_id_for(action.key)
        try:
            self.client.execute(
                lambda: self.events.delete(
                    calendarId=self.calendar_id, eventId=event_id, sendUpdates="none"
                ),
                1,
                "events.delete",
            )
        except (NotFound, Gone):
            pass
        except GoogleApiError as exc:
            raise _refused("the delete", exc) from None

    def lookup(self, key: str) -> RemoteEvent | None:
        """The event of ``key`` as the calendar holds it now (None: deleted or cancelled)."""
        found = self.find(key)
        if found is None or str(found.get("status", "")).lower() == "cancelled":
            return None
        start = parse_time(found.get("start"))
        end = parse_time(found.get("end"))
        if start is None:
            return None
        return RemoteEvent(str(found["id"]), start[0], max(end[0] if end else start[0], start[0]))

    def busy(self, start: Any, end: Any) -> list[tuple[int, int]]:
        """Busy intervals (UTC epoch seconds) overlapping ``[start, end)``, from freebusy.query."""
        body = {
            "timeMin": rfc3339(_epoch_of(start)),
            "timeMax": rfc3339(_epoch_of(end)),
            "items": [{"id": self.calendar_id}],
        }
        freebusy = self.client.service.freebusy()
        resp = self.client.execute(lambda: freebusy.query(body=body), 1, "freebusy.query")
        cal = (resp.get("calendars") or {}).get(self.calendar_id) or {}
        if cal.get("errors"):
            raise UserError(f"free/busy of {self.calendar_id}: {cal['errors'][0].get('reason')}")
        return sorted(
            (int(_epoch_of(span["start"])), int(_epoch_of(span["end"])))
            for span in cal.get("busy", [])
        )


def _refused(what: str, exc: GoogleApiError) -> SyncdError:
    status = exc.status
    text = f"Google Calendar refused {what}: HTTP {status}"
    if status in (400, 403, 404):
        return UserError(text)
    return TransientError(text, retry_after=300)


def open_writer(account: AccountConfig, home: Home) -> CalendarWriter:
    """The write side of a configured ``gcal`` account: follow-ups into its calendar."""
    calendar_id = calendar_option(account)
    client = open_client(account, home, "calendar", "v3", DEFAULT_QUOTA, [CALENDAR_EVENTS])
    return GcalWriter(client, calendar_id)
