"""`make demo`'s main job, timed: ``syncd demo`` on a fresh home, then again in that home.

A newcomer's first command generates a synthetic network (mail and calendar), imports it,
runs the rules and writes the report; it should be done while they read its first lines.
Each round uses a new home (the first run) and runs the demo a second time in it (the
import finds everything known). Wall time is the median over the rounds.

    .venv/bin/python bench/demo.py                          # 3 rounds
    .venv/bin/python bench/demo.py --rounds 1 --summary-json /tmp/demo.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.sections import machine  # noqa: E402

TARGET_SECONDS = 30.0


def timed_demo(home: Path, out: Path) -> float:
    """Wall seconds of one ``syncd demo``; a failure ends the benchmark with its output."""
    started = time.monotonic()
    proc = subprocess.run(
        # as the console script runs it (bench/ingest.py's run_ours does the same)
        [sys.executable, "-m", "syncd", "--home", str(home), "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=REPO,
    )
    took = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"syncd demo failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return took


def measure(rounds: int) -> dict[str, list[float]]:
    """Per round: the first demo in a fresh home, and the second in the same home."""
    first, again = [], []
    for _ in range(rounds):
        root = Path(tempfile.mkdtemp(prefix="syncd-bench-demo-"))
        try:
            first.append(timed_demo(root / "home", root / "out1"))
            again.append(timed_demo(root / "home", root / "out2"))
        finally:
            shutil.rmtree(root, ignore_errors=True)
    return {"first": first, "again": again}


def summary_rows(times: dict[str, list[float]]) -> list[dict]:
    """Rows in the shared bench summary format (``--summary-json``)."""
    load = os.getloadavg()[0]
    rows = []
    for key, metric in (("first", "fresh home"), ("again", "second run, same home")):
        values = times[key]
        median = statistics.median(values)
        rows.append(
            {
                "bench": "demo",
                "metric": f"syncd demo, {metric}",
                "value": round(median, 2),
                "unit": "s",
                "target": f"<= {TARGET_SECONDS:g} s",
                "ok": median <= TARGET_SECONDS,
                "detail": f"median of {len(values)} (max {max(values):.2f} s); load {load:.1f}",
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="fresh homes to time (default 3)")
    parser.add_argument("--summary-json", type=Path, help="write the shared summary rows here")
    args = parser.parse_args()
    print(machine())
    times = measure(max(1, args.rounds))
    rows = summary_rows(times)
    for row in rows:
        print(f"{row['metric']}: {row['value']} s ({row['detail']}; target {row['target']})")
    if args.summary_json:
        args.summary_json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
