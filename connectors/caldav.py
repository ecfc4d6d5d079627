"""CalDAV calendars (Fastmail, iCloud, Nextcloud, Radicale ...): events read, follow-ups written.

Reading: the calendar is found by discovery (:mod:`connectors.dav`). With
sync-collection (RFC 6578) a sync asks only what changed since the token in
the cursor; servers without it are compared by etag (PROPFIND). Changed
resources are fetched by calendar-multiget, ``batch_size`` at a time, and
parsed under the .ics file rules (:func:`connectors.ics.parse_calendar`):
recurrences expanded, attendees and PARTSTAT kept, descriptions never. Each
resource is a scope of its own (``caldav:HREF``) that the batch replaces, so
an edited event replaces its instances and a deleted resource removes them.
The calendar's cursor (scope ``caldav:CALENDAR-URL``) holds the token,
every resource's etag and the settings the calendar was discovered for; each
batch commits the etags it read, the last one the new token (a resumed sync
skips what a committed batch already read). The next sync with the same
settings uses that calendar without discovering it again (four PROPFINDs), so
a sync with no news is one REPORT; a 404 there means the calendar went, and
discovery runs again. A
token the server refuses is :class:`~syncd.core.errors.CursorExpired`: the
sync starts over.

Writing (:class:`CaldavWriter`, the outbox's calendar writer): a follow-up
is PUT as ``UID.ics`` (UID from the action key, the key in ``X-SYNCD-KEY``, times in UTC)
with ``If-None-Match: *``, so a retry never makes a second event and never
overwrites what the user changed; ``remove`` deletes it; ``lookup`` reads it
back (moved, or gone); ``busy`` is a time-range query of the same calendar,
expanded locally.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from urllib.parse import quote
from zoneinfo import ZoneInfo

import icalendar

from connectors.base import Action, Batch, CalendarWriter, Cursor, Reader, RemoteEvent
from connectors.dav import CalendarGone, DavSession, Resource, chunked, open_session
from connectors.ics import parse_calendar
from connectors.icsfile import (
    PRODID,
    busy_intervals,
    event_span,
    follow_up_event,
    uid_for,
)
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, TransientError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
BATCH_SIZE = 100
UTC_ZONE = ZoneInfo("UTC")


def scope_of(url: str) -> str:
    """The cursor scope of a calendar (its URL)."""
    return f"caldav:{url}"


def object_scope(href: str) -> str:
    """The event scope of one calendar object resource."""
    return f"caldav:{href}"


@dataclass(slots=True)
class _Changes:
    """The calendar's changes since its cursor."""

    scope: str
    cursor: Cursor
    token: str | None
    new_token: str | None
    known: dict[str, str]  # href -> etag, as committed
    changed: list[Resource]
    deleted: list[str]

    def nothing_new(self) -> bool:
        """The server's token did not move and nothing changed or went."""
        return (
            bool(self.token) and self.new_token == self.token and not (self.changed or self.deleted)
        )


class CaldavReader:
    """Reads one CalDAV calendar's event instances (see the module docstring)."""

    def __init__(self, session: DavSession, batch_size: int = BATCH_SIZE):
        self.session = session
        self.batch_size = batch_size

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Unknown ahead of the sync report: 0."""
        return 0

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Batches of changed resources' instances; the last carries the new sync token.
        The connections are closed at the end."""
        try:
            yield from self._fetch(cursors)
        finally:
            self.session.close()

    def _fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        found_for = self.session.settings.discovery_key
        remembered = remembered_calendar(cursors, found_for)
        if remembered:
            self.session.remember(*remembered)
        gone = None
        try:
            changes = self._changes(cursors)
        except (CalendarGone, AuthRequired) as exc:
            # What was remembered no longer holds: the calendar went, or the server wants
            # another scheme. Discover and negotiate again (a refusal then is the user's).
            if not remembered:
                raise
            if isinstance(exc, CalendarGone):
                gone = scope_of(remembered[0])
            self.session.forget()
            changes = self._changes(cursors)
        scope, token, new_token = changes.scope, changes.token, changes.new_token
        kept = {"found_for": found_for, "auth": self.session.auth_scheme}
        if changes.nothing_new() and all(changes.cursor.get(k) == v for k, v in kept.items()):
            return
        etags = dict(changes.known)
        deleted = changes.deleted
        hrefs = [r.href for r in changes.changed]
        pieces = list(chunked(hrefs, self.batch_size)) or [[]]
        for n, piece in enumerate(pieces):
            batch = Batch(progress=len(piece))
            for res in self.session.multiget(piece) if piece else []:
                self._resource(batch, res, etags)
            last = n == len(pieces) - 1
            if last:
                for href in deleted:
                    etags.pop(href, None)
                    batch.replace_scopes.add(object_scope(href))
            if gone and gone != scope and n == 0:
                # its cursor no longer names this account's calendar (found_for dropped)
                batch.cursors[gone] = {"v": CURSOR_VERSION, "gone": True}
            batch.cursors[scope] = {
                "v": CURSOR_VERSION,
                "token": new_token if last else token,
                "etags": dict(etags),
                "done": last,
                **kept,
            }
            yield batch

    def _changes(self, cursors: dict[str, Cursor]) -> _Changes:
        """What changed in the calendar since its cursor (one sync report, or a listing
        of etags on servers without sync-collection)."""
        scope = scope_of(self.session.calendar_url)
        cursor = cursors.get(scope) or {}
        valid = cursor.get("v") == CURSOR_VERSION
        known: dict[str, str] = dict(cursor.get("etags", {})) if valid else {}
        token = cursor.get("token") if valid else None
        synced = self.session.sync_collection(token)
        if synced is not None:
            changes, new_token = synced
            changed = [r for r in changes if not r.gone and known.get(r.href) != r.etag]
            deleted = [r.href for r in changes if r.gone and r.href in known]
        else:
            new_token = None
            listing = {r.href: r.etag for r in self.session.etags()}
            changed = [Resource(h, e) for h, e in listing.items() if known.get(h) != e]
            deleted = [h for h in known if h not in listing]
        changed = [r for r in changed if not r.href.endswith("/")]
        return _Changes(scope, cursor, token, new_token, known, changed, deleted)

    def _resource(self, batch: Batch, res: Resource, etags: dict[str, str]) -> None:
        scope = object_scope(res.href)
        if res.gone or res.data is None:
            etags.pop(res.href, None)  # deleted since the report: removed next time
            batch.replace_scopes.add(scope)
            return
        events, bad, readable = parse_calendar(scope, res.data)
        batch.events.extend(events)
        batch.quarantined.extend(bad)
        if readable:
            batch.replace_scopes.add(scope)
        etags[res.href] = res.etag


