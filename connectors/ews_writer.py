"""Writing to Exchange through EWS: follow-up events and the weekly digest.

Follow-ups (``event.create``) are calendar items carrying the outbox key in
an extended property of syncd's own property set (:class:`SyncdKey`, GUID
:data:`PROPERTY_SET`), created with ``SendMeetingInvitations=SendToNone``
(nobody is invited: the event is the user's reminder). Before creating,
the calendar is searched for the key (``FindItem`` with a restriction on the
property), so a retry after a crash finds the item instead of making a
second; an item the user moved stays where they put it. ``remove`` deletes
the item (into Deleted Items); ``lookup`` reports it as it is now (None when
deleted or cancelled); ``busy`` is the mailbox's free/busy from
``GetUserAvailability`` (exchangelib's ``protocol.get_free_busy_info``),
which counts every item that is not Free, recurrences expanded.

The digest (``mail.send``, payload ``message``: the RFC 5322 text) is sent
with ``Message.send_and_save()`` (``CreateItem`` with ``SendAndSaveCopy``),
carrying its Message-ID (one derived from the key when it has none) in the
same property set; Sent Items is searched for it first (find-then-send is
retried as a whole), so a retry after a crash, or the action queued again,
never sends twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email import message_from_bytes, message_from_string
from email.message import Message as EmailMessage
from email.policy import default as default_policy
from email.utils import getaddresses
from typing import Any

from exchangelib import (
    CalendarItem,
    EWSDateTime,
    EWSTimeZone,
    ExtendedProperty,
    HTMLBody,
    Mailbox,
    Message,
)
from exchangelib.folders import Calendar
from exchangelib.items import SEND_TO_NONE

from connectors.base import Action, RemoteEvent
from connectors.ews_errors import ItemNotFound
from connectors.ews_session import Session
from connectors.outgoing import message_id_for
from syncd.core.errors import UserError

log = logging.getLogger(__name__)

# syncd's own MAPI named-property set (never reused by anyone else).
PROPERTY_SET = "5f3a6a1e-8c2d-4b7e-9a41-3c9d2e7b1f60"


class SyncdKey(ExtendedProperty):
    """The outbox key of the follow-up or digest an item is (a string in syncd's set)."""

    property_set_id = PROPERTY_SET
    property_name = "syncdKey"
    property_type = "String"


def register_key_property() -> None:
    """Register :class:`SyncdKey` as ``syncd_key`` on calendar items and messages (once)."""
    for cls in (CalendarItem, Message):
        if "syncd_key" not in {f.name for f in cls.FIELDS}:
            cls.register("syncd_key", SyncdKey)


register_key_property()


def _when(epoch: int) -> Any:
    return EWSDateTime.from_datetime(datetime.fromtimestamp(epoch, UTC))


def _epoch(value: Any) -> int:
    return int(value.timestamp())


class ExchangeWriter:
    """The outbox's writer for an ``exchange`` account: follow-ups and the digest."""

    def __init__(self, session: Session):
        self.session = session

    @property
    def account(self) -> Any:
        """The exchangelib account."""
        return self.session.account

    @property
    def calendar(self) -> Any:
        """The mailbox's calendar, by its well-known name (:meth:`Session.well_known`)."""
        return self.session.well_known(Calendar)

    # -- finding by key ----------------------------------------------------------------------------

    def _find(self, key: str) -> Any | None:
        """The calendar item carrying ``key`` (one attempt: callers retry whole units)."""
        fields = ("id", "changekey", "start", "end", "is_cancelled")
        found = list(self.calendar.filter(syncd_key=key).only(*fields))
        live = [i for i in found if not isinstance(i, Exception)]
        if len(live) > 1:
            name = self.session.settings.name
            log.warning("exchange %s: %d items carry one follow-up key", name, len(live))
        return live[0] if live else None

    # -- the CalendarWriter protocol ---------------------------------------------------------------

    def apply(self, action: Action) -> str:
        """Create the follow-up of an ``event.create`` action (or find it made already);
        send the message of a ``mail.send`` action once. The remote reference."""
        if action.kind == "mail.send":
            return self.send(action)
        if action.kind != "event.create":
            raise UserError(f"the Exchange writer cannot perform {action.kind!r}")
        # Find-then-create is retried as a whole: a create whose answer was lost (a reset
        # connection after the server committed) is found by its key on the next attempt.
        return self.session.call("CreateItem (follow-up)", lambda: self._create_once(action))

    def _create_once(self, action: Action) -> str:
        existing = self._find(action.key)
        if existing is not None:
            return str(existing.id)
        p = action.payload
        item = CalendarItem(
            account=self.account,
            folder=self.calendar,
            subject=str(p.get("title", ""))[:255],
            body=str(p.get("description", "")),
            start=_when(int(p["start"])),
            end=_when(int(p["end"])),
            legacy_free_busy_status="Busy",
            reminder_is_set=True,
            reminder_minutes_before_start=0,
            syncd_key=action.key,
        )
        item.save(send_meeting_invitations=SEND_TO_NONE)
        return str(item.id)

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Delete the follow-up carrying ``action.key`` (gone already is fine)."""
        if action.kind == "mail.send":
            raise UserError("sent mail cannot be removed")
        key = str(action.payload.get("key") or action.key)

        def remove_once() -> None:
            item = self._find(key)
            if item is not None:
                item.move_to_trash()

        try:
            self.session.call("DeleteItem (follow-up)", remove_once)
        except ItemNotFound:
            return

    def lookup(self, key: str) -> RemoteEvent | None:
        """The follow-up carrying ``key`` as it is now; None when deleted or cancelled."""
        item = self.session.call("FindItem (by key)", lambda: self._find(key))
        if item is None or item.is_cancelled:
            return None
        return RemoteEvent(str(item.id), _epoch(item.start), _epoch(item.end))

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        """Busy intervals overlapping ``[start, end)`` from GetUserAvailability."""
        account = self.account
        utc = EWSTimeZone("UTC")
        s = EWSDateTime.fromtimestamp(start, tz=utc)
        e = EWSDateTime.fromtimestamp(end, tz=utc)

        def query() -> list[Any]:
            views = account.protocol.get_free_busy_info(
                accounts=[(account, "Organizer", False)], start=s, end=e, requested_view="Detailed"
            )
            return list(views)

        out: list[tuple[int, int]] = []
        for view in self.session.call("GetUserAvailability", query):
            if isinstance(view, Exception):
                continue
            for ev in view.calendar_events or []:
                if ev.busy_type in ("Free", "NoData"):
                    continue
                es, ee = _aware(ev.start, utc), _aware(ev.end, utc)
                if ee > start and es < end and es < ee:
                    out.append((es, ee))
        return sorted(set(out))

    # -- the digest --------------------------------------------------------------------------------

    def _sent_already(self, key: str) -> str | None:
        found = list(self.account.sent.filter(syncd_key=key).only("id", "changekey"))
        live = [i for i in found if not isinstance(i, Exception)]
        return str(live[0].id) if live else None

    def send(self, action: Action) -> str:
        """Send a ``mail.send`` action's message once per key; the Sent Items id (or the key)."""
        raw = action.payload.get("message")
        if not isinstance(raw, str | bytes):
            raise UserError("a mail.send action needs payload['message'] (the message as text)")
        parsed = (
            message_from_bytes(raw, policy=default_policy)
            if isinstance(raw, bytes)
            else message_from_string(raw, policy=default_policy)
        )

        identity = str(parsed.get("Message-ID") or "").strip() or message_id_for(
            action.key.split("#", 1)[0]
        )

        def send_once() -> str:
            done = self._sent_already(identity)
            if done:
                log.info("exchange %s: this message was sent already", self.session.settings.name)
                return done
            self._message(parsed, identity).send_and_save()
            return self._sent_already(identity) or identity

        return self.session.call("CreateItem (send)", send_once)

    def _message(self, parsed: EmailMessage, identity: str) -> Any:
        to = [Mailbox(email_address=a) for _, a in getaddresses(parsed.get_all("To", [])) if a]
        if not to:
            to = [Mailbox(email_address=self.session.settings.address)]
        html = parsed.get_body(preferencelist=("html",))
        text = parsed.get_body(preferencelist=("plain",))
        if html is not None:
            body: Any = HTMLBody(html.get_content())
        else:
            body = text.get_content() if text is not None else ""
        return Message(
            account=self.account,
            folder=self.account.sent,
            subject=str(parsed.get("Subject", "")),
            body=body,
            to_recipients=to,
            message_id=identity,
            syncd_key=identity,
        )


def _aware(value: Any, tz: Any) -> int:
    if getattr(value, "tzinfo", None) is None:
        value = value.replace(tzinfo=tz)
    return int(value.timestamp())
