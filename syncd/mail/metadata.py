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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from email.header import decode_header, make_header
from email.utils import parsedate_tz
from json.encoder import encode_basestring
from typing import NamedTuple, TypeVar

from syncd.core.jsontext import acyclic_encoder
from syncd.core.keys import key64
from syncd.mail.addresses import local_part_without_tag, parse_address_list

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
_MSGID = re.compile(r"<([^<>]+)>")

Headers = dict[str, list[str]]
_T = TypeVar("_T")


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


# One match per kept header line, with its continuation lines (white-space led;
# blank lines between them are skipped, as the line scanner always did). The
# text searched starts with "\n", so every header line follows a "\n" (a fast
# literal prefix for the regex engine). A name is what precedes the line's first
# colon, stripped of ASCII white space (a line led by space or tab is a
# continuation, so only \v or \f can lead a name) and ASCII-lower-cased. A line
# that starts with no name's first letter fails at one look-ahead, before the
# names are tried one by one (case-insensitive alternatives get no quick check).
_NAMES = "|".join(re.escape(name) for name in KEPT_HEADERS)
_FIRST = "".join(sorted({c for name in KEPT_HEADERS for c in (name[0], name[0].upper())}))
_HEADER_LINE = (
    r"\n(?:(?=[" + _FIRST + r"])|[\x0b\x0c][ \t\x0b\x0c]*+)((?ai:" + _NAMES + r"))"
    r"[ \t\x0b\x0c]*+:([^\n]*+(?:\n++[ \t][^\n]*+)*+)"
)
_HEADER_TEXT = re.compile(_HEADER_LINE)
_HEADER_BYTES = re.compile(_HEADER_LINE.encode())


def scan_headers(raw: bytes) -> Headers:
    """Extract the kept headers from a raw message (or its header block).

    A lean scanner: it unfolds continuation lines and skips everything that is
    not a ``Name: value`` header (an mbox ``From `` line, garbage). Only the
    first ``Received`` header is kept (the server's receipt time). Values are
    decoded as UTF-8, else Latin-1, and stripped.

    One regex pass finds the kept headers; a block that is valid UTF-8 is
    decoded once (each value, delimited by ASCII bytes, is then valid UTF-8 on
    its own, so this equals decoding value by value).
    """
    if b"\r" in raw:
        block = header_block(raw).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    else:
        end = raw.find(b"\n\n")
        block = raw if end < 0 else raw[:end]
    return scan_lf_block(block)


def scan_lf_block(block: bytes) -> Headers:
    """The kept headers of a block with LF line endings, cut before its blank line: what
    :func:`scan_headers` scans once it has cut and normalised a message, and what the
    mbox scanner hands over itself (it cuts where :func:`header_block` does and knows
    when a block holds no CR)."""
    headers: Headers = {}
    try:
        found = _HEADER_TEXT.findall("\n" + block.decode("utf-8"))
    except UnicodeDecodeError:
        found = [
            (name.decode("ascii"), _decode(value.replace(b"\n", b"")))
            for name, value in _HEADER_BYTES.findall(b"\n" + block)
        ]
    for name, value in found:
        name = name.lower()
        if "\n" in value:
            value = value.replace("\n", "")
        values = headers.get(name)
        if values is None:
            headers[name] = [value.strip()]
        elif name != "received":
            values.append(value.strip())
    return headers


