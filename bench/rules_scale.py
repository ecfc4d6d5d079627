"""Rules, planning and the read views at scale: 20k people, 2M touchpoints (synthetic).

Measures, on one store built by ``bench/rules.py``'s generator plus one observation per
logical message (what ingest stores and person-kind classification reads):

- **full rules run**: the engine from scratch (no cached aggregates, no flags), as
  ``syncd flags --rebuild`` runs it (person kinds read, my addresses read);
- **incremental**: after a sync-sized batch of 100 new touchpoints written with the
  functions a sync uses (:func:`syncd.pipeline.ingest.insert_touchpoints` for new
  logical messages and meetings), the evaluation the daemon and ``syncd flags`` run
  (person kinds included);
- **planner**: ``gather`` and ``decide`` of one planning run (a local .ics target);
- ``syncd people``, ``syncd flags``, ``syncd why PERSON``: in process (the command's
  work, output captured) and as a subprocess (wall time, interpreter start-up included;
  start-up is measured on its own too).

Usage::

    .venv/bin/python bench/rules_scale.py [--people 20000] [--touchpoints 2000000]
        [--repeat 3] [--summary-json PATH] [--write-results]

The store is cached under ``/tmp`` and reused while the parameters match (``--fresh``
rebuilds it); building it is not part of any figure. Each figure is the median of
``--repeat`` runs (min and CPU time shown too); the machine's load average is printed.
Person kinds: one full pass, then ``--repeat`` batches folded in incrementally (and the
evaluation after each, kinds included), checked against a second full pass. ``--write-results``
replaces the generated block of this script's section of ``bench/RESULTS.md``. Exits 1
only when an incremental outcome differs from a rebuild's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rules.engine as engine  # noqa: E402
from bench.rules import NOW, forget_rules, generate  # noqa: E402
from rules.settings import load_config  # noqa: E402
from syncd.cli import main as cli_main  # noqa: E402
from syncd.config.schema import load_config as load_syncd_config  # noqa: E402
from syncd.core.home import Home  # noqa: E402
from syncd.core.timeutil import iso  # noqa: E402
from syncd.followup.decide import PlaceFollowUp, decide  # noqa: E402
from syncd.followup.outbox import resolve_writer  # noqa: E402
from syncd.followup.planner import plan_steps  # noqa: E402
from syncd.followup.settings import PlannerSettings  # noqa: E402
from syncd.pipeline.identity import my_keys  # noqa: E402
from syncd.pipeline.kinds import classify, excluded, nonhuman, refresh  # noqa: E402
from syncd.store.db import get_setting, open_db, put_setting, write_transaction  # noqa: E402
from tests.support.synthetic import ME, World  # noqa: E402

SEED = 20241206
MARK = "bench.rules_scale"
DEFAULT_HOME = Path("/tmp/syncd-bench-rules-scale")
CONFIG = """\
timezone = "UTC"

[planner]
calendar = "followups.ics"
"""
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Rules, planning and views at scale (`bench/rules_scale.py`)"


def build(home: Home, people: int, touchpoints: int) -> None:
    """Generate the store (touchpoints by ``bench/rules.py``), then its observations and kinds."""
    home.root.mkdir(parents=True, exist_ok=True)
    home.config_path.write_text(CONFIG)
    generate(home.db_path, people, touchpoints)
    conn = sqlite3.connect(home.db_path)
    with conn:
        account = conn.execute("SELECT id FROM accounts WHERE name = 'bench'").fetchone()[0]
        # One copy per logical message: sent mail in Sent, the rest in INBOX.
        conn.execute(
            "INSERT INTO observations(account_id, folder, content_hash, locator, headers,"
            " received_at, message_id) SELECT ?, CASE WHEN sender = ? THEN 'Sent' ELSE 'INBOX'"
            " END, canonical_hash, 'uid:' || id, '{}', sent_at, id FROM messages",
            [account, ME],
        )
    conn.close()
    db = open_db(home.db_path)
    refresh(db, load_config(home.config_path).kinds)  # the first classification
    with db.atomic():
        put_setting(db, MARK, {"people": people, "touchpoints": touchpoints, "v": 1})
    db.execute("ANALYZE")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.conn.close()


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], object]:
    """Wall times of ``repeat`` calls (seconds) and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return times, result


