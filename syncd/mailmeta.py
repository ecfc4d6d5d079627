"""Email metadata: scanning header blocks and summarising them per design.md §2.

Connectors hand over headers (never bodies) as ``{lower-case name: [values]}``
restricted to :data:`KEPT_HEADERS`. :func:`summarize` turns them into a
:class:`MailSummary`: addresses, UTC time, the logical-message keys
(Message-ID and fingerprint) and the bulk/automated signals.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import parsedate_tz

from syncd.addresses import local_part_without_tag, parse_address_list

KEPT_HEADERS: tuple[str, ...] = (
    "message-id",
    "date",
    "from",
    "to",
    "cc",
    "bcc",
    "subject",
    "in-reply-to",
    "references",
    "precedence",
    "list-id",
    "list-unsubscribe",
    "auto-submitted",
    "return-path",
    "received",
)
_KEPT = frozenset(KEPT_HEADERS)

AUTOMATED_LOCAL_PARTS = frozenset(
    {
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
        "mailer-daemon",
        "postmaster",
    }
)
BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_WS = re.compile(r"\s+")
_MSGID = re.compile(r"<([^<>]+)>")

Headers = dict[str, list[str]]


def header_block(raw: bytes) -> bytes:
    """The header part of a raw message: everything before the first blank line.

    Works with LF, CRLF and bare-CR line endings.
    """
    ends = [i for i in (raw.find(b"\n\n"), raw.find(b"\r\n\r\n"), raw.find(b"\r\r")) if i >= 0]
    return raw[: min(ends)] if ends else raw


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


def scan_headers(raw: bytes) -> Headers:
    """Extract the kept headers from a raw message (or its header block).

    A lean scanner: it unfolds continuation lines and skips everything that is
    not a ``Name: value`` header (an mbox ``From `` line, garbage). Only the
    first ``Received`` header is kept (the server's receipt time).
    """
    block = header_block(raw)
    if b"\r" in block:
        block = block.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    headers: Headers = {}
    current: list[bytes] | None = None
    name = ""
    for line in block.split(b"\n"):
        if not line:
            continue
        if line[0] in (0x20, 0x09):
            if current is not None:
                current.append(line)
            continue
        if current is not None:
            headers.setdefault(name, []).append(_decode(b"".join(current)).strip())
            current = None
        colon = line.find(b":")
        if colon <= 0:
            continue
        name = line[:colon].strip().lower().decode("latin-1")
        if name in _KEPT and not (name == "received" and "received" in headers):
            current = [line[colon + 1 :]]
    if current is not None:
        headers.setdefault(name, []).append(_decode(b"".join(current)).strip())
    return headers


def parse_date(value: str) -> int | None:
    """An RFC 5322 date as UTC epoch seconds; ``None`` when unparseable.

    A date without a zone is taken as UTC; trailing comments like ``(PDT)``
    are ignored.
    """
    try:
        parts = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parts is None:
        return None
    try:
        epoch = calendar.timegm(parts[:9]) - (parts[9] or 0)
    except (ValueError, OverflowError):
        return None
    return epoch


def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words; fall back to the raw text."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (LookupError, ValueError, UnicodeError, AssertionError):
        return value


def collapse(value: str) -> str:
    """Collapse runs of whitespace into one space and strip the ends."""
    return _WS.sub(" ", value).strip()


def parse_message_id(value: str) -> str | None:
    """The Message-ID without angle brackets, or the stripped text, or ``None``."""
    m = _MSGID.search(value)
    text = (m.group(1) if m else value).strip()
    return text or None


@dataclass(slots=True)
class MailSummary:
    """What the touchpoint rules need from one copy of a message."""

    message_id: str | None
    sent_at: int | None
    sender: str | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    fingerprint: str
    bulk: list[str]
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """The logical-message keys: copies sharing any key are one message."""
        keys = ["f:" + self.fingerprint]
        if self.message_id:
            keys.append("m:" + self.message_id)
        return keys


def bulk_signals(headers: Headers, sender: str | None) -> list[str]:
    """Reasons (possibly none) why a message is bulk or automated (design.md §2 rule 4)."""
    reasons = []
    for value in headers.get("precedence", ()):
        if value.strip().lower() in BULK_PRECEDENCE:
            reasons.append("precedence:" + value.strip().lower())
    if "list-id" in headers:
        reasons.append("list-id")
    if "list-unsubscribe" in headers:
        reasons.append("list-unsubscribe")
    for value in headers.get("auto-submitted", ()):
        token = value.split(";", 1)[0].split("(", 1)[0].strip().lower()
        if token != "no":
            reasons.append("auto-submitted:" + (token or "empty"))
    for value in headers.get("return-path", ()):
        if value.replace(" ", "") == "<>":
            reasons.append("null-return-path")
    if sender and local_part_without_tag(sender) in AUTOMATED_LOCAL_PARTS:
        reasons.append("automated-sender")
    return reasons


def fingerprint(sender: str | None, sent_at: int | None, subject: str, recipients: set[str]) -> str:
    """The copy-independent identity of a message (design.md §2 rule 2)."""
    text = "\x1f".join(
        [sender or "", str(sent_at if sent_at is not None else ""), subject, ",".join(sorted(recipients))]
    )
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def summarize(headers: Headers, received_at: int | None = None) -> MailSummary:
    """Summarise one copy's headers; ``received_at`` is the server's time fallback."""
    first = headers.get
    senders = parse_address_list(first("from", [])[:1])
    sender = senders[0][1] if senders else None
    to = parse_address_list(first("to", []))
    cc = parse_address_list(first("cc", []))
    bcc = parse_address_list(first("bcc", []))
    sent_at = None
    for value in first("date", []):
        sent_at = parse_date(value)
        if sent_at is not None:
            break
    if sent_at is None:
        for value in first("received", []):
            sent_at = parse_date(value.rpartition(";")[2])
            if sent_at is not None:
                break
    if sent_at is None:
        sent_at = received_at
    subject = collapse(decode_words(first("subject", [""])[0]))
    message_id = None
    for value in first("message-id", []):
        message_id = parse_message_id(value)
        if message_id:
            break
    names: dict[str, str] = {}
    for name, addr in senders + to + cc + bcc:
        if name and addr not in names:
            names[addr] = collapse(decode_words(name)).strip("'\" ")
    to_a = [a for _, a in to]
    cc_a = [a for _, a in cc]
    bcc_a = [a for _, a in bcc]
    in_reply_to = None
    for value in first("in-reply-to", []):
        in_reply_to = parse_message_id(value)
    references = []
    for value in first("references", []):
        references.extend(_MSGID.findall(value))
    return MailSummary(
        message_id=message_id,
        sent_at=sent_at,
        sender=sender,
        to=to_a,
        cc=cc_a,
        bcc=bcc_a,
        subject=subject,
        fingerprint=fingerprint(sender, sent_at, subject, set(to_a) | set(cc_a) | set(bcc_a)),
        bulk=bulk_signals(headers, sender),
        in_reply_to=in_reply_to,
        references=references,
        names=names,
    )


def content_hash(headers: Headers, folder_independent_extra: str = "") -> str:
    """A stable hash of the metadata as received (used to skip re-imports)."""
    h = hashlib.blake2b(digest_size=16)
    for name in KEPT_HEADERS:
        for value in headers.get(name, ()):
            h.update(name.encode())
            h.update(b"\x00")
            h.update(value.encode("utf-8", "surrogatepass"))
            h.update(b"\x01")
    h.update(folder_independent_extra.encode())
    return h.hexdigest()
