"""Exchange mail through EWS: the folder hierarchy, then each mail folder's changes.

Folders come from ``SyncFolderHierarchy`` under the message-folder root (its
sync state is the cursor of scope :data:`HIERARCHY_SCOPE`, with the folders
seen). Each mail folder (class ``IPF.Note``, not the Outbox) is read with
``SyncFolderItems`` (ids only, ``page_size`` changes a page); the created and
changed ids are fetched with ``GetItem`` asking for exactly
:data:`MAIL_FIELDS` (``only()``: ids, Message-ID, From, Sender, To/Cc/Bcc, sent
and received times, subject, draft flag, internet headers) — never the body,
never attachments. Each page is one :class:`~connectors.base.Batch` whose
cursor is the folder's new sync state, so an interrupted sync resumes after
the last committed page. ``ErrorInvalidSyncStateData`` restarts that folder
from scratch (the store recognises what it had). A deleted item stays counted:
it was an interaction (design.md §2 rule 3, Trash is not skipped).

Drafts, Junk Email and Deleted Items (by their distinguished ids) are the
contract's ``Drafts``, ``Junk`` and ``Trash``; a draft item is labelled
``DRAFT`` wherever it sits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime, formataddr
from typing import Any

from exchangelib.folders import Folder, MsgFolderRoot, Root
from exchangelib.items import ID_ONLY
from exchangelib.services import SyncFolderItems

from connectors.base import Batch, Cursor, MailObservation, Quarantined
from connectors.ews_errors import SyncStateInvalid
from connectors.ews_session import Session
from syncd.mail.metadata import KEPT_HEADERS, Headers, scan_headers

log = logging.getLogger(__name__)

HIERARCHY_SCOPE = "ews:folders"
MAIL_FIELDS = (
    "message_id",
    "author",
    "sender",
    "to_recipients",
    "cc_recipients",
    "bcc_recipients",
    "datetime_sent",
    "datetime_received",
    "subject",
    "is_draft",
    "headers",
)
ROLE_NAMES = {
    "inbox": "Inbox",
    "sentitems": "Sent",
    "deleteditems": "Trash",
    "drafts": "Drafts",
    "junkemail": "Junk",
}
NOT_READ = frozenset({"outbox", "msgfolderroot", "root"})
_KEPT = frozenset(KEPT_HEADERS)


@dataclass(slots=True)
class FolderInfo:
    """A mail folder of the hierarchy: id, contract name, role (distinguished id)."""

    id: str
    name: str
    role: str | None


def folder_scope(folder_id: str) -> str:
    """The cursor scope of one mail folder."""
    return f"ews:mail:{folder_id}"


# -- items -> observations -----------------------------------------------------------------------


def _address(mailbox: Any) -> str | None:
    if mailbox is None or not getattr(mailbox, "email_address", None):
        return None
    return formataddr((mailbox.name or "", mailbox.email_address))


def headers_of(item: Any) -> Headers:
    """The kept headers of a fetched message: its internet headers as the server holds them
    (scanned like a raw message's), completed from the structured properties (a message
    written in the mailbox has no transport headers)."""
    lines = [
        f"{h.name}: {h.value}"
        for h in item.headers or []
        if h.name and h.value is not None and h.name.strip().lower() in _KEPT
    ]
    headers = scan_headers("\n".join(lines).encode("utf-8")) if lines else {}
    structured: dict[str, str | None] = {
        "message-id": item.message_id,
        "subject": item.subject,
        "from": _address(item.author) or _address(item.sender),
        "date": format_datetime(item.datetime_sent) if item.datetime_sent else None,
    }
    for key, people in (
        ("to", item.to_recipients),
        ("cc", item.cc_recipients),
        ("bcc", item.bcc_recipients),
    ):
        values = [a for a in (_address(p) for p in people or []) if a]
        structured[key] = ", ".join(values) if values else None
    for key, value in structured.items():
        if key not in headers and value:
            headers[key] = [value]
    return headers


def observation(item: Any, folder: FolderInfo) -> MailObservation:
    """The :class:`MailObservation` of a message fetched with :data:`MAIL_FIELDS`."""
    received = item.datetime_received or item.datetime_sent
    return MailObservation(
        folder=folder.name,
        locator=str(item.id),
        headers=headers_of(item),
        labels=("DRAFT",) if item.is_draft else (),
        received_at=int(received.timestamp()) if received else None,
    )


# -- the sync --------------------------------------------------------------------------------------


class MailSync:
    """Reads every mail folder of a session's mailbox; see the module docstring."""

    def __init__(self, session: Session, page_size: int = 100):
        self.session = session
        self.page_size = page_size

    @property
    def name(self) -> str:
        """The syncd account name (for logs)."""
        return self.session.settings.name

    @property
    def account(self) -> Any:
        """The exchangelib account."""
        return self.session.account

    def hierarchy(self, cursor: Cursor | None) -> tuple[list[FolderInfo], Cursor, bool]:
        """The mail folders now, the new hierarchy cursor, and whether it changed."""
        cursor = dict(cursor or {})
        folders: dict[str, dict[str, Any]] = dict(cursor.get("folders") or {})
        state = cursor.get("sync_state")
        root = self.session.well_known(MsgFolderRoot)  # Top of Information Store

        def sync() -> list[tuple[str, Any]]:
            return list(root.sync_hierarchy(sync_state=state))

        try:
            changes = self.session.call("SyncFolderHierarchy", sync)
        except SyncStateInvalid:
            log.warning("exchange %s: folder sync state refused; reading all folders", self.name)
            state, folders = None, {}
            changes = self.session.call("SyncFolderHierarchy", sync)
        root_role = "msgfolderroot"
        for kind, f in changes:
            if kind == "delete":
                folders.pop(f.id, None)
                continue
            role = getattr(f._distinguished_id, "id", None)
            folders[f.id] = {
                "name": f.name or "",
                "class": f.folder_class or "",
                "parent": f.parent_folder_id.id if f.parent_folder_id else None,
                "role": None if role == root_role else role,
            }
        new = {"sync_state": root.folder_sync_state, "folders": folders}
        return self._mail_folders(folders), new, bool(changes) or not cursor

    def _mail_folders(self, folders: dict[str, dict[str, Any]]) -> list[FolderInfo]:
        out: list[FolderInfo] = []
        for fid, f in folders.items():
            if f["role"] in NOT_READ or not (f["class"] or "IPF.Note").startswith("IPF.Note"):
                continue
            out.append(
                FolderInfo(fid, ROLE_NAMES.get(f["role"] or "") or _path(fid, folders), f["role"])
            )
        return out

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Batches of every mail folder's changes (one per page), then the hierarchy cursor."""
        folders, hierarchy, changed = self.hierarchy(cursors.get(HIERARCHY_SCOPE))
        owner = (self.session.settings.address.lower(),)
        first = True
        for folder in folders:
            for batch in self._folder(folder, cursors.get(folder_scope(folder.id))):
                if first:
                    batch.owner_addresses = owner
                    first = False
                yield batch
        if changed or first:
            yield Batch(cursors={HIERARCHY_SCOPE: hierarchy}, owner_addresses=owner)

    def _folder(self, folder: FolderInfo, cursor: Cursor | None) -> Iterator[Batch]:
        state = (cursor or {}).get("sync_state")
        ews_folder = Folder(root=self.session.well_known(Root), id=folder.id)
        svc = SyncFolderItems(account=self.account)
        while True:
            try:
                changes = self._page(svc, ews_folder, state)
            except SyncStateInvalid:
                log.warning(
                    "exchange %s: a folder's sync state refused; reading it again", self.name
                )
                state = None
                changes = self._page(svc, ews_folder, None)
            new_state, complete = svc.sync_state, bool(svc.includes_last_item_in_range)
            ids = [item for kind, item in changes if kind in ("create", "update")]
            batch = self._items(ids, folder, ews_folder)
            batch.cursors[folder_scope(folder.id)] = {"sync_state": new_state, "name": folder.name}
            yield batch
            if complete or new_state == state:
                return
            state = new_state

    def _page(self, svc: Any, folder: Any, state: str | None) -> list[tuple[str, Any]]:
        def call() -> list[tuple[str, Any]]:
            return list(
                svc.call(
                    folder=folder,
                    shape=ID_ONLY,
                    additional_fields=set(),
                    sync_state=state,
                    ignore=None,
                    max_changes_returned=self.page_size,
                    sync_scope="NormalItems",
                )
            )

        return self.session.call("SyncFolderItems", call)

    def _items(self, refs: list[Any], folder: FolderInfo, ews_folder: Any) -> Batch:
        batch = Batch(progress=len(refs))
        if not refs:
            return batch

        def fetch() -> list[Any]:
            # the folder validates the fields; without one exchangelib looks the root up
            fields = list(MAIL_FIELDS)
            return list(self.account.fetch(ids=refs, folder=ews_folder, only_fields=fields))

        items = self.session.call("GetItem", fetch)
        for ref, item in zip(refs, items, strict=False):
            if isinstance(item, Exception):
                continue  # deleted since the page was listed: its Delete comes next time
            try:
                batch.mail.append(observation(item, folder))
            except (AttributeError, TypeError, ValueError, OverflowError) as exc:
                batch.quarantined.append(
                    Quarantined(
                        folder.name, str(getattr(ref, "id", ref)), f"unreadable item: {exc}"
                    )
                )
        return batch


def _path(fid: str, folders: dict[str, dict[str, Any]]) -> str:
    parts: list[str] = []
    seen: set[str] = set()
    current: str | None = fid
    while current in folders and current not in seen:
        seen.add(current)
        f = folders[current]
        parts.append(ROLE_NAMES.get(f["role"] or "") or f["name"])
        current = f["parent"]
    return "/".join(reversed(parts)) or fid
