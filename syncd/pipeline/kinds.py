"""Person kinds: the owner of ``person_kinds`` (kind, source, evidence), ``ignores`` and
``kind_people``.

Every person is ``human`` unless evidence or the user says otherwise. The
inference (:func:`classify`) gathers per-address statistics from the logical
messages, runs the detectors of :mod:`syncd.mail.kinds` and stores each non-human
verdict with its evidence (source ``inferred``). The statistics are kept
(:mod:`syncd.pipeline.address_stats`): after a sync that only added messages, a pass
folds in just those and decides again just the people they name (``kind_people`` adds
those whose addresses changed). The user's corrections
(``syncd kind PERSON KIND``, source ``user``) are never overwritten by inference
and survive re-imports and resyncs; ``syncd ignore ADDR|@DOMAIN`` keeps matching
people out of tiers and flags whatever their kind. The rules engine asks
:func:`excluded` for the people it must neither tier nor flag.

Touchpoints are untouched by any of this (design.md §2 holds for every address).
"""

from __future__ import annotations

import json
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
    owner_name_forms,
    squashed_local,
)
from syncd.pipeline import address_stats
from syncd.pipeline.identity import add_my_addresses, my_keys
from syncd.pipeline.ingest import rederive_all
from syncd.store.db import get_setting, put_setting, select_in, write_transaction

STATE_KEY = "kinds.state"
STATS_KEY = "kinds.stats"  # what address_stats was folded from (see _classify_incremental)


@dataclass(frozen=True, slots=True)
class KindInfo:
    """A person's kind, where it came from (``inferred`` / ``user`` / ``default``) and why."""

    kind: str
    source: str
    evidence: list[dict[str, Any]]
    ignored: str | None = None  # the ignore pattern that matches, if any


def _my_names_in(blob: str, mine: frozenset[str], names: set[str]) -> None:
    """Add to ``names`` the display names a message's ``names`` JSON gives my addresses."""
    for address, name in json.loads(blob).items():
        if name and match_key(address) in mine:
            names.add(" ".join(name.lower().split()))


@dataclass(frozen=True, slots=True)
class _Identity:
    """What the self detector compares against: my addresses and display names."""

    addresses: frozenset[str]
    names: frozenset[str]


def _my_addresses(db: sqlite_utils.Database) -> frozenset[str]:
    """The addresses ``my_addresses`` holds (as stored, not match keys)."""
    return frozenset(a for (a,) in db.execute("SELECT address FROM my_addresses"))


def _my_identity(db: sqlite_utils.Database, mine: frozenset[str]) -> _Identity:
    """My addresses and the display names they carry."""
    addresses = _my_addresses(db)
    names: set[str] = set()
    for (blob,) in db.execute("SELECT names FROM messages WHERE names != '{}'"):
        _my_names_in(blob, mine, names)
    return _Identity(addresses, frozenset(names))


def _verdicts(
    stats: dict[str, AddressStats],
    me: _Identity,
    thresholds: dict[str, Any],
    mine: frozenset[str],
) -> dict[str, Verdict]:
    """The verdict on every address of ``stats`` but mine."""
    forms = owner_name_forms(me.addresses, me.names)
    my_names = set(me.names)
    my_domains = {a.partition("@")[2] for a in me.addresses}
    my_locals = {squashed_local(a) for a in me.addresses}
    out: dict[str, Verdict] = {}
    for address, s in stats.items():
        if match_key(address) in mine:
            continue
        evidence = detect_self(s, forms, my_names, my_domains, my_locals) + detect_automated(
            s, thresholds
        )
        out[address] = decide(evidence, thresholds)
    return out


def infer(
    db: sqlite_utils.Database, thresholds: dict[str, Any], mine: frozenset[str]
) -> dict[str, Verdict]:
    """The verdict for every address seen in a message (``human`` ones included)."""
    me = _my_identity(db, mine)
    return _verdicts(address_stats.gather_stats(db, mine), me, thresholds, mine)


