"""The mailbox of the Graph emulator: folders, messages, per-folder ``messages/delta``.

Follows Microsoft's documented behaviour: delta is per folder; the first round
lists the folder's messages page by page (``Prefer: odata.maxpagesize``,
default 10 for messages) through ``@odata.nextLink`` (a ``$skiptoken``) and
ends with an ``@odata.deltaLink`` (a ``$deltatoken``); later rounds return
what changed since, removals as ``{"id", "@removed": {"reason": ...}}``.
Query options of the first request (``$select``) are encoded in the links.
An unknown or expired token is HTTP 410 ``syncStateNotFound``. Under
``Mail.ReadBasic`` the body properties are refused (403).
"""

from __future__ import annotations

import itertools
import mailbox
import secrets
from dataclasses import dataclass, field
from datetime import UTC
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from .errors import ApiError

WELL_KNOWN = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "drafts": "Drafts",
    "junkemail": "Junk Email",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
}
BODY_PROPERTIES = frozenset({"body", "uniqueBody", "bodyPreview", "attachments", "mimeContent"})
DEFAULT_PROPERTIES = (
    "id",
    "internetMessageId",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "subject",
    "isDraft",
    "parentFolderId",
    "conversationId",
    "categories",
    "inferenceClassification",
    "body",
    "bodyPreview",
)


def iso(when: Any) -> str:
    """A UTC ``YYYY-MM-DDTHH:MM:SSZ`` as Graph writes it."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def well_known_for(name: str) -> str | None:
    """The well-known folder an mbox file's name stands for, or None."""
    low = name.lower().removesuffix(".mbox")
    for prefix, folder in (
        ("inbox", "inbox"),
        ("sent", "sentitems"),
        ("deleted", "deleteditems"),
        ("trash", "deleteditems"),
        ("draft", "drafts"),
        ("junk", "junkemail"),
        ("spam", "junkemail"),
    ):
        if low.startswith(prefix):
            return folder
    return None


def recipients(value: str | None) -> list[dict[str, Any]]:
    """Graph recipients from an address header."""
    return [
        {"emailAddress": {"name": name, "address": addr}}
        for name, addr in getaddresses([value or ""])
        if addr
    ]


def resource_from_raw(raw: bytes, **extra: Any) -> dict[str, Any]:
    """A Graph message resource (with its body) from an RFC 5322 message."""
    msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    date = msg.get("Date")
    try:
        when = parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError):
        when = None
    if when is None:  # Exchange then goes by the time it received the message
        hop = str(msg.get("Received") or "").rsplit(";", 1)[-1].strip()
        try:
            when = parsedate_to_datetime(hop) if hop else None
        except (TypeError, ValueError):
            when = None
    sent = iso(when) if when is not None else None
    sender = recipients(msg.get("From"))
    body = msg.get_payload()
    res: dict[str, Any] = {
        "internetMessageId": str(msg.get("Message-ID") or "").strip() or None,
        "from": sender[0] if sender else None,
        "sender": sender[0] if sender else None,
        "toRecipients": recipients(msg.get("To")),
        "ccRecipients": recipients(msg.get("Cc")),
        "bccRecipients": recipients(msg.get("Bcc")),
        "sentDateTime": sent,
        "receivedDateTime": sent,
        "subject": msg.get("Subject"),
        "isDraft": False,
        "categories": [],
        "inferenceClassification": "focused",
        "internetMessageHeaders": [{"name": k, "value": str(v)} for k, v in msg.items()],
        "body": {"contentType": "text", "content": body if isinstance(body, str) else ""},
        "bodyPreview": (body if isinstance(body, str) else "")[:255],
    }
    res.update(extra)
    return res


@dataclass
class Round:
    """The server-side state behind one skip or delta token."""

    folder: str
    select: tuple[str, ...] | None
    since: int  # changes after this sequence number (0: a first round)
    pending: list[str] | None = None  # ids still to page out in this round
    upto: int = 0  # the sequence number the round ends at


