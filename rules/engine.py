"""Evaluation: run the rule pack over people and keep the flags in step.

Incremental by default. Triggers (migration ``m002``) record every address
whose touchpoints were written and every person whose addresses, pin or
existence changed. An evaluation at ``now`` then

1. refreshes the cached aggregates of the *changed* people: those recorded,
   plus those with a touchpoint between the previous evaluation instant and
   ``now`` (a meeting that has now happened);
2. recomputes every tier from the cached scores (cheap), since one person's
   score can move others across a tier boundary;
3. evaluates the changed people, the people whose tier changed, the people
   whose re-check instant has passed (windows that slide with time) and, for
   ``meeting_follow_up``, everyone who shared a recent meeting with a changed
   person; and
4. syncs their flags (:func:`syncd.flags.apply_findings`).

Findings with a future due date are stored too, so time passing alone needs no
evaluation. Everyone is evaluated on the first run, when the settings change,
when ``now`` moves backwards, on request, or when so much changed that a full
pass is cheaper. Every outcome depends only on the data, the settings, the
user's actions and ``now``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

import sqlite_utils

from rules.aggregates import (
    Aggregates,
    drop_cache,
    load_cache,
    load_ranking_inputs,
    save_cache,
    scan,
    update_tiers,
)
from rules.base import DAY, HOUR, Finding, Subject
from rules.details import co_attendees, load_history, load_mail, load_meetings
from rules.pack import RULES
from rules.settings import RulesConfig
from rules.tiers import ACQUAINTANCE, assign_tiers, score_at
from syncd.flags import all_flags, apply_findings, expire_flags, manual_touches
from syncd.identity import my_keys
from syncd.store import get_setting, put_setting

log = logging.getLogger(__name__)

STATE_KEY = "rules.state"
STATE_VERSION = 1
FULL_FRACTION = 0.2
FULL_MINIMUM = 2000


@dataclass(slots=True)
class Report:
    """What one evaluation did."""

    mode: str = "incremental"
    people: int = 0
    changed: int = 0
    evaluated: int = 0
    tier_changes: int = 0
    findings: int = 0
    opened: int = 0
    closed: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def _write_transaction(db: sqlite_utils.Database) -> Iterator[bool]:
    """``BEGIN IMMEDIATE`` (no writer can slip in between reading and clearing the
    change marks); a savepoint when the caller already has a transaction.

    Yields whether other connections see the same data (no outer transaction).
    """
    if db.conn.in_transaction:
        with db.atomic():
            yield False
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield True
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def _people_of(db: sqlite_utils.Database, addresses: set[str]) -> set[int]:
    out: set[int] = set()
    items = sorted(addresses)
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        marks = ",".join("?" * len(chunk))
        out.update(
            p
            for (p,) in db.execute(
                f"SELECT person_id FROM addresses WHERE address IN ({marks})", chunk
            )
        )
    return out


def _existing_people(db: sqlite_utils.Database, people: set[int]) -> set[int]:
    out: set[int] = set()
    items = sorted(people)
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        marks = ",".join("?" * len(chunk))
        out.update(p for (p,) in db.execute(f"SELECT id FROM people WHERE id IN ({marks})", chunk))
    return out


def _follow_up_window(config: RulesConfig, now: int) -> int | None:
    c = config.rules["meeting_follow_up"]
    if not config.enabled("meeting_follow_up"):
        return None
    return now - c["hours"] * HOUR - c["expire_days"] * DAY if c["expire_days"] else 0


class _Clock:
    def __init__(self, report: Report):
        self.report = report
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        t = time.perf_counter()
        self.report.timings[name] = round(t - self.t, 4)
        self.t = t


def evaluate(
    db: sqlite_utils.Database, now: int, config: RulesConfig, full: bool = False
) -> Report:
    """Evaluate the rule pack as of ``now`` (incrementally unless ``full``)."""
    report = Report()
    started = time.perf_counter()
    clock = _Clock(report)
    with _write_transaction(db) as parallel:
        state = get_setting(db, STATE_KEY)
        cold = state is None or state.get("version") != STATE_VERSION or state.get("k") != config.k
        everyone = full or cold or state.get("config") != config.fingerprint or now < state["now"]
        touched: set[int] = {p for (p,) in db.execute("SELECT person_id FROM rules_dirty_people")}
        addresses = {a for (a,) in db.execute("SELECT address FROM rules_dirty")}
        if not cold and state["now"] != now:
            lo, hi = sorted((state["now"], now))
            addresses.update(
                a
                for (a,) in db.execute(
                    "SELECT DISTINCT address FROM touchpoints INDEXED BY touchpoints_at"
                    " WHERE at > ? AND at <= ?",
                    [lo, hi],
                )
            )
        touched |= _people_of(db, addresses)
        clock.lap("changes")
        cached_count = db.execute("SELECT count(*) FROM rules_people").fetchone()[0]
        if not cold and len(touched) > max(FULL_MINIMUM, FULL_FRACTION * cached_count):
            cold = everyone = True
        if cold:
            report.mode = "cold"
            fresh = scan(db, now, config.k, None, parallel=parallel)
            changed = set(fresh)
        else:
            report.mode = "full" if everyone else "incremental"
            fresh = scan(db, now, config.k, touched) if touched else {}
            changed = set(touched)
        report.changed = len(changed)
        clock.lap("aggregates")

        # Tiers, from every cached score (with the fresh ones).
        pins = dict(db.execute("SELECT id, tier_pin FROM people WHERE tier_pin IS NOT NULL"))
        old_tier: dict[int, str] = {}
        scores: dict[int, float] = {}
        last: dict[int, int] = {}
        if not cold:
            for pid, g, r, lt, tier in load_ranking_inputs(db):
                old_tier[pid] = tier
                if pid not in changed:
                    scores[pid] = score_at(g, r, now, config.k).total
                    last[pid] = lt
        for pid, agg in fresh.items():
            if agg.touches:
                scores[pid] = score_at(agg.given, agg.received, now, config.k).total
                last[pid] = agg.last_touch or 0
        tiers = assign_tiers(scores, last, pins, config.sizes)
        moved = {p for p, t in tiers.items() if old_tier.get(p, ACQUAINTANCE) != t and p in scores}
        report.tier_changes = len(moved)
        report.people = len(scores)
        clock.lap("tiers")

        # Who to evaluate.
        if everyone:
            targets = set(scores)
        else:
            due = {
                p
                for (p,) in db.execute(
                    "SELECT person_id FROM rules_people WHERE next_check <= ?", [now]
                )
            }
            targets = (changed | moved | due) & set(scores)
            since = _follow_up_window(config, now)
            if since is not None and changed:
                extra = co_attendees(db, sorted(changed), since, now) - changed
                touched |= extra
                targets |= extra & set(scores)
        report.evaluated = len(targets)
        aggs: dict[int, Aggregates] = {p: a for p, a in fresh.items() if p in targets}
        rest = [p for p in targets if p not in aggs]
        if rest:
            cached = load_cache(db, None if everyone else rest)
            aggs.update((p, cached[p].agg) for p in rest)
        clock.lap("targets")

        findings, next_check = _run_rules(db, config, now, targets, aggs, tiers, pins)
        report.findings = len(findings)
        clock.lap("rules")

        # Flags.
        flag_people = set(targets) | (changed - set(scores))
        existing = None
        if everyone:
            existing = all_flags(db)
            flag_people |= {f.person_id for f in existing}
        unscored = flag_people - set(scores)
        gone = unscored - _existing_people(db, unscored)
        report.opened, report.closed = apply_findings(
            db, flag_people, findings, now, touched, gone, existing
        )
        report.closed += expire_flags(db, now)
        clock.lap("flags")

        # Cache and state.
        if cold:
            db.execute("DELETE FROM rules_people")
            save_cache(db, [a for a in fresh.values() if a.touches], tiers, next_check)
        else:
            keep = [a for p, a in fresh.items() if a.touches]
            drop_cache(db, [p for p in changed if p not in scores])
            save_cache(db, keep, tiers, next_check)
            others = (targets | moved) - {a.person_id for a in keep}
            update_tiers(
                db,
                {p: tiers[p] for p in others},
                {p: next_check.get(p) for p in others},
            )
        db.execute("DELETE FROM rules_dirty")
        db.execute("DELETE FROM rules_dirty_people")
        put_setting(
            db,
            STATE_KEY,
            {"version": STATE_VERSION, "now": now, "k": config.k, "config": config.fingerprint},
        )
        clock.lap("store")
    report.seconds = round(time.perf_counter() - started, 4)
    log.info("rules evaluation %s", report)
    return report


def _run_rules(
    db: sqlite_utils.Database,
    config: RulesConfig,
    now: int,
    targets: set[int],
    aggs: dict[int, Aggregates],
    tiers: dict[int, str],
    pins: dict[int, str],
) -> tuple[list[Finding], dict[int, int | None]]:
    """Findings and re-check instants for ``targets``."""
    manual = manual_touches(db, targets, now)
    rules = [(RULES[rid], config.rules[rid]) for rid in RULES if config.enabled(rid)]
    subjects: list[Subject] = []
    wants: dict[str, dict[int, int]] = defaultdict(dict)
    plan: dict[int, list] = {}
    for pid in sorted(targets):
        s = Subject(
            id=pid,
            now=now,
            tier=tiers.get(pid, ACQUAINTANCE),
            pinned=pid in pins,
            agg=aggs[pid],
            manual_touch=manual.get(pid),
        )
        active = [(rule, c) for rule, c in rules if rule.applies(s, c)]
        if not active:
            continue
        for rule, c in active:
            for detail, since in rule.needs(s, c).items():
                current = wants[detail].get(pid)
                wants[detail][pid] = since if current is None else min(current, since)
        plan[pid] = active
        subjects.append(s)
    by_id = {s.id: s for s in subjects}
    if wants["history"]:
        for pid, items in load_history(db, list(wants["history"]), now).items():
            by_id[pid].history = items
    if wants["mail"]:
        me = my_keys(db)
        groups: dict[int, list[int]] = defaultdict(list)
        for pid, since in wants["mail"].items():
            groups[since].append(pid)
        for since, people in groups.items():
            for pid, items in load_mail(db, people, since, now, me).items():
                by_id[pid].mail = items
    if wants["meetings"]:
        hours = config.rules["meeting_follow_up"]["hours"]
        groups = defaultdict(list)
        for pid, since in wants["meetings"].items():
            groups[since].append(pid)
        for since, people in groups.items():
            for pid, items in load_meetings(db, people, since, now, hours).items():
                by_id[pid].meetings = items
    findings: list[Finding] = []
    next_check: dict[int, int | None] = {}
    for s in subjects:
        checks = []
        for rule, c in plan[s.id]:
            findings.extend(rule.evaluate(s, c))
            at = rule.recheck(s, c)
            if at is not None:
                checks.append(at)
        next_check[s.id] = min(checks) if checks else None
    return findings, next_check