def run_cli(home: Home, now: int, args: list[str]) -> str:
    """One CLI invocation in this process (stdout captured): the command's own work."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli_main(["--home", str(home.root), "--now", iso(now), *args])
    if code:
        raise SystemExit(f"syncd {' '.join(args)} exited {code}")
    return out.getvalue()


def run_subprocess(home: Home, now: int, args: list[str]) -> None:
    """One CLI invocation as a new process."""
    cmd = [sys.executable, "-m", "syncd", "--home", str(home.root), "--now", iso(now), *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def add_batch(world: World, rnd: random.Random, everyone: list[str], now: int) -> int:
    """A sync's worth of new data: 100 touchpoints (40 in, 40 out, 5 meetings of 4)."""
    n = 0
    for i in range(40):
        world.mail_in(rnd.choice(everyone), now - 600 + i, f"scale in {now} {i}")
        world.mail_out(rnd.choice(everyone), now - 500 + i, f"scale out {now} {i}")
        n += 2
    for i in range(5):
        world.meeting(rnd.sample(everyone, 4), now - 400 + i, f"scale meeting {now} {i}")
        n += 4
    return n


def snapshot(db) -> tuple[list, list]:
    """The evaluation's outcome: cached aggregates and tiers, and the flags."""
    people = db.execute(
        "SELECT person_id, n_in, n_out, n_meet, last_touch, given, received, tier"
        " FROM rules_people ORDER BY person_id"
    ).fetchall()
    flags = db.execute("SELECT id, status, due, expires, facts FROM flags ORDER BY id").fetchall()
    return people, flags


