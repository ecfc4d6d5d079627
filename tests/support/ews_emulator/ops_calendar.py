"""Calendar and sending operations: FindItem (CalendarView, restrictions on extended
properties, paged views), CreateItem (calendar items with extended properties; messages sent
with SendAndSaveCopy), DeleteItem, GetServerTimeZones, GetUserAvailability and ResolveNames.

As on Exchange, FindItem returns no body, attachments or attendee lists (those need
GetItem): asking for them is ``ErrorInvalidPropertyRequest``.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.support.ews_emulator.mailbox import Item, Mailbox
from tests.support.ews_emulator.ops_mail import folder_refs
from tests.support.ews_emulator.render import CONTENT_FIELDS, item_xml
from tests.support.ews_emulator.soap import (
    OperationError,
    add,
    error,
    ews_time,
    extended_name,
    field_uris,
    folder_not_found,
    item_not_found,
    m,
    parse_time,
    response_messages,
    success,
    t,
)

NOT_IN_FINDITEM = CONTENT_FIELDS | {
    "calendar:RequiredAttendees",
    "calendar:OptionalAttendees",
    "calendar:Resources",
    "message:ToRecipients",
    "message:CcRecipients",
    "message:BccRecipients",
    "item:InternetMessageHeaders",
}


def _matches(item: Item, restriction: ET.Element | None) -> bool:
    if restriction is None or len(restriction) == 0:
        return True
    cond = restriction[0]
    return _test(item, cond)


def _test(item: Item, cond: ET.Element) -> bool:
    local = cond.tag.split("}")[1]
    if local == "And":
        return all(_test(item, c) for c in cond)
    if local == "Or":
        return any(_test(item, c) for c in cond)
    if local == "Not":
        return not _test(item, cond[0])
    if local in ("IsEqualTo", "IsNotEqualTo"):
        target = cond.find(f"{t('FieldURIOrConstant')}/{t('Constant')}")
        wanted = target.get("Value") if target is not None else None
        ext = cond.find(t("ExtendedFieldURI"))
        if ext is not None:
            value = item.extended.get(extended_name(ext))
        else:
            uri = cond.find(t("FieldURI"))
            name = (uri.get("FieldURI", "") if uri is not None else "").split(":")[-1]
            value = item.fields.get(name)
            value = None if value is None else str(value)
        return (value == wanted) == (local == "IsEqualTo")
    if local == "Exists":
        ext = cond.find(t("ExtendedFieldURI"))
        return ext is not None and extended_name(ext) in item.extended
    raise OperationError("ErrorUnsupportedQueryFilter", f"The emulator cannot filter by {local}.")


def find_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """Items of a folder: a calendar view (occurrences expanded) or a paged item view."""
    base, fields = field_uris(op.find(m("ItemShape")))
    log["fields"] = fields
    log["content"] = base not in ("IdOnly",) or bool(CONTENT_FIELDS & set(fields))
    resp, msgs = response_messages("FindItem")
    bad = sorted(NOT_IN_FINDITEM & set(fields))
    if bad:
        problem = OperationError(
            "ErrorInvalidPropertyRequest", f"FindItem cannot return {', '.join(bad)}."
        )
        error(msgs, "FindItem", problem)
        return resp
    refs = folder_refs(op.find(m("ParentFolderIds")))
    folder = box.resolve_folder(refs[0]) if refs else None
    if folder is None:
        error(msgs, "FindItem", folder_not_found())
        return resp
    try:
        items = [i for i in box.live_items(folder.id) if _matches(i, op.find(m("Restriction")))]
    except OperationError as exc:
        error(msgs, "FindItem", exc)
        return resp
    view = op.find(m("CalendarView"))
    if view is not None:
        start, end = parse_time(view.get("StartDate", "")), parse_time(view.get("EndDate", ""))
        found = [
            occ
            for i in items
            for occ in box.occurrences(i)
            if occ.fields.get("Start", 0) < end and occ.fields.get("End", 0) > start
        ]
        found.sort(key=lambda i: (i.fields.get("Start", 0), i.id))
        limit = int(view.get("MaxEntriesReturned") or len(found) or 1)
        page, offset, last = found[:limit], 0, len(found) <= limit
    else:
        paging = op.find(m("IndexedPageItemView"))
        offset = int(paging.get("Offset", "0")) if paging is not None else 0
        limit = int(paging.get("MaxEntriesReturned") or 1000) if paging is not None else 1000
        found = items
        page = found[offset : offset + limit]
        last = offset + len(page) >= len(found)
    log["returned"] = len(page)
    msg = success(msgs, "FindItem")
    root = ET.SubElement(msg, m("RootFolder"))
    root.set("TotalItemsInView", str(len(found)))
    root.set("IncludesLastItemInRange", "true" if last else "false")
    if view is None:
        root.set("IndexedPagingOffset", str(offset + len(page)))
    holder = add(root, "Items")
    for item in page:
        item_xml(holder, item, base, fields)
    return resp


# -- CreateItem -----------------------------------------------------------------------------------

_TIMES = {"Start", "End"}
_BOOLS = {"IsAllDayEvent", "IsDraft"}


def _people(parent: ET.Element | None) -> list[dict[str, str]]:
    out = []
    for mb in parent.iter(t("Mailbox")) if parent is not None else []:
        out.append(
            {"name": mb.findtext(t("Name")) or "", "email": mb.findtext(t("EmailAddress")) or ""}
        )
    return out


def _parse_item(el: ET.Element) -> tuple[dict, dict[str, str], str]:
    fields: dict = {}
    extended: dict[str, str] = {}
    body = ""
    for child in el:
        name = child.tag.split("}")[1]
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is not None:
                extended[extended_name(uri)] = child.findtext(t("Value")) or ""
        elif name == "Body":
            body = child.text or ""
        elif name in ("ToRecipients", "CcRecipients", "BccRecipients", "RequiredAttendees",
                      "OptionalAttendees", "Resources"):  # fmt: skip
            fields[name] = _people(child)
        elif name in ("From", "Sender"):
            found = _people(child)
            if found:
                fields[name] = found[0]
        elif name in _TIMES:
            fields[name] = parse_time(child.text or "")
        elif name in _BOOLS:
            fields[name] = (child.text or "").strip() == "true"
        elif len(child) == 0:
            fields[name] = child.text or ""
    return fields, extended, body


def create_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """Create calendar items (with their extended properties) or send messages."""
    resp, msgs = response_messages("CreateItem")
    disposition = op.get("MessageDisposition", "SaveOnly")
    target = folder_refs(op.find(m("SavedItemFolderId")))
    items = op.find(m("Items"))
    log["created"] = []
    for el in items if items is not None else []:
        kind = el.tag.split("}")[1]
        fields, extended, body = _parse_item(el)
        if kind == "CalendarItem":
            folder = box.resolve_folder(target[0] if target else "calendar")
            if folder is None:
                error(msgs, "CreateItem", folder_not_found())
                continue
            fields.setdefault("CalendarItemType", "Single")
            fields.setdefault("UID", box.new_id("uid"))
            fields.setdefault("Organizer", {"name": "", "email": box.address})
            fields.setdefault("MyResponseType", "Organizer")
            item = box.add_item(folder.id, kind, fields=fields, body=body, extended=extended)
            holder = ET.SubElement(success(msgs, "CreateItem"), m("Items"))
            item_xml(holder, item, "IdOnly", [])
            log["created"].append(item.id)
        elif kind == "Message":
            fields.setdefault("From", {"name": "", "email": box.address})
            fields["IsDraft"] = disposition == "SaveOnly"
            where = "sentitems" if disposition == "SendAndSaveCopy" else "drafts"
            if disposition == "SendAndSaveCopy" and target:
                where = target[0]
            folder = box.resolve_folder(where)
            assert folder is not None
            item = box.add_item(folder.id, kind, fields=fields, body=body, extended=extended)
            if disposition != "SaveOnly":
                box.sent.append(item)
            holder = ET.SubElement(success(msgs, "CreateItem"), m("Items"))
            if disposition == "SaveOnly":
                item_xml(holder, item, "IdOnly", [])
            log["created"].append(item.id)
        else:
            problem = OperationError("ErrorInvalidRequest", f"The emulator cannot create {kind}.")
            error(msgs, "CreateItem", problem)
    return resp


def delete_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """Delete items by id (a missing one is ``ErrorItemNotFound``)."""
    resp, msgs = response_messages("DeleteItem")
    ids = op.find(m("ItemIds"))
    for el in ids if ids is not None else []:
        if box.delete_item(el.get("Id", "")):
            success(msgs, "DeleteItem")
        else:
            error(msgs, "DeleteItem", item_not_found())
    return resp


def update_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """Not needed by syncd (it never changes an item); refused clearly."""
    resp, msgs = response_messages("UpdateItem")
    problem = OperationError("ErrorInvalidRequest", "The emulator does not update items.")
    error(msgs, "UpdateItem", problem)
    return resp


# -- time zones, free/busy, names ------------------------------------------------------------


def get_server_time_zones(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """The UTC time zone definition (the only one the emulator knows)."""
    resp, msgs = response_messages("GetServerTimeZones")
    msg = success(msgs, "GetServerTimeZones")
    defs = ET.SubElement(msg, m("TimeZoneDefinitions"))
    tz = add(defs, "TimeZoneDefinition", Id="UTC", Name="(UTC) Coordinated Universal Time")
    periods = add(tz, "Periods")
    add(
        periods,
        "Period",
        Bias="PT0H",
        Name="Standard",
        Id="trule:Microsoft/Registry/UTC/1-Standard",
    )
    groups = add(tz, "TransitionsGroups")
    group = add(groups, "TransitionsGroup", Id="0")
    tr = add(group, "Transition")
    add(tr, "To", "trule:Microsoft/Registry/UTC/1-Standard", Kind="Period")
    transitions = add(tz, "Transitions")
    tr = add(transitions, "Transition")
    add(tr, "To", "0", Kind="Group")
    return resp


def _naive(epoch: int) -> str:
    return ews_time(epoch).rstrip("Z")


def get_user_availability(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """Busy times of the mailbox (UTC): its calendar items that are not free or cancelled."""
    window = op.find(f"{t('FreeBusyViewOptions')}/{t('TimeWindow')}")
    if window is None:
        window = op.find(f".//{t('TimeWindow')}")
    start = parse_time(window.findtext(t("StartTime")) or "")  # naive: the requested zone, UTC
    end = parse_time(window.findtext(t("EndTime")) or "")
    resp = ET.Element(m("GetUserAvailabilityResponse"))
    array = ET.SubElement(resp, m("FreeBusyResponseArray"))
    mailboxes = op.find(m("MailboxDataArray"))
    for data in mailboxes if mailboxes is not None else []:
        address = (data.findtext(f"{t('Email')}/{t('Address')}") or "").lower()
        fb = ET.SubElement(array, m("FreeBusyResponse"))
        rm = ET.SubElement(fb, m("ResponseMessage"), {"ResponseClass": "Success"})
        ET.SubElement(rm, m("ResponseCode")).text = "NoError"
        view = ET.SubElement(fb, m("FreeBusyView"))
        add(view, "FreeBusyViewType", "Detailed")
        events = add(view, "CalendarEventArray")
        if address != box.address:
            continue
        cal = box.folder_id("calendar")
        for item in box.live_items(cal):
            for occ in box.occurrences(item):
                s, e = occ.fields.get("Start", 0), occ.fields.get("End", 0)
                status = occ.fields.get("LegacyFreeBusyStatus", "Busy")
                if e <= start or s >= end or occ.fields.get("IsCancelled") or status == "Free":
                    continue
                ev = add(events, "CalendarEvent")
                add(ev, "StartTime", _naive(s))
                add(ev, "EndTime", _naive(e))
                add(ev, "BusyType", status)
    return resp


def resolve_names(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    """The mailbox itself when its address or name is asked for."""
    resp, msgs = response_messages("ResolveNames")
    wanted = (op.findtext(m("UnresolvedEntry")) or "").lower().removeprefix("smtp:")
    if wanted and wanted in box.address:
        msg = success(msgs, "ResolveNames")
        attrs = {"TotalItemsInView": "1", "IncludesLastItemInRange": "true"}
        rs = ET.SubElement(msg, m("ResolutionSet"), attrs)
        res = add(rs, "Resolution")
        mb = add(res, "Mailbox")
        add(mb, "Name", box.address)
        add(mb, "EmailAddress", box.address)
        add(mb, "RoutingType", "SMTP")
        add(mb, "MailboxType", "Mailbox")
    else:
        problem = OperationError("ErrorNameResolutionNoResults", "No results were found.")
        error(msgs, "ResolveNames", problem)
    return resp