@dataclass
class MailState:
    """Folders and messages of one mailbox."""

    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[tuple[int, str, str, str]] = field(default_factory=list)  # seq, folder, id, op
    tokens: dict[str, Round] = field(default_factory=dict)
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))
    last: int = 0
    body_requests: int = 0

    def __post_init__(self) -> None:
        for name, display in WELL_KNOWN.items():
            self.folders[name.upper() + "-ID"] = {
                "id": name.upper() + "-ID",
                "displayName": display,
                "parentFolderId": "ROOT",
                "childFolderCount": 0,
                "wellKnownName": name,
            }

    # -- editing (what the user and the world do) -------------------------------------

    def folder_id(self, name: str) -> str:
        """The id of a folder given by well-known name, display name or id."""
        if name in self.folders:
            return name
        for fid, f in self.folders.items():
            if name.lower() in (f["displayName"].lower(), str(f.get("wellKnownName", ""))):
                return fid
        raise KeyError(name)

    def add_folder(self, name: str, parent: str | None = None) -> str:
        """A user folder (under ``parent``, default the root)."""
        fid = "F-" + secrets.token_hex(6)
        pid = self.folder_id(parent) if parent else "ROOT"
        self.folders[fid] = {
            "id": fid,
            "displayName": name,
            "parentFolderId": pid,
            "childFolderCount": 0,
        }
        if pid in self.folders:
            self.folders[pid]["childFolderCount"] += 1
        return fid

    def _log(self, folder: str, mid: str, op: str) -> None:
        self.last = next(self.seq)
        self.changes.append((self.last, folder, mid, op))

    def add_message(self, raw: bytes, folder: str = "inbox", **extra: Any) -> str:
        """Store an RFC 5322 message in ``folder``; its Graph id."""
        fid = self.folder_id(folder)
        mid = "M-" + secrets.token_hex(8)
        res = resource_from_raw(raw, **extra)
        res.update(id=mid, parentFolderId=fid, conversationId="C-" + mid[2:10])
        if self.folders[fid].get("wellKnownName") == "drafts":
            res["isDraft"] = True
        if self.folders[fid].get("wellKnownName") in ("drafts", "sentitems"):
            res["internetMessageHeaders"] = []  # composed here, never received over SMTP
        self.messages[mid] = res
        self._log(fid, mid, "add")
        return mid

    def load_mbox_dir(self, root: Path) -> int:
        """Load every mbox file under ``root``: ``inbox``, ``sent*``, ``deleted*``,
        ``drafts``, ``junk*`` go to those well-known folders, other files to user
        folders named by their relative paths. Messages in Sent Items and Drafts lose
        their ``internetMessageHeaders``, as Exchange keeps none for mail sent from it."""
        count = 0
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if path.name.startswith("."):
                continue
            folder = well_known_for(path.name)
            if folder is None:
                folder = self._user_path(path.relative_to(root if root.is_dir() else root.parent))
            box = mailbox.mbox(str(path), create=False)
            try:
                for key in box.iterkeys():
                    self.add_message(box.get_bytes(key), folder)
                    count += 1
            finally:
                box.close()
        return count

    def _user_path(self, rel: Path) -> str:
        parent = None
        for part in rel.parts:
            try:
                fid = next(
                    f
                    for f, v in self.folders.items()
                    if v["displayName"] == part and v["parentFolderId"] == (parent or "ROOT")
                )
            except StopIteration:
                fid = self.add_folder(part, parent)
            parent = fid
        assert parent is not None
        return parent

    def move(self, mid: str, folder: str) -> None:
        """Move a message (a removal in the old folder, an addition in the new one)."""
        fid = self.folder_id(folder)
        old = self.messages[mid]["parentFolderId"]
        self.messages[mid]["parentFolderId"] = fid
        self._log(old, mid, "remove")
        self._log(fid, mid, "add")

    def delete(self, mid: str) -> None:
        """Delete a message for good."""
        res = self.messages.pop(mid)
        self._log(res["parentFolderId"], mid, "remove")

    def expire_tokens(self) -> None:
        """Every skip and delta token becomes unknown (410 syncStateNotFound)."""
        self.tokens.clear()

    # -- serving ------------------------------------------------------------------------

    def view(self, res: dict[str, Any], select: tuple[str, ...] | None) -> dict[str, Any]:
        """The resource as ``$select`` shapes it (``internetMessageHeaders`` only on request)."""
        names = select if select is not None else DEFAULT_PROPERTIES
        out = {"id": res["id"]}
        for name in names:
            if name in res:
                out[name] = res[name]
        if any(n in BODY_PROPERTIES for n in names):
            self.body_requests += 1
        return out

    def check_select(self, select: tuple[str, ...] | None, scopes: frozenset[str]) -> None:
        """Mail.ReadBasic refuses bodies (an explicit or the default $select)."""
        names = set(select if select is not None else DEFAULT_PROPERTIES)
        if names & BODY_PROPERTIES:
            self.body_requests += 1
            if "Mail.Read" not in scopes and "Mail.ReadWrite" not in scopes:
                raise ApiError(
                    403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
                )

    def delta(
        self,
        folder: str,
        query: dict[str, str],
        page_size: int,
        scopes: frozenset[str],
        link: str,
    ) -> dict[str, Any]:
        """One page of ``mailFolders/{folder}/messages/delta``."""
        if "$skiptoken" in query or "$deltatoken" in query:
            token = query.get("$skiptoken") or query.get("$deltatoken") or ""
            state = self.tokens.get(token)
            if state is None:
                raise ApiError(410, "syncStateNotFound", "The sync state is not found or expired.")
            if "$deltatoken" in query:
                state = Round(state.folder, state.select, state.since)
        else:
            try:
                fid = self.folder_id(folder)
            except KeyError:
                raise ApiError(
                    404, "ErrorItemNotFound", "The specified object was not found."
                ) from None
            select = tuple(s for s in query.get("$select", "").split(",") if s) or None
            state = Round(fid, select, 0)
        self.check_select(state.select, scopes)
        if state.pending is None:
            state.upto = self.last
            state.pending = self._changed(state.folder, state.since, state.upto)
        take, rest = state.pending[:page_size], state.pending[page_size:]
        values = []
        for entry in take:
            op, mid = entry.split(":", 1)
            res = self.messages.get(mid)
            if op == "remove" or res is None or res["parentFolderId"] != state.folder:
                values.append({"id": mid, "@removed": {"reason": "deleted"}})
            else:
                values.append(self.view(res, state.select))
        token = secrets.token_urlsafe(12)
        out: dict[str, Any] = {"value": values}
        if rest:
            self.tokens[token] = Round(state.folder, state.select, state.since, rest, state.upto)
            out["@odata.nextLink"] = f"{link}?$skiptoken={token}"
        else:
            self.tokens[token] = Round(state.folder, state.select, state.upto)
            out["@odata.deltaLink"] = f"{link}?$deltatoken={token}"
        return out

    def _changed(self, folder: str, since: int, upto: int) -> list[str]:
        if since == 0:
            return [
                f"add:{mid}"
                for mid, res in sorted(
                    self.messages.items(), key=lambda kv: kv[1].get("sentDateTime") or ""
                )
                if res["parentFolderId"] == folder
            ]
        latest: dict[str, str] = {}
        for seq, fid, mid, op in self.changes:
            if since < seq <= upto and fid == folder:
                latest[mid] = op
        return [f"{op}:{mid}" for mid, op in latest.items()]

    def list_folders(self, parent: str) -> list[dict[str, Any]]:
        """Folders directly under ``parent`` (``ROOT``: the top level)."""
        return [
            {k: v for k, v in f.items() if k != "wellKnownName"}
            for f in self.folders.values()
            if f["parentFolderId"] == parent
        ]
