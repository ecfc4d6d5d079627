"""Folder and mail operations: ConvertId (version probing), GetFolder, SyncFolderHierarchy,
SyncFolderItems and GetItem."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.support.ews_emulator.mailbox import Mailbox, decode_state, encode_state
from tests.support.ews_emulator.render import CONTENT_FIELDS, folder_xml, item_xml
from tests.support.ews_emulator.soap import (
    OperationError,
    add,
    error,
    field_uris,
    folder_not_found,
    invalid_sync_state,
    item_not_found,
    m,
    response_messages,
    success,
    t,
)

Request = dict  # the request log entry the handler fills in


def folder_refs(parent: ET.Element | None) -> list[str]:
    """Folder ids and distinguished names under a ``FolderIds`` / ``SyncFolderId`` element."""
    out: list[str] = []
    for el in parent if parent is not None else []:
        if el.tag in (t("FolderId"), t("DistinguishedFolderId")):
            out.append(el.get("Id", ""))
    return out


def _counts(box: Mailbox, folder_id: str) -> tuple[int, int]:
    children = sum(1 for f in box.folders.values() if f.parent == folder_id)
    return len(box.live_items(folder_id)), children


def convert_id(box: Mailbox, op: ET.Element, log: Request) -> ET.Element:
    """Ids in other formats: exchangelib probes the version with a dummy id (an error here)."""
    resp, msgs = response_messages("ConvertId")
    ids = op.find(m("SourceIds"))
    for _ in ids if ids is not None else []:
        error(msgs, "ConvertId", OperationError("ErrorInvalidIdMalformed", "Id is malformed."))
    return resp


def get_folder(box: Mailbox, op: ET.Element, log: Request) -> ET.Element:
    """One response message per requested folder."""
    _, fields = field_uris(op.find(m("FolderShape")))
    log["fields"] = fields
    resp, msgs = response_messages("GetFolder")
    for ref in folder_refs(op.find(m("FolderIds"))):
        f = box.resolve_folder(ref)
        if f is None:
            error(msgs, "GetFolder", folder_not_found())
            continue
        holder = ET.SubElement(success(msgs, "GetFolder"), m("Folders"))
        folder_xml(holder, f, fields, _counts(box, f.id))
    return resp


def sync_folder_hierarchy(box: Mailbox, op: ET.Element, log: Request) -> ET.Element:
    """Folder changes below the sync folder since the sync state (all folders at first)."""
    refs = folder_refs(op.find(m("SyncFolderId"))) or ["msgfolderroot"]
    root = box.resolve_folder(refs[0])
    resp, msgs = response_messages("SyncFolderHierarchy")
    state_text = op.findtext(m("SyncState"))
    after = 0
    if state_text:
        state = decode_state(state_text)
        if state is None or "h" not in state:
            sync_error(msgs, "SyncFolderHierarchy", invalid_sync_state())
            return resp
        after = int(state["h"])
    if root is None:
        sync_error(msgs, "SyncFolderHierarchy", folder_not_found())
        return resp
    with box.lock:
        below = {f.id for f in box.descendants(root.id)}
        changes = [(s, k, fid) for s, k, fid in box.folder_log if s > after and fid in below]
        msg = success(msgs, "SyncFolderHierarchy")
        ET.SubElement(msg, m("SyncState")).text = encode_state({"h": box.seq})
        ET.SubElement(msg, m("IncludesLastFolderInRange")).text = "true"
        holder = ET.SubElement(msg, m("Changes"))
        for _, kind, fid in changes:
            change = add(holder, kind)
            f = box.folders[fid]
            if kind == "Delete":
                add(change, "FolderId", Id=fid, ChangeKey="FCK0")
            else:
                folder_xml(change, f, [], _counts(box, fid))
    return resp


def sync_folder_items(box: Mailbox, op: ET.Element, log: Request) -> ET.Element:
    """Item changes of one folder since the sync state, at most MaxChangesReturned of them."""
    base, fields = field_uris(op.find(m("ItemShape")))
    log["fields"] = fields
    log["content"] = base != "IdOnly" or bool(CONTENT_FIELDS & set(fields))
    refs = folder_refs(op.find(m("SyncFolderId")))
    resp, msgs = response_messages("SyncFolderItems")
    f = box.resolve_folder(refs[0]) if refs else None
    if f is None:
        sync_error(msgs, "SyncFolderItems", folder_not_found())
        return resp
    limit = int(op.findtext(m("MaxChangesReturned")) or "512")
    state_text = op.findtext(m("SyncState"))
    after = 0
    if state_text:
        state = decode_state(state_text)
        if state is None or state.get("f") != f.id or state.get("g") != f.generation:
            sync_error(msgs, "SyncFolderItems", invalid_sync_state())
            return resp
        after = int(state["s"])
    log["after"] = after
    changes = box.item_changes(f.id, after)
    page = changes[:limit]
    last = page[-1][0] if page else max(after, _latest(box, f.id))
    msg = success(msgs, "SyncFolderItems")
    state = encode_state({"f": f.id, "g": f.generation, "s": last})
    ET.SubElement(msg, m("SyncState")).text = state
    complete = len(changes) <= limit
    ET.SubElement(msg, m("IncludesLastItemInRange")).text = "true" if complete else "false"
    holder = ET.SubElement(msg, m("Changes"))
    for _, kind, item in page:
        change = add(holder, kind)
        if kind == "Delete":
            add(change, "ItemId", Id=item.id, ChangeKey=f"CK{item.change_key}")
        else:
            item_xml(change, item, base, fields)
    log["returned"] = len(page)
    return resp


def sync_error(msgs: ET.Element, op: str, err: OperationError) -> None:
    """An error message of a sync operation: Exchange still sends an empty ``SyncState``
    and ``IncludesLastItemInRange`` (exchangelib reads them before the response code)."""
    msg = error(msgs, op, err)
    ET.SubElement(msg, m("SyncState"))
    last = "IncludesLastFolderInRange" if op == "SyncFolderHierarchy" else "IncludesLastItemInRange"
    ET.SubElement(msg, m(last)).text = "true"


def _latest(box: Mailbox, folder_id: str) -> int:
    entries = box.item_log[folder_id]
    return entries[-1][0] if entries else 0


def get_item(box: Mailbox, op: ET.Element, log: Request) -> ET.Element:
    """One response message per requested item, with the requested properties."""
    base, fields = field_uris(op.find(m("ItemShape")))
    log["fields"] = fields
    log["content"] = base != "IdOnly" or bool(CONTENT_FIELDS & set(fields))
    resp, msgs = response_messages("GetItem")
    ids = op.find(m("ItemIds"))
    count = 0
    for el in ids if ids is not None else []:
        count += 1
        item = box.lookup(el.get("Id", ""))
        if item is None:
            error(msgs, "GetItem", item_not_found())
            continue
        holder = ET.SubElement(success(msgs, "GetItem"), m("Items"))
        item_xml(holder, item, base, fields)
    log["items"] = count
    return resp
