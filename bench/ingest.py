"""Ingest benchmark: ``syncd import mbox`` against a competent stdlib importer.

Run from anywhere (paths resolve relative to the repository root)::

    .venv/bin/python bench/ingest.py                      # 50k and 200k messages
    .venv/bin/python bench/ingest.py --sizes 50000,200000,500000 --summary-json /tmp/ingest.json

Corpus (built once under ``$SYNCD_BENCH_DIR``, default ``/tmp/syncd-bench``, and
reused; 1.4 GB at 500k, never in the repository): the real Enron mailboxes
of ``../shared/data/enron/<owner>/<folder>`` repeated until the requested
number of messages is reached. Repetition ``r`` rewrites only two header lines
of every message: the Message-ID gets an ``r<r>.`` prefix and the Date is
shifted by ``r`` x 28 days (the weekday stays right; zone and ``(PDT)`` comment
are kept). Every other byte, quirks included, is copied verbatim. The
multi-folder layout is kept: one mbox per original folder
(``corpus-N/<owner>/<folder>``), each holding all repetitions of that folder,
so the cross-folder duplicates of the original (``sent`` / ``_sent_mail`` /
``all_documents`` ...) stay duplicates within each repetition.

Contenders, each a fresh subprocess into a fresh store, alternated
(baseline, ours, baseline, ours, ...):

* baseline -- ``mailbox.mbox`` + ``email.parser.BytesHeaderParser`` on
  ``get_bytes()``, keeping the same header fields as syncd
  (``syncd.mail.metadata.KEPT_HEADERS``, first ``Received`` only), into SQLite (WAL,
  synchronous=NORMAL) with ``executemany`` batches of 1000 rows, one explicit
  transaction per batch.
* ours -- the product path: ``syncd --home FRESH import mbox CORPUS --me ...``
  (logical messages, touchpoints, people: everything).

Peak RSS: the process tree (the importer plus its worker processes) is sampled
every 20 ms with psutil (sum of RSS of all processes in the tree: an upper
bound, since forked workers share pages); ``ru_maxrss`` from ``wait4`` (the
largest single process of the tree) is reported too, and is all there is
without psutil.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import json
import os
import platform
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Corpora (up to ~1.3 GB at 500k) and the runs' stores live outside the repository,
# reused between runs.
SCRATCH = Path(os.environ.get("SYNCD_BENCH_DIR", "/tmp/syncd-bench"))
DATA = (REPO / ".." / "shared" / "data" / "enron").resolve()
RESULTS = REPO / "bench" / "RESULTS.md"
SECTION = "## Ingest (bench/ingest.py)"
CORPUS_VERSION = 1
SHIFT_DAYS = 28
ME = ("phillip.allen@enron.com", "k..allen@enron.com")

try:
    import psutil
except ImportError:  # pragma: no cover - optional
    psutil = None


# -- corpus ---------------------------------------------------------------------------------

_MID = re.compile(rb"^(Message-ID:[ \t]*<)([^>\r\n]*)(>)", re.I | re.M)
_DATE = re.compile(
    rb"^(Date:[ \t]*)(?:[A-Z][a-z]{2},[ \t]*)?(\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d)"
    rb"[ \t]+([+-]\d{4})",
    re.M,
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def split_mbox(data: bytes) -> list[bytes]:
    """The messages of an mbox file: each starts at a ``From `` line."""
    starts = [0] if data.startswith(b"From ") else []
    starts += [m.start() + 1 for m in re.finditer(rb"\nFrom ", data)]
    return [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]


class Template:
    """One message cut around its Message-ID and Date values, for cheap rewriting."""

    def __init__(self, raw: bytes):
        head_end = raw.find(b"\n\n")
        head = raw if head_end < 0 else raw[:head_end]
        spans = []
        mid = _MID.search(head)
        if mid:
            spans.append((mid.start(2), mid.end(2), "mid", mid.group(2)))
        date = _DATE.search(head)
        if date:
            when = dt.datetime.strptime(date.group(2).decode(), "%d %b %Y %H:%M:%S")
            off = date.group(3).decode()
            spans.append((date.start() + len(date.group(1)), date.end(3), "date", (when, off)))
        spans.sort()
        self.parts: list[bytes] = []
        self.slots: list[tuple[str, object]] = []
        pos = 0
        for a, b, kind, value in spans:
            self.parts.append(raw[pos:a])
            self.slots.append((kind, value))
            pos = b
        self.parts.append(raw[pos:])

    def render(self, rep: int) -> bytes:
        out = [self.parts[0]]
        for (kind, value), tail in zip(self.slots, self.parts[1:], strict=True):
            if kind == "mid":
                out.append(b"r%d." % rep + value)
            else:
                when, off = value
                when = when + dt.timedelta(days=SHIFT_DAYS * rep)
                text = (
                    f"{_DAYS[when.weekday()]}, {when.day} {_MONTHS[when.month - 1]} {when.year}"
                    f" {when:%H:%M:%S} {off}"
                )
                out.append(text.encode())
            out.append(tail)
        return b"".join(out)


def build_corpus(messages: int) -> Path:
    """The corpus directory for ``messages`` messages, built if not already there."""
    if not DATA.is_dir():
        sys.exit(
            f"bench/ingest.py: the Enron mailboxes are missing ({DATA}); "
            "they come with ../shared/data (see its README)"
        )
    target = SCRATCH / f"corpus-{messages}"
    stamp = target / ".complete"
    if stamp.exists() and stamp.read_text() == str(CORPUS_VERSION):
        return target
    shutil.rmtree(target, ignore_errors=True)
    sources = sorted(p for p in DATA.glob("*/*") if p.is_file())
    templates = {p: [Template(m) for m in split_mbox(p.read_bytes())] for p in sources}
    per_rep = sum(len(t) for t in templates.values())
    handles = {}
    for p in sources:
        dest = target / p.parent.name / p.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        handles[p] = open(dest, "wb")  # noqa: SIM115 - closed below
    try:
        left, rep = messages, 0
        while left > 0:
            for p in sources:
                chunk = templates[p][:left]
                handles[p].write(b"".join(t.render(rep) for t in chunk))
                left -= len(chunk)
            rep += 1
    finally:
        for fh in handles.values():
            fh.close()
    stamp.write_text(str(CORPUS_VERSION))
    print(
        f"corpus: {messages} messages ({per_rep} per repetition, {rep} repetitions) in {target}",
        file=sys.stderr,
    )
    return target


# -- baseline (runs in a child process: ``bench/ingest.py _baseline CORPUS DB``) ------------


def baseline_import(corpus: Path, db_path: Path) -> int:
    """The competent stdlib importer; returns the number of messages stored."""
    import mailbox
    from email.parser import BytesHeaderParser

    sys.path.insert(0, str(REPO))
    from syncd.mail.metadata import KEPT_HEADERS

    conn = sqlite3.connect(str(db_path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE messages (id INTEGER PRIMARY KEY, folder TEXT NOT NULL,"
        " locator TEXT NOT NULL, message_id TEXT, date TEXT, sender TEXT, subject TEXT,"
        " headers TEXT NOT NULL)"
    )
    insert = (
        "INSERT INTO messages(folder, locator, message_id, date, sender, subject, headers)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
    )
    parser = BytesHeaderParser()
    rows: list[tuple] = []
    count = 0

    def flush() -> None:
        conn.execute("BEGIN")
        conn.executemany(insert, rows)
        conn.execute("COMMIT")
        rows.clear()

    for path in sorted(p for p in corpus.rglob("*") if p.is_file() and not p.name.startswith(".")):
        folder = str(path.relative_to(corpus))
        box = mailbox.mbox(str(path), create=False)
        try:
            for key in box.iterkeys():
                msg = parser.parsebytes(box.get_bytes(key))
                headers = {}
                for name in KEPT_HEADERS:
                    values = msg.get_all(name)
                    if values:
                        values = [str(v).strip() for v in values]
                        headers[name] = values[:1] if name == "received" else values
                first = {k: v[0] for k, v in headers.items()}
                rows.append(
                    (
                        folder,
                        f"{path}:{key}",
                        first.get("message-id"),
                        first.get("date"),
                        first.get("from"),
                        first.get("subject"),
                        json.dumps(headers, ensure_ascii=False),
                    )
                )
                count += 1
                if len(rows) >= 1000:
                    flush()
        finally:
            box.close()
    if rows:
        flush()
    conn.close()
    return count


# -- running and measuring ------------------------------------------------------------------


def _tree_rss(proc) -> int:
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run ``cmd``; wall time, CPU time, peak tree RSS (sampled) and ru_maxrss."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
    peak = [0]
    main_cpu = [0.0]
    done = threading.Event()

    def sample() -> None:
        proc = psutil.Process(child.pid)
        while not done.is_set():
            peak[0] = max(peak[0], _tree_rss(proc))
            with contextlib.suppress(psutil.Error):
                times = proc.cpu_times()
                main_cpu[0] = times.user + times.system
            done.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True) if psutil else None
    if sampler:
        sampler.start()
    out_chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: out_chunks.append(child.stdout.read()), daemon=True)
    reader.start()
    err = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    reader.join()
    if sampler:
        sampler.join()
    if child.returncode != 0:
        sys.exit(f"bench/ingest.py: {' '.join(cmd)} failed ({child.returncode}):\n{err.decode()}")
    maxrss = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "main_cpu": main_cpu[0] or None,
        "tree_rss": peak[0] or None,
        "maxrss": maxrss,
        "stdout": b"".join(out_chunks).decode(errors="replace").strip(),
    }


def run_baseline(corpus: Path, run_dir: Path) -> dict:
    db = run_dir / "baseline.db"
    cmd = [sys.executable, str(Path(__file__).resolve()), "_baseline", str(corpus), str(db)]
    return measure(cmd)


def run_ours(corpus: Path, run_dir: Path, tree: Path = REPO) -> dict:
    """``syncd import mbox`` from the source tree ``tree`` (default: this repository)."""
    home = run_dir / "home"
    prog = [sys.executable, "-m", "syncd"]  # as the ``syncd`` console script runs it
    me = [a for addr in ME for a in ("--me", addr)]
    cmd = [*prog, "--home", str(home), "import", "mbox", str(corpus), *me]
    # run from ``tree``: ``python -m`` puts the working directory first on sys.path
    return measure(cmd, env={**os.environ, "PYTHONPATH": str(tree)}, cwd=tree)


def compile_tree(tree: Path) -> None:
    """Compile the tree's bytecode first, as an installed package is: a contender must not
    pay for compiling its sources, which it does at every run where a source is newer
    than its bytecode (just edited, or a fresh copy) and ``PYTHONDONTWRITEBYTECODE`` is
    set (no run then writes the bytecode for the next)."""
    for package in ("syncd", "connectors", "rules"):
        if (tree / package).is_dir():
            compileall.compile_dir(tree / package, quiet=1)


def fresh_dir(name: str) -> Path:
    path = SCRATCH / "runs" / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def mib(value: int | None) -> str:
    return "n/a" if not value else f"{value / 2**20:.0f} MiB"


NOTES = "**Reading these figures"  # the section's hand-written notes start here


def write_results(text: str) -> None:
    """Replace this benchmark's figures in RESULTS.md, keeping every other section and this
    section's hand-written notes (from the paragraph starting with :data:`NOTES`)."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        notes = next((i for i in range(start, end) if lines[i].startswith(NOTES)), end)
        kept = "".join(lines[notes:end])
        tail = "".join(lines[end:])
        new = (
            "".join(lines[:start])
            + text
            + ("\n" + kept if kept else "")
            + ("\n" + tail if tail and not kept else tail)
        )
    RESULTS.write_text(new)


