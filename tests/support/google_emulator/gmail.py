"""The Gmail v1 subset: profile, labels, messages (list/get/send) and history.

State is a mailbox of raw RFC 5322 messages with label ids, an increasing
history id and a history log. An mbox directory loads as a mailbox: each file
is a folder whose messages get a label from the folder name. Identical raw
messages in several folders stay separate Gmail messages, as in the real
Enron export (each copy there even has its own Message-ID).
"""

from __future__ import annotations

import base64
import calendar as _calendar
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_tz
from pathlib import Path
from typing import Any

from .errors import ApiError

METADATA_SCOPE = "https://www.googleapis.com/auth/gmail.metadata"
FULL_ACCESS_SCOPES = frozenset(
    {
        "https://mail.google.com/",
        "https://www.googleapis.com/auth/gmail.readonly",
        "https://www.googleapis.com/auth/gmail.modify",
    }
)

SYSTEM_LABELS = (
    "INBOX",
    "SENT",
    "TRASH",
    "DRAFT",
    "SPAM",
    "STARRED",
    "UNREAD",
    "IMPORTANT",
    "CHAT",
    "CATEGORY_PERSONAL",
    "CATEGORY_SOCIAL",
    "CATEGORY_PROMOTIONS",
    "CATEGORY_UPDATES",
    "CATEGORY_FORUMS",
)


def folder_label(name: str) -> str | None:
    """The system label an export folder stands for (None: a user label)."""
    n = name.strip().lower().lstrip("_")
    if n.startswith("sent"):
        return "SENT"
    if n == "inbox":
        return "INBOX"
    if n.startswith("deleted") or n in ("trash", "bin"):
        return "TRASH"
    if n in ("drafts", "draft"):
        return "DRAFT"
    if n in ("spam", "junk", "junk e-mail", "junk email"):
        return "SPAM"
    return None


def parse_headers(raw: bytes) -> list[tuple[str, str]]:
    """All header fields of a raw message in order, unfolded (CRLF removed, WSP kept)."""
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n")) if i >= 0]
    block = raw[: min(ends)] if ends else raw
    block = block.replace(b"\r\n", b"\n")
    out: list[tuple[str, str]] = []
    for line in block.split(b"\n"):
        if not line:
            continue
        if line[0] in (0x20, 0x09):
            if out:
                name, value = out[-1]
                out[-1] = (name, value + _text(line))
            continue
        if line.startswith(b"From ") or b":" not in line:
            continue
        name, _, value = line.partition(b":")
        out.append((_text(name).strip(), _text(value).lstrip()))
    return [(n, v.rstrip()) for n, v in out]


def _thread_subject(subject: str) -> str:
    """A subject without its Re:/Fwd: prefixes, spaces folded, for threading."""
    text = " ".join(subject.split()).lower()
    while True:
        stripped = re.sub(r"^(re|fwd?|fw|aw|sv|wg)\s*(\[\d+\])?\s*:\s*", "", text)
        if stripped == text:
            return text
        text = stripped


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _date_ms(headers: list[tuple[str, str]], default_ms: int) -> int:
    for wanted in ("date", "received"):
        for name, value in headers:
            if name.lower() != wanted:
                continue
            text = value.rpartition(";")[2] if wanted == "received" else value
            parsed = parsedate_tz(text)
            if parsed:
                try:
                    return (_calendar.timegm(parsed[:9]) - (parsed[9] or 0)) * 1000
                except (ValueError, OverflowError):
                    pass
    return default_ms


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _untoken(text: str) -> dict[str, Any]:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except Exception:
        raise ApiError(400, "Invalid pageToken", "invalidArgument") from None


@dataclass(slots=True)
class Message:
    """One Gmail message."""

    id: str
    thread_id: str
    label_ids: list[str]
    raw: bytes
    headers: list[tuple[str, str]]
    internal_date: int
    history_id: int


@dataclass(slots=True)
class Label:
    id: str
    name: str
    type: str