# The hot queries, each with the index it is meant to use and why that index exists.
HOT_QUERIES = [
    (
        "full run: per-address aggregates (rules.aggregates._GROUP_SQL)",
        "SELECT address, kind, count(*), min(at), max(at), sum(pow(2.0, at * 1e-7))"
        " FROM touchpoints INDEXED BY touchpoints_cover WHERE address >= 'a' AND"
        " address < 'p' AND at <= 1 GROUP BY address, kind",
        "`touchpoints_cover(address, kind, at)` (m002): the GROUP BY reads the index in"
        " order, covering, no sort and no table access; two threads split it by address.",
    ),
    (
        "incremental: aggregates of the changed addresses",
        "SELECT address, kind, count(*), min(at), max(at), sum(pow(2.0, at * 1e-7))"
        " FROM touchpoints INDEXED BY touchpoints_cover WHERE address IN ('a', 'b')"
        " AND at <= 1 GROUP BY address, kind",
        "the same index: one range per changed address.",
    ),
    (
        "incremental: touchpoints that came due between two evaluations",
        "SELECT DISTINCT address FROM touchpoints INDEXED BY touchpoints_at"
        " WHERE at > 1 AND at <= 2",
        "`touchpoints_at(at)` (m002): a meeting that has now happened, by time range.",
    ),
    (
        "incremental: re-check instants come due",
        "SELECT person_id FROM rules_people WHERE next_check <= 1",
        "`rules_people_next_check` (partial, m004): windows that slide with time.",
    ),
    (
        "incremental: tiers from the top of the ranking (rules.aggregates.top_ranked)",
        "SELECT person_id FROM rules_people INDEXED BY rules_people_rank WHERE rank > 0"
        " ORDER BY rank DESC, last_touch DESC, person_id LIMIT 160",
        "`rules_people_rank` (partial, m004): the 150 tiered people without ranking 20k.",
    ),
    (
        "incremental: co-attendees of changed people's recent meetings",
        "SELECT DISTINCT a.person_id FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.kind = 'meeting' AND t.ref IN (1, 2)",
        "`touchpoints_ref(kind, ref)` (m001).",
    ),
    (
        "syncd flags: the shown flags' keys (rules.flags.shown_keys)",
        "SELECT id, rule, person_id, due FROM flags WHERE status = 'open' AND due < 1"
        " AND (expires IS NULL OR expires >= 1) AND (snoozed_until IS NULL OR"
        " snoozed_until <= 1) ORDER BY due, rule, person_id, id",
        "`flags_shown(status, due, rule, person_id, expires, snoozed_until)` (m015,"
        " replacing `flags(status, due)`): covering, so 17k keys are read without a"
        " lookup into the flags table (its facts JSON) and in due order (only flags"
        " due at the same instant are sorted further).",
    ),
    (
        "syncd flags / planner: tiers of the flagged (identity.people_tiers)",
        "SELECT person_id, tier FROM rules_people INDEXED BY rules_people_tiered"
        " WHERE tier != 'acquaintance'",
        "`rules_people_tiered` (partial, m004): ~150 rows instead of 20k.",
    ),
    (
        "syncd why: people ranked ahead (rules.aggregates.rank_position)",
        "SELECT count(*) FROM rules_people INDEXED BY rules_people_rank WHERE rank > 0"
        " AND (rank > 1 OR (rank = 1 AND (last_touch > 1 OR (last_touch = 1"
        " AND person_id < 1))))",
        "`rules_people_rank`: a count over the index (no table access) instead of"
        " sorting everyone in Python.",
    ),
    (
        "syncd people: every cached score (report.people.top_people)",
        "SELECT person_id, given, received FROM rules_people",
        "the table itself (20k rows): scores at --now need every person's sums.",
    ),
    (
        "syncd people / why: display names of the rows shown (identity.display_names)",
        "SELECT a.person_id, min(t.name) FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.name IS NOT NULL AND t.name != ''"
        " AND a.person_id IN (1, 2) GROUP BY a.person_id",
        "`addresses_person` then `touchpoints_address(address, at)`: only the shown"
        " people's touchpoints (not all 2M).",
    ),
    (
        "person kinds: has anything changed (kinds._signature)",
        "SELECT (SELECT max(id) FROM messages), (SELECT max(id) FROM observations),"
        " (SELECT count(*) FROM message_aliases)",
        "rowid maxima (one B-tree descent each) instead of `count(*)` and"
        " `total(copies)` over 2M messages (0.6 s: a full scan).",
    ),
    (
        "person kinds, incremental: new copies of stored messages (kinds._classify_incremental)",
        "SELECT 1 FROM observations WHERE id > 1 AND +message_id <= 1 LIMIT 1",
        "the rowid range of the copies stored since the last pass (none of them may be a"
        " copy of an older message, whose folders and labels would count).",
    ),
    (
        "person kinds, incremental: the new messages' copies (address_stats.observed)",
        "SELECT message_id, max(lower(o.folder) LIKE '%sent%'), group_concat(labels)"
        " FROM observations o WHERE message_id > 1 GROUP BY message_id",
        "`observations_copy(message_id, ...)` (m008): only the new messages' copies.",
    ),
]


def explain(db) -> list[str]:
    """The EXPLAIN QUERY PLAN of each hot query, as Markdown."""
    out = []
    for label, sql, why in HOT_QUERIES:
        plan = "; ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN " + sql).fetchall())
        out.append(f"- **{label}**: `{plan}`. {why}")
    return out


def stats(times: list[float]) -> tuple[float, float]:
    """``(median, min)``."""
    return statistics.median(times), min(times)


