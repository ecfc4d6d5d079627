"""The connector protocol: how every source hands data to syncd, and takes writes back.

The seam. Every connector module (``connectors/<kind>.py``, loaded by name
through :func:`connectors.load`) is opened one way::

    open_reader(account: AccountConfig, home: Home) -> Reader          # where it reads
    open_writer(account: AccountConfig, home: Home) -> Writer          # where it writes
                                                  (or CalendarWriter)

``account`` is the :class:`syncd.config.schema.AccountConfig` (kind-specific
settings in ``account.options``: ``paths`` for local files, ``calendar``,
``api_endpoint`` ...), ``home`` the :class:`syncd.core.home.Home` (tokens,
relative paths). A module defines only the sides it has: ``mbox``,
``maildir``, ``ics`` and ``gmail-json`` read; ``icsfile`` writes; ``gmail``
reads and sends mail; ``gcal`` reads and writes events. The sync engine,
``syncd import`` and the outbox all go through
:func:`connectors.open_reader` / :func:`connectors.open_writer`; nothing else
about a connector is public to them. (Classes such as ``MboxReader(paths)``
stay constructible for tests and benchmarks.)

Read side: ``fetch(cursor) -> Iterator[Batch]``. Each :class:`Batch` carries
observations (the metadata as received: headers of a message, or one calendar
event instance) and the cursor that is valid once they are stored. syncd's
ingest commits the observations and that cursor in one transaction, so an
interrupted sync resumes after the last committed batch. A reader
conformance suite (``tests/support/reader_conformance.py``) holds every
reader to this.

Write side (used by the outbox): ``apply(action) -> remote_ref``; it must be
idempotent: the action's key travels inside the remote object, and a retry
finds the object instead of creating a second one. Calendar writers
(:class:`CalendarWriter`) also report what the user did to their events
(``lookup``) and free/busy (``busy``); the writer conformance suite
(``tests/support/writer_conformance.py``) holds them to that.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from syncd.mail.metadata import Headers, MailSummary, content_hash, encode_headers, summarize

Cursor = dict[str, Any]


class MailObservation:
    """One copy of one email, as seen in one folder of a source.

    ``headers`` holds only :data:`syncd.mail.metadata.KEPT_HEADERS`; bodies are
    never read. ``signals`` are source bulk signals (e.g. Gmail categories),
    ``received_at`` the server's receipt time (epoch seconds) if known.
    A connector that summarised the copy in a worker may pass ``summary`` and
    ``hash``, and the headers already JSON-encoded (``headers_json``, the form
    they are stored in) instead of ``headers``: the dict is then decoded only
    if someone asks for it.
    """

    __slots__ = (
        "_headers",
        "_headers_json",
        "folder",
        "hash",
        "labels",
        "locator",
        "received_at",
        "signals",
        "summary",
    )

    def __init__(
        self,
        folder: str,
        locator: str,
        headers: Headers | None = None,
        labels: tuple[str, ...] = (),
        signals: tuple[str, ...] = (),
        received_at: int | None = None,
        summary: MailSummary | None = None,
        hash: str = "",
        headers_json: str | None = None,
    ):
        if headers is None and headers_json is None:
            raise TypeError("MailObservation needs headers or headers_json")
        self.folder = folder
        self.locator = locator
        self._headers = headers
        self._headers_json = headers_json
        self.labels = labels
        self.signals = signals
        self.received_at = received_at
        self.summary = summary
        self.hash = hash

    @property
    def headers(self) -> Headers:
        """The kept headers, ``{lower-case name: [values]}``."""
        if self._headers is None:
            self._headers = json.loads(self._headers_json or "{}")
        return self._headers

    def headers_json(self) -> str:
        """The headers as stored: JSON (non-ASCII kept as is)."""
        if self._headers_json is None:
            self._headers_json = encode_headers(self._headers or {})
        return self._headers_json

    def summarized(self) -> MailSummary:
        """The summary, computed once (connectors may precompute it in workers)."""
        if self.summary is None:
            self.summary = summarize(self.headers, self.received_at)
        if not self.hash:
            self.hash = content_hash(self.headers)
        return self.summary

    def __repr__(self) -> str:
        # Everything an observation holds (tests search it for body text).
        return (
            f"MailObservation(folder={self.folder!r}, locator={self.locator!r},"
            f" headers={self.headers_json()!r}, labels={self.labels!r},"
            f" signals={self.signals!r}, received_at={self.received_at!r},"
            f" summary={self.summary!r}, hash={self.hash!r})"
        )


@dataclass(slots=True)
class Attendee:
    """An event participant: address, display name, CUTYPE and PARTSTAT (upper-case)."""

    address: str
    name: str = ""
    cutype: str = "INDIVIDUAL"
    partstat: str = "NEEDS-ACTION"


@dataclass(slots=True)
class EventObservation:
    """One instance of a calendar event (recurrences already expanded).

    ``key`` identifies the instance across sources (UID + instance start);
    ``version`` orders conflicting copies (higher wins: SEQUENCE, DTSTAMP).
    """

    calendar: str
    locator: str
    key: str
    start: int
    end: int
    status: str
    organizer: str | None
    attendees: list[Attendee]
    summary: str = ""
    version: tuple[int, int] = (0, 0)
    all_day: bool = False
    hash: str = ""


# Hosts of this machine: the only ones plaintext IMAP, SMTP and CalDAV may talk to.
LOOPBACK = ("127.0.0.1", "::1", "localhost")
DELETED_VERSION = 1 << 30  # a deletion supersedes every version of the instance


def event_hash(
    key: str,
    start: int,
    end: int,
    version: tuple[int, int] | int,
    all_day: bool,
    status: str,
    organizer: str | None,
    attendees: Sequence[Attendee],
    summary: str,
) -> str:
    """The content hash of a calendar API's event instance: what an update compares."""
    who = [[a.address, a.name, a.cutype, a.partstat] for a in attendees]
    fields = [key, start, end, version, all_day, status, organizer, who, summary]
    text = json.dumps(fields, ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def deleted_event(key: str, scope: str, locator: str) -> EventObservation:
    """A deleted event or cancelled instance (``key`` ends in ``|START``): no touchpoint,
    and it wins over every stored copy of the instance."""
    tail = key.rsplit("|", 1)[-1]
    when = int(tail) if tail.lstrip("-").isdigit() else 0
    return EventObservation(
        calendar=scope,
        locator=locator,
        key=key,
        start=when,
        end=when,
        status="CANCELLED",
        organizer=None,
        attendees=[],
        version=(DELETED_VERSION, int(time.time())),
        hash=hashlib.blake2b(f"{key}\x00deleted".encode(), digest_size=16).hexdigest(),
    )


@dataclass(slots=True)
class Quarantined:
    """An item that could not be understood: kept with its reason, never dropped."""

    scope: str
    locator: str
    reason: str
    excerpt: bytes = b""


@dataclass(slots=True)
class Batch:
    """Observations plus the cursors that are valid once they are committed.

    ``cursors`` maps a scope (a file, a folder, a calendar) to its new cursor.
    ``replace_scopes`` names calendars (``EventObservation.calendar``) that
    this batch holds completely, so stored instances missing from it are
    removed. ``progress`` is the work done, in :meth:`Reader.estimate` units.
    ``owner_addresses`` are addresses the source itself says are the user's
    (a mailbox's profile address): syncd counts them as "me". ``unchanged``
    counts scopes (files) left unread because their cursor says nothing changed,
    and ``known`` the items they hold, stored before: a re-import reports them as
    already known instead of reading nothing and saying nothing.
    """

    mail: list[MailObservation] = field(default_factory=list)
    events: list[EventObservation] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    cursors: dict[str, Cursor] = field(default_factory=dict)
    replace_scopes: set[str] = field(default_factory=set)
    progress: int = 0
    owner_addresses: tuple[str, ...] = ()
    unchanged: int = 0
    known: int = 0

    def only_counts(self) -> bool:
        """True when the batch carries nothing to store, only ``unchanged`` / ``known``."""
        return not (
            self.mail
            or self.events
            or self.quarantined
            or self.cursors
            or self.replace_scopes
            or self.owner_addresses
        )


@runtime_checkable
class Reader(Protocol):
    """The read side every connector implements."""

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Yield batches of new observations, given the committed cursors by scope."""
        ...

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """A rough total of work units (bytes, messages) for a progress bar; 0 if unknown."""
        ...


@dataclass(slots=True)
class Action:
    """A write to perform remotely; ``key`` is its idempotency key."""

    key: str
    kind: str
    payload: dict[str, Any]


@runtime_checkable
class Writer(Protocol):
    """The write side: idempotent application of an :class:`Action`."""

    def apply(self, action: Action) -> str:
        """Perform ``action`` (or find it already done) and return the remote reference."""
        ...

    def remove(self, action: Action, remote_ref: str | None) -> None:
        """Undo a previously applied action; a missing remote object is not an error."""
        ...


@dataclass(frozen=True, slots=True)
class RemoteEvent:
    """A calendar event as the remote calendar holds it now."""

    ref: str  # the remote reference (iCal UID, Google / Graph event id, CalDAV href)
    start: int  # epoch seconds
    end: int


@runtime_checkable
class CalendarWriter(Writer, Protocol):
    """A calendar target of the planner (:mod:`syncd.followup.planner`) through the outbox.

    Actions: ``event.create`` (payload ``title``, ``description``, ``start``,
    ``end`` in epoch seconds, ``timezone`` (IANA, for display), ``created``,
    ``person``, ``flags``) and ``event.remove`` (payload ``remote_ref``, may be
    None). ``action.key`` (a flag id such as ``dormant:12:1717000000``, or
    ``...~2``) is stored inside the event (iCal UID / X-SYNCD-KEY, a Google
    event id derived from it plus a private extended property, a Graph/EWS
    extended property), so ``apply`` finds an existing event instead of
    creating a second one and ``remove`` / ``lookup`` find it by key.
    """

    def lookup(self, key: str) -> RemoteEvent | None:
        """The event carrying ``key`` as it is now; None when the user deleted or cancelled it."""
        ...

    def busy(self, start: int, end: int) -> list[tuple[int, int]]:
        """Busy intervals ``[s, e)`` overlapping ``[start, end)``: not cancelled, not
        transparent, recurrences expanded."""
        ...
