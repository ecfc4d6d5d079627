"""Rendering folders and items as EWS XML, property by property (the requested ones only)."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

from tests.support.ews_emulator.mailbox import Folder, Item
from tests.support.ews_emulator.soap import add, ews_time

# Properties that carry message content: the request log flags them.
CONTENT_FIELDS = frozenset(
    {"item:Body", "item:Attachments", "item:MimeContent", "item:TextBody", "item:UniqueBody",
     "item:NormalizedBody", "item:Preview"}
)  # fmt: skip
FOLDER_TAGS = {
    "IPF.Appointment": "CalendarFolder",
    "IPF.Contact": "ContactsFolder",
    "IPF.Task": "TasksFolder",
}
MAILBOX_FIELDS = {
    "message:From": "From",
    "message:Sender": "Sender",
    "message:ToRecipients": "ToRecipients",
    "message:CcRecipients": "CcRecipients",
    "message:BccRecipients": "BccRecipients",
}
SIMPLE_FIELDS = {
    "item:Subject": "Subject",
    "message:InternetMessageId": "InternetMessageId",
    "item:DateTimeSent": "DateTimeSent",
    "item:DateTimeReceived": "DateTimeReceived",
    "item:DateTimeCreated": "DateTimeCreated",
    "item:IsDraft": "IsDraft",
    "item:ItemClass": "ItemClass",
    "calendar:Start": "Start",
    "calendar:End": "End",
    "calendar:OriginalStart": "OriginalStart",
    "calendar:IsCancelled": "IsCancelled",
    "calendar:IsAllDayEvent": "IsAllDayEvent",
    "calendar:LegacyFreeBusyStatus": "LegacyFreeBusyStatus",
    "calendar:MyResponseType": "MyResponseType",
    "calendar:UID": "UID",
    "calendar:CalendarItemType": "CalendarItemType",
    "calendar:AppointmentSequenceNumber": "AppointmentSequenceNumber",
    "item:LastModifiedTime": "LastModifiedTime",
}
ATTENDEE_FIELDS = {
    "calendar:RequiredAttendees": "RequiredAttendees",
    "calendar:OptionalAttendees": "OptionalAttendees",
    "calendar:Resources": "Resources",
}
TIME_FIELDS = frozenset({"DateTimeSent", "DateTimeReceived", "DateTimeCreated", "Start", "End",
                         "LastModifiedTime", "OriginalStart"})  # fmt: skip
DEFAULT_MESSAGE = ("item:Subject", "message:From", "message:ToRecipients", "item:DateTimeSent",
                   "item:DateTimeReceived", "item:Body", "item:Attachments")  # fmt: skip


def folder_xml(parent: ET.Element, f: Folder, fields: list[str], counts: tuple[int, int]) -> None:
    """A folder element with its id, parent, class, name and counts."""
    el = add(parent, FOLDER_TAGS.get(f.folder_class, "Folder"))
    add(el, "FolderId", Id=f.id, ChangeKey=f"FCK{f.change_key}")
    if f.parent:
        add(el, "ParentFolderId", Id=f.parent, ChangeKey="FCK0")
    if f.distinguished and f.distinguished != "root":
        add(el, "DistinguishedFolderId", f.distinguished)
    add(el, "FolderClass", f.folder_class)
    add(el, "DisplayName", f.name)
    add(el, "TotalCount", counts[0])
    add(el, "ChildFolderCount", counts[1])
    if f.folder_class == "IPF.Note":
        add(el, "UnreadCount", 0)


def mailbox_xml(parent: ET.Element, tag: str, who: dict[str, str]) -> ET.Element:
    """``<t:Mailbox>`` with name, address and SMTP routing."""
    mb = add(parent, tag)
    if who.get("name"):
        add(mb, "Name", who["name"])
    if who.get("email"):
        add(mb, "EmailAddress", who["email"])
        add(mb, "RoutingType", "SMTP")
    add(mb, "MailboxType", who.get("type", "OneOff"))
    return mb


def item_xml(parent: ET.Element, item: Item, base: str, fields: list[str]) -> None:
    """An item with the properties asked for (``IdOnly`` plus ``fields``; other base shapes
    return the default set, body included, as Exchange does)."""
    el = add(parent, item.kind)
    add(el, "ItemId", Id=item.id, ChangeKey=f"CK{item.change_key}")
    wanted = list(fields)
    if base != "IdOnly":
        wanted += [f for f in DEFAULT_MESSAGE if f not in wanted]
    for uri in wanted:
        _property(el, item, uri)


def _property(el: ET.Element, item: Item, uri: str) -> None:
    value: Any = None
    if uri in SIMPLE_FIELDS:
        name = SIMPLE_FIELDS[uri]
        value = item.fields.get(name)
        if value is None:
            return
        if name in TIME_FIELDS:
            value = ews_time(int(value))
        elif isinstance(value, bool):
            value = "true" if value else "false"
        add(el, name, value)
    elif uri in MAILBOX_FIELDS:
        name = MAILBOX_FIELDS[uri]
        value = item.fields.get(name)
        if not value:
            return
        holder = add(el, name)
        if name in ("From", "Sender"):
            mailbox_xml(holder, "Mailbox", value)
        else:
            for who in value:
                mailbox_xml(holder, "Mailbox", who)
    elif uri in ATTENDEE_FIELDS:
        name = ATTENDEE_FIELDS[uri]
        people = item.fields.get(name) or []
        if not people:
            return
        holder = add(el, name)
        for who in people:
            att = add(holder, "Attendee")
            mailbox_xml(att, "Mailbox", who)
            add(att, "ResponseType", who.get("response", "Unknown"))
    elif uri == "calendar:Organizer":
        who = item.fields.get("Organizer")
        if who:
            mailbox_xml(add(el, "Organizer"), "Mailbox", who)
    elif uri == "item:InternetMessageHeaders":
        if item.headers:
            holder = add(el, "InternetMessageHeaders")
            for name, text in item.headers:
                add(holder, "InternetMessageHeader", text, HeaderName=name)
    elif uri == "item:Body":
        add(el, "Body", item.body, BodyType="Text")
    elif uri == "item:HasAttachments":
        add(el, "HasAttachments", "false")
    elif uri.startswith("extended:"):
        text = item.extended.get(uri[len("extended:") :])
        if text is not None:
            ext = add(el, "ExtendedProperty")
            _extended_uri(ext, uri[len("extended:") :])
            add(ext, "Value", text)


def _extended_uri(parent: ET.Element, name: str) -> None:
    set_id, prop, kind = name.split("/")
    attrs = {"PropertyType": kind, "PropertySetId": set_id}
    if prop.isdigit():
        attrs["PropertyId"] = prop
    else:
        attrs["PropertyName"] = prop
    add(parent, "ExtendedFieldURI", **attrs)
