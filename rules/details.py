"""Loading the per-touchpoint details some rules ask for, in batches.

Rules name what they need (:mod:`rules.base`); the engine groups people by
detail and start instant and calls these loaders once per group, so a full
evaluation issues a handful of indexed queries rather than one per person.
Each logical message or meeting counts once per person, even when several of
their addresses were on it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable

import sqlite_utils

from rules.base import History, Mail, Meeting
from syncd.core.keys import key64
from syncd.mail.addresses import match_key
from syncd.mail.metadata import message_id_key
from syncd.mail.subjects import reply_subject
from syncd.store.db import messages_by_key, select_in

PREFIX = 64


def addresses_of(db: sqlite_utils.Database, people: Iterable[int]) -> dict[int, list[str]]:
    """Each person's addresses."""
    out: dict[int, list[str]] = defaultdict(list)
    sql = "SELECT address, person_id FROM addresses WHERE person_id IN (?...)"
    for address, pid in select_in(db, sql, sorted(set(people))):
        out[pid].append(address)
    return out


def _full_history(
    db: sqlite_utils.Database, addresses: list[str], now: int
) -> list[tuple[int, str]]:
    seen: dict[tuple[str, int], int] = {}
    for kind, ref, at in select_in(
        db,
        "SELECT kind, ref, at FROM touchpoints WHERE address IN (?...) AND at <= ?",
        addresses,
        after=(now,),
    ):
        seen[(kind, ref)] = at
    return sorted(((at, kind) for (kind, _), at in seen.items()), reverse=True)


def load_history(
    db: sqlite_utils.Database, people: list[int], now: int, totals: dict[int, int]
) -> dict[int, History]:
    """Past touchpoints ``(at, kind)`` per person, newest first, read lazily.

    The newest :data:`PREFIX` come from one indexed query per person; the rest
    only when a rule reads that far. ``totals`` are the touch counts.
    """
    out: dict[int, History] = {}
    for pid, addresses in addresses_of(db, people).items():
        total = totals.get(pid, 0)

        def rest(addresses: list[str] = addresses) -> list[tuple[int, str]]:
            return _full_history(db, addresses, now)

        if len(addresses) > 1:
            out[pid] = History(rest(), total)
            continue
        prefix = db.execute(
            "SELECT at, kind FROM touchpoints INDEXED BY touchpoints_address"
            " WHERE address = ? AND at <= ? ORDER BY at DESC LIMIT ?",
            [addresses[0], now, PREFIX],
        ).fetchall()
        out[pid] = History(prefix, total, rest)
    for pid in people:
        out.setdefault(pid, History([], 0))
    return out


def _my_forms(db: sqlite_utils.Database) -> tuple[tuple[str, ...], bool]:
    """My addresses as quoted JSON strings, and whether any is a Gmail one (match by key)."""
    rows = db.execute("SELECT address, match_key FROM my_addresses").fetchall()
    # as syncd.mail.metadata.encode_recipients stores them (non-ASCII kept), and as older rows do
    forms = tuple({json.dumps(a, ensure_ascii=ascii) for a, _ in rows for ascii in (False, True)})
    return forms, any(a != k for a, k in rows) or any(k.endswith("@gmail.com") for _, k in rows)


def _direct(recipients: str, forms: tuple[str, ...], by_key: bool, me: frozenset[str]) -> bool:
    """Whether one of my addresses is in To (a fast text test, parsed only for Gmail keys)."""
    head = recipients.split('"cc":', 1)[0]
    if any(f in head for f in forms):
        return True
    if not by_key:
        return False
    return any(match_key(a) in me for a in json.loads(recipients).get("to", []))


def load_mail(
    db: sqlite_utils.Database, people: list[int], since: int, now: int, me: frozenset[str]
) -> dict[int, list[Mail]]:
    """Mail exchanged with each person in ``[since, now]``, oldest first."""
    forms, by_key = _my_forms(db)
    found: dict[int, dict[int, Mail]] = defaultdict(dict)
    for pid, kind, ref, at, subject, irt, root, recipients in select_in(
        db,
        "SELECT a.person_id, t.kind, t.ref, t.at, m.subject, m.in_reply_to, m.thread_root,"
        " CASE WHEN t.kind = 'email_in' THEN m.recipients END"
        " FROM addresses a JOIN touchpoints t ON t.address = a.address"
        " JOIN messages m ON m.id = t.ref"
        " WHERE a.person_id IN (?...) AND t.kind IN ('email_in', 'email_out')"
        " AND t.at >= ? AND t.at <= ?",
        sorted(people),
        after=(since, now),
    ):
        mails = found[pid]
        if ref in mails:
            continue
        inbound = kind == "email_in"
        direct = inbound and bool(recipients) and _direct(recipients, forms, by_key, me)
        mails[ref] = Mail(ref, at, inbound, subject or "", direct, irt, root)
    _attach_msgids(db, [m for mails in found.values() for m in mails.values()])
    out = {}
    for pid in people:
        mails = list(found.get(pid, {}).values())
        mails.sort(key=lambda m: (m.at, m.ref))
        out[pid] = mails
    return out