def write_results(rows: list[dict], lines: list[str], plans: list[str], args) -> None:
    """Replace this script's section of ``bench/RESULTS.md`` (the prose after the table
    is kept: it sits between the generated block's markers)."""
    command = (
        f".venv/bin/python bench/rules_scale.py --repeat {args.repeat} --write-results"
        + ("" if args.people == 20_000 else f" --people {args.people}")
        + ("" if args.touchpoints == 2_000_000 else f" --touchpoints {args.touchpoints}")
    )
    table = ["| metric | median | target | ok | detail |", "|---|---:|---|---|---|"]
    for r in rows:
        ok = {True: "yes", False: "**no**", None: ""}[r["ok"]]
        table.append(
            f"| {r['metric']} | {r['value']:,} {r['unit']} | {r['target']} | {ok} | {r['detail']} |"
        )
    block = [
        "<!-- rules_scale:begin (generated by bench/rules_scale.py --write-results) -->",
        f"Command: `{command}` ({time.strftime('%Y-%m-%d', time.gmtime())}).",
        "",
        *table,
        "",
        *[f"- {line}" for line in lines],
        "",
        "EXPLAIN QUERY PLAN of the hot queries (on this store) and why each index exists:",
        "",
        *plans,
        "<!-- rules_scale:end -->",
    ]
    text = RESULTS.read_text()
    begin, end = "<!-- rules_scale:begin", "<!-- rules_scale:end -->"
    if begin in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + "\n".join(block) + tail
    else:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n" + "\n".join(block) + "\n"
    RESULTS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--touchpoints", type=int, default=2_000_000)
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME)
    parser.add_argument("--fresh", action="store_true", help="Rebuild the store.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per figure.")
    parser.add_argument("--summary-json", type=Path, help="Write the shared summary rows here.")
    parser.add_argument("--write-results", action="store_true", help="Update bench/RESULTS.md.")
    args = parser.parse_args()
    home = Home(args.home.resolve())
    wanted = {"people": args.people, "touchpoints": args.touchpoints, "v": 1}
    have = None
    if home.db_path.exists() and not args.fresh:
        db = open_db(home.db_path)
        have = get_setting(db, MARK)
        db.conn.close()
    if have != wanted:
        if home.root.exists():
            shutil.rmtree(home.root)
        t = time.perf_counter()
        print(f"building {args.people} people / {args.touchpoints} touchpoints ...", flush=True)
        build(home, args.people, args.touchpoints)
        print(f"  built in {time.perf_counter() - t:.1f} s", flush=True)
    # Start every run from the same store: the cached copy of the built one.
    pristine = home.root / "pristine.db"
    if not pristine.exists():
        shutil.copyfile(home.db_path, pristine)
    else:
        for suffix in ("-wal", "-shm"):
            Path(str(home.db_path) + suffix).unlink(missing_ok=True)
        shutil.copyfile(pristine, home.db_path)

    db = open_db(home.db_path)
    config = load_config(home.config_path)
    # Person kinds up to date before anything is timed: a pristine copy made before a kinds
    # migration would otherwise re-infer them inside the first timed run (timed below).
    refresh(db, config.kinds)
    n_tp = db.execute("SELECT count(*) FROM touchpoints").fetchone()[0]
    n_people = db.execute("SELECT count(*) FROM people").fetchone()[0]
    n_msg = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    db.execute("SELECT count(*), sum(at) FROM touchpoints INDEXED BY touchpoints_cover").fetchone()
    load_before = os.getloadavg()

    def evaluate(now: int, **kw) -> engine.Report:
        kw.setdefault("excluded", excluded)
        return engine.evaluate(db, now, config, my_keys=my_keys, **kw)

    rows: list[dict] = []
    lines: list[str] = []

    def note(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    def row(metric: str, values: list[float], unit: str, target: str, limit: float | None,
            detail: str) -> None:  # fmt: skip
        med, lo = stats(values)
        rows.append(
            {
                "bench": "rules_scale",
                "metric": metric,
                "value": round(med, 3 if unit == "s" else 1),
                "unit": unit,
                "target": target,
                "ok": None if limit is None else med <= limit,
                "detail": f"{detail}; min {lo:.3f}" if unit == "s" else f"{detail}; min {lo:.1f}",
            }
        )
        print(f"{metric}: median {med:.3f} min {lo:.3f} {unit} ({detail})", flush=True)

    # 1. Full rules run from scratch.
    def cold() -> engine.Report:
        forget_rules(db)
        return evaluate(NOW, rebuild=True)

    reports = [cold() for _ in range(args.repeat)]
    assert all(r.mode == "cold" for r in reports)
    times = [r.seconds for r in reports]
    best = min(reports, key=lambda r: r.seconds)
    cpu = statistics.median(r.cpu_seconds for r in reports)
    row("full rules run", times, "s", "<= 2 s", 2.0,
        f"{n_people:,} people, {n_tp:,} touchpoints; CPU median {cpu:.2f} s")  # fmt: skip
    note(f"full run breakdown (best): {best.timings}")
    fulls = [evaluate(NOW, full=True) for _ in range(args.repeat)]
    cpu = statistics.median(r.cpu_seconds for r in fulls)
    row("full, aggregates cached", [r.seconds for r in fulls], "s", "", None,
        f"everyone re-ruled; CPU median {cpu:.2f} s")  # fmt: skip
    note(f"full cached breakdown (best): {min(fulls, key=lambda r: r.seconds).timings}")

    # 2. Incremental after a sync-sized batch.
    rnd = random.Random(SEED)
    everyone = [a for (a,) in db.execute("SELECT address FROM addresses ORDER BY address")]
    world = World(db)
    now = NOW
    incs = []
    for _ in range(args.repeat):
        now += 3600
        add_batch(world, rnd, everyone, now)
        # The rules with the stored person kinds; their re-inference is timed below.
        incs.append(evaluate(now, excluded=lambda db, _: nonhuman(db)))
    assert all(r.mode == "incremental" for r in incs), [r.mode for r in incs]
    row(
        "incremental after 100 touchpoints",
        [r.seconds * 1000 for r in incs],
        "ms",
        "<= 100 ms",
        100.0,
        f"evaluated {statistics.median(r.evaluated for r in incs):.0f} people, CPU median"
        f" {statistics.median(r.cpu_seconds for r in incs) * 1000:.0f} ms; stored kinds",
    )
    note("incremental breakdowns: " + "; ".join(f"{r.evaluated} people {r.timings}" for r in incs))
    # The incremental outcome equals a full evaluation's at the same instant.
    after_incremental = snapshot(db)
    evaluate(now, rebuild=True, excluded=lambda db, _: nonhuman(db))
    same = snapshot(db) == after_incremental
    note(f"incremental outcome == rebuild outcome at the same instant: {same}")

    # Person kinds: one full pass (every message read; it stores the per-address
    # statistics), then sync-sized batches folded in incrementally, then the daemon's
    # evaluation with its classification included; a second full pass checks the
    # incremental outcome.
    def kinds_pass(force: bool) -> tuple[float, float]:
        t, c = time.perf_counter(), time.process_time()
        with write_transaction(db):
            classify(db, config.kinds, force=force)
        return time.perf_counter() - t, time.process_time() - c

    def stored_kinds() -> list:
        return db.execute("SELECT * FROM person_kinds ORDER BY person_id").fetchall()

    fulls_k = [kinds_pass(force=True)]
    k_incs, k_evals = [], []
    for _ in range(args.repeat):
        now += 3600
        add_batch(world, rnd, everyone, now)
        k_incs.append(kinds_pass(force=False))
        k_evals.append(evaluate(now))  # excluded() classifies: nothing new to fold now
    incremental_kinds = stored_kinds()
    fulls_k.append(kinds_pass(force=True))
    same_kinds = stored_kinds() == incremental_kinds
    note(f"person kinds incremental == a full pass over every message: {same_kinds}")
    row(
        "person kinds, full pass",
        [w for w, _ in fulls_k],
        "s",
        "",
        None,
        f"every message read ({n_msg:,}); CPU median"
        f" {statistics.median(c for _, c in fulls_k):.1f} s; {len(fulls_k)} runs",
    )
    row(
        "person kinds after 100 touchpoints",
        [w * 1000 for w, _ in k_incs],
        "ms",
        "",
        None,
        f"80 new messages folded in; CPU median"
        f" {statistics.median(c for _, c in k_incs) * 1000:.0f} ms",
    )
    both = [c + r.cpu_seconds for (_, c), r in zip(k_incs, k_evals, strict=True)]
    row(
        "incremental after 100 touchpoints, kinds included",
        [(w + r.seconds) * 1000 for (w, _), r in zip(k_incs, k_evals, strict=True)],
        "ms",
        "<= 100 ms",
        100.0,
        "the daemon's evaluation: kinds folded in, then the rules; CPU median"
        f" {statistics.median(both) * 1000:.0f} ms",
    )

    # 3. The planner: gather, decide on tiers, describe the chosen, decide again.
    syncd_config = load_syncd_config(home.config_path)
    settings = PlannerSettings.from_config(syncd_config, home)
    writer = resolve_writer(settings.target, home, syncd_config)
    plans, (inputs, steps) = timed(lambda: plan_steps(db, writer, settings, now), args.repeat)
    placed = sum(isinstance(s, PlaceFollowUp) for s in steps)
    row("planner gather + decide", [t * 1000 for t in plans], "ms", "", None,
        f"{len(inputs.flags):,} open flags, {placed} placed")  # fmt: skip
    decides, _ = timed(
        lambda: decide(
            inputs.flags, inputs.busy, inputs.placed, settings, now,
            people=inputs.people, touched=inputs.touched, taken=inputs.taken,
        ),
        args.repeat,
    )  # fmt: skip
    row("planner decide", [t * 1000 for t in decides], "ms", "", None, f"{len(steps):,} steps")
    db.conn.close()

    # 4. The CLI views, in process and as subprocesses.
    check = open_db(home.db_path)
    person = check.execute(
        "SELECT person_id FROM rules_people WHERE tier = 'core' ORDER BY rank DESC LIMIT 1"
    ).fetchone()[0]
    check.conn.close()
    views = {
        "people": ["people"],
        "flags": ["flags"],
        f"why {person}": ["why", str(person)],
    }
    for name, argv in views.items():
        run_cli(home, now, argv)  # settle (an evaluation to `now` happened above)
        cpu0 = time.process_time()
        times, _ = timed(lambda argv=argv: run_cli(home, now, argv), args.repeat)
        cpu = (time.process_time() - cpu0) / args.repeat * 1000
        row(f"syncd {name.split()[0]} (in process)", [t * 1000 for t in times], "ms",
            "<= 200 ms", 200.0, f"table output, captured; CPU mean {cpu:.0f} ms")  # fmt: skip
        times, _ = timed(lambda argv=argv: run_subprocess(home, now, argv), args.repeat)
        row(f"syncd {name.split()[0]} (subprocess)", [t * 1000 for t in times], "ms", "", None,
            "wall, start-up included")  # fmt: skip
    times, _ = timed(
        lambda: subprocess.run([sys.executable, "-c", "import syncd.cli"], check=True, cwd=ROOT),
        args.repeat,
    )
    row("interpreter + syncd.cli import", [t * 1000 for t in times], "ms", "", None, "start-up")
    load_after = os.getloadavg()
    note(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f};"
        f" {platform.python_implementation()} {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, {os.cpu_count()} CPUs; {n_msg:,} messages"
    )
    if args.summary_json:
        args.summary_json.write_text(json.dumps(rows, indent=1) + "\n")
    check = open_db(home.db_path)
    plans = explain(check)
    check.conn.close()
    print("\n".join(plans))
    if args.write_results:
        write_results(rows, lines, plans, args)
    return 0 if same and same_kinds else 1  # a missed target is a row marked not ok, not a failure


if __name__ == "__main__":
    sys.exit(main())
