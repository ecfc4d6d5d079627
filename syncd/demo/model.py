"""What the example network is made of: contacts with the figures they must end up
with, the :class:`Manifest` of a generated network, and its messages and events."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from syncd.demo.tables import LONDON, Addr


@dataclass(eq=False)
class Contact:
    """One person of the network, with the figures ``syncd people`` must report."""

    name: str
    address: str
    org: str
    role: str
    tz: ZoneInfo = field(default=LONDON, repr=False)
    variants: tuple[str, ...] = ()
    touches_in: int = 0
    touches_out: int = 0
    meetings: int = 0
    first_touch: int | None = None
    last_touch: int | None = None
    next_meeting: int | None = None
    emails: set[str] = field(default_factory=set)

    def touch(self, at: int, form: str) -> None:
        """Record a touchpoint at ``at`` through the address ``form``."""
        self.emails.add(form.lower())
        self.first_touch = at if self.first_touch is None else min(self.first_touch, at)
        self.last_touch = at if self.last_touch is None else max(self.last_touch, at)

    @property
    def touched(self) -> bool:
        """True when the contact has a touchpoint up to the anchor."""
        return self.last_touch is not None


@dataclass
class Manifest:
    """What :func:`generate` wrote, and the figures it implies."""

    persona: str
    addresses: tuple[str, ...]
    persona_forms: frozenset[str]
    anchor: int
    mail_dir: Path
    calendar_path: Path
    folders: dict[str, int]  # message copies per mbox file
    copies: int
    logical: int  # distinct messages outside Drafts/Spam
    counted: int  # ... of which yield touchpoints
    bulk: int
    broadcast: int
    skipped_only: int  # messages only in Drafts/Spam
    duplicate_copies: int  # copies beyond the first (outside Drafts/Spam)
    alt_id_copies: int  # copies with a Message-ID of their own
    events: int  # event series and single events
    meetings_held: int  # instances with touchpoints, ended by the anchor
    meetings_upcoming: int
    contacts: dict[str, Contact]
    excluded: frozenset[str]  # addresses that must never become people
    broadcast_only: tuple[str, ...]
    quiet: tuple[str, ...]
    gmail_variants: tuple[str, ...]

    @property
    def people(self) -> list[Contact]:
        """The contacts ``syncd people`` lists as of the anchor."""
        return [c for c in self.contacts.values() if c.touched]


@dataclass(eq=False)
class Mail:
    sender: Addr
    to: list[Addr]
    cc: list[Addr]
    bcc: list[Addr]
    at: int
    tz: ZoneInfo
    subject: str
    mid: str
    received: int
    reply: Mail | None = None
    extra: list[tuple[str, str]] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    alt_ids: dict[str, str] = field(default_factory=dict)
    return_path: str | None = None

    @property
    def references(self) -> list[str]:
        return [*self.reply.references[-8:], self.reply.mid] if self.reply else []


@dataclass(eq=False)
class Event:
    uid: str
    summary: str
    start: datetime
    end: datetime
    organizer: Addr
    attendees: list[tuple[str, str, str, str]]  # name, address, CUTYPE, PARTSTAT
    status: str = "CONFIRMED"
    location: str = ""
    rrule: dict | None = None
    exdates: list[datetime] = field(default_factory=list)
    overrides: dict[datetime, tuple[datetime, datetime, str]] = field(default_factory=dict)
    all_day: bool = False