def _person_verdicts(
    owners: Iterable[tuple[str, int]], verdicts: dict[str, Verdict]
) -> dict[int, Verdict]:
    """One verdict per person of ``owners`` ((address, person) pairs, in address order):
    ``self`` when any address is; else the agreed non-human kind; else ``human`` with
    whatever weaker evidence was found (kept for ``why``)."""
    by_person: dict[int, list[Verdict]] = defaultdict(list)
    for address, person in owners:
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
    message, a new copy of a stored one (labels, folders, copies), a merge. People
    change with their count and highest id (a merge, a split, a new person) and the
    number of addresses (an address given to a stored person: it votes ``human``)."""
    counts = _probes(db)
    people = db.execute(
        "SELECT count(*), max(rowid), (SELECT count(*) FROM addresses) FROM people"
    ).fetchone()
    return [DETECTORS_VERSION, *counts, *people, sorted(my_keys(db)), sorted(thresholds.items())]


def _probes(db: sqlite_utils.Database) -> list[int]:
    """The highest message and observation ids and the number of merged messages."""
    row = db.execute(
        "SELECT (SELECT max(id) FROM messages), (SELECT max(id) FROM observations),"
        " (SELECT count(*) FROM message_aliases)"
    ).fetchone()
    return [x or 0 for x in row]


def _apply(
    db: sqlite_utils.Database,
    verdicts: dict[int, Verdict],
    thresholds: dict[str, Any],
    people: set[int] | None = None,
) -> int:
    """Store the inferred verdicts of ``people`` (everyone when None), keeping the user's
    corrections; the number of kinds changed."""
    if not thresholds["auto_self"]:  # self candidates stay human until `syncd me add`
        verdicts = {
            p: Verdict("human", 0.0, v.evidence) if v.kind == "self" else v
            for p, v in verdicts.items()
        }
    if people is None:
        rows = db.execute("SELECT person_id, kind, source, evidence FROM person_kinds")
    else:
        rows = select_in(
            db,
            "SELECT person_id, kind, source, evidence FROM person_kinds WHERE person_id IN (?...)",
            sorted(people),
        )
    stored = {p: (k, src, ev) for p, k, src, ev in rows}
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
    return changes


def _mark(
    db: sqlite_utils.Database, thresholds: dict[str, Any], me: _Identity, mine: frozenset[str]
) -> dict[str, Any]:
    """What the stored statistics were folded from (see :func:`_classify_incremental`)."""
    return json.loads(
        json.dumps(
            {
                "version": DETECTORS_VERSION,
                "thresholds": sorted(thresholds.items()),
                "mine": sorted(mine),
                "my_addresses": sorted(me.addresses),
                "my_names": sorted(me.names),
                "probes": _probes(db),
            }
        )
    )


def _classify_full(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> int:
    """Infer every person's kind from every message; store the statistics for the next
    incremental pass."""
    mine = my_keys(db)
    me = _my_identity(db, mine)
    stats = address_stats.gather_stats(db, mine)
    owners = db.execute("SELECT address, person_id FROM addresses ORDER BY address")
    changes = _apply(
        db, _person_verdicts(owners, _verdicts(stats, me, thresholds, mine)), thresholds
    )
    address_stats.clear_stats(db)
    address_stats.save_stats(db, stats.values())
    db.execute("DELETE FROM kind_people")
    put_setting(db, STATS_KEY, _mark(db, thresholds, me, mine))
    return changes


def _classify_incremental(db: sqlite_utils.Database, thresholds: dict[str, Any]) -> int | None:
    """Fold only the messages added since the stored statistics into them and decide
    again only the people whose addresses' statistics (or addresses) changed; the
    number of kinds changed. None when that cannot give what a full pass gives: no
    statistics stored, the detectors, thresholds or my addresses changed, messages
    were merged, a stored message got a new copy (its folders and labels count, and
    its stored row may have been rewritten), or the new mail names me differently."""
    mark = get_setting(db, STATS_KEY)
    if not mark:
        return None
    mine = my_keys(db)
    my_addresses = _my_addresses(db)
    probes = _probes(db)
    last_message, last_copy, merged = mark["probes"]
    if (
        mark["version"] != DETECTORS_VERSION
        or mark["thresholds"] != json.loads(json.dumps(sorted(thresholds.items())))
        or mark["mine"] != sorted(mine)
        or mark["my_addresses"] != sorted(my_addresses)
        or probes[2] != merged
        or probes[0] < last_message
        or probes[1] < last_copy
    ):
        return None
    if db.execute(
        "SELECT 1 FROM observations WHERE id > ? AND +message_id <= ? LIMIT 1",
        [last_copy, last_message],
    ).fetchone():
        return None
    rows = list(address_stats.messages_after(db, last_message))
    my_names = set(mark["my_names"])
    for row in rows:
        if row[5] != "{}":
            _my_names_in(row[5], mine, my_names)
    if len(my_names) != len(mark["my_names"]):
        return None
    folded = address_stats.fold_messages(
        db, rows, mine, last_message, lambda a: address_stats.load_stats(db, a)
    )
    address_stats.save_stats(db, folded.values())
    people = {p for (p,) in db.execute("SELECT person_id FROM kind_people")}
    db.execute("DELETE FROM kind_people")
    touched = sorted(folded)
    people.update(
        p
        for (p,) in select_in(
            db, "SELECT person_id FROM addresses WHERE address IN (?...)", touched
        )
    )
    affected = list(
        select_in(
            db, "SELECT address, person_id FROM addresses WHERE person_id IN (?...)", sorted(people)
        )
    )
    affected.sort()  # address order, as the full pass reads them
    stats = {a: folded.get(a) or address_stats.stored_stats(db, a) for a, _ in affected}
    stats = {a: s for a, s in stats.items() if s is not None}  # no mail: human, no evidence
    me = _Identity(my_addresses, frozenset(my_names))
    verdicts = _verdicts(stats, me, thresholds, mine)
    changes = _apply(db, _person_verdicts(affected, verdicts), thresholds, people)
    put_setting(db, STATS_KEY, _mark(db, thresholds, me, mine))
    return changes


def classify(db: sqlite_utils.Database, thresholds: dict[str, Any], force: bool = False) -> int:
    """Infer every person's kind and store the non-human ones; the number of changes.

    Skipped when nothing it reads changed since the last run (unless ``force``); when
    only new messages arrived, only they are read (:func:`_classify_incremental`). User
    corrections are kept as they are. Runs inside the caller's transaction.
    """
    signature = json.loads(json.dumps(_signature(db, thresholds)))
    if not force and get_setting(db, STATE_KEY) == signature:
        return 0
    changes = None if force else _classify_incremental(db, thresholds)
    if changes is None:
        changes = _classify_full(db, thresholds)
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
            _forget_signature(db, person)
            return
        evidence = json.dumps([Evidence("user", kind, 100.0, "set by you (syncd kind)").as_json()])
        exists = db.execute("SELECT 1 FROM person_kinds WHERE person_id = ?", [person]).fetchone()
        _store_kind(db, person, kind, "user", evidence, exists=exists is not None)
        mark_people(db, [person])


def _forget_signature(db: sqlite_utils.Database, person: int) -> None:
    """Have the next :func:`classify` run and decide ``person`` again (its correction went)."""
    put_setting(db, STATE_KEY, None)
    db.execute("INSERT OR IGNORE INTO kind_people(person_id) VALUES (?)", [person])


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