def load_starts(
    db: sqlite_utils.Database, people: list[int], since: int, now: int
) -> dict[int, list[tuple[int, bool]]]:
    """Thread starts ``(at, mine)`` with each person in ``[since, now]``, oldest first.

    A start is a message that is not a reply: no In-Reply-To or References and
    no Re:-style subject (a forward starts a thread).
    """
    found: dict[int, dict[int, tuple[int, bool]]] = defaultdict(dict)
    for pid, kind, ref, at, subject in select_in(
        db,
        "SELECT a.person_id, t.kind, t.ref, t.at, m.subject"
        " FROM addresses a JOIN touchpoints t ON t.address = a.address"
        " JOIN messages m ON m.id = t.ref"
        " WHERE a.person_id IN (?...) AND t.kind IN ('email_in', 'email_out')"
        " AND t.at >= ? AND t.at <= ? AND m.in_reply_to IS NULL AND m.thread_root IS NULL"
        # a cheap pre-filter for the commonest reply prefixes; reply_subject() decides
        " AND NOT (ltrim(m.subject) LIKE 're:%' OR ltrim(m.subject) LIKE 're :%')",
        sorted(people),
        after=(since, now),
    ):
        if not reply_subject(subject):
            found[pid][ref] = (at, kind == "email_out")
    return {pid: sorted(found.get(pid, {}).values()) for pid in people}


def _attach_msgids(db: sqlite_utils.Database, mails: list[Mail]) -> None:
    """Give each message the Message-IDs that other loaded messages refer to it by."""
    wanted = sorted({r for m in mails for r in (m.in_reply_to, m.thread_root) if r})
    if not wanted:
        return
    owner: dict[int, list[str]] = defaultdict(list)
    by_key = {key64(message_id_key(r)): r for r in wanted}
    for key, mid in messages_by_key(db, list(by_key)).items():
        owner[mid].append(by_key[key])
    for m in mails:
        if m.ref in owner:
            m.msgids = tuple(sorted(owner[m.ref]))


def load_meetings(
    db: sqlite_utils.Database, people: list[int], since: int, now: int
) -> dict[int, list[Meeting]]:
    """Meetings with each person that ended in ``[since, now]``, and their follow-up mail.

    A meeting is followed up by the first outbound mail to any of its attendees
    after its end (up to ``now``); the rule decides whether it came in time.
    """
    mine: dict[int, dict[int, int]] = defaultdict(dict)
    for pid, ref, at in select_in(
        db,
        "SELECT a.person_id, t.ref, t.at FROM addresses a"
        " JOIN touchpoints t ON t.address = a.address"
        " WHERE a.person_id IN (?...) AND t.kind = 'meeting' AND t.at >= ? AND t.at <= ?",
        sorted(people),
        after=(since, now),
    ):
        mine[pid][ref] = at
    refs = sorted({r for meetings in mine.values() for r in meetings})
    attendees: dict[int, set[str]] = defaultdict(set)
    titles: dict[int, str] = {}
    for ref, address in select_in(
        db, "SELECT ref, address FROM touchpoints WHERE kind = 'meeting' AND ref IN (?...)", refs
    ):
        attendees[ref].add(address)
    titles.update(select_in(db, "SELECT id, summary FROM events WHERE id IN (?...)", refs))
    ends = {ref: at for meetings in mine.values() for ref, at in meetings.items()}
    followed: dict[int, tuple[int, str]] = {}
    by_address: dict[str, list[int]] = defaultdict(list)
    for ref, addresses in attendees.items():
        for address in addresses:
            by_address[address].append(ref)
    addresses = sorted(by_address)
    if ends:
        lo = min(ends.values())
        for address, at in select_in(
            db,
            "SELECT address, at FROM touchpoints INDEXED BY touchpoints_cover"
            " WHERE address IN (?...) AND kind = 'email_out' AND at > ? AND at <= ?",
            addresses,
            after=(lo, now),
        ):
            for ref in by_address[address]:
                if ends[ref] < at:
                    best = followed.get(ref)
                    if best is None or (at, address) < best:
                        followed[ref] = (at, address)
    out: dict[int, list[Meeting]] = {}
    for pid in people:
        meetings = []
        for ref, end in sorted(mine.get(pid, {}).items(), key=lambda x: (x[1], x[0])):
            f = followed.get(ref)
            meetings.append(
                Meeting(
                    ref=ref,
                    end=end,
                    title=titles.get(ref) or "",
                    attendees=len(attendees.get(ref, ())),
                    followed_at=f[0] if f else None,
                    followed_to=f[1] if f else None,
                )
            )
        out[pid] = meetings
    return out


def co_attendees(db: sqlite_utils.Database, people: list[int], since: int, now: int) -> set[int]:
    """People who shared a meeting ending in ``[since, now]`` with any of ``people``."""
    refs = {
        r
        for (r,) in select_in(
            db,
            "SELECT t.ref FROM addresses a JOIN touchpoints t ON t.address = a.address"
            " WHERE a.person_id IN (?...) AND t.kind = 'meeting' AND t.at >= ? AND t.at <= ?",
            sorted(people),
            after=(since, now),
        )
    }
    return {
        p
        for (p,) in select_in(
            db,
            "SELECT DISTINCT a.person_id FROM touchpoints t"
            " JOIN addresses a ON a.address = t.address"
            " WHERE t.kind = 'meeting' AND t.ref IN (?...)",
            sorted(refs),
        )
    }
