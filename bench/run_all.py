"""``make bench``: every benchmark at a size that finishes in a few minutes, one table.

Each script runs as a subprocess with ``--summary-json PATH`` (the shared row
format: bench, metric, value, unit, target, ok, detail) and a time limit; the
rows are printed as one table. A script that does not offer ``--summary-json``
(its ``--help`` does not name it), that fails or that runs out of time shows as
one row saying why. A missed target is marked in the table, never an exit
status: this exits 0 unless it cannot run at all.

    .venv/bin/python bench/run_all.py                     # what `make bench` runs
    .venv/bin/python bench/run_all.py --only daemon_idle,gmail_sync
    .venv/bin/python bench/run_all.py --write-results     # also the summary in RESULTS.md

``--write-results`` replaces the "Summary (make bench)" section at the top of
bench/RESULTS.md (the table, the command, the date and the machine); each
script's own section is written only by that script's own ``--write-results``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.sections import machine, replace_section  # noqa: E402

HEADING = "## Summary (make bench)"
COLUMNS = ("bench", "metric", "value", "unit", "target", "ok", "detail")


@dataclass(frozen=True)
class Bench:
    """One script and the arguments of its few-minutes size."""

    name: str
    scripts: tuple[str, ...]  # the first that exists and offers --summary-json runs
    args: tuple[str, ...]
    timeout: float  # seconds


BENCHES = (
    Bench(
        "gmail_sync",
        ("gmail_sync.py",),
        ("--messages", "10000", "--news", "1000", "--scale", "0.25", "--only", "syncd"),
        600,
    ),
    Bench("daemon_idle", ("daemon_idle.py",), ("--minutes", "2", "--interval", "60"), 600),
    # Three alternating pairs, their median: on this shared machine one pair's ratio moves
    # by ±15 % (the baseline alone ran 4,156 to 6,268 msgs/s at 50k in one day's runs).
    Bench(
        "ingest",
        ("ingest.py",),
        ("--sizes", "50000,200000", "--rounds", "3", "--no-write"),
        900,
    ),
    Bench("rules", ("rules_scale.py", "rules.py"), ("--repeat", "2"), 900),
    Bench("demo", ("demo.py",), ("--rounds", "3"), 300),
)


def not_run(name: str, reason: str, detail: str = "") -> dict:
    """The row of a benchmark that produced no figures."""
    return {
        "bench": name,
        "metric": f"not run: {reason}",
        "value": None,
        "unit": "",
        "target": "",
        "ok": None,
        "detail": detail,
    }


def offers_summary(script: Path) -> bool:
    """Whether ``script --help`` names ``--summary-json``."""
    try:
        proc = subprocess.run(
            [sys.executable, str(script), "--help"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except subprocess.TimeoutExpired:
        return False
    return "--summary-json" in proc.stdout


def tail(text: str, lines: int = 3) -> str:
    """The last few non-empty lines of ``text``, on one line."""
    kept = [line.strip() for line in text.strip().splitlines() if line.strip()][-lines:]
    return " / ".join(kept)[-300:]


def run_bench(bench: Bench, workdir: Path, log) -> tuple[list[dict], str, float]:
    """Run one benchmark; its rows (or one "not run" row), the command and seconds taken."""
    script = None
    missing = []
    for candidate in bench.scripts:
        path = REPO / "bench" / candidate
        if not path.exists():
            missing.append(f"bench/{candidate} missing")
        elif offers_summary(path):
            script = path
            break
        else:
            missing.append(f"bench/{candidate} has no --summary-json yet")
    if script is None:
        return [not_run(bench.name, "; ".join(missing))], "", 0.0
    out = workdir / f"{bench.name}.json"
    args = [f"bench/{script.name}", *bench.args, "--summary-json", str(out)]
    command = ".venv/bin/python " + shlex.join(args).replace(str(out), "PATH")
    print(f"== {bench.name}: {command}", file=log, flush=True)
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
        )
    except subprocess.TimeoutExpired as exc:
        took = time.monotonic() - started
        text = exc.stderr or exc.stdout or ""
        text = text.decode(errors="replace") if isinstance(text, bytes) else text
        return (
            [not_run(bench.name, f"timed out after {bench.timeout:g} s", tail(text))],
            command,
            took,
        )
    took = time.monotonic() - started
    print(proc.stdout[-4000:], file=log, flush=True)
    if proc.returncode != 0:
        reason = f"exit status {proc.returncode}"
        return [not_run(bench.name, reason, tail(proc.stderr or proc.stdout))], command, took
    try:
        rows = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [not_run(bench.name, "no summary rows", str(exc))], command, took
    if not isinstance(rows, list) or not rows:
        return [not_run(bench.name, "an empty summary")], command, took
    return [{k: row.get(k) for k in COLUMNS} for row in rows], command, took


def cell(row: dict, key: str) -> str:
    """One table cell as text."""
    value = row.get(key)
    if key == "ok":
        return {True: "ok", False: "MISS", None: "-"}.get(value, str(value))
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict], markdown: bool = False) -> str:
    """The rows as one text table (or a Markdown table)."""
    cells = [[cell(r, k) for k in COLUMNS] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(COLUMNS) + " |", "|---|---|---:|---|---|---|---|"]
        for c in cells:
            c[5] = "**MISS**" if c[5] == "MISS" else c[5]
            lines.append("| " + " | ".join(x.replace("|", "/") for x in c) + " |")
        return "\n".join(lines)
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(COLUMNS)]
    widths[-1] = len(COLUMNS[-1])  # the detail column is last: not padded
    line = "  ".join(k.ljust(w) for k, w in zip(COLUMNS, widths, strict=True))
    out = [line.rstrip(), "-" * min(len(line), 120)]
    for c in cells:
        out.append(
            "  ".join(
                (x.rjust(w) if i == 2 else x.ljust(w))
                for i, (x, w) in enumerate(zip(c, widths, strict=True))
            ).rstrip()
        )
    return "\n".join(out)


def section(rows: list[dict], commands: dict[str, tuple[str, float]], argv: list[str]) -> str:
    """The summary section of bench/RESULTS.md."""
    misses = sum(1 for r in rows if r.get("ok") is False)
    not_run_count = sum(1 for r in rows if str(r.get("metric", "")).startswith("not run"))
    lines = [
        HEADING,
        "",
        f"Command: `make bench` (`.venv/bin/python {shlex.join(['bench/run_all.py', *argv])}`)."
        f" Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Machine: {machine()}.",
        f"{len(rows)} rows, {misses} missed targets, {not_run_count} benchmarks not run. "
        "Sizes are the few-minutes ones; each benchmark's own section below has its full-size "
        "figures and method.",
        "",
        table(rows, markdown=True),
        "",
        "Per benchmark (command, wall time):",
        "",
    ]
    for name, (command, took) in commands.items():
        lines.append(f"- {name}: `{command}` ({took:.0f} s)" if command else f"- {name}: not run")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="comma-separated benchmark names: " + ", ".join(
        b.name for b in BENCHES))  # fmt: skip
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--summary-json", type=Path, help="also write every row here")
    args = parser.parse_args()
    wanted = set(args.only.split(",")) if args.only else {b.name for b in BENCHES}
    unknown = wanted - {b.name for b in BENCHES}
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    rows: list[dict] = []
    commands: dict[str, tuple[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="syncd-bench-") as tmp:
        for bench in BENCHES:
            if bench.name not in wanted:
                continue
            got, command, took = run_bench(bench, Path(tmp), sys.stderr)
            print(f"== {bench.name}: {len(got)} rows in {took:.0f} s", file=sys.stderr)
            print(table(got), file=sys.stderr, flush=True)  # seen even if a later one hangs
            rows += got
            commands[bench.name] = (command, took)
    print()
    print(table(rows))
    misses = [r for r in rows if r.get("ok") is False]
    print()
    print(
        f"{len(rows)} rows, {len(misses)} missed targets"
        + (": " + "; ".join(f"{r['bench']} {r['metric']}" for r in misses) if misses else "")
    )
    if args.summary_json:
        args.summary_json.write_text(json.dumps(rows, indent=1) + "\n")
    if args.write_results:
        replace_section(HEADING, section(rows, commands, sys.argv[1:]), first=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
