"""The emulated mailbox: folders, messages and calendar items, with change logs.

Every change gets a sequence number; a sync state is the last sequence a
client saw (per folder for items, per mailbox for the hierarchy), plus the
folder's generation (bumped by :meth:`Mailbox.invalidate_sync_states`, after
which old states are answered with ``ErrorInvalidSyncStateData``).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

# Distinguished folders: id -> (display name, folder class).
DISTINGUISHED = {
    "root": ("", "IPF.Note"),
    "msgfolderroot": ("Top of Information Store", "IPF.Note"),
    "inbox": ("Inbox", "IPF.Note"),
    "sentitems": ("Sent Items", "IPF.Note"),
    "deleteditems": ("Deleted Items", "IPF.Note"),
    "drafts": ("Drafts", "IPF.Note"),
    "junkemail": ("Junk Email", "IPF.Note"),
    "outbox": ("Outbox", "IPF.Note"),
    "calendar": ("Calendar", "IPF.Appointment"),
    "contacts": ("Contacts", "IPF.Contact"),
    "tasks": ("Tasks", "IPF.Task"),
}


@dataclass
class Folder:
    """A mailbox folder."""

    id: str
    name: str
    folder_class: str
    parent: str | None
    distinguished: str | None = None
    generation: int = 0
    change_key: int = 0


@dataclass
class Item:
    """A message or calendar item. ``headers`` are the internet headers ``[(name, value)]``."""

    id: str
    folder: str
    kind: str  # "Message" | "CalendarItem"
    created_seq: int
    fields: dict[str, Any] = field(default_factory=dict)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str = ""
    extended: dict[str, str] = field(default_factory=dict)
    change_key: int = 0
    deleted: bool = False


def encode_state(data: dict[str, Any]) -> str:
    """An opaque sync state (base64 JSON, as opaque to clients as Exchange's)."""
    return base64.b64encode(json.dumps(data, sort_keys=True).encode()).decode()


def decode_state(text: str) -> dict[str, Any] | None:
    """The data of a sync state, or None when it is not one of ours."""
    try:
        data = json.loads(base64.b64decode(text.encode(), validate=True))
    except (ValueError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


class Mailbox:
    """One user's mailbox (thread-safe: the server answers requests concurrently)."""

    def __init__(self, address: str):
        self.address = address.lower()
        self.lock = threading.RLock()
        self._ids = itertools.count(1)
        self.seq = 0
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, Item] = {}
        self.item_log: dict[str, list[tuple[int, str, str]]] = {}  # folder -> [(seq, type, id)]
        self.folder_log: list[tuple[int, str, str]] = []  # [(seq, type, folder id)]
        self.sent: list[Item] = []  # messages sent (CreateItem with SendAndSaveCopy)
        for dist, (name, cls) in DISTINGUISHED.items():
            parent = {"root": None, "msgfolderroot": "root"}.get(dist, "msgfolderroot")
            parent = parent and self.folder_id(parent)
            self.add_folder(name, cls, parent, distinguished=dist)

    # -- ids -----------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A new opaque EWS id."""
        raw = f"{prefix}:{self.address}:{next(self._ids)}".encode()
        return base64.b64encode(raw).decode()

    def _tick(self) -> int:
        self.seq += 1
        return self.seq

    def folder_id(self, distinguished: str) -> str:
        """The id of a distinguished folder."""
        for f in self.folders.values():
            if f.distinguished == distinguished:
                return f.id
        raise KeyError(distinguished)

    def resolve_folder(self, ref: str) -> Folder | None:
        """A folder by id or distinguished name."""
        with self.lock:
            if ref in self.folders:
                return self.folders[ref]
            for f in self.folders.values():
                if f.distinguished == ref:
                    return f
        return None

    # -- folders ---------------------------------------------------------------------------

    def add_folder(
        self, name: str, folder_class: str, parent: str | None, distinguished: str | None = None
    ) -> Folder:
        """Create a folder (logged as a hierarchy change)."""
        with self.lock:
            f = Folder(self.new_id("folder"), name, folder_class, parent, distinguished)
            self.folders[f.id] = f
            self.item_log[f.id] = []
            if parent is not None:
                self.folder_log.append((self._tick(), "Create", f.id))
            return f

    def mail_folder(self, name: str) -> Folder:
        """The folder holding messages of an mbox named ``name`` (distinguished where it fits)."""
        known = {"inbox": "inbox", "sent_items": "sentitems", "deleted_items": "deleteditems",
                 "drafts": "drafts", "junk": "junkemail"}  # fmt: skip
        dist = known.get(name.lower())
        if dist:
            return self.folders[self.folder_id(dist)]
        for f in self.folders.values():
            if f.name == name and f.folder_class == "IPF.Note":
                return f
        return self.add_folder(name, "IPF.Note", self.folder_id("msgfolderroot"))

    def descendants(self, root: str) -> list[Folder]:
        """Every folder below ``root`` (depth first, parents before children)."""
        out: list[Folder] = []
        for f in self.folders.values():
            if f.parent == root:
                out.append(f)
                out.extend(self.descendants(f.id))
        return out

    # -- items -------------------------------------------------------------------------------

    def add_item(self, folder_id: str, kind: str, **data: Any) -> Item:
        """Store a new item in a folder (logged as a Create)."""
        with self.lock:
            seq = self._tick()
            item = Item(self.new_id("item"), folder_id, kind, seq, **data)
            self.items[item.id] = item
            self.item_log[folder_id].append((seq, "Create", item.id))
            return item

    def update_item(self, item_id: str, **fields: Any) -> Item:
        """Change an item's fields (logged as an Update)."""
        with self.lock:
            item = self.items[item_id]
            item.fields.update(fields)
            item.change_key += 1
            self.item_log[item.folder].append((self._tick(), "Update", item.id))
            return item

    def delete_item(self, item_id: str) -> bool:
        """Hard-delete an item (logged as a Delete); False when it is not there."""
        with self.lock:
            item = self.items.get(item_id)
            if item is None or item.deleted:
                return False
            item.deleted = True
            self.item_log[item.folder].append((self._tick(), "Delete", item.id))
            return True

    def live_items(self, folder_id: str) -> list[Item]:
        """The items a folder holds now, in creation order."""
        with self.lock:
            return [i for i in self.items.values() if i.folder == folder_id and not i.deleted]

    def lookup(self, item_id: str) -> Item | None:
        """A live item by id: a stored item, or one occurrence of a recurring series."""
        with self.lock:
            item = self.items.get(item_id)
            if item is not None:
                return None if item.deleted else item
            ref = decode_state(item_id)
            if not ref or "occ" not in ref:
                return None
            master = self.items.get(ref["occ"])
            if master is None or master.deleted:
                return None
            for occ in self.occurrences(master):
                if occ.id == item_id:
                    return occ
        return None

    def occurrences(self, master: Item) -> list[Item]:
        """The instances of a calendar item: itself, or each occurrence of its series
        (``fields["Recurrence"] = {"interval": seconds, "count": n}``)."""
        rule = master.fields.get("Recurrence")
        if not rule:
            return [master]
        out = []
        for n in range(int(rule["count"])):
            shift = n * int(rule["interval"])
            fields = dict(master.fields)
            fields.pop("Recurrence")
            fields.update(
                Start=master.fields["Start"] + shift,
                End=master.fields["End"] + shift,
                OriginalStart=master.fields["Start"] + shift,
                CalendarItemType="Occurrence",
            )
            occ_id = encode_state({"occ": master.id, "n": n})
            out.append(
                Item(occ_id, master.folder, master.kind, master.created_seq, fields,
                     body=master.body, extended=master.extended, change_key=master.change_key)
            )  # fmt: skip
        return out

    def invalidate_sync_states(self, folder_id: str) -> None:
        """Make every sync state of a folder invalid (the server lost them)."""
        with self.lock:
            self.folders[folder_id].generation += 1

    # -- sync ----------------------------------------------------------------------------------

    def item_changes(self, folder_id: str, after: int) -> list[tuple[int, str, Item]]:
        """Changes a client that saw up to ``after`` has not seen, collapsed as Exchange does:
        an item created since is one Create of its present state (none if it is gone again)."""
        with self.lock:
            out: list[tuple[int, str, Item]] = []
            for seq, kind, item_id in self.item_log[folder_id]:
                if seq <= after:
                    continue
                item = self.items[item_id]
                new = item.created_seq > after
                if kind == "Create" and item.deleted:
                    continue
                if kind == "Update" and (new or item.deleted):
                    continue
                if kind == "Delete" and new:
                    continue
                out.append((seq, kind, item))
            return out