# The canonical RFC 5322 date ("Mon, 30 Oct 2000 01:14:00 -0800 (PST)"): read by
# a regex, with exactly the arithmetic of parsedate_tz + calendar.timegm (the
# slow path, for everything else). Two-digit years and named zones take the slow
# path; the day-of-week is ignored and whatever follows the zone too, as there.
_CANONICAL_DATE = re.compile(
    r"[ \t]*+(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),[ \t]++)?+([0-9]{1,2})[ \t]++"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[ \t]++([1-9][0-9]{3})[ \t]++"
    r"([0-9]{2}:[0-9]{2}:[0-9]{2})[ \t]++([+-][0-9]{4})(?:[ \t].*)?",
    re.S,
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
MAX_OFFSET = 14 * 3600  # the widest real UTC offsets are -12:00 and +14:00
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_MONTH_START: dict[str, int] = {}  # "May2001" -> epoch seconds of its first day, 00:00 UTC
_CLOCK: dict[str, int] = {}  # "16:39:00" -> seconds into the day
_ZONE: dict[str, int | None] = {}  # "-0700" -> seconds to add to local time for UTC


_DATE_CACHE = 8_192  # entries per cache (about 1 MB: times of day beyond it are worked out again)


def _cached(cache: dict, key: str, value: _T, limit: int | None = None) -> _T:
    """Remember ``value`` under ``key`` in ``cache`` (emptied once it holds ``limit``
    entries, default :data:`_DATE_CACHE` as it is at the call); ``value``."""
    if len(cache) >= (_DATE_CACHE if limit is None else limit):
        cache.clear()
    cache[key] = value
    return value


_MISSING = object()


def _month_start(year: str, month: str) -> int:
    """Epoch seconds of the first day of ``month`` (``"May"``) of ``year``, 00:00 UTC."""
    return (date(int(year), _MONTHS[month], 1).toordinal() - _EPOCH_ORDINAL) * 86400


def _clock_seconds(clock: str) -> int:
    """Seconds into the day of ``hh:mm:ss``."""
    return int(clock[:2]) * 3600 + int(clock[3:5]) * 60 + int(clock[6:])


def _zone_shift(zone: str) -> int | None:
    """Seconds to add to a local time in ``zone`` (``+hhmm`` / ``-hhmm``) for UTC;
    ``None`` for an offset beyond :data:`MAX_OFFSET` (implausible)."""
    offset = int(zone[1:3]) * 3600 + int(zone[3:]) * 60
    if offset > MAX_OFFSET:
        return None
    return offset if zone[0] == "-" else -offset


# A stand-alone zero-led number of three or four digits, or a lone 0: a year such as
# "0000" or "0001", which parsedate_tz reads as a two-digit year (2000, 2001).
_ZERO_YEAR = re.compile(r"(?<![0-9:+\-.])(?:0|0[0-9]{2,3})(?![0-9:.])")


def parse_date(value: str) -> int | None:
    """An RFC 5322 date as UTC epoch seconds; ``None`` when unparseable or implausible.

    A date without a zone is taken as UTC; trailing comments like ``(PDT)``
    are ignored. Implausible (:func:`checked_date`): before 1970, year 0, an
    offset beyond ±14 hours.
    """
    return checked_date(value)[0]


def checked_date(value: str) -> tuple[int | None, bool]:
    """:func:`parse_date` and whether a date that parsed was rejected as implausible."""
    m = _CANONICAL_DATE.fullmatch(value)
    if m is not None:
        day, month, year, clock, zone = m.groups()
        # The month's first second, the time of day and the zone's offset repeat from
        # message to message: each is worked out once (caches of at most _DATE_CACHE).
        key = month + year
        start = _MONTH_START.get(key)
        if start is None:
            start = _cached(_MONTH_START, key, _month_start(year, month))
        seconds = _CLOCK.get(clock)
        if seconds is None:
            seconds = _cached(_CLOCK, clock, _clock_seconds(clock))
        shift = _ZONE.get(zone, _MISSING)
        if shift is _MISSING:
            shift = _cached(_ZONE, zone, _zone_shift(zone))
        if shift is None:
            return None, True
        epoch = start + (int(day) - 1) * 86400 + seconds + shift
        if epoch < 0:
            return None, True
        return epoch, False
    try:
        parts = parsedate_tz(value)
    except (TypeError, ValueError, IndexError):
        return None, False
    if parts is None:
        return None, False
    offset = parts[9] or 0
    try:
        epoch = calendar.timegm(parts[:9]) - offset
    except (ValueError, OverflowError):
        return None, False
    if epoch < 0 or abs(offset) > MAX_OFFSET or _year_zero(value, parts[0]):
        return None, True
    return epoch, False


def _year_zero(value: str, year: int) -> bool:
    """True when ``parsedate_tz`` read ``year`` (2000–2068) from a written year 0 to 999
    ("0000", "0001", "0"), not from a two-digit year ("00", "01")."""
    if not 2000 <= year <= 2068 or _ZERO_YEAR.search(value) is None:
        return False
    try:
        again = parsedate_tz(_ZERO_YEAR.sub("1111", value))
    except (TypeError, ValueError, IndexError):
        return False
    return again is not None and again[0] == 1111


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
    return " ".join(value.split())


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
    flaws: tuple[str, ...] = ()  # what was left out: addresses, an implausible Date
    recipients_json: str | None = None
    names_json: str | None = None
    keys64: list[int] | None = None

    def stored_recipients(self) -> str:
        """To/Cc/Bcc as stored for a one-copy message (:func:`encode_recipients`)."""
        if self.recipients_json is None:
            self.recipients_json = encode_recipients(
                sorted(set(self.to)), sorted(set(self.cc)), sorted(set(self.bcc))
            )
        return self.recipients_json

    def stored_names(self) -> str:
        """The display names as stored (:func:`encode_names`)."""
        if self.names_json is None:
            self.names_json = encode_names(self.names)
        return self.names_json

    def logical_keys64(self) -> list[int]:
        """:meth:`logical_keys` as stored (:func:`key64`)."""
        if self.keys64 is None:
            self.keys64 = [key64(k) for k in self.logical_keys()]
        return self.keys64

    def logical_keys(self) -> list[str]:
        """The logical-message keys: copies sharing any key are one message."""
        return logical_keys(self.fingerprint, self.message_id)


def logical_keys(fingerprint: str, message_id: str | None) -> list[str]:
    """The logical-message keys of a copy (design.md §2 rule 2): its fingerprint and,
    when it has one, its Message-ID."""
    keys = ["f:" + fingerprint]
    if message_id:
        keys.append(message_id_key(message_id))
    return keys


def message_id_key(message_id: str) -> str:
    """The logical-message key of a Message-ID (look a message up by ``key64`` of it)."""
    return "m:" + message_id


_BULK_HEADERS = frozenset(
    {"precedence", "list-id", "list-unsubscribe", "auto-submitted", "return-path"}
)


def bulk_signals(headers: Headers, sender: str | None) -> list[str]:
    """Reasons (possibly none) why a message is bulk or automated (design.md §2 rule 4)."""
    # most messages have none of the headers: one look for them all
    reasons = [] if _BULK_HEADERS.isdisjoint(headers) else _header_signals(headers)
    if sender and local_part_without_tag(sender) in AUTOMATED_LOCAL_PARTS:
        reasons.append("automated-sender")
    return reasons


def _header_signals(headers: Headers) -> list[str]:
    """The reasons of :func:`bulk_signals` found in ``headers``, in its order."""
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
    return reasons


def fingerprint(sender: str | None, sent_at: int | None, subject: str, recipients: set[str]) -> str:
    """The copy-independent identity of a message (design.md §2 rule 2)."""
    return _fingerprint(sender, sent_at, subject, ",".join(sorted(recipients)))


_BLAKE2B_16 = hashlib.blake2b(digest_size=16)  # copied, never updated: cheaper than a new one


def _fingerprint(sender: str | None, sent_at: int | None, subject: str, recipients: str) -> str:
    """:func:`fingerprint` of the recipients sorted and joined by commas."""
    when = str(sent_at) if sent_at is not None else ""
    digest = _BLAKE2B_16.copy()
    digest.update(
        "\x1f".join([sender or "", when, subject, recipients]).encode("utf-8", "surrogatepass")
    )
    return digest.hexdigest()


def summarize(headers: Headers, received_at: int | None = None) -> MailSummary:
    """Summarise one copy's headers; ``received_at`` is the server's time fallback."""
    return MailSummary(*summary_fields(headers, received_at))


def summary_fields(headers: Headers, received_at: int | None = None) -> tuple:
    """The :class:`MailSummary` of ``headers`` as a plain tuple, in field order.

    Cheap to ship from a worker process (``MailSummary(*fields)`` rebuilds it).
    """
    get = headers.get
    rejected: list[str] = []
    senders = _addresses(values[:1], rejected) if (values := get("from")) else _NO_ADDRESSES
    sender = senders.addresses[0] if senders.addresses else None
    to = _addresses(values, rejected) if (values := get("to")) else _NO_ADDRESSES
    cc = _addresses(values, rejected) if (values := get("cc")) else _NO_ADDRESSES
    bcc = _addresses(values, rejected) if (values := get("bcc")) else _NO_ADDRESSES
    sent_at = None
    implausible = False
    for value in get("date", ()):
        sent_at, rejected_date = checked_date(value)
        if sent_at is not None:
            break
        implausible = implausible or rejected_date
    if sent_at is None:
        for value in get("received", ()):
            sent_at = parse_date(value.rpartition(";")[2])
            if sent_at is not None:
                break
    if sent_at is None:
        sent_at = received_at
    values = get("subject")
    subject = collapse(decode_words(values[0])) if values is not None else ""
    message_id = None
    for value in get("message-id", ()):
        message_id = parse_message_id(value)
        if message_id:
            break
    names: dict[str, str] = {}
    if senders.named or to.named or cc.named or bcc.named:
        for parsed in (senders, to, cc, bcc):
            for addr, name in parsed.named:
                if addr not in names:
                    names[addr] = name
    in_reply_to = None
    for value in get("in-reply-to", ()):
        in_reply_to = parse_message_id(value)
    references = []
    for value in get("references", ()):
        references.extend(_MSGID.findall(value))
    if cc.addresses or bcc.addresses:
        recipients = set(to.addresses)
        recipients.update(cc.addresses, bcc.addresses)
        joined = ",".join(sorted(recipients))
    else:
        joined = to.joined
    return (
        message_id,
        sent_at,
        sender,
        list(to.addresses),
        list(cc.addresses),
        list(bcc.addresses),
        subject,
        _fingerprint(sender, sent_at, subject, joined),
        bulk_signals(headers, sender),
        in_reply_to,
        references,
        names,
        _flaws(len(rejected), implausible) if rejected or implausible else (),
    )


class _Parsed(NamedTuple):
    """What a summary takes from the addresses of header values."""

    addresses: Sequence[str]  # parse_address_list's, in order
    named: Sequence[tuple[str, str]]  # (address, display name as stored) where one is given
    dropped: Sequence[str]  # addresses left out for a control character
    joined: str  # the addresses sorted and joined by commas (as in a fingerprint)


_NO_ADDRESSES = _Parsed((), (), (), "")


def _parse(values: list[str]) -> _Parsed:
    """The :class:`_Parsed` form of :func:`parse_address_list` of ``values``."""
    dropped: list[str] = []
    pairs = parse_address_list(values, dropped)
    addresses = [addr for _, addr in pairs]
    named = [(addr, collapse(decode_words(name)).strip("'\" ")) for name, addr in pairs if name]
    return _Parsed(addresses, named, dropped, ",".join(sorted(addresses)))


# A mailbox's From and To values repeat (the same correspondents, lists and copies in
# several folders): in the Enron mailboxes 74-94 % of From and 71-87 % of To values were
# seen before. Each value is parsed once; the cache is emptied when full.
_ADDRESS_CACHE: dict[str, _Parsed] = {}
ADDRESS_CACHE_SIZE = 4096
# The stored recipients of a message with one To value and no Cc or Bcc, by that value.
_RECIPIENTS_CACHE: dict[str, str] = {}


def _addresses(values: list[str], rejected: list[str]) -> _Parsed:
    """:func:`_parse` of ``values``, appending its dropped addresses to ``rejected``;
    from :data:`_ADDRESS_CACHE` when ``values`` is one value parsed before. What is
    returned may be shared: read it, never change it."""
    if len(values) != 1:
        found = _parse(values)
    else:
        value = values[0]
        found = _ADDRESS_CACHE.get(value)
        if found is None:
            found = _cached(_ADDRESS_CACHE, value, _parse(values), ADDRESS_CACHE_SIZE)
    if found.dropped:
        rejected.extend(found.dropped)
    return found


def _flaws(rejected: int, implausible: bool) -> tuple[str, ...]:
    """What :func:`summary_fields` left out of a message, in words (no personal data)."""
    flaws = []
    if rejected:
        flaws.append(f"{rejected} address{'es' if rejected > 1 else ''} with control characters")
    if implausible:
        flaws.append("an implausible Date (before 1970, year 0 or offset beyond ±14 h)")
    return tuple(flaws)


# The stored JSON forms are built from json's own string encoder (non-ASCII kept): equal,
# character for character, to json.dumps(..., ensure_ascii=False) with the default
# separators, at a fraction of the cost for these fixed shapes (tests check the equality).
_quote = encode_basestring


def encode_recipients(to: list[str], cc: list[str], bcc: list[str]) -> str:
    """The stored form of a message's recipients (sorted, de-duplicated lists):
    ``{"to": [...], "cc": [...], "bcc": [...]}`` as JSON."""
    return (
        '{"to": ['
        + ", ".join(map(_quote, to))
        + '], "cc": ['
        + ", ".join(map(_quote, cc))
        + '], "bcc": ['
        + ", ".join(map(_quote, bcc))
        + "]}"
    )


def encode_names(names: dict[str, str]) -> str:
    """The stored form of display names by address: canonical JSON (sorted keys), so
    equal name maps are equal strings."""
    if not names:  # most messages name nobody: skip building and joining nothing
        return "{}"
    return "{" + ", ".join([_quote(a) + ": " + _quote(n) for a, n in sorted(names.items())]) + "}"


def stored_summary_fields(headers: Headers, received_at: int | None = None) -> tuple:
    """:func:`summary_fields` plus the stored forms of recipients and names and the
    64-bit logical keys (for workers; as :class:`MailSummary` would compute them)."""
    fields = summary_fields(headers, received_at)
    message_id, fp, cc, bcc = fields[0], fields[7], fields[4], fields[5]
    keys = list(map(key64, logical_keys(fp, message_id)))
    # parse_address_list already dropped duplicates within each list
    to_values = headers.get("to")
    if not cc and not bcc and to_values is not None and len(to_values) == 1:
        # The To list is a function of its one value, and so is the stored form.
        recipients = _RECIPIENTS_CACHE.get(to_values[0])
        if recipients is None:
            recipients = encode_recipients(sorted(fields[3]), [], [])
            _cached(_RECIPIENTS_CACHE, to_values[0], recipients, ADDRESS_CACHE_SIZE)
    else:
        recipients = encode_recipients(
            sorted(fields[3]), sorted(cc) if cc else cc, sorted(bcc) if bcc else bcc
        )
    return (*fields, recipients, encode_names(fields[11]), keys)


encode_headers = acyclic_encoder(", ", ": ")
"""The stored form of :data:`Headers`: JSON, non-ASCII kept (a pre-built encoder)."""

# The kept headers a message has, in KEPT_HEADERS order, with the text around their
# values, by the message's header names in its own order (a mailbox's messages share a
# few such orders: one look-up, not one per kept header).
_HASH_ORDER: dict[tuple[str, ...], list[tuple[str, str, str]]] = {}
HASH_ORDER_CACHE_SIZE = 1024


def _hash_order(names: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(name, text before its first value, text between its values) of each kept
    header in ``names``, in :data:`KEPT_HEADERS` order."""
    return [(n, n + "\x00", "\x01" + n + "\x00") for n in KEPT_HEADERS if n in names]


def content_hash(headers: Headers, folder_independent_extra: str = "") -> str:
    """A stable hash of the metadata as received (used to skip re-imports).

    The digest of ``name NUL value SOH`` for each value of each kept header, in
    :data:`KEPT_HEADERS` order, then ``folder_independent_extra`` (UTF-8).
    """
    names = tuple(headers)
    order = _HASH_ORDER.get(names)
    if order is None:
        order = _cached(_HASH_ORDER, names, _hash_order(names), HASH_ORDER_CACHE_SIZE)
    parts = []
    for name, first, between in order:
        values = headers[name]
        if values:
            parts.append(first + between.join(values) + "\x01")
    data = "".join(parts).encode("utf-8", "surrogatepass")
    if folder_independent_extra:
        data += folder_independent_extra.encode()
    digest = _BLAKE2B_16.copy()
    digest.update(data)
    return digest.hexdigest()