@dataclass
class GmailState:
    """One user's mailbox."""

    address: str
    messages: dict[str, Message] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    history_id: int = 100_000
    min_history_id: int = 0
    next_id: int = 0x18C2_0000_0000_0000
    sent: list[bytes] = field(default_factory=list)
    # Message-ID -> (thread, subject without reply prefixes)
    threads_by_message_id: dict[str, tuple[str, str]] = field(default_factory=dict)
    thread_members: dict[str, list[str]] = field(default_factory=dict)  # thread -> ids
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        for name in SYSTEM_LABELS:
            self.labels[name] = Label(name, name, "system")

    # -- building a mailbox ------------------------------------------------------

    def label_id(self, name: str) -> str:
        """The id of the system label or user label ``name`` (created when new)."""
        with self.lock:
            if name in self.labels:
                return name
            for label in self.labels.values():
                if label.name == name:
                    return label.id
            lid = f"Label_{len(self.labels) - len(SYSTEM_LABELS) + 1}"
            self.labels[lid] = Label(lid, name, "user")
            return lid

    def _bump(self) -> int:
        self.history_id += 1 + (self.history_id % 3)  # increasing, with gaps
        return self.history_id

    def add_message(
        self, raw: bytes, labels: list[str], internal_date_ms: int | None = None
    ) -> Message:
        """Add a message (as delivery or import would), recording ``messageAdded``."""
        with self.lock:
            headers = parse_headers(raw)
            mid = f"{self.next_id:016x}"
            self.next_id += 7
            hid = self._bump()
            msg = Message(
                id=mid,
                thread_id=self._thread_for(headers, mid),
                label_ids=[self.label_id(lab) for lab in labels],
                raw=raw,
                headers=headers,
                internal_date=(
                    internal_date_ms
                    if internal_date_ms is not None
                    else _date_ms(headers, int(time.time() * 1000))
                ),
                history_id=hid,
            )
            self.messages[mid] = msg
            self.thread_members.setdefault(msg.thread_id, []).append(mid)
            self.history.append(
                (hid, {"messagesAdded": [{"message": self._brief(msg, labels=True)}]})
            )
            return msg

    def _thread_for(self, headers: list[tuple[str, str]], mid: str) -> str:
        """Gmail's threading, simplified: a message joins the thread of a message its
        In-Reply-To or References names (one already in the mailbox) when their subjects
        match but for Re:/Fwd: prefixes (Gmail's documented conditions); else it starts one."""
        refs: list[str] = []
        own: list[str] = []
        subject = ""
        for name, value in headers:
            low = name.lower()
            if low in ("in-reply-to", "references"):
                refs += re.findall(r"<[^<>\s]+>", value)
            elif low == "message-id":
                own += re.findall(r"<[^<>\s]+>", value)
            elif low == "subject" and not subject:
                subject = _thread_subject(value)
        thread = next(
            (
                self.threads_by_message_id[r][0]
                for r in reversed(refs)
                if r in self.threads_by_message_id and self.threads_by_message_id[r][1] == subject
            ),
            mid,
        )
        for m in own:
            self.threads_by_message_id.setdefault(m, (thread, subject))
        return thread

    def modify(self, mid: str, add: list[str] = (), remove: list[str] = ()) -> None:
        """Change a message's labels, recording ``labelAdded`` / ``labelRemoved``."""
        with self.lock:
            msg = self.messages[mid]
            add_ids = [self.label_id(a) for a in add if self.label_id(a) not in msg.label_ids]
            rem_ids = [r for r in (self.label_id(x) for x in remove) if r in msg.label_ids]
            msg.label_ids = [x for x in msg.label_ids if x not in rem_ids] + add_ids
            hid = self._bump()
            msg.history_id = hid
            if add_ids:
                self.history.append(
                    (
                        hid,
                        {
                            "labelsAdded": [
                                {"message": self._brief(msg, labels=True), "labelIds": add_ids}
                            ]
                        },
                    )
                )
            if rem_ids:
                self.history.append(
                    (
                        hid,
                        {
                            "labelsRemoved": [
                                {"message": self._brief(msg, labels=True), "labelIds": rem_ids}
                            ]
                        },
                    )
                )

    def delete(self, mid: str) -> None:
        """Delete a message for good, recording ``messageDeleted``."""
        with self.lock:
            msg = self.messages.pop(mid)
            hid = self._bump()
            self.history.append((hid, {"messagesDeleted": [{"message": self._brief(msg)}]}))

    def load_mbox_dir(self, root: Path) -> int:
        """Load every mbox file under ``root``; a file's name decides its label."""
        import mailbox

        count = 0
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if path.name.startswith("."):
                continue
            label = (
                folder_label(path.name)
                or path.relative_to(root if root.is_dir() else root.parent).as_posix()
            )
            box = mailbox.mbox(str(path), create=False)
            try:
                for key in box.iterkeys():
                    raw = box.get_bytes(key)
                    self.add_message(raw, [label])
                    count += 1
            finally:
                box.close()
        return count

    def expire_history(self) -> None:
        """Make every history id issued so far too old (history.list answers 404)."""
        with self.lock:
            self.min_history_id = self._bump()

    # -- API handlers --------------------------------------------------------------

    def _brief(self, msg: Message, labels: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"id": msg.id, "threadId": msg.thread_id}
        if labels:
            out["labelIds"] = list(msg.label_ids)
        return out

    def _user(self, params: dict[str, Any]) -> None:
        if params.get("userId") not in ("me", self.address):
            raise ApiError(403, "Delegation denied for " + str(params.get("userId")), "forbidden")

    def get_profile(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        with self.lock:
            return {
                "emailAddress": self.address,
                "messagesTotal": len(self.messages),
                "threadsTotal": len({m.thread_id for m in self.messages.values()}),
                "historyId": str(self.history_id),
            }

    def labels_list(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        with self.lock:
            return {
                "labels": [
                    {"id": lab.id, "name": lab.name, "type": lab.type}
                    for lab in self.labels.values()
                ]
            }

    def messages_list(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        if "q" in params and not scopes & FULL_ACCESS_SCOPES:
            raise ApiError(403, "Metadata scope does not support 'q' parameter", "forbidden")
        wanted = set(params.get("labelIds", []))
        spam_trash = params.get("includeSpamTrash", False)
        size = min(max(int(params.get("maxResults", 100)), 1), 500)
        after = _untoken(params["pageToken"])["after"] if "pageToken" in params else None
        with self.lock:
            ordered = sorted(
                self.messages.values(), key=lambda m: (m.internal_date, m.id), reverse=True
            )
            hits = []
            for m in ordered:
                if after is not None and [m.internal_date, m.id] >= after:
                    continue
                if not spam_trash and ({"SPAM", "TRASH"} & set(m.label_ids)):
                    continue
                if not wanted <= set(m.label_ids):
                    continue
                hits.append(m)
                if len(hits) > size:
                    break
        out: dict[str, Any] = {"resultSizeEstimate": len(hits[:size])}
        if hits[:size]:
            out["messages"] = [self._brief(m) for m in hits[:size]]
        if len(hits) > size:
            last = hits[size - 1]
            out["nextPageToken"] = _token({"after": [last.internal_date, last.id]})
        return out

    def messages_get(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        fmt = params.get("format", "full")
        if fmt in ("full", "raw") and not scopes & FULL_ACCESS_SCOPES:
            raise ApiError(403, f"Metadata scope doesn't allow format {fmt.upper()}", "forbidden")
        with self.lock:
            msg = self.messages.get(params["id"])
            if msg is None:
                raise ApiError(404, "Requested entity was not found.", "notFound")
            return self._resource(msg, fmt, params.get("metadataHeaders"))

    def threads_get(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        """``threads.get``: the thread's messages in ``format`` (metadata: ids, labels and
        the asked-for headers; minimal: ids and labels), oldest first, no snippet without
        a body scope."""
        self._user(params)
        fmt = params.get("format", "full")
        if fmt == "full" and not scopes & FULL_ACCESS_SCOPES:
            raise ApiError(403, "Metadata scope doesn't allow format FULL", "forbidden")
        with self.lock:
            members = sorted(
                (
                    self.messages[x]
                    for x in self.thread_members.get(params["id"], [])
                    if x in self.messages
                ),
                key=lambda m: (m.internal_date, m.id),
            )
            if not members:
                raise ApiError(404, "Requested entity was not found.", "notFound")
            out: dict[str, Any] = {
                "id": params["id"],
                "historyId": str(max(m.history_id for m in members)),
                "messages": [
                    self._resource(m, fmt, params.get("metadataHeaders")) for m in members
                ],
            }
            if fmt == "full":
                out["snippet"] = out["messages"][-1].get("snippet", "")
            return out

    def _resource(self, msg: Message, fmt: str, metadata_headers: list[str] | None) -> dict:
        """One Message resource in ``fmt`` (raw, minimal, metadata, full)."""
        out: dict[str, Any] = {
            "id": msg.id,
            "threadId": msg.thread_id,
            "labelIds": list(msg.label_ids),
            "historyId": str(msg.history_id),
            "internalDate": str(msg.internal_date),
            "sizeEstimate": len(msg.raw),
        }
        if fmt == "raw":
            out["raw"] = base64.urlsafe_b64encode(msg.raw).decode()
            return out
        if fmt == "minimal":
            return out
        headers = msg.headers
        if fmt == "metadata" and metadata_headers:
            names = {h.lower() for h in metadata_headers}
            headers = [(n, v) for n, v in headers if n.lower() in names]
        content_type = next(
            (v for n, v in msg.headers if n.lower() == "content-type"), "text/plain"
        )
        payload: dict[str, Any] = {
            "partId": "",
            "mimeType": content_type.split(";")[0].strip().lower() or "text/plain",
            "filename": "",
            "headers": [{"name": n, "value": v} for n, v in headers],
        }
        if fmt == "full":
            sep = msg.raw.find(b"\n\n")
            body_bytes = msg.raw[sep + 2 :] if sep >= 0 else b""
            payload["body"] = {
                "size": len(body_bytes),
                "data": base64.urlsafe_b64encode(body_bytes).decode(),
            }
            out["snippet"] = _text(body_bytes[:100])
        out["payload"] = payload
        return out

    def history_list(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        if "startHistoryId" not in params:
            raise ApiError(400, "Required parameter: startHistoryId", "required")
        start = int(params["startHistoryId"])
        types = set(params.get("historyTypes", [])) or {
            "messageAdded",
            "messageDeleted",
            "labelAdded",
            "labelRemoved",
        }
        fields = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }
        keep = {fields[t] for t in types}
        label = params.get("labelId")
        size = min(max(int(params.get("maxResults", 100)), 1), 500)
        if "pageToken" in params:
            start = max(start, _untoken(params["pageToken"])["after"])
        with self.lock:
            if start < self.min_history_id or start > self.history_id:
                raise ApiError(404, "Requested entity was not found.", "notFound")
            records = []
            more = False
            for hid, rec in self.history:
                if hid <= start:
                    continue
                parts = {k: v for k, v in rec.items() if k in keep}
                if label:
                    parts = {
                        k: [e for e in v if label in e["message"].get("labelIds", [label])]
                        for k, v in parts.items()
                    }
                    parts = {k: v for k, v in parts.items() if v}
                if not parts:
                    continue
                if len(records) == size:
                    more = True
                    break
                messages = [e["message"] for v in parts.values() for e in v]
                records.append(
                    {
                        "id": str(hid),
                        "messages": [{"id": m["id"], "threadId": m["threadId"]} for m in messages],
                        **json.loads(json.dumps(parts)),
                    }
                )
            out: dict[str, Any] = {"historyId": str(self.history_id)}
            if records:
                out["history"] = records
            if more:
                out["nextPageToken"] = _token({"after": int(records[-1]["id"])})
            return out

    def messages_send(self, params: dict[str, Any], body: Any, scopes: set[str]) -> dict:
        self._user(params)
        if not isinstance(body, dict) or not body.get("raw"):
            raise ApiError(400, "Invalid value for ByteString: raw is required", "invalidArgument")
        raw_text = body["raw"]
        try:
            raw = base64.urlsafe_b64decode(raw_text + "=" * (-len(raw_text) % 4))
        except Exception:
            raise ApiError(400, "Invalid value for ByteString", "invalidArgument") from None
        if not parse_headers(raw):
            raise ApiError(400, "Invalid To header", "invalidArgument")
        with self.lock:
            self.sent.append(raw)
            msg = self.add_message(raw, ["SENT"], int(time.time() * 1000))
            return {"id": msg.id, "threadId": msg.thread_id, "labelIds": ["SENT"]}

    def handlers(self) -> dict[str, Any]:
        """Method id -> handler."""
        return {
            "gmail.users.getProfile": self.get_profile,
            "gmail.users.labels.list": self.labels_list,
            "gmail.users.messages.list": self.messages_list,
            "gmail.users.messages.get": self.messages_get,
            "gmail.users.threads.get": self.threads_get,
            "gmail.users.history.list": self.history_list,
            "gmail.users.messages.send": self.messages_send,
        }
