"""What the benchmarks share: the machine line they print and the replacement of one
benchmark's section of ``bench/RESULTS.md`` (every other section stays as it is)."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sqlite3
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """Kernel, architecture, nproc, CPU model, Python and SQLite versions."""
    model = ""
    with contextlib.suppress(OSError):
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        model = found.group(1).strip() if found else ""
    return (
        f"{platform.system()} {platform.release()} {platform.machine()}, nproc {os.cpu_count()}"
        f"{' (' + model + ')' if model else ''}, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}"
    )


def replace_section(heading: str, text: str, first: bool = False) -> None:
    """Replace the section that starts with the line ``heading`` by ``text``; without one,
    add ``text`` at the end, or right after the file's introduction when ``first``."""
    current = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", current).rstrip("\n") + "\n"
    elif first:
        at_match = re.search(r"^## ", current, re.M)
        at = at_match.start() if at_match else len(current)
        updated = current[:at].rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n\n" + current[at:]
    else:
        updated = current.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    RESULTS.write_text(updated, encoding="utf-8")
