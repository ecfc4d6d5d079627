"""Outlook calendar through Microsoft Graph: ``calendarView/delta`` over a rolling window.

``calendarView/delta`` returns the instances of a time window (recurring
events already expanded into occurrences) and, through its
``@odata.deltaLink``, what changed since. As documented it takes no
``$select``: whole events come back, of which only times, status, organizer,
attendees, my response and the subject are kept (never the body). Times are
asked for in UTC (``Prefer: outlook.timezone="UTC"``). The window runs from
``history_days`` (default ten years) before the first sync to a year ahead;
when less than half a year of it is left ahead, a new round starts on a new
window (stored instances outside it stay). Removals (``@removed``) come with
only the id: the cursor keeps ``id -> key``. A 410 / ``syncStateNotFound``
restarts the round (whose single page, if the window fits one, replaces the
calendar's stored instances).

Each instance becomes an :class:`~connectors.base.EventObservation` keyed by
``iCalUId`` and start; attendees of type ``resource`` are resources; I
declined when the event's ``responseStatus`` says so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from connectors.base import (
    Attendee,
    Batch,
    Cursor,
    EventObservation,
    Quarantined,
    deleted_event,
    event_hash,
)
from connectors.graph_api import BadRequest, Forbidden, Gone, GraphClient, GraphError, NotFound
from syncd.core.errors import AuthRequired, CursorExpired, UserError
from syncd.core.timeutil import parse_instant

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
DAY = 86400
AHEAD_DAYS = 365
UTC_PREFER = 'outlook.timezone="UTC"'
PARTSTAT = {
    "accepted": "ACCEPTED",
    "declined": "DECLINED",
    "tentativelyaccepted": "TENTATIVE",
    "organizer": "ACCEPTED",
    "none": "NEEDS-ACTION",
    "notresponded": "NEEDS-ACTION",
}


def graph_epoch(value: dict[str, Any] | None) -> int | None:
    """Epoch seconds of a Graph ``dateTimeTimeZone`` in UTC (as asked for), or None."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        return None
    tz = str(value.get("timeZone") or "UTC")
    text = str(value["dateTime"])
    if tz not in ("UTC", "Etc/UTC", "tzone://Microsoft/Utc"):
        raise UserError(f"an event time in {tz}, not UTC as asked for")
    try:
        return parse_instant(text if text.endswith("Z") or "+" in text[10:] else text + "Z")
    except UserError:
        return None


def utc_text(epoch: float) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC (a ``dateTimeTimeZone`` with timeZone UTC)."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def event_key(item: dict[str, Any]) -> str | None:
    """``iCalUId|start`` of an instance, or None when it lacks them."""
    uid = item.get("iCalUId")
    try:
        start = graph_epoch(
            item.get("originalStart") and {"dateTime": item["originalStart"]}
        ) or graph_epoch(item.get("start"))
    except UserError:
        return None
    if not uid or start is None:
        return None
    return f"{uid}|{start}"


def event_observation(
    item: dict[str, Any], scope: str, key: str, owner: tuple[str, ...] = ()
) -> EventObservation | None:
    """A live instance as an observation (None when its times are unusable)."""
    try:
        start, end = graph_epoch(item.get("start")), graph_epoch(item.get("end"))
    except UserError:
        return None
    if start is None:
        return None
    end = max(end if end is not None else start, start)
    attendees: list[Attendee] = []
    seen: set[str] = set()
    for att in item.get("attendees") or []:
        email = (att or {}).get("emailAddress") or {}
        address = str(email.get("address") or "").strip().lower()
        if not address or address in seen:
            continue
        seen.add(address)
        response = str(((att.get("status") or {}).get("response")) or "none").lower()
        attendees.append(
            Attendee(
                address=address,
                name=str(email.get("name") or "").strip(),
                cutype="RESOURCE"
                if str(att.get("type", "")).lower() == "resource"
                else "INDIVIDUAL",
                partstat=PARTSTAT.get(response, "NEEDS-ACTION"),
            )
        )
    mine = str(((item.get("responseStatus") or {}).get("response")) or "").lower()
    for address in owner:
        if address not in seen and mine in PARTSTAT and mine != "organizer":
            attendees.append(Attendee(address=address, partstat=PARTSTAT[mine]))
            break
    organizer = (
        str((((item.get("organizer") or {}).get("emailAddress")) or {}).get("address") or "")
        .strip()
        .lower()
        or None
    )
    status = "CANCELLED" if item.get("isCancelled") else "CONFIRMED"
    modified = 0
    if item.get("lastModifiedDateTime"):
        try:
            modified = parse_instant(str(item["lastModifiedDateTime"]))
        except UserError:
            modified = 0
    summary = str(item.get("subject") or "").strip()
    all_day = bool(item.get("isAllDay"))
    digest = event_hash(key, start, end, modified, all_day, status, organizer, attendees, summary)
    return EventObservation(
        calendar=scope,
        locator=f"outlook:{item.get('id', '')}",
        key=key,
        start=start,
        end=end,
        status=status,
        organizer=organizer,
        attendees=attendees,
        summary=summary,
        version=(0, modified),
        all_day=all_day,
        hash=digest,
    )


def deleted_observation(event_id: str, scope: str, key: str) -> EventObservation:
    """A removed instance: no touchpoint, and it wins over every stored copy."""
    return deleted_event(key, scope, f"outlook:{event_id}")


