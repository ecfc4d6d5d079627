"""Profile ``syncd import mbox`` in one process (cProfile), to see where time goes.

    .venv/bin/python bench/profile_ingest.py [--messages 50000] [--workers 1] [--top 40]

Builds (or reuses) the bench corpus, imports it into a fresh home under
``bench/work/profile`` and prints the cProfile tables (cumulative and own time).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from ingest import ME, WORK, build_corpus  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--top", type=int, default=40)
    ap.add_argument("--no-profile", action="store_true", help="just time the phases")
    args = ap.parse_args()
    corpus = build_corpus(args.messages)
    home = WORK / "profile"
    shutil.rmtree(home, ignore_errors=True)

    import connectors.mbox as mbox
    from syncd.commands.context import Context
    from syncd.commands.importing import import_paths
    from syncd.home import Home

    original = mbox.reader
    mbox.reader = lambda paths, **kw: original(paths, workers=args.workers, **kw)
    ctx = Context(Home.resolve(str(home)), 0)
    prof = cProfile.Profile()
    start = time.perf_counter()
    if not args.no_profile:
        prof.enable()
    stats = import_paths(ctx, "mbox", [corpus], list(ME), False)
    if not args.no_profile:
        prof.disable()
    wall = time.perf_counter() - start
    print(f"{stats.observations} messages in {wall:.2f} s: {args.messages / wall:,.0f} msgs/s")
    if not args.no_profile:
        p = pstats.Stats(prof)
        p.sort_stats("cumulative").print_stats(args.top)
        p.sort_stats("tottime").print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
