"""Evaluation: run the rule pack over people and keep the flags in step.

Incremental by default. Change marks (:mod:`rules.dirty`) record every
address whose touchpoints were written (ingest marks new touchpoints, triggers
from migration ``m002`` deletes and updates) and every person whose addresses,
pin or existence changed, or whose flag the user closed. An evaluation at
``now`` then

1. refreshes the cached aggregates of the *changed* people: those recorded,
   plus those with a touchpoint between the previous evaluation instant and
   ``now`` (a meeting that has now happened);
2. recomputes every tier from the cached scores (cheap), since one person's
   score can move others across a tier boundary;
3. evaluates the changed people, the people whose tier changed, the people
   whose re-check instant has passed (windows that slide with time) and, for
   ``meeting_follow_up``, everyone who shared a recent meeting with a changed
   person; and
4. syncs their flags (:func:`rules.flags.apply_findings`).

Findings with a future due date are stored too, so time passing alone needs no
evaluation. Everyone is evaluated on the first run, when the settings change,
when ``now`` moves backwards, on request, or when so much changed that a full
pass is cheaper. Every outcome depends only on the data, the settings, the
user's actions and ``now``.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlite_utils

from rules.aggregates import (
    Aggregates,
    cached_people,
    clear_cache,
    drop_cache,
    load_cache,
    save_cache,
    scan,
    set_next_checks,
    set_tiers,
    tiered,
    top_ranked,
)
from rules.base import DAY, HOUR, Finding, Subject
from rules.celebrations import contact_dates
from rules.details import co_attendees, load_history, load_mail, load_meetings, load_starts
from rules.dirty import clear_marks, marked_addresses, marked_people
from rules.flags import apply_findings, expire_flags, manual_touches, stored_flags
from rules.introductions import introductions_of
from rules.pack import RULES
from rules.settings import RulesConfig
from rules.tags import person_tags
from rules.tiers import ACQUAINTANCE, rank_score, tiers_from_ranking
from syncd.store.db import get_setting, put_setting, select_in, write_transaction

log = logging.getLogger(__name__)

STATE_KEY = "rules.state"
STATE_VERSION = 1
FULL_FRACTION = 0.2
FULL_MINIMUM = 2000

MyKeys = Callable[[sqlite_utils.Database], frozenset[str]]
"""Reads the match keys of the owner's addresses (``syncd.pipeline.identity.my_keys``)."""

Excluded = Callable[[sqlite_utils.Database, dict], frozenset[int]]
"""Classifies people (given the ``[kinds]`` settings) and returns those who are not
humans or are ignored (``syncd.pipeline.kinds.excluded``): never tiered nor flagged."""


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
    cpu_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    cpu_timings: dict[str, float] = field(default_factory=dict)


def _people_of(db: sqlite_utils.Database, addresses: set[str]) -> set[int]:
    sql = "SELECT person_id FROM addresses WHERE address IN (?...)"
    return {p for (p,) in select_in(db, sql, sorted(addresses))}


def _existing_people(db: sqlite_utils.Database, people: set[int]) -> set[int]:
    return {p for (p,) in select_in(db, "SELECT id FROM people WHERE id IN (?...)", sorted(people))}


def _follow_up_window(config: RulesConfig, now: int) -> int | None:
    c = config.rules["meeting_follow_up"]
    if not config.enabled("meeting_follow_up"):
        return None
    return now - c["hours"] * HOUR - c["expire_days"] * DAY if c["expire_days"] else 0


class _Clock:
    """Wall and CPU time per phase (CPU: this process's, reader threads included)."""

    def __init__(self, report: Report):
        self.report = report
        self.t = time.perf_counter()
        self.cpu = time.process_time()

    def lap(self, name: str) -> None:
        t, cpu = time.perf_counter(), time.process_time()
        self.report.timings[name] = round(t - self.t, 4)
        self.report.cpu_timings[name] = round(cpu - self.cpu, 4)
        self.t, self.cpu = t, cpu