TARGET_RATIO = 3.0


def summary_rows(sizes: list[int], results: dict, load: list[float]) -> list[dict]:
    """Rows in the shared bench summary format (``--summary-json``): per size the ratio
    (target >= 3x), both importers' msgs/s and CPU seconds, and our peak RSS."""

    def row(metric, value, unit, target, ok, detail):
        return {
            "bench": "ingest",
            "metric": metric,
            "value": value,
            "unit": unit,
            "target": target,
            "ok": ok,
            "detail": detail,
        }

    rows = []
    busy = f"load avg {min(load):.1f}-{max(load):.1f} on {os.cpu_count()} cores"
    for n in sizes:
        base, ours = results[("baseline", n)], results[("ours", n)]
        rate_b = statistics.median(n / r["wall"] for r in base)
        rate_o = statistics.median(n / r["wall"] for r in ours)
        cpu_b = statistics.median(r["cpu"] for r in base)
        cpu_o = statistics.median(r["cpu"] for r in ours)
        detail = f"{n:,} msgs, {len(ours)} alternating pair(s), median; {busy}"
        rows += [
            row(
                f"ingest ratio at {n // 1000}k",
                round(rate_o / rate_b, 2),
                "x",
                f">= {TARGET_RATIO:g}x",
                rate_o / rate_b >= TARGET_RATIO,
                detail,
            ),
            row(
                f"CPU ratio at {n // 1000}k",
                round(cpu_b / cpu_o, 2),
                "x",
                "(reference)",
                None,
                f"baseline CPU s / ours (all processes): what a busy machine leaves; {detail}",
            ),
            row(f"ours msgs/s at {n // 1000}k", round(rate_o), "msgs/s", "", None, detail),
            row(f"baseline msgs/s at {n // 1000}k", round(rate_b), "msgs/s", "", None, detail),
            row(
                f"ours CPU at {n // 1000}k",
                round(cpu_o / n * 1e6, 1),
                "us/msg",
                "",
                None,
                f"all processes; baseline {cpu_b / n * 1e6:.1f} us/msg; {detail}",
            ),
            row(
                f"ours peak RSS at {n // 1000}k",
                round(max(r["tree_rss"] or r["maxrss"] for r in ours) / 2**20),
                "MiB",
                "flat",
                None,
                "process tree (importer + parse workers), sampled every 20 ms",
            ),
        ]
    return rows


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["_baseline"]:
        count = baseline_import(Path(args_in[1]), Path(args_in[2]))
        print(f"baseline stored {count} messages")
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--sizes",
        default="50000,200000",
        help="corpus sizes, comma-separated, measured side by side (default 50000,200000)",
    )
    ap.add_argument("--rounds", type=int, default=1, help="baseline/ours pairs per size")
    ap.add_argument("--no-write", action="store_true", help="do not update bench/RESULTS.md")
    ap.add_argument("--summary-json", type=Path, help="write the shared summary rows here")
    ap.add_argument(
        "--ours-tree",
        type=Path,
        help="also run `syncd import` from this source tree (e.g. a copy with a patch applied)",
    )
    ap.add_argument(
        "--ours-tree-name", default="patched", help="the --ours-tree importer's name in tables"
    )
    args = ap.parse_args(args_in)
    command = "python bench/ingest.py " + " ".join(args_in) if args_in else "python bench/ingest.py"

    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    contenders = [("baseline", run_baseline), ("ours", run_ours)]
    if args.ours_tree:
        tree = args.ours_tree.resolve()
        contenders.append(
            (args.ours_tree_name, lambda corpus, run_dir: run_ours(corpus, run_dir, tree))
        )
    corpora = {n: build_corpus(n) for n in sizes}
    for source in {REPO, *([args.ours_tree.resolve()] if args.ours_tree else [])}:
        compile_tree(source)
    results: dict[tuple[str, int], list[dict]] = {}
    load: list[float] = []
    # Round by round, size by size, the contenders one after the other: a busy spell of
    # the machine hits both sides of a pair.
    for r in range(args.rounds):
        for n in sizes:
            for name, runner in contenders:
                load.append(os.getloadavg()[0])
                res = runner(corpora[n], fresh_dir(f"{name}-{n}"))
                load.append(os.getloadavg()[0])
                results.setdefault((name, n), []).append(res)
                print(
                    f"{name:8} n={n:>7} round {r + 1}: {res['wall']:7.2f} s"
                    f" {n / res['wall']:9.0f} msgs/s  cpu {res['cpu']:6.1f} s"
                    f" (importer process {res['main_cpu'] or 0:5.1f} s)"
                    f"  tree RSS {mib(res['tree_rss'])}  ru_maxrss {mib(res['maxrss'])}"
                    f"  load {load[-1]:.1f}"
                    f"  [{res['stdout'].splitlines()[0] if res['stdout'] else ''}]",
                    file=sys.stderr,
                    flush=True,
                )
        shutil.rmtree(SCRATCH / "runs", ignore_errors=True)  # stores of up to ~1 GB each

    def median_rate(name: str, n: int) -> float:
        return statistics.median(n / r["wall"] for r in results[(name, n)])

    def peak(name: str, n: int, key: str) -> int | None:
        values = [r[key] for r in results[(name, n)] if r[key]]
        return max(values) if values else None

    rows = summary_rows(sizes, results, load)
    if args.summary_json:
        args.summary_json.write_text(json.dumps(rows, indent=1) + "\n")
    ratios = ", ".join(
        f"{n // 1000}k: {median_rate('ours', n) / median_rate('baseline', n):.1f}x" for n in sizes
    )
    cpu_ratios = ", ".join(
        "{}k: {:.1f}x".format(
            n // 1000,
            statistics.median(r["cpu"] for r in results[("baseline", n)])
            / statistics.median(r["cpu"] for r in results[("ours", n)]),
        )
        for n in sizes
    )
    today = dt.date.today().isoformat()
    cpu = platform.processor() or platform.machine()
    corpus_mib = {
        n: sum(f.stat().st_size for f in corpora[n].rglob("*") if f.is_file()) / 2**20
        for n in sizes
    }
    lines = [
        SECTION,
        "",
        f"Command: `{command}` (from the repository root, `.venv/bin/python`).",
        f"Date: {today}. Machine: {platform.system()} {platform.release()}, {cpu},"
        f" nproc {os.cpu_count()}, Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}. Load average (1 min) during the run:"
        f" {min(load):.1f} to {max(load):.1f} (other work shared the 2 cores).",
        "",
        "Corpus: the Enron mailboxes of `../shared/data/enron` repeated to each size ("
        + ", ".join(f"{n:,}: {corpus_mib[n]:.0f} MiB" for n in sizes)
        + "), fresh Message-IDs and dates shifted by 28 days per repetition, one mbox per"
        " original folder. Baseline: `mailbox.mbox` + `BytesHeaderParser` on `get_bytes`,"
        " same header fields, `executemany` batches of 1000 in explicit transactions, WAL."
        " Ours: `syncd import mbox` (logical messages, touchpoints, people) in a fresh --home."
        f" Each run is a fresh process and store (bytecode compiled beforehand, as installed);"
        f" {args.rounds} round(s), each running every size, baseline and ours one after the"
        " other; medians reported.",
        "",
        f"**Ours vs baseline (msgs/s, wall): {ratios}** (target >= {TARGET_RATIO:g}x)."
        f" CPU seconds, baseline / ours (all processes): {cpu_ratios}.",
        "",
    ]
    if args.ours_tree:
        name = args.ours_tree_name
        lines += [
            "{} (`syncd import` from `{}`): {}.".format(
                name,
                args.ours_tree,
                ", ".join(
                    f"{n // 1000}k {median_rate(name, n) / median_rate('baseline', n):.1f}x"
                    for n in sizes
                ),
            ),
            "",
        ]
    lines += [
        "| importer | messages | runs | median msgs/s | median wall s | median CPU s, all"
        " processes | CPU us/msg | of which the importer process | peak RSS, process tree"
        " | peak ru_maxrss (largest process) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size in sizes:
        for name, _ in contenders:
            runs = results[(name, size)]
            cpu_s = statistics.median(r["cpu"] for r in runs)
            lines.append(
                f"| {name} | {size:,} | {len(runs)} | {median_rate(name, size):,.0f}"
                f" | {statistics.median(r['wall'] for r in runs):.2f}"
                f" | {cpu_s:.1f} | {cpu_s / size * 1e6:.0f}"
                f" | {statistics.median(r['main_cpu'] or 0 for r in runs):.1f}"
                f" | {mib(peak(name, size, 'tree_rss'))} | {mib(peak(name, size, 'maxrss'))} |"
            )
    lines += [
        "",
        "Peak RSS of the process tree is the sum over the importer and its worker processes,"
        " sampled every 20 ms (an upper bound: forked workers share pages); ru_maxrss is the"
        " largest single process. Both include interpreter start-up.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
