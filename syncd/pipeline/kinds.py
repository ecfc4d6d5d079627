"""Person kinds: the owner of ``person_kinds`` (kind, source, evidence) and ``ignores``.

Every person is ``human`` unless evidence or the user says otherwise. The
inference (:func:`classify`) gathers per-address statistics from the logical
messages, runs the detectors of :mod:`syncd.mail.kinds` and stores each non-human
verdict with its evidence (source ``inferred``). The user's corrections
(``syncd kind PERSON KIND``, source ``user``) are never overwritten by inference
and survive re-imports and resyncs; ``syncd ignore ADDR|@DOMAIN`` keeps matching
people out of tiers and flags whatever their kind. The rules engine asks
:func:`excluded` for the people it must neither tier nor flag.

Touchpoints are untouched by any of this (design.md §2 holds for every address).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from rules.dirty import mark_people
from syncd.core.errors import UserError
from syncd.mail.addresses import is_valid, match_key
from syncd.mail.kinds import (
    DETECTORS_VERSION,
    KINDS,
    AddressStats,
    Evidence,
    Verdict,
    decide,
    detect_automated,
    detect_self,
    is_source_category,
    owner_name_forms,
    squashed_local,
)
from syncd.pipeline.identity import add_my_addresses, my_keys
from syncd.pipeline.ingest import rederive_all
from syncd.store.db import get_setting, put_setting, write_transaction

STATE_KEY = "kinds.state"
CATEGORY = re.compile(r"CATEGORY_[A-Z]+")
SENT_FOLDER = "(lower(o.folder) LIKE '%sent%' OR o.labels LIKE '%\"SENT\"%')"


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A person's kind, where it came from (``inferred`` / ``user`` / ``default``) and why."""

    kind: str
    source: str
    evidence: list[dict[str, Any]]
    ignored: str | None = None  # the ignore pattern that matches, if any


def _my_identity(db: sqlite_utils.Database, mine: frozenset[str]) -> tuple[set[str], set[str]]:
    """My addresses and the display names they carry."""
    addresses = {a for (a,) in db.execute("SELECT address FROM my_addresses")}
    names: set[str] = set()
    for (blob,) in db.execute("SELECT names FROM messages WHERE names != '{}'"):
        for address, name in json.loads(blob).items():
            if match_key(address) in mine and name:
                names.add(" ".join(name.lower().split()))
    return addresses, names


def gather_stats(db: sqlite_utils.Database, mine: frozenset[str]) -> dict[str, AddressStats]:
    """Per-address statistics over every logical message (see :class:`AddressStats`)."""
    stats: dict[str, AddressStats] = {}

    def get(address: str) -> AddressStats:
        s = stats.get(address)
        if s is None:
            s = stats[address] = AddressStats(address)
        return s

    in_sent: dict[int, int] = {}
    categories: dict[int, set[str]] = {}
    for mid, in_sent_folder, labels in db.execute(
        f"SELECT message_id, max({SENT_FOLDER}), group_concat(labels) FROM observations o"
        " WHERE message_id IS NOT NULL GROUP BY message_id"
    ):
        in_sent[mid] = in_sent_folder
        if labels and "CATEGORY_" in labels:
            categories[mid] = set(CATEGORY.findall(labels)) - {"CATEGORY_PERSONAL"}
    known: dict[str, bool] = {}

    def is_mine(address: str) -> bool:
        hit = known.get(address)
        if hit is None:
            hit = known[address] = match_key(address) in mine
        return hit

    for mid, sender, subject, recipients, signals, names in db.execute(
        "SELECT id, sender, subject, recipients, signals, names FROM messages"
    ):
        parsed = json.loads(recipients)
        direct = [*parsed.get("to", []), *parsed.get("cc", [])]
        rcpts = [*direct, *parsed.get("bcc", [])]
        sender_mine = sender is not None and is_mine(sender)
        if names != "{}":
            for address, name in json.loads(names).items():
                if name:
                    get(address).names.add(name)
        if sender and not sender_mine:
            s = get(sender)
            s.sent += 1
            s.subjects.append(subject or "")
            if any(is_mine(a) for a in direct):
                s.sent_to_me += 1
            if in_sent.get(mid):
                s.sent_in_sent_folder += 1
            found = {x for x in (signals or "").split(",") if is_source_category(x)}
            for signal in found | categories.get(mid, set()):
                s.source_signals[signal] += 1
        theirs = [a for a in rcpts if not is_mine(a)]
        for address in theirs:
            r = get(address)
            if sender_mine:
                r.received_from_me += 1
            elif sender:
                r.writers.add(sender)
        if len(rcpts) == 1 and theirs and not sender_mine and not in_sent.get(mid):
            get(theirs[0]).sole_recipient += 1
        involved_me = sender_mine or len(theirs) < len(rcpts)
        others = set(theirs)
        if sender and not sender_mine:
            others.add(sender)
        for address in others:
            if len(others) == 1 and involved_me:
                get(address).exclusive += 1
            else:
                get(address).with_others += 1
    return stats


