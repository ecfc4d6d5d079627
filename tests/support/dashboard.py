"""The dashboard for browser tests and screenshots: a demo home, ``syncd serve`` on a free
port as a subprocess, and Debian's Chromium driven by Playwright (no browser download)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.helpers import REPO, run_cli

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_NOW = "2026-12-01"


def chromium() -> Path:
    """Debian's Chromium; its absence is a failure naming the install command."""
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        raise AssertionError("Chromium is missing: apt-get install chromium")
    return CHROMIUM if CHROMIUM.exists() else Path(shutil.which("chromium") or "")


def demo_home(root: Path, now: str = DEMO_NOW) -> Path:
    """A home holding the demo network as of ``now`` with this week's follow-ups planned
    (``syncd demo --out``)."""
    home = root / "home"
    run_cli("--now", now, "demo", "--out", str(root / "demo-out"), home=home)
    return home


@dataclass
class Server:
    """A running ``syncd serve``: its process, start URL (with the token) and base address."""

    proc: subprocess.Popen
    url: str
    base: str
    port: int


@contextlib.contextmanager
def serve(home: Path, now: str = DEMO_NOW, timeout: float = 30.0) -> Iterator[Server]:
    """``syncd --now NOW serve --port 0`` running for the block."""
    cmd = [sys.executable, "-m", "syncd", "--home", str(home), "--now", now, "serve", "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    url = None
    deadline = time.monotonic() + timeout
    lines = []
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        found = re.search(r"open: (http://127\.0\.0\.1:(\d+)/\?token=\S+)", line)
        if found:
            url = found.group(1)
            port = int(found.group(2))
            break
    if url is None:
        proc.kill()
        raise AssertionError("syncd serve did not print its URL:\n" + "".join(lines))
    try:
        yield Server(proc, url, f"http://127.0.0.1:{port}", port)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def launch(playwright):
    """Chromium launched headless from /usr/bin/chromium."""
    return playwright.chromium.launch(executable_path=str(chromium()), args=CHROMIUM_ARGS)
