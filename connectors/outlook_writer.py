"""Writes to an Outlook mailbox through Graph: follow-up events and the weekly digest.

Follow-ups (``event.create``): the event is first looked for by its key, a
``singleValueExtendedProperties`` entry (``$filter`` on the property's id and
value), so a retry after a crash finds the event written before; otherwise it
is created with ``POST /me/events`` (or the chosen calendar) carrying that
property and a ``transactionId`` derived from the key (Graph answers a
repeated create with the first event instead of a second one). A create
that fails with a 5xx is never re-sent blindly: it may have committed, so
the event is looked for by its key again first. ``remove`` deletes the event (already
gone is fine); ``lookup`` reads it back, so a user's move or deletion is
seen and stands. Free/busy comes from the calendar the follow-ups go to:
for the default calendar ``POST /me/calendar/getSchedule`` for the
mailbox's address (Exchange's free/busy is the default calendar's); for a
calendar named by the ``calendar`` option, that calendar's ``calendarView``
over the window (every instance, recurrences expanded), whose ``showAs`` is
not ``free`` and that is not cancelled.

The digest (``mail.send``): the RFC 5322 message is sent as MIME through
``POST /me/sendMail`` (Message-ID kept; one derived from the action key when
it has none). Before every attempt Sent Items is searched for that
Message-ID, and a send is never retried blindly after a 5xx (it may have
committed): exactly one mail per key.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any
from urllib.parse import quote

from connectors.base import Action, RemoteEvent
from connectors.graph_api import GraphClient, GraphError, NotFound
from connectors.outgoing import outgoing_message
from connectors.outlook_calendar import UTC_PREFER, graph_epoch, utc_text
from syncd.core.errors import SyncdError, TransientError, UserError

log = logging.getLogger(__name__)

# A named property in PS_PUBLIC_STRINGS: the follow-up's idempotency key.
PROPERTY_ID = "String {00020329-0000-0000-C000-000000000046} Name syncdKey"
BUSY = frozenset({"busy", "tentative", "oof", "workingelsewhere"})
WRITE_ATTEMPTS = 6  # creates and sends: each attempt first looks for the committed result


def transaction_id(key: str) -> str:
    """The ``transactionId`` of the event for idempotency key ``key``."""
    return "syncd-" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def _odata_string(value: str) -> str:
    return value.replace("'", "''")


def _refused(what: str, exc: GraphError) -> SyncdError:
    text = f"Outlook refused {what}: HTTP {exc.status} {exc.code}".rstrip()
    if exc.status in (400, 403, 404):
        return UserError(text)
    return TransientError(text, retry_after=300)


class OutlookWriter:
    """The outbox's writer for an ``outlook`` account: a
    :class:`~connectors.base.CalendarWriter` that also sends ``mail.send`` actions."""

    def __init__(self, client: GraphClient, address: str | None, calendar_id: str | None = None):
        self.client = client
        self.address = address
        self.calendar_id = calendar_id
        self.events_path = (
            f"me/calendars/{quote(calendar_id, safe='')}/events" if calendar_id else "me/events"
        )
        self.prefer = {"Prefer": UTC_PREFER}

    # -- events ------------------------------------------------------------------------------

    def body(self, action: Action) -> dict[str, Any]:
        """The event resource of an ``event.create`` action."""
        p = action.payload
        if "start" not in p:
            raise UserError("an event.create action needs payload['start']")
        start = int(p["start"])
        end = max(int(p.get("end") or start + 900), start)
        out: dict[str, Any] = {
            "subject": str(p.get("title") or "Follow up"),
            "start": {"dateTime": utc_text(start), "timeZone": "UTC"},
            "end": {"dateTime": utc_text(end), "timeZone": "UTC"},
            "showAs": "busy",
            "isReminderOn": True,
            "transactionId": transaction_id(action.key),
            "singleValueExtendedProperties": [{"id": PROPERTY_ID, "value": action.key}],
        }
        if p.get("description"):
            out["body"] = {"contentType": "text", "content": str(p["description"])}
        return out

    def find(self, key: str) -> dict[str, Any] | None:
        """The event carrying ``key`` (by ``$filter`` on the extended property), or None."""
        pid, value = _odata_string(PROPERTY_ID), _odata_string(key)
        params = {
            "$filter": "singleValueExtendedProperties/Any("
            f"ep: ep/id eq '{pid}' and ep/value eq '{value}')",
            "$expand": f"singleValueExtendedProperties($filter=id eq '{pid}')",
            "$select": "id,start,end,isCancelled,subject",
        }
        page = (
            self.client.get(
                self.events_path, "events ($filter by key)", params=params, headers=self.prefer
            )
            or {}
        )
        found = page.get("value") or []
        if len(found) > 1:
            log.warning(
                "outlook %s: %d events carry one follow-up key", self.client.account, len(found)
            )
        return found[0] if found else None

    def apply(self, action: Action) -> str:
        """Create the event (or find it, after a crash) and return its id; or send a mail."""
        if action.kind == "mail.send":
            return self.send_action(action)
        if action.kind != "event.create":
            raise UserError(f"the Outlook writer cannot perform {action.kind!r}")
        body = self.body(action)
        for attempt in range(WRITE_ATTEMPTS):
            found = self.find(action.key)
            if found is not None:
                return str(found["id"])
            try:
                created = self.client.request(
                    "POST",
                    self.events_path,
                    body=body,
                    headers=self.prefer,
                    what="create event",
                    retry=False,  # a 5xx may hide a committed create: look for it first
                )
                return str(created["id"])
            except TransientError as exc:
                if attempt + 1 >= WRITE_ATTEMPTS:
                    raise
                self.client.sleep(exc.retry_after or 1.0)
            except GraphError as exc:
                raise _refused("the event", exc) from None
        raise TransientError("creating the event kept failing", retry_after=300)  # pragma: no cover

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Delete the event of ``action.key`` (or ``remote_ref``); one already gone is fine."""
        if action.kind == "mail.send":
            raise UserError("sent mail cannot be removed")
        ref = remote_ref
        if ref is None:
            found = self.find(action.key)
            if found is None:
                return
            ref = str(found["id"])
        try:
            self.client.request("DELETE", f"me/events/{quote(ref, safe='')}", what="delete event")
        except NotFound:
            pass
        except GraphError as exc:
            raise _refused("the delete", exc) from None

    def lookup(self, key: str) -> RemoteEvent | None:
        """The event of ``key`` as the calendar holds it now (None: deleted or cancelled)."""
        found = self.find(key)
        if found is None or found.get("isCancelled"):
            return None
        start, end = graph_epoch(found.get("start")), graph_epoch(found.get("end"))
        if start is None:
            return None
        return RemoteEvent(str(found["id"]), start, max(end if end is not None else start, start))

    def busy(self, start: Any, end: Any) -> list[tuple[int, int]]:
        """Busy intervals overlapping ``[start, end)`` of the calendar written to (not free,
        not cancelled): its ``calendarView``, or ``getSchedule`` for the default calendar."""
        if self.calendar_id:
            return self.busy_in_calendar(int(start), int(end))
        if not self.address:
            raise UserError(f"account {self.client.account} needs its address for free/busy")
        body = {
            "schedules": [self.address],
            "startTime": {"dateTime": utc_text(int(start)), "timeZone": "UTC"},
            "endTime": {"dateTime": utc_text(int(end)), "timeZone": "UTC"},
            "availabilityViewInterval": 15,
        }
        answer = (
            self.client.request(
                "POST",
                "me/calendar/getSchedule",
                body=body,
                headers=self.prefer,
                what="getSchedule",
            )
            or {}
        )
        out = []
        for schedule in answer.get("value", []):
            if schedule.get("error"):
                raise UserError(f"free/busy of {self.address}: {schedule['error'].get('message')}")
            for item in schedule.get("scheduleItems", []):
                if str(item.get("status", "busy")).lower() not in BUSY:
                    continue
                s, e = graph_epoch(item.get("start")), graph_epoch(item.get("end"))
                if s is not None and e is not None and s < e:
                    out.append((s, e))
        return sorted(out)

    def busy_in_calendar(self, start: int, end: int) -> list[tuple[int, int]]:
        """Busy intervals of the named calendar from its ``calendarView`` over the window."""
        assert self.calendar_id
        path = f"me/calendars/{quote(self.calendar_id, safe='')}/calendarView"
        params = {
            "startDateTime": utc_text(start) + "Z",  # an offset-less time is UTC anyway
            "endDateTime": utc_text(end) + "Z",
            "$select": "start,end,showAs,isCancelled",
        }
        headers = {"Prefer": f"odata.maxpagesize=100, {UTC_PREFER}"}
        out = []
        for page in self.client.pages(path, params=params, headers=headers, what="calendarView"):
            for item in page.get("value", []):
                if item.get("isCancelled") or str(item.get("showAs", "busy")).lower() not in BUSY:
                    continue
                s, e = graph_epoch(item.get("start")), graph_epoch(item.get("end"))
                if s is not None and e is not None and s < e:
                    out.append((s, e))
        return sorted(out)

    # -- mail ----------------------------------------------------------------------------------

    def already_sent(self, message_id: str) -> str | None:
        """The id of the Sent Items message with ``message_id``, or None."""
        params = {
            "$filter": f"internetMessageId eq '{_odata_string(message_id)}'",
            "$select": "id,internetMessageId",
        }
        page = (
            self.client.get("me/mailFolders/sentitems/messages", "Sent Items", params=params) or {}
        )
        found = page.get("value") or []
        return str(found[0]["id"]) if found else None

    def send(self, message: EmailMessage | bytes | str, key: str) -> str:
        """Send ``message`` once per ``key``; its Message-ID."""
        msg, wanted = outgoing_message(message, key)
        data = base64.b64encode(msg.as_bytes(policy=SMTP))
        for attempt in range(WRITE_ATTEMPTS):
            if self.already_sent(wanted):
                log.info("outlook %s: this message was sent already", self.client.account)
                return wanted
            try:
                self.client.request(
                    "POST",
                    "me/sendMail",
                    data=data,
                    headers={"Content-Type": "text/plain"},
                    what="sendMail",
                    retry=False,
                )
                return wanted
            except TransientError as exc:
                if attempt + 1 >= WRITE_ATTEMPTS:
                    raise
                self.client.sleep(exc.retry_after or 1.0)
            except GraphError as exc:
                raise _refused("the message", exc) from None
        raise TransientError("sendMail kept failing", retry_after=300)  # pragma: no cover

    def send_action(self, action: Action) -> str:
        """Send the message of a ``mail.send`` action (payload ``message``: RFC 5322 text)."""
        message = action.payload.get("message")
        if not isinstance(message, str | bytes):
            raise UserError("a mail.send action needs payload['message'] (the message as text)")
        return self.send(message, action.key)
