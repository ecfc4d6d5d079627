"""The logical message: the merged state of every copy of one message, and its rows.

Copies sharing a Message-ID or a fingerprint are one logical message (design.md §2 rule 2).
:class:`LogicalMessage` merges them with commutative operations (the smallest hash is the
canonical copy; recipients, bulk signals and names are unions), so import order never
matters. The functions here build and compare the ``messages`` rows and the touchpoint rows
of a message; they read and write nothing (:mod:`syncd.pipeline.ingest` owns the tables).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field

from connectors.base import MailObservation
from syncd.mail.metadata import encode_names, encode_recipients
from syncd.mail.touchpoints import MessageFacts, message_touchpoints, plain_touchpoints


@dataclass(slots=True)
class LogicalMessage:
    """The merged state of one logical message while a batch is applied."""

    id: int
    canonical_hash: str
    sender: str | None
    sent_at: int | None
    subject: str
    to: list[str]
    cc: list[str]
    bcc: list[str]
    bulk: set[str]
    signals: set[str]
    copies: int
    in_reply_to: str | None
    thread_root: str | None
    names: dict[str, str] = field(default_factory=dict)
    encoded: tuple[str, str] | None = None  # stored recipients and names, while unchanged

    def absorb(self, other: LogicalMessage) -> None:
        """Merge ``other`` into this state (commutative, associative)."""
        self.encoded = None
        if other.canonical_hash < self.canonical_hash:
            self.canonical_hash = other.canonical_hash
            self.sender, self.sent_at, self.subject = other.sender, other.sent_at, other.subject
            self.in_reply_to = other.in_reply_to
            self.thread_root = other.thread_root
        self.to = _union(self.to, other.to)
        self.cc = _union(self.cc, other.cc)
        self.bcc = _union(self.bcc, other.bcc)
        self.bulk |= other.bulk
        self.signals |= other.signals
        self.copies += other.copies
        for address, name in other.names.items():
            _keep_smallest_name(self.names, address, name)

    def facts(self) -> MessageFacts:
        """The view the touchpoint rules need."""
        return MessageFacts(
            sender=self.sender,
            sent_at=self.sent_at,
            to=self.to,
            cc=self.cc,
            bcc=self.bcc,
            bulk=sorted(self.bulk) if self.bulk else [],
            signals=sorted(self.signals) if self.signals else [],
        )

    def row(self) -> tuple:
        """The ``messages`` table row."""
        if self.encoded is None:
            self.encoded = (
                encode_recipients(self.to, self.cc, self.bcc),
                encode_names(self.names),
            )
        return (
            self.id,
            self.canonical_hash,
            self.sender,
            self.sent_at,
            self.subject,
            self.encoded[0],
            _stored_tags(self.bulk),
            _stored_tags(self.signals),
            self.copies,
            self.in_reply_to,
            self.thread_root,
            self.encoded[1],
        )


def _stored_tags(tags: Collection[str]) -> str | None:
    """The stored form of a set of bulk signals: sorted, comma-separated, or NULL."""
    return ",".join(sorted(tags)) or None if tags else None


def _union(a: list[str], b: list[str]) -> list[str]:
    return sorted(set(a) | set(b))


def from_observation(obs: MailObservation, new_id: int) -> LogicalMessage:
    """The state of a message known from one copy, ``obs``, stored as ``new_id``."""
    s = obs.summarized()
    return LogicalMessage(
        id=new_id,
        canonical_hash=obs.hash,
        sender=s.sender,
        sent_at=s.sent_at,
        subject=s.subject,
        # Each list is already free of duplicates; order only matters once merged
        # (absorb sorts) and the stored form comes ready-made in ``encoded``.
        to=s.to,
        cc=s.cc,
        bcc=s.bcc,
        bulk=set(s.bulk),
        signals=set(obs.signals),
        copies=1,
        in_reply_to=s.in_reply_to,
        thread_root=s.references[0] if s.references else s.in_reply_to,
        names=dict(s.names),
        encoded=(s.stored_recipients(), s.stored_names()),
    )


def single_row(obs: MailObservation, new_id: int) -> tuple:
    """The ``messages`` row of a new message of one copy (what
    ``from_observation(obs, new_id).row()`` gives, without the merged state)."""
    s = obs.summary
    return (
        new_id,
        obs.hash,
        s.sender,
        s.sent_at,
        s.subject,
        s.stored_recipients(),
        _stored_tags(s.bulk),
        _stored_tags(obs.signals),
        1,
        s.in_reply_to,
        s.references[0] if s.references else s.in_reply_to,
        s.stored_names(),
    )


def single_touchpoints(
    obs: MailObservation, new_id: int, me: frozenset[str], broadcast_threshold: int
) -> list[tuple]:
    """The touchpoint rows of a new message of one copy (as :func:`touchpoint_rows` of
    its merged state)."""
    s = obs.summary
    if s.bulk or obs.signals:
        return []
    found = plain_touchpoints(s.sender, s.sent_at, s.to, s.cc, s.bcc, me, broadcast_threshold)
    if not found:
        return found
    names, at = s.names, s.sent_at
    return [(kind, new_id, address, at, names.get(address)) for kind, address in found]


def same_facts(row: tuple, copies: list[MailObservation]) -> bool:
    """True when merging ``copies`` into the stored message ``row`` changes nothing but
    the canonical copy and the copy count (compared in stored form, nothing decoded)."""
    _, _, sender, sent_at, subject, recipients, bulk, signals, _, _, _, names = row
    for obs in copies:
        s = obs.summary
        if (
            s.sender != sender
            or s.sent_at != sent_at
            or s.subject != subject
            or s.stored_recipients() != recipients
            or _stored_tags(s.bulk) != bulk
            or _stored_tags(obs.signals) != signals
            or s.stored_names() != names
        ):
            return False
    return True


def canonical_update(row: tuple, copies: list[MailObservation]) -> tuple:
    """Parameters of the ``messages`` update for more copies with the same facts."""
    message_id, canonical, irt, root = row[0], row[1], row[9], row[10]
    for obs in copies:
        if obs.hash < canonical:
            s = obs.summary
            canonical, irt = obs.hash, s.in_reply_to
            root = s.references[0] if s.references else s.in_reply_to
    return (canonical, irt, root, len(copies), message_id)


def from_row(row: tuple) -> LogicalMessage:
    """The state of a stored message, from its ``messages`` row (the columns of
    :meth:`LogicalMessage.row`, in that order)."""
    (id_, chash, sender, sent_at, subject, recipients, bulk, signals, copies, irt, root, names) = (
        row
    )
    r = json.loads(recipients)
    return LogicalMessage(
        id=id_,
        canonical_hash=chash,
        sender=sender,
        sent_at=sent_at,
        subject=subject,
        to=r["to"],
        cc=r["cc"],
        bcc=r["bcc"],
        bulk=set(bulk.split(",")) if bulk else set(),
        signals=set(signals.split(",")) if signals else set(),
        copies=copies,
        in_reply_to=irt,
        thread_root=root,
        names=json.loads(names),
    )


def _keep_smallest_name(names: dict[str, str], address: str, name: str) -> None:
    """Record ``name`` for ``address`` unless a smaller non-empty one is known (order-free)."""
    current = names.get(address, "")
    if not current or (name and name < current):
        names[address] = name


def touchpoint_rows(
    state: LogicalMessage, me: frozenset[str], broadcast_threshold: int
) -> list[tuple]:
    """The ``touchpoints`` rows of one merged logical message."""
    if state.bulk or state.signals:
        return []  # the cheap early exit of message_touchpoints
    return [
        (kind, state.id, address, state.sent_at, state.names.get(address))
        for kind, address in message_touchpoints(state.facts(), me, broadcast_threshold)
    ]
