"""Profile ``syncd import mbox`` in one process (cProfile), to see where time goes.

    .venv/bin/python bench/profile_ingest.py [--messages 50000] [--workers 1] [--top 40]
    .venv/bin/python bench/profile_ingest.py --sql --no-profile   # time per SQL statement
    .venv/bin/python bench/profile_ingest.py --replay --no-profile  # the SQLite work alone

``--replay`` records every statement (and its parameters) the import sends to
SQLite, replays them alone, in order, into a fresh store (same schema and
pragmas), and times that next to the stdlib baseline of ``bench/ingest.py``:
the floor the one writer sets however lean parsing and Python become.

Builds (or reuses) the bench corpus, imports it into a fresh home under
``bench/work/profile`` and prints the cProfile tables (cumulative and own time)
of the main process; ``--sql`` also times every SQL statement (by its text).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import resource
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.append(str(REPO / "bench"))  # after the repository: bench/rules.py is no package

from ingest import ME, SCRATCH, build_corpus  # noqa: E402


class SqlTimer:
    """Wraps a sqlite3 connection; accumulates wall time per statement text and, when
    ``record``, keeps every statement with its parameters (for :func:`replay`)."""

    def __init__(self, conn, record: bool = False):
        self._conn = conn
        self.times: dict[str, list] = {}
        self.log: list[tuple[str, str, object]] | None = [] if record else None

    def __getattr__(self, name):
        return getattr(self._conn, name)

    def _timed(self, method, sql, *args):
        start, cpu = time.perf_counter(), time.thread_time()
        result = method(sql, *args)
        if hasattr(result, "fetchall") and sql.lstrip().upper().startswith("SELECT"):
            result = _Rows(result.fetchall())
        entry = self.times.setdefault(" ".join(sql.split())[:90], [0, 0.0, 0.0])
        entry[0] += 1
        entry[1] += time.perf_counter() - start
        entry[2] += time.thread_time() - cpu
        return result

    def execute(self, sql, *args):
        if self.log is not None:
            self.log.append(("execute", sql, list(args[0]) if args else []))
        return self._timed(self._conn.execute, sql, *args)

    def executemany(self, sql, *args):
        if self.log is not None:
            args = (list(args[0]),)  # a generator is consumed once
            self.log.append(("executemany", sql, args[0]))
        return self._timed(self._conn.executemany, sql, *args)

    def report(self, messages: int) -> None:
        """Wall and CPU time per statement text (CPU: this thread's, immune to a busy
        machine's run-queue waits), by CPU time."""
        wall = sum(t[1] for t in self.times.values())
        cpu = sum(t[2] for t in self.times.values())
        print(
            f"SQL total {wall:.2f} s wall ({wall / messages * 1e6:.0f} us/msg),"
            f" {cpu:.2f} s CPU ({cpu / messages * 1e6:.0f} us/msg)"
        )
        ranked = sorted(self.times.items(), key=lambda kv: -kv[1][2])[:20]
        for sql, (calls, spent, used) in ranked:
            print(
                f"{spent:8.3f} s {used / messages * 1e6:6.1f} us/msg CPU"
                f" ({spent / messages * 1e6:6.1f} wall) {calls:7d}x  {sql}"
            )


def replay(log: list[tuple[str, str, object]], home: Path) -> tuple[float, SqlTimer]:
    """Run the recorded statements alone into a fresh store under ``home``: seconds
    taken, the final checkpoint included, and the time per statement text."""
    from syncd.store.db import open_db

    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    db = open_db(home / "syncd.db")
    timer = SqlTimer(db.conn)
    start = time.perf_counter()
    for method, sql, params in log:
        if method == "execute":
            timer.execute(sql, params).fetchall()
        else:
            timer.executemany(sql, params)
    db.conn.close()
    return time.perf_counter() - start, timer


def time_baseline(corpus: Path) -> float:
    """Seconds the stdlib baseline of bench/ingest.py takes on ``corpus`` (this process)."""
    from ingest import baseline_import

    db_path = SCRATCH / "profile-baseline.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    start = time.perf_counter()
    baseline_import(corpus, db_path)
    return time.perf_counter() - start


class _Rows(list):
    """Fetched rows that still answer ``fetchone``/``fetchall`` like a cursor."""

    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--no-profile", action="store_true", help="no cProfile (just timings)")
    ap.add_argument("--sql", action="store_true", help="time SQL statements by text")
    ap.add_argument(
        "--replay", action="store_true", help="replay the import's SQL alone; time the baseline"
    )
    args = ap.parse_args()
    corpus = build_corpus(args.messages)
    home = SCRATCH / "profile"
    shutil.rmtree(home, ignore_errors=True)

    from syncd.commands.context import Context
    from syncd.core.home import Home
    from syncd.pipeline.local_import import import_paths

    ctx = Context(Home.resolve(str(home)), 0)
    timer = SqlTimer(ctx.db.conn, record=args.replay) if args.sql or args.replay else None
    if timer:
        ctx.db.conn = timer
    prof = cProfile.Profile(time.thread_time)  # CPU time: a busy machine does not skew it
    start = time.perf_counter()
    if not args.no_profile:
        prof.enable()
    stats = import_paths(
        ctx.db, ctx.home, "mbox", [corpus], list(ME), options={"workers": args.workers}
    )
    if not args.no_profile:
        prof.disable()
    ctx.db.conn.close()  # the final checkpoint counts
    wall = time.perf_counter() - start
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"{stats.observations} messages in {wall:.2f} s: {args.messages / wall:,.0f} msgs/s;"
        f" CPU s: this process {own.ru_utime + own.ru_stime:.1f},"
        f" workers {kids.ru_utime + kids.ru_stime:.1f}"
    )
    if timer and args.sql:
        timer.report(args.messages)
    if args.replay:
        statements = len(timer.log)
        sql_alone, replayed = replay(timer.log, SCRATCH / "profile-replay")
        timer.log = None
        base = time_baseline(corpus)
        n = args.messages
        print(
            f"replayed {statements} statements alone: {sql_alone:.2f} s"
            f" ({n / sql_alone:,.0f} msgs/s); baseline {base:.2f} s ({n / base:,.0f} msgs/s);"
            f" import {wall:.2f} s ({n / wall:,.0f} msgs/s)\n"
            f"ratios to the baseline: the SQLite work alone {base / sql_alone:.1f}x,"
            f" the import {base / wall:.1f}x\nthe replay, by statement:"
        )
        replayed.report(n)
    if not args.no_profile:
        p = pstats.Stats(prof)
        p.sort_stats("cumulative").print_stats(args.top)
        p.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
