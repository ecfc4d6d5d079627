"""Who an address is: a person, another address of the owner, a robot or a group.

Pure detectors over per-address statistics (:class:`AddressStats`, gathered from the
store by :mod:`syncd.pipeline.kinds`). Each returns :class:`Evidence` items: a signal
name, the kind it points to, a weight and a one-line human explanation. The
thresholds come from the ``[kinds]`` table of ``rules/defaults.toml``.

Kinds: ``human`` (the default: no evidence needed), ``self`` (another address of the
owner), ``automated`` (notifications, alerts, newsletters, ticketing robots) and
``list`` (groups and shared role mailboxes).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("human", "self", "automated", "list")
DETECTORS_VERSION = 8  # bump when a detector changes: stored verdicts are then recomputed

# Local-part words of systems (tokens of the local part, or its suffix for the long ones).
AUTOMATED_WORDS = frozenset(
    [
        "notification",
        "notifications",
        "notify",
        "alert",
        "alerts",
        "system",
        "systems",
        "news",
        "newsletter",
        "newsletters",
        "mailer",
        "bounce",
        "bounces",
        "calendar",
        "report",
        "reports",
        "reporting",
        "updates",
        "update",
        "digest",
        "administrator",
        "admin",
        "daemon",
        "robot",
        "bot",
        "automated",
        "auto",
        "announce",
        "announcements",
        "editor",
        "marketing",
        "promo",
        "promotions",
        "deals",
        "offers",
        "receipts",
        "billing",
        "invoice",
        "invoices",
        "statements",
        "confirm",
        "confirmation",
    ]
)
LIST_WORDS = frozenset(
    [
        "help",
        "helpdesk",
        "support",
        "desk",
        "team",
        "rsvp",
        "info",
        "office",
        "staff",
        "all",
        "everyone",
        "group",
        "hr",
        "sales",
        "service",
        "services",
        "customerservice",
        "contact",
        "enquiries",
        "inquiries",
        "feedback",
        "tickets",
        "ticket",
        "jobs",
        "careers",
        "registrar",
        "reception",
        "frontdesk",
        "conference",
        "annualconference",
        "events",
    ]
)
# Domain labels of mail systems (``robert.jones@mailman.example.com`` is a broadcast).
SYSTEM_DOMAIN_LABELS = frozenset(
    [
        "mailman",
        "lists",
        "list",
        "bounce",
        "bounces",
        "notify",
        "notifications",
        "alerts",
        "news",
        "newsletter",
        "newsletters",
        "mailer",
        "mailings",
        "email-marketing",
    ]
)
# Source classifications of bulk mail: Gmail's categories, Outlook's Focused Inbox *Other*.
OTHER_SIGNALS = frozenset({"OUTLOOK_OTHER"})
_TOKEN = re.compile(r"[a-z]+")
_NUMBERS = re.compile(r"\d+")
_ADDRESS = re.compile(r"\S+@\S+")
_PREFIX = re.compile(r"^((re|fw|fwd|aw|wg|tr|sv)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Evidence:
    """One signal about an address: its name, the kind it supports, its weight, and why."""

    signal: str
    kind: str
    weight: float
    detail: str

    def as_json(self) -> dict[str, Any]:
        """The evidence as a JSON object."""
        return {
            "signal": self.signal,
            "kind": self.kind,
            "weight": self.weight,
            "detail": self.detail,
        }


@dataclass(slots=True)
class AddressStats:
    """What the mail says about one address (logical messages, not copies)."""

    address: str
    names: set[str] = field(default_factory=set)
    sent: int = 0  # messages it sent (any recipient)
    sent_to_me: int = 0  # messages it sent to one of my addresses (To/Cc)
    received_from_me: int = 0  # messages I sent it
    exclusive: int = 0  # messages only between it and my addresses
    with_others: int = 0  # messages with it and someone besides me
    sent_in_sent_folder: int = 0  # messages it sent found in a Sent folder
    sole_recipient: int = 0  # messages not from me, outside Sent folders, to it alone
    writers: set[str] = field(default_factory=set)  # other senders writing to it
    # subject_template() of the messages it sent, counted in first-seen order (ties)
    templates: Counter[str] = field(default_factory=Counter)
    source_signals: Counter[str] = field(default_factory=Counter)  # e.g. CATEGORY_UPDATES


def is_source_category(signal: str) -> bool:
    """Whether ``signal`` is a source's bulk classification (not Gmail's PERSONAL)."""
    return (
        signal.startswith("CATEGORY_") and signal != "CATEGORY_PERSONAL"
    ) or signal in OTHER_SIGNALS


def subject_template(subject: str) -> str:
    """``subject`` with reply prefixes dropped and numbers and addresses replaced."""
    text = _PREFIX.sub("", " ".join(subject.split())).lower()
    return _NUMBERS.sub("#", _ADDRESS.sub("@", text))


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def _word_hits(local: str, words: frozenset[str]) -> list[str]:
    tokens = _tokens(local)
    hits = [t for t in tokens if t in words]
    squashed = "".join(tokens)
    hits += [w for w in words if len(w) >= 6 and squashed.endswith(w) and w not in hits]
    return hits


def detect_automated(stats: AddressStats, t: dict[str, Any]) -> list[Evidence]:
    """Signals that ``stats`` is a robot or a group / role mailbox (thresholds ``t``)."""
    out: list[Evidence] = []
    local, _, domain = stats.address.partition("@")
    answered = stats.received_from_me > 0
    hits = _word_hits(local, AUTOMATED_WORDS)
    if hits:
        out.append(
            Evidence(
                "system_name",
                "automated",
                2.0,
                f"the address names a system ({', '.join(sorted(hits))})",
            )
        )
    hits = _word_hits(local, LIST_WORDS)
    if hits:
        out.append(
            Evidence(
                "role_name",
                "list",
                2.0,
                f"the address names a shared role ({', '.join(sorted(hits))})",
            )
        )
    names = {w for n in stats.names for w in _tokens(n)}
    name_hits = sorted(names & (AUTOMATED_WORDS | {"noreply"}))
    if name_hits:
        out.append(
            Evidence(
                "system_display_name",
                "automated",
                1.0,
                f"the display name names a system ({', '.join(name_hits)})",
            )
        )
    labels = set(domain.split(".")[:-2])
    if labels & SYSTEM_DOMAIN_LABELS:
        out.append(
            Evidence(
                "system_domain",
                "automated",
                2.0,
                f"sent through a mail system ({'.'.join(sorted(labels & SYSTEM_DOMAIN_LABELS))})",
            )
        )
    if stats.sent >= t["one_way_min"] and not answered:
        out.append(
            Evidence(
                "one_way",
                "automated",
                1.0 if stats.sent < t["high_volume"] else 2.0,
                f"{stats.sent} messages from it, none answered",
            )
        )
    if stats.sent >= t["template_min"]:
        counts = stats.templates
        top, repeats = counts.most_common(1)[0] if counts else ("", 0)
        has_number = "#" in top or "@" in top
        worded = len(_tokens(top)) >= 2  # "Build # failed", not "#" or "re"
        if worded and repeats >= t["template_min"] and repeats / stats.sent >= t["template_share"]:
            strong = has_number and not answered and stats.sent >= t["one_way_min"]
            weight = 2.0 if strong else 1.0
            out.append(
                Evidence(
                    "subject_template",
                    "automated",
                    weight,
                    f"{repeats} of {stats.sent} subjects follow one template",
                )
            )
    if stats.sent == 0 and len(stats.writers) >= t["group_min_writers"]:
        out.append(
            Evidence(
                "group",
                "list",
                1.0 if stats.received_from_me else 2.0,
                f"{len(stats.writers)} people write to it and it never writes",
            )
        )
    categories = sum(stats.source_signals.values())
    if stats.sent and categories / stats.sent >= t["category_share"]:
        top = ", ".join(sorted(stats.source_signals))
        out.append(
            Evidence(
                "source_category", "automated", 2.0, f"the mail source classifies its mail as {top}"
            )
        )
    return out


def owner_name_forms(my_addresses: Iterable[str], my_names: Iterable[str]) -> set[str]:
    """Squashed local-part forms of the owner's name (``pallen``, ``phillipallen``...).

    Names come from the local parts of my addresses (``phillip.k.allen``) and from my
    display names (``Phillip K Allen``, ``Allen, Phillip``): first and last name of each.
    """
    forms: set[str] = set()
    pairs: set[tuple[str, str]] = set()
    for address in my_addresses:
        parts = [p for p in _tokens(address.partition("@")[0]) if p]
        if len(parts) >= 2 and len(parts[0]) > 1 and len(parts[-1]) > 1:
            pairs.add((parts[0], parts[-1]))
    for name in my_names:
        if "," in name:
            last, _, first = name.partition(",")
            parts = [*_tokens(first), *_tokens(last)]
        else:
            parts = _tokens(name)
        if len(parts) >= 2 and len(parts[0]) > 1 and len(parts[-1]) > 1:
            pairs.add((parts[0], parts[-1]))
    for first, last in pairs:
        forms |= {first + last, last + first, first[0] + last, last + first[0]}
    return {f for f in forms if len(f) >= 4}


def squashed_local(address: str) -> str:
    """The letters of the local part of ``address`` (``k..allen@x`` → ``kallen``)."""
    return "".join(_tokens(address.partition("@")[0]))


def detect_self(
    stats: AddressStats,
    forms: set[str],
    my_names: set[str],
    my_domains: set[str],
    my_locals: set[str] = frozenset(),  # type: ignore[assignment]
) -> list[Evidence]:
    """Signals that ``stats`` is another address of the owner: a form of my name, my
    display name, or my Sent folders; then what supports such a match (mail delivered
    to it in my mailbox, mail between it and me alone, mail I send it and it never answers).

    ``forms`` are :func:`owner_name_forms`; ``my_locals`` the :func:`squashed_local` forms
    of my addresses (a mangled copy of one on a domain of mine is mine).
    """
    out: list[Evidence] = []
    local, _, domain = stats.address.partition("@")
    tokens = _tokens(local)
    squashed = "".join(tokens)
    first_last = tokens[0] + tokens[-1] if len(tokens) > 2 else squashed
    mine = any(domain == d or domain.endswith("." + d) for d in my_domains)
    mangled = mine and squashed in my_locals
    if squashed in forms or first_last in forms or mangled:
        where = "a domain of mine" if mine else "another domain"
        out.append(
            Evidence(
                "name_form", "self", 2.0, f"the local part is a form of the owner's name on {where}"
            )
        )
    shared = {" ".join(n.lower().split()) for n in stats.names} & my_names
    if shared:
        out.append(
            Evidence(
                "display_name",
                "self",
                3.0,
                f"the same display name as my address ({sorted(shared)[0]})",
            )
        )
    if stats.sent_in_sent_folder >= 2 and stats.sent_in_sent_folder == stats.sent:
        out.append(
            Evidence(
                "sent_folder_sender",
                "self",
                2.0,  # an assistant may send from my Sent folder too: needs support
                f"it sent {stats.sent_in_sent_folder} messages kept in my Sent folders"
                " and nothing else",
            )
        )
    if not out:
        return out  # the signals below only support a name or folder match
    if stats.sole_recipient >= 2:
        out.append(
            Evidence(
                "delivered_to_me",
                "self",
                1.5,
                f"{stats.sole_recipient} messages in my mailbox were addressed to it alone",
            )
        )
    if stats.received_from_me >= 2 and stats.sent == 0:
        out.append(
            Evidence(
                "never_writes_back",
                "self",
                1.0,
                f"I wrote to it {stats.received_from_me} times; it never wrote",
            )
        )
    if stats.exclusive >= 2 and stats.exclusive >= 2 * stats.with_others:
        total = stats.exclusive + stats.with_others
        out.append(
            Evidence(
                "only_with_me",
                "self",
                1.0,
                f"{stats.exclusive} of its {total} messages are between it and me alone",
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Verdict:
    """The kind decided for one address, with every signal found (strongest first)."""

    kind: str
    confidence: float
    evidence: tuple[Evidence, ...]


def decide(evidence: list[Evidence], t: dict[str, Any]) -> Verdict:
    """The kind the evidence supports: a kind whose summed weight reaches the threshold.

    ``self`` needs ``self_threshold`` (its best evidence with another signal, or a
    display-name / Sent-folder match alone); ``automated`` / ``list`` need
    ``automated_threshold``. Otherwise ``human``.
    """
    totals: Counter[str] = Counter()
    for e in evidence:
        totals[e.kind] += e.weight
    ordered = tuple(sorted(evidence, key=lambda e: (-e.weight, e.signal)))
    if totals["self"] >= t["self_threshold"]:
        return Verdict("self", totals["self"], ordered)
    robots = totals["automated"] + totals["list"]
    if robots >= t["automated_threshold"]:
        kind = "list" if totals["list"] > totals["automated"] else "automated"
        return Verdict(kind, robots, ordered)
    return Verdict("human", 0.0, ordered)
