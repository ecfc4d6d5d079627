"""The full rules run from scratch at scale, in CPU time per phase (and a cProfile on request).

Runs the evaluation ``bench/rules_scale.py`` times as "full rules run" (no cached
aggregates, no flags: ``syncd flags --rebuild``'s work, person kinds read) on a copy of
that benchmark's store (20k people, 2M touchpoints; build it first with
``bench/rules_scale.py``), ``--repeat`` times in one process, and prints per run the
wall and CPU seconds (this process's CPU, the two reader threads of the aggregate scan
included) and the CPU per phase. CPU is the figure to compare on a shared machine: wall
time follows the load. Every run must leave the same cache and flags (checked).

Usage::

    .venv/bin/python bench/profile_rules.py [--repeat 5] [--profile] [--top 30]

``--profile`` adds one run under cProfile (CPU clock; its overhead inflates Python
calls about threefold, SQLite work not at all) and prints the functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rules.engine as engine  # noqa: E402
from bench.rules import NOW, forget_rules  # noqa: E402
from rules.settings import load_config  # noqa: E402
from syncd.core.home import Home  # noqa: E402
from syncd.pipeline.identity import my_keys  # noqa: E402
from syncd.pipeline.kinds import excluded  # noqa: E402
from syncd.store.db import open_db  # noqa: E402

SOURCE = Path("/tmp/syncd-bench-rules-scale")
HOME = Path("/tmp/syncd-bench-profile-rules")


def outcome(db) -> tuple[list, list]:
    """The evaluation's result: cached aggregates and tiers, and the flags."""
    people = db.execute("SELECT * FROM rules_people ORDER BY person_id").fetchall()
    flags = db.execute("SELECT * FROM flags ORDER BY id").fetchall()
    return people, flags


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs.")
    parser.add_argument("--profile", action="store_true", help="One more run under cProfile.")
    parser.add_argument("--top", type=int, default=30, help="Functions shown by --profile.")
    args = parser.parse_args()
    pristine = SOURCE / "pristine.db"
    if not pristine.exists():
        print(f"no store at {pristine}: run .venv/bin/python bench/rules_scale.py first")
        return 2
    HOME.mkdir(parents=True, exist_ok=True)
    home = Home(HOME)
    for suffix in ("-wal", "-shm"):
        Path(str(home.db_path) + suffix).unlink(missing_ok=True)
    shutil.copyfile(pristine, home.db_path)
    shutil.copyfile(SOURCE / "config.toml", home.config_path)
    db = open_db(home.db_path)
    config = load_config(home.config_path)
    db.execute("SELECT count(*), sum(at) FROM touchpoints INDEXED BY touchpoints_cover").fetchone()

    def cold() -> engine.Report:
        forget_rules(db)
        return engine.evaluate(db, NOW, config, rebuild=True, my_keys=my_keys, excluded=excluded)

    cold()  # settles person kinds and the page cache
    first = outcome(db)
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    reports = []
    for _ in range(args.repeat):
        r = cold()
        reports.append(r)
        same = outcome(db) == first
        # (an older engine without CPU per phase: wall per phase)
        laps = getattr(r, "cpu_timings", None) or r.timings
        phases = ", ".join(f"{k} {v:.3f}" for k, v in laps.items() if v >= 0.0005)
        print(f"wall {r.seconds:.3f} s, CPU {r.cpu_seconds:.3f} s ({phases}); same: {same}")
        if not same:
            return 1
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    cpu = [r.cpu_seconds for r in reports]
    wall = [r.seconds for r in reports]
    print(
        f"full rules run: CPU median {statistics.median(cpu):.3f} s (min {min(cpu):.3f}),"
        f" wall median {statistics.median(wall):.3f} s (min {min(wall):.3f});"
        f" {len(first[0]):,} people cached, {len(first[1]):,} flags"
    )
    if args.profile:
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        cold()
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
