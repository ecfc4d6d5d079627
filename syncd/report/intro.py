"""Warm intro paths (``syncd intro TARGET``): who in my network could introduce me (read-only).

An introducer is a person I have a tie with (the tier score of design.md §3,
recency-weighted and two-way) who shares messages or meetings with the target.
Their evidence of a tie with the target counts each logical message between
them (one sent, the other received) and each past meeting they both attended as
1, and each message they both received (or one sent to both with others) as
0.5. Paths are ranked by ``tie × evidence``; bulk and broadcast messages and
cancelled or future meetings are no evidence.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import sqlite_utils

from rules.aggregates import load_ranking_inputs
from rules.base import plural
from rules.tiers import score_at
from syncd.core.timeutil import iso
from syncd.mail.addresses import is_valid, match_key
from syncd.mail.touchpoints import ROOM_CUTYPES
from syncd.pipeline.identity import my_keys, people_info, resolve_person
from syncd.pipeline.kinds import nonhuman
from syncd.store.db import get_setting

DIRECT, TOGETHER, MEETING = 1.0, 0.5, 1.0
EVIDENCE_SHOWN = 10  # messages / meetings listed per introducer


@dataclass(frozen=True, slots=True)
class Target:
    """Whom I want to meet: a label, and the addresses or the domain that are them."""

    label: str
    addresses: frozenset[str] = frozenset()
    domain: str | None = None
    person: int | None = None

    def matches(self, address: str) -> bool:
        """Whether ``address`` is the target."""
        if self.domain is not None:
            return address.rpartition("@")[2] == self.domain
        return address in self.addresses or match_key(address) in self.addresses


@dataclass(slots=True)
class _Path:
    direct: int = 0
    together: int = 0
    meetings: int = 0
    messages: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)

    @property
    def evidence(self) -> float:
        return DIRECT * self.direct + TOGETHER * self.together + MEETING * self.meetings


def resolve_target(db: sqlite_utils.Database, ref: str) -> Target:
    """TARGET as typed: an address, a domain (``corp.example`` or ``@corp.example``), a
    people id or an unambiguous name."""
    text = ref.strip().lower()
    if is_valid(text):
        keys = {text, match_key(text)}
        rows = db.execute("SELECT person_id FROM addresses WHERE match_key = ?", [match_key(text)])
        person = next((p for (p,) in rows), None)
        return Target(ref.strip(), frozenset(keys), person=person)
    domain = text.removeprefix("@")
    if "@" not in domain and "." in domain and " " not in domain:
        return Target(f"someone at {domain}", domain=domain)
    person = resolve_person(db, ref)
    rows = db.execute("SELECT address FROM addresses WHERE person_id = ?", [person]).fetchall()
    keys = {a for (a,) in rows} | {match_key(a) for (a,) in rows}
    name = people_info(db, {person})[person]["name"] or ref.strip()
    return Target(name, frozenset(keys), person=person)


def _candidate_messages(db: sqlite_utils.Database, target: Target, now: int) -> list[tuple]:
    """Non-bulk messages up to ``now`` that may involve the target (checked exactly later)."""
    if target.domain is not None:
        needles = [f"@{target.domain}"]
    else:
        needles = sorted(a for a in target.addresses if "@" in a)
    where = " OR ".join("instr(sender, ?) OR instr(recipients, ?)" for _ in needles)
    args = [n for n in needles for _ in range(2)]
    return db.execute(
        "SELECT id, sender, sent_at, subject, recipients FROM messages WHERE bulk IS NULL"
        f" AND sent_at <= ? AND ({where}) ORDER BY sent_at DESC, id DESC",
        [now, *args],
    ).fetchall()


def _candidate_events(db: sqlite_utils.Database, target: Target, now: int) -> list[tuple]:
    """Past, not cancelled events (one copy per key) that may involve the target."""
    needle = f"@{target.domain}" if target.domain else None
    needles = [needle] if needle else sorted(a for a in target.addresses if "@" in a)
    where = " OR ".join("instr(attendees, ?) OR instr(coalesce(organizer, ''), ?)" for _ in needles)
    args = [n for n in needles for _ in range(2)]
    return db.execute(
        "SELECT min(id), key, max(end), summary, organizer, attendees FROM events"
        f" WHERE status != 'cancelled' AND end <= ? AND ({where}) GROUP BY key"
        " ORDER BY max(end) DESC",
        [now, *args],
    ).fetchall()


def intro_paths(
    db: sqlite_utils.Database, now: int, k: float, target: Target, limit: int = 20
) -> list[dict]:
    """The people who could introduce me to ``target``, best path first (see the module)."""
    owner = {a: p for a, p in db.execute("SELECT address, person_id FROM addresses")}
    mine = my_keys(db)
    skip = nonhuman(db) | ({target.person} if target.person is not None else set())
    threshold = int(get_setting(db, "broadcast_threshold", 20))

    def introducer(address: str) -> int | None:
        if target.matches(address) or match_key(address) in mine:
            return None
        pid = owner.get(address)
        return None if pid is None or pid in skip else pid

    paths: dict[int, _Path] = defaultdict(_Path)
    for mid, sender, at, subject, recipients in _candidate_messages(db, target, now):
        r = json.loads(recipients)
        to = set(r["to"]) | set(r["cc"]) | set(r["bcc"])
        if len(to) > threshold or not sender:
            continue
        people = {sender} | to
        if not any(target.matches(a) for a in people):
            continue
        sender_is_target = target.matches(sender)
        seen: set[int] = set()
        for a in sorted(people):
            pid = introducer(a)
            if pid is None or pid in seen:
                continue
            seen.add(pid)
            p = paths[pid]
            direct = sender_is_target or (a == sender)
            p.direct += int(direct)
            p.together += int(not direct)
            if len(p.messages) < EVIDENCE_SHOWN:
                how = "between them" if direct else "both received it"
                p.messages.append({"id": mid, "at": iso(at), "subject": subject, "how": how})
    for eid, _, end, summary, organizer, attendees in _candidate_events(db, target, now):
        people = {organizer} if organizer else set()
        people |= {a[0] for a in json.loads(attendees) if str(a[1]).upper() not in ROOM_CUTYPES}
        if not any(target.matches(a) for a in people):
            continue
        for pid in {p for p in map(introducer, people) if p is not None}:
            p = paths[pid]
            p.meetings += 1
            if len(p.events) < EVIDENCE_SHOWN:
                p.events.append({"id": eid, "at": iso(end), "summary": summary})
    ties = {
        pid: score_at(g, r, now, k).total
        for pid, g, r, _, _ in load_ranking_inputs(db)
        if pid in paths
    }
    ranked = sorted(
        ((ties.get(pid, 0.0) * p.evidence, pid) for pid, p in paths.items() if ties.get(pid)),
        key=lambda sp: (-sp[0], sp[1]),
    )[:limit]
    info = people_info(db, {pid for _, pid in ranked})
    return [
        _path_json(pid, score, ties[pid], paths[pid], info[pid], target) for score, pid in ranked
    ]


def _path_json(pid: int, score: float, tie: float, p: _Path, who: dict, target: Target) -> dict:
    """One introducer as ``syncd intro --json`` prints it."""
    parts = [
        f"{plural(n, 'message')} {what}" if what else plural(n, "meeting") + " together"
        for n, what in (
            (p.direct, "between them"),
            (p.together, "they both received"),
            (p.meetings, ""),
        )
        if n
    ]
    why = (
        f"your tie {tie:.3g} ({who['tier']}) × their evidence {p.evidence:g} with {target.label}"
        f" ({', '.join(parts)})"
    )
    return {
        "person": pid,
        "name": who["name"],
        "emails": who["emails"],
        "tier": who["tier"],
        "score": round(score, 4),
        "tie": round(tie, 4),
        "evidence": p.evidence,
        "messages_between": p.direct,
        "messages_together": p.together,
        "meetings_together": p.meetings,
        "why": why,
        "messages": p.messages,
        "meetings": p.events,
    }


def draft_request(path: dict, target: Target, me: str | None = None) -> str:
    """An introduction request to the introducer of ``path``, in the playbook's five parts
    (context, mutual value, specific ask, easy execution, follow-up promise), to edit."""
    first = (path["name"] or path["emails"][0]).split()[0]
    if path["messages"]:
        m = path["messages"][0]
        seen = f'you and {target.label} have been in touch ("{m["subject"]}", {m["at"][:10]})'
    else:
        e = path["meetings"][0]
        seen = f'you and {target.label} met ("{e["summary"]}", {e["at"][:10]})'
    return "\n".join(
        [
            f"Subject: Would you introduce me to {target.label}?",
            "",
            f"Hi {first},",
            "",
            f"[Context] I noticed {seen}. I am working on <what you are working on>.",
            f"[Mutual value] I would like to talk with {target.label} about <topic>;"
            " it could help them too because <what they gain>.",
            f"[Specific ask] Would you be willing to introduce me to {target.label} by email?",
            "[Easy execution] Here is a short note you can forward as it is: <two lines on"
            " who you are and why you want to meet>.",
            "[Follow-up promise] I will let you know how it goes, and I am glad to return"
            " the favour.",
            "",
            "Thanks,",
            me or "<your name>",
        ]
    )