def infer(
    db: sqlite_utils.Database, thresholds: dict[str, Any], mine: frozenset[str]
) -> dict[str, Verdict]:
    """The verdict for every address seen in a message (``human`` ones included)."""
    my_addresses, my_names = _my_identity(db, mine)
    forms = owner_name_forms(my_addresses, my_names)
    my_domains = {a.partition("@")[2] for a in my_addresses}
    my_locals = {squashed_local(a) for a in my_addresses}
    out: dict[str, Verdict] = {}
    for address, s in gather_stats(db, mine).items():
        if match_key(address) in mine:
            continue
        evidence = detect_self(s, forms, my_names, my_domains, my_locals) + detect_automated(
            s, thresholds
        )
        out[address] = decide(evidence, thresholds)
    return out


def _person_verdicts(db: sqlite_utils.Database, verdicts: dict[str, Verdict]) -> dict[int, Verdict]:
    """One verdict per person: ``self`` when any address is; else the agreed non-human
    kind; else ``human`` with whatever weaker evidence was found (kept for ``why``)."""
    by_person: dict[int, list[Verdict]] = defaultdict(list)
    for address, person in db.execute("SELECT address, person_id FROM addresses"):
        by_person[person].append(verdicts.get(address, Verdict("human", 0.0, ())))
    out: dict[int, Verdict] = {}
    for person, items in by_person.items():
        selfs = [v for v in items if v.kind == "self"]
        if selfs:
            out[person] = max(selfs, key=lambda v: v.confidence)
        elif all(v.kind != "human" for v in items):
            out[person] = max(items, key=lambda v: v.confidence)
        elif any(v.evidence for v in items):
            out[person] = Verdict("human", 0.0, max((v.evidence for v in items), key=len))
    return out


def _store_kind(
    db: sqlite_utils.Database, person: int, kind: str, source: str, evidence: str, exists: bool
) -> None:
    """Write one person's kind. A plain INSERT or UPDATE, never an upsert: an upsert's
    conflict handling would override the ``OR IGNORE`` of the change-mark triggers."""
    if exists:
        db.execute(
            "UPDATE person_kinds SET kind = ?, source = ?, evidence = ? WHERE person_id = ?",
            [kind, source, evidence, person],
        )
    else:
        db.execute(
            "INSERT INTO person_kinds(person_id, kind, source, evidence) VALUES (?, ?, ?, ?)",
            [person, kind, source, evidence],
        )