class OutlookCalendarReader:
    """Reads one Outlook calendar's instances (see the module docstring)."""

    def __init__(
        self,
        client: GraphClient,
        calendar_id: str | None = None,
        page_size: int = 100,
        history_days: int = 3650,
        owner: tuple[str, ...] = (),
        clock: Any = time.time,
    ):
        self.client = client
        self.calendar_id = calendar_id
        self.scope = f"outlook:calendar:{calendar_id or 'default'}"
        self.page_size = page_size
        self.history_days = history_days
        self.owner = owner
        self.clock = clock

    def _base(self) -> str:
        if self.calendar_id:
            return f"me/calendars/{quote(self.calendar_id, safe='')}/calendarView/delta"
        return "me/calendarView/delta"

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Unknown: 0."""
        return 0

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """One batch per delta page; a first round that fits one page replaces the stored
        instances (a longer one leaves instances deleted before it in place)."""
        cursor = cursors.get(self.scope)
        valid = bool(cursor and cursor.get("v") == CURSOR_VERSION and cursor.get("link"))
        now = self.clock()
        if valid and cursor and float(cursor.get("end", 0)) - now < AHEAD_DAYS * DAY / 2:
            valid = False  # the window is running out: a new round on a new window
            cursor = {**cursor, "link": None, "fresh_window": True}
        yield from self._round(cursor if valid else None, now, cursor)

    def _start(self, now: float) -> tuple[str, dict[str, Any]]:
        lo, hi = now - self.history_days * DAY, now + AHEAD_DAYS * DAY
        params = {"startDateTime": utc_text(lo) + "Z", "endDateTime": utc_text(hi) + "Z"}
        return self._base(), {"params": params, "start": int(lo), "end": int(hi)}

    def _round(self, cursor: Cursor | None, now: float, old: Cursor | None) -> Iterator[Batch]:
        ids: dict[str, str] = dict((old or {}).get("ids", {})) if old else {}
        first = cursor is None
        replace = first and not (old or {}).get("fresh_window")
        if first:
            link, extra = self._start(now)
            params, start, end = extra["params"], extra["start"], extra["end"]
        else:
            assert cursor is not None
            link, params, start, end = (
                str(cursor["link"]),
                None,
                cursor.get("start"),
                cursor.get("end"),
            )
        headers = {"Prefer": f"odata.maxpagesize={self.page_size}, {UTC_PREFER}"}
        restarted = yielded = False
        while link:
            try:
                page = (
                    self.client.get(link, "calendarView/delta", params=params, headers=headers)
                    or {}
                )
            except Gone:
                if restarted:
                    raise CursorExpired("Outlook calendar: delta state lost twice") from None
                log.info(
                    "outlook %s: calendar delta state expired; reading it again",
                    self.client.account,
                )
                link, extra = self._start(now)
                params, start, end = extra["params"], extra["start"], extra["end"]
                restarted = replace = True
                yielded = False
                ids = {}
                continue
            except (NotFound, BadRequest) as exc:
                if self.calendar_id:
                    raise UserError(
                        f"account {self.client.account}: calendar {self.calendar_id!r} "
                        f"not found (HTTP {exc.status})"
                    ) from None
                # No calendar behind this mailbox (or no calendarView/delta on the server):
                # the mail was read; say so and go on.
                log.warning(
                    "outlook %s: the calendar cannot be read (HTTP %s %s); skipped",
                    self.client.account,
                    exc.status,
                    exc.code,
                )
                return
            except Forbidden:
                raise AuthRequired(
                    f"account {self.client.account}: the grant does not allow reading the "
                    f"calendar (Calendars.Read); run `syncd auth {self.client.account}`, or "
                    "set read_calendar = false"
                ) from None
            params = None
            events: list[EventObservation] = []
            bad: list[Quarantined] = []
            for item in page.get("value", []):
                self._item(item, ids, events, bad)
            following, final = page.get("@odata.nextLink"), page.get("@odata.deltaLink")
            if not following and not final:
                raise GraphError(500, "noLink", "a delta page without nextLink or deltaLink")
            new = {
                "v": CURSOR_VERSION,
                "link": following or final,
                "ids": ids,
                "start": start,
                "end": end,
            }
            batch = Batch(
                events=events, quarantined=bad, cursors={self.scope: new}, progress=len(events)
            )
            if replace and not following and not yielded:
                batch.replace_scopes = {self.scope}  # the whole window in one page
            yielded = True
            yield batch
            link = following or ""

    def _item(
        self,
        item: dict[str, Any],
        ids: dict[str, str],
        events: list[EventObservation],
        bad: list[Quarantined],
    ) -> None:
        eid = str(item.get("id", ""))
        if "@removed" in item:
            key = ids.pop(eid, None)
            if key is not None:
                events.append(deleted_observation(eid, self.scope, key))
            return
        key = event_key(item)
        if key is None:
            bad.append(Quarantined(self.scope, f"outlook:{eid}", "event without iCalUId or start"))
            return
        obs = event_observation(item, self.scope, key, self.owner)
        if obs is None:
            bad.append(Quarantined(self.scope, f"outlook:{eid}", "event without a usable start"))
            return
        ids[eid] = key
        events.append(obs)
