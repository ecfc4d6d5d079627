"""Touchpoint semantics (design.md §2, rules 3–9) as pure functions.

Given a logical message (or an event instance) and my match keys, decide which
touchpoints it yields. No I/O here: :mod:`syncd.pipeline.ingest` stores the results.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from syncd.mail.addresses import is_valid, match_key

EMAIL_OUT = "email_out"
EMAIL_IN = "email_in"
MEETING = "meeting"

DEFAULT_BROADCAST_THRESHOLD = 20
DEFAULT_MAX_MEETING_ATTENDEES = 20

SKIPPED_FOLDER_WORDS = frozenset({"draft", "drafts", "spam", "junk"})
SKIPPED_LABELS = frozenset({"DRAFT", "SPAM"})
_FOLDER_SPLIT = re.compile(r"[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def skipped_folder(folder: str, labels: tuple[str, ...] = ()) -> str | None:
    """Why a copy in ``folder`` (with Gmail ``labels``) is skipped, or ``None``.

    Drafts, Spam and Junk are skipped, by the folder's last path component
    (``[Gmail]/Drafts``, ``Junk E-mail``, ``INBOX.Spam``) or by Gmail label.
    Trash is not: a deleted message was still an interaction.
    """
    for label in labels:
        if label.upper() in SKIPPED_LABELS:
            return "label:" + label.upper()
    last = re.split(r"[/\\]", folder.strip().lower().rstrip("/\\"))[-1]
    if last.startswith("."):
        last = last[1:]
    for part in (last, last.rsplit(".", 1)[-1]):
        words = [w for w in _FOLDER_SPLIT.split(part) if w]
        if words and words[0] in SKIPPED_FOLDER_WORDS:
            return "folder:" + folder
    return None


@dataclass(slots=True)
class MessageFacts:
    """The merged view of one logical message (all its non-skipped copies)."""

    sender: str | None
    sent_at: int | None
    to: list[str]
    cc: list[str]
    bcc: list[str]
    bulk: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)


def message_touchpoints(
    msg: MessageFacts, me: frozenset[str], broadcast_threshold: int = DEFAULT_BROADCAST_THRESHOLD
) -> list[tuple[str, str]]:
    """``(kind, address)`` touchpoints of one logical message (rules 4–7)."""
    if msg.bulk or msg.signals:
        return []
    return plain_touchpoints(
        msg.sender, msg.sent_at, msg.to, msg.cc, msg.bcc, me, broadcast_threshold
    )


def plain_touchpoints(
    sender: str | None,
    sent_at: int | None,
    to: list[str],
    cc: list[str],
    bcc: list[str],
    me: frozenset[str],
    broadcast_threshold: int = DEFAULT_BROADCAST_THRESHOLD,
) -> list[tuple[str, str]]:
    """:func:`message_touchpoints` of a message without bulk signals, from its fields
    (rules 5–7; no :class:`MessageFacts` built)."""
    if sent_at is None or sender is None:
        return []
    recipients = list(dict.fromkeys(to + cc + bcc))
    if len(recipients) > broadcast_threshold:
        return []
    if match_key(sender) in me:
        return [(EMAIL_OUT, r) for r in recipients if match_key(r) not in me]
    if any(match_key(a) in me for a in to + cc):
        return [(EMAIL_IN, sender)]
    return []


ROOM_CUTYPES = frozenset({"ROOM", "RESOURCE"})


def meeting_participants(
    status: str,
    organizer: str | None,
    attendees: list[tuple[str, str, str]],
    me: frozenset[str],
    max_attendees: int = DEFAULT_MAX_MEETING_ATTENDEES,
) -> list[str]:
    """The people I met in an event instance (rule 9), or ``[]``.

    ``attendees`` are ``(address, cutype, partstat)``. The event must not be
    cancelled nor declined by me; the organizer counts as a participant;
    rooms and resources do not. 1 to ``max_attendees`` others qualify.
    Whether the instance has ended is decided at query time (``--now``).
    """
    if status.upper() == "CANCELLED":
        return []
    others: dict[str, str] = {}
    for address, cutype, partstat in attendees:
        if not is_valid(address):
            continue
        key = match_key(address)
        if key in me:
            if partstat.upper() == "DECLINED":
                return []
            continue
        if cutype.upper() in ROOM_CUTYPES:
            continue
        others.setdefault(key, address)
    if organizer and is_valid(organizer) and match_key(organizer) not in me:
        is_resource = any(
            match_key(a) == match_key(organizer) and c.upper() in ROOM_CUTYPES
            for a, c, _ in attendees
        )
        if not is_resource:
            others.setdefault(match_key(organizer), organizer)
    if not 1 <= len(others) <= max_attendees:
        return []
    return list(others.values())