def remembered_calendar(
    cursors: dict[str, Cursor], found_for: str
) -> tuple[str, str | None] | None:
    """The calendar URL an earlier sync discovered for these settings (its cursor says
    ``found_for``) and the authentication scheme it used; None: discover them."""
    urls = [
        (scope.removeprefix("caldav:"), cursor.get("auth"))
        for scope, cursor in cursors.items()
        if scope.startswith("caldav:")
        and isinstance(cursor, dict)
        and cursor.get("v") == CURSOR_VERSION
        and cursor.get("found_for") == found_for
    ]
    return urls[0] if len(urls) == 1 else None


def batch_size_option(account: AccountConfig) -> int:
    """The account's ``batch_size`` (resources per calendar-multiget and per batch)."""
    return int(account.options.get("batch_size") or BATCH_SIZE)


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``caldav`` account: its calendar's instances."""
    return CaldavReader(open_session(account, home), batch_size_option(account))


# -- the writer (outbox) ------------------------------------------------------------------------


def _parse(data: bytes) -> icalendar.Calendar | None:
    try:
        return icalendar.Calendar.from_ical(data)
    except (ValueError, IndexError, KeyError):
        return None


class CaldavWriter:
    """Writes follow-up events into one CalDAV calendar, idempotently; reads them back."""

    def __init__(self, session: DavSession):
        self.session = session

    def href_for(self, key: str) -> str:
        """The URL of the resource carrying ``key``."""
        return self.session.calendar_url + quote(uid_for(key)) + ".ics"

    def apply(self, action: Action) -> str:
        """PUT the event with If-None-Match: * (a 412 means it is there: the user's copy
        stands); its URL."""
        if action.kind != "event.create":
            raise UserError(f"the CalDAV writer cannot perform {action.kind!r}")
        if "start" not in action.payload or "end" not in action.payload:
            raise UserError("an event.create action needs payload start and end")
        # Times in UTC: every CalDAV client shows them in the user's zone, and servers
        # evaluate time-range queries on UTC reliably (Radicale misreads icalendar's
        # generated RDATE-style VTIMEZONE, so a TZID event would be missing from busy).
        cal = icalendar.Calendar()
        cal.add("PRODID", PRODID)
        cal.add("VERSION", "2.0")
        cal.add_component(follow_up_event(action, UTC))
        url = self.href_for(action.key)
        status, _, _ = self.session.request(
            "PUT",
            url,
            cal.to_ical(),
            {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"},
        )
        if status in (200, 201, 204, 412):
            return url
        raise _write_refused(status, "the follow-up")

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """DELETE the event of ``action.key``; one already gone is fine."""
        url = remote_ref or self.href_for(action.key)
        status, _, _ = self.session.request("DELETE", url)
        if status not in (200, 204, 404, 410):
            raise _write_refused(status, "the delete")

    def lookup(self, key: str) -> RemoteEvent | None:
        """The event of ``key`` as the calendar holds it now (None: deleted or cancelled)."""
        url = self.href_for(key)
        status, _, data = self.session.request("GET", url)
        if status in (404, 410):
            return None
        if status != 200:
            raise _write_refused(status, "reading the follow-up")
        cal = _parse(data)
        if cal is None:
            return None
        for ev in cal.walk("VEVENT"):
            if "RECURRENCE-ID" in ev:
                continue
            if str(ev.get("STATUS", "")).upper() == "CANCELLED":
                return None
            start, end = event_span(ev, UTC_ZONE)
            return RemoteEvent(url, start, end)
        return None

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        """Busy intervals overlapping ``[start, end)`` from a time-range query (expanded)."""
        out: set[tuple[int, int]] = set()
        for res in self.session.time_range(start, end):
            cal = _parse(res.data or b"")
            if cal is None:
                log.info("unreadable calendar object skipped in free/busy")
                continue
            out.update(busy_intervals(cal, start, end, UTC_ZONE))
        return sorted(out)


def _write_refused(status: int, what: str) -> Exception:
    if status == 429 or status >= 500:
        return TransientError(f"the CalDAV server refused {what}: HTTP {status}", retry_after=300)
    return UserError(f"the CalDAV server refused {what}: HTTP {status}")


def open_writer(account: AccountConfig, home: Home) -> CalendarWriter:
    """The write side of a configured ``caldav`` account: follow-ups into its calendar."""
    return CaldavWriter(open_session(account, home))