def evaluate(
    db: sqlite_utils.Database,
    now: int,
    config: RulesConfig,
    full: bool = False,
    rebuild: bool = False,
    *,
    my_keys: MyKeys,
    excluded: Excluded | None = None,
) -> Report:
    """Evaluate the rule pack as of ``now``.

    Incremental by default; ``full`` re-evaluates everyone from the cached
    aggregates; ``rebuild`` also recomputes the aggregates from all touchpoints.
    ``my_keys`` reads my addresses' match keys (identity lives above the rules);
    it is called inside the evaluation's transaction, only when a rule needs mail.
    ``excluded`` (called first, inside the transaction) names the people who are not
    humans: they rank as acquaintances and get no flags.
    """
    report = Report()
    started, cpu = time.perf_counter(), time.process_time()
    clock = _Clock(report)
    with write_transaction(db) as parallel:
        others = excluded(db, config.kinds) if excluded is not None else frozenset()
        clock.lap("kinds")
        state = get_setting(db, STATE_KEY)
        cold = (
            rebuild
            or state is None
            or state.get("version") != STATE_VERSION
            or state.get("k") != config.k
        )
        everyone = full or cold or state.get("config") != config.fingerprint or now < state["now"]
        touched: set[int] = marked_people(db)
        addresses = marked_addresses(db)
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
        if not cold and len(touched) > FULL_MINIMUM:
            cached = db.execute("SELECT count(*) FROM rules_people").fetchone()[0]
            if len(touched) > FULL_FRACTION * cached:
                cold = everyone = True
        pins = dict(db.execute("SELECT id, tier_pin FROM people WHERE tier_pin IS NOT NULL"))
        pins.update((p, ACQUAINTANCE) for p in others)
        clock.lap("changes")

        # Aggregates (and tiers, which follow from them).
        if cold:
            report.mode = "cold"
            fresh = scan(db, now, config.k, None, parallel=parallel)
            scored = {p: a for p, a in fresh.items() if a.touches}
            changed = set(fresh)
            clock.lap("aggregates")
            ranks = {p: rank_score(a.given, a.received) for p, a in scored.items()}
            ranked = sorted(scored, key=lambda p: (-ranks[p], -(scored[p].last_touch or 0), p))
            tiers = tiers_from_ranking(ranked, pins, config.sizes)
            moved = {p for p in scored if tiers.get(p, ACQUAINTANCE) != ACQUAINTANCE}
            aggs = scored
            cache = {}
        else:
            report.mode = "full" if everyone else "incremental"
            before = tiered(db)
            fresh = scan(db, now, config.k, touched) if touched else {}
            changed = set(touched)
            scored = {p: a for p, a in fresh.items() if a.touches}
            drop_cache(db, [p for p in changed if p not in scored])
            save_cache(db, scored.values(), before, {})
            clock.lap("aggregates")
            tiers = tiers_from_ranking(
                top_ranked(db, sum(config.sizes.values()) + len(pins)), pins, config.sizes
            )
            candidates = set(before) | set(tiers) | set(scored)
            moved = {
                p for p in candidates if before.get(p, ACQUAINTANCE) != tiers.get(p, ACQUAINTANCE)
            }
            moved &= set(scored) | cached_people(db, moved - set(scored))
            set_tiers(db, {p: tiers.get(p, ACQUAINTANCE) for p in moved})
            aggs = dict(scored)
        report.changed = len(changed)
        report.tier_changes = len(moved)
        clock.lap("tiers")

        # Who to evaluate.
        if everyone:
            if not cold:
                cache = load_cache(db)
                aggs.update((p, c.agg) for p, c in cache.items() if p not in aggs)
            targets = set(aggs)
            report.people = len(aggs)
        else:
            due = {
                p
                for (p,) in db.execute(
                    "SELECT person_id FROM rules_people WHERE next_check <= ?", [now]
                )
            }
            targets = changed | moved | due
            since = _follow_up_window(config, now)
            if since is not None and changed:
                extra = co_attendees(db, sorted(changed), since, now) - changed
                touched |= extra
                targets |= extra
            missing = [p for p in targets if p not in aggs]
            aggs.update((p, c.agg) for p, c in load_cache(db, missing).items())
            targets &= set(aggs)
        report.evaluated = len(targets)
        clock.lap("targets")

        findings, next_check = _run_rules(
            db, config, now, targets - others, aggs, tiers, pins, clock, my_keys
        )
        report.findings = len(findings)

        # Flags.
        flag_people = targets | (changed - set(aggs))
        existing = None
        if everyone:
            existing = stored_flags(db)
            flag_people |= {f.person_id for f in existing}
        unscored = flag_people - targets
        gone = unscored - _existing_people(db, unscored)
        report.opened, report.closed = apply_findings(
            db, flag_people, findings, now, touched, gone, existing, others
        )
        report.closed += expire_flags(db, now)
        clock.lap("flags")

        if cold:
            clear_cache(db)
            save_cache(db, scored.values(), tiers, next_check, ranks)
        elif everyone:
            set_next_checks(
                db,
                {
                    p: next_check.get(p)
                    for p in targets
                    if p in changed or p not in cache or cache[p].next_check != next_check.get(p)
                },
            )
        else:
            set_next_checks(db, {p: next_check.get(p) for p in targets})
        clear_marks(db)
        put_setting(
            db,
            STATE_KEY,
            {"version": STATE_VERSION, "now": now, "k": config.k, "config": config.fingerprint},
        )
        clock.lap("store")
    report.seconds = round(time.perf_counter() - started, 4)
    report.cpu_seconds = round(time.process_time() - cpu, 4)
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
    clock: _Clock,
    my_keys: MyKeys,
) -> tuple[list[Finding], dict[int, int | None]]:
    """Findings and re-check instants for ``targets``."""
    manual = manual_touches(db, targets, now)
    intros = introductions_of(db, targets, now) if config.enabled("intro_followup") else {}
    dates = contact_dates(db, targets) if config.enabled("celebration") else {}
    tags = person_tags(db, targets) if config.rules["dormant"]["tag_days"] else {}
    rules = [(RULES[rid], config.rules[rid]) for rid in RULES if config.enabled(rid)]
    subjects: list[Subject] = []
    wants: dict[str, dict[int, int]] = defaultdict(dict)
    plan: dict[int, list] = {}
    tests = [(rule.applies, rule, c) for rule, c in rules]
    for pid in sorted(targets):
        s = Subject(
            id=pid,
            now=now,
            tier=tiers.get(pid, ACQUAINTANCE),
            pinned=pid in pins,
            agg=aggs[pid],
            manual_touch=manual.get(pid),
            intros=intros.get(pid),
            dates=dates.get(pid, ()),
            tags=tags.get(pid, ()),
        )
        active = [(rule, c) for applies, rule, c in tests if applies(s, c)]
        if not active:
            continue
        for rule, c in active:
            for detail, since in rule.needs(s, c).items():
                current = wants[detail].get(pid)
                wants[detail][pid] = since if current is None else min(current, since)
        plan[pid] = active
        subjects.append(s)
    by_id = {s.id: s for s in subjects}
    clock.lap("subjects")
    if wants["history"]:
        people = list(wants["history"])
        totals = {p: aggs[p].touches for p in people}
        for pid, items in load_history(db, people, now, totals).items():
            by_id[pid].history = items
    loaders = {
        "mail": lambda people, since: load_mail(db, people, since, now, me),
        "meetings": lambda people, since: load_meetings(db, people, since, now),
        "starts": lambda people, since: load_starts(db, people, since, now),
    }
    me = my_keys(db) if wants["mail"] else frozenset()
    for detail, load in loaders.items():
        groups: dict[int, list[int]] = defaultdict(list)
        for pid, since in wants[detail].items():
            groups[since].append(pid)
        for since, people in groups.items():
            for pid, items in load(people, since).items():
                setattr(by_id[pid], detail, items)
    clock.lap("details")
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
    clock.lap("rules")
    return findings, next_check