def _signature(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> list[Any]:
    """What classification reads, summed up by probes that cost no table scan (a
    ``count(*)`` of ``messages`` reads every page of it: 0.6 s at 2M messages).

    Messages and observations are only ever added (new ids, in ascending order) or
    merged (a retired message leaves a ``message_aliases`` row), so their highest ids
    and the alias count change with every write classification could see: a new
    message, a new copy of a stored one (labels, folders, copies), a merge."""
    counts = db.execute(
        "SELECT (SELECT max(id) FROM messages), (SELECT max(id) FROM observations),"
        " (SELECT count(*) FROM message_aliases)"
    ).fetchone()
    people = db.execute("SELECT count(*), max(rowid) FROM people").fetchone()
    return [DETECTORS_VERSION, *counts, *people, sorted(my_keys(db)), sorted(thresholds.items())]


def classify(db: sqlite_utils.Database, thresholds: dict[str, Any], force: bool = False) -> int:
    """Infer every person's kind and store the non-human ones; the number of changes.

    Skipped when nothing it reads changed since the last run (unless ``force``). User
    corrections are kept as they are. Runs inside the caller's transaction.
    """
    signature = json.loads(json.dumps(_signature(db, thresholds)))
    if not force and get_setting(db, STATE_KEY) == signature:
        return 0
    verdicts = _person_verdicts(db, infer(db, thresholds, my_keys(db)))
    if not thresholds["auto_self"]:  # self candidates stay human until `syncd me add`
        verdicts = {
            p: Verdict("human", 0.0, v.evidence) if v.kind == "self" else v
            for p, v in verdicts.items()
        }
    stored = {
        p: (k, src, ev)
        for p, k, src, ev in db.execute(
            "SELECT person_id, kind, source, evidence FROM person_kinds"
        )
    }
    changes = 0
    for person, (_, source, _) in stored.items():
        if source == "inferred" and person not in verdicts:
            db.execute("DELETE FROM person_kinds WHERE person_id = ?", [person])
            changes += 1
    for person, v in verdicts.items():
        evidence = json.dumps([e.as_json() for e in v.evidence])
        old = stored.get(person)
        if old is not None and old[1] == "user":
            continue
        if old is None or old[0] != v.kind or old[2] != evidence:
            _store_kind(db, person, v.kind, "inferred", evidence, exists=old is not None)
            changes += old is None or old[0] != v.kind
    put_setting(db, STATE_KEY, signature)
    return changes


def _ignored_people(db: sqlite_utils.Database) -> dict[int, str]:
    patterns = [p for (p,) in db.execute("SELECT pattern FROM ignores")]
    if not patterns:
        return {}
    domains = {p[1:]: p for p in patterns if p.startswith("@")}
    exact = {p for p in patterns if not p.startswith("@")}
    out: dict[int, str] = {}
    for address, person in db.execute("SELECT address, person_id FROM addresses"):
        if address in exact:
            out[person] = address
        else:
            domain = address.partition("@")[2]
            for d, pattern in domains.items():
                if domain == d or domain.endswith("." + d):
                    out.setdefault(person, pattern)
    return out


def excluded(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> frozenset[int]:
    """Classify (when anything changed), then the people not to tier or flag:
    every non-human kind and every ignored person."""
    classify(db, thresholds)
    return nonhuman(db)


def refresh(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> int:
    """:func:`classify` in its own write transaction (for views that do not evaluate)."""
    with write_transaction(db):
        return classify(db, thresholds)


def nonhuman(db: sqlite_utils.Database) -> frozenset[int]:
    """The stored non-human and ignored people (reads only; see :func:`excluded`)."""
    out = {p for (p,) in db.execute("SELECT person_id FROM person_kinds WHERE kind != 'human'")}
    return frozenset(out | set(_ignored_people(db)))


def kinds_of(db: sqlite_utils.Database, people: Iterable[int]) -> dict[int, KindInfo]:
    """The kind of each of ``people`` (``human`` by default), with evidence and ignores."""
    wanted = set(people)
    ignored = _ignored_people(db)
    out = {p: KindInfo("human", "default", [], ignored.get(p)) for p in wanted}
    for person, kind, source, evidence in db.execute(
        "SELECT person_id, kind, source, evidence FROM person_kinds"
    ):
        if person in wanted:
            out[person] = KindInfo(kind, source, json.loads(evidence), ignored.get(person))
    return out


def set_kind(db: sqlite_utils.Database, person: int, kind: str | None) -> None:
    """The user's correction: ``person`` is ``kind`` (wins over inference); ``None`` drops it."""
    if kind is not None and kind not in KINDS:
        raise UserError(f"unknown kind {kind!r} (kinds: {', '.join(KINDS)})")
    with db.atomic():
        if kind is None:
            db.execute("DELETE FROM person_kinds WHERE person_id = ? AND source = 'user'", [person])
            _forget_signature(db)
            return
        evidence = json.dumps([Evidence("user", kind, 100.0, "set by you (syncd kind)").as_json()])
        exists = db.execute("SELECT 1 FROM person_kinds WHERE person_id = ?", [person]).fetchone()
        _store_kind(db, person, kind, "user", evidence, exists=exists is not None)
        mark_people(db, [person])


def _forget_signature(db: sqlite_utils.Database) -> None:
    put_setting(db, STATE_KEY, None)


def _normal_pattern(pattern: str) -> str:
    pattern = pattern.strip().lower()
    if pattern.startswith("@"):
        if len(pattern) < 3 or "@" in pattern[1:] or "." not in pattern:
            raise UserError(f"not a domain: {pattern!r} (write @example.com)")
        return pattern
    if not is_valid(pattern):
        raise UserError(f"not an address or @domain: {pattern!r}")
    return pattern


def ignore(db: sqlite_utils.Database, pattern: str) -> str:
    """Keep people matching ``pattern`` (an address or ``@domain``) out of tiers and flags."""
    pattern = _normal_pattern(pattern)
    with db.atomic():
        before = set(_ignored_people(db))
        db.execute("INSERT OR IGNORE INTO ignores(pattern) VALUES (?)", [pattern])
        mark_people(db, set(_ignored_people(db)) - before)
    return pattern


def unignore(db: sqlite_utils.Database, pattern: str) -> bool:
    """Drop ``pattern`` from the ignore list; False when it was not there."""
    pattern = _normal_pattern(pattern)
    with db.atomic():
        before = set(_ignored_people(db))
        gone = db.execute("DELETE FROM ignores WHERE pattern = ?", [pattern]).rowcount
        mark_people(db, before - set(_ignored_people(db)))
    return bool(gone)


def ignores(db: sqlite_utils.Database) -> list[str]:
    """The ignore list, sorted."""
    return sorted(p for (p,) in db.execute("SELECT pattern FROM ignores"))


def corrections(db: sqlite_utils.Database) -> list[tuple[int, str]]:
    """The user's kind corrections: (person, kind)."""
    return list(
        db.execute("SELECT person_id, kind FROM person_kinds WHERE source = 'user' ORDER BY 1")
    )


@dataclass(frozen=True, slots=True)
class SelfCandidate:
    """An address that is probably the owner's, with its evidence and whether it is applied."""

    address: str
    confidence: float
    evidence: tuple[Evidence, ...]
    applied: bool


def self_candidates(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> list[SelfCandidate]:
    """Addresses with any evidence of being mine (strongest first); ``applied`` when their
    person is stored as ``self``."""
    verdicts = infer(db, thresholds, my_keys(db))
    selfs = {
        a
        for (a,) in db.execute(
            "SELECT a.address FROM addresses a JOIN person_kinds k ON k.person_id = a.person_id"
            " WHERE k.kind = 'self'"
        )
    }
    out = []
    for address, v in verdicts.items():
        evidence = tuple(e for e in v.evidence if e.kind == "self")
        if evidence:
            score = sum(e.weight for e in evidence)
            out.append(SelfCandidate(address, score, evidence, address in selfs))
    return sorted(out, key=lambda c: (-c.confidence, c.address))


def accept_me(db: sqlite_utils.Database, address: str) -> bool:
    """``syncd me add``: ``address`` is mine (as ``--me``); False when it already was.

    Touchpoints are rederived when my addresses grew (their directions change).
    """
    with write_transaction(db):
        grew = add_my_addresses(db, [address], source="user")
        if grew:
            rederive_all(db)
    return grew


def kind_summary(db: sqlite_utils.Database) -> dict[str, Any]:
    """What ``syncd status`` and the digest report: people per non-human kind, the
    addresses inferred to be mine (so the user can undo them), ignores and corrections."""
    counts = dict(
        db.execute("SELECT kind, count(*) FROM person_kinds WHERE kind != 'human' GROUP BY kind")
    )
    inferred_self = [
        a
        for (a,) in db.execute(
            "SELECT a.address FROM person_kinds k JOIN addresses a ON a.person_id = k.person_id"
            " WHERE k.kind = 'self' AND k.source = 'inferred'"
            " AND EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
            " ORDER BY a.address"
        )
    ]
    return {
        "by_kind": {k: counts.get(k, 0) for k in KINDS if k != "human"},
        "inferred_self": inferred_self,
        "ignored": len(ignores(db)),
        "corrected": len(corrections(db)),
    }
