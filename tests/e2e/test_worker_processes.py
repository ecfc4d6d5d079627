"""The mbox reader's worker processes die with the command that started them (issue 12,
item 9): after ``kill -9`` of ``syncd import`` or ``syncd sync`` none is left running."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from tests.support.helpers import REPO, run_cli

ME = "me@example.com"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


def big_mbox(path: Path, n: int = 60_000) -> Path:
    """About 9 MB of small messages: more than one chunk, so the worker pool runs."""
    path.write_text(
        "".join(
            f"From x Thu Jan  1 00:00:00 2024\nFrom: p{i % 500}@x.example\nTo: {ME}\n"
            f"Date: Mon, 1 Jan 2024 10:{i % 60:02d}:00 +0000\nSubject: note {i}\n"
            f"Message-ID: <{i}@x.example>\n\nbody\n\n"
            for i in range(n)
        )
    )
    return path


def workers_of(proc: psutil.Process, timeout: float = 20.0) -> list[psutil.Process]:
    """The children of ``proc`` once it has any (the pool started)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = proc.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        if children:
            return children
        time.sleep(0.01)
    raise AssertionError("the command started no worker process")


@pytest.mark.parametrize("command", ["import", "sync"])
def test_kill_9_leaves_no_worker_running(tmp_path, command):
    home = tmp_path / "home"
    mbox = big_mbox(tmp_path / "big.mbox")
    if command == "import":
        args = ["import", "mbox", str(mbox), "--me", ME]
    else:
        run_cli("account", "add", "mbox", "archive", "--path", str(mbox), "--address", ME,
                home=home)  # fmt: skip
        args = ["sync"]
    proc = subprocess.Popen(
        [*CLI, "--home", str(home), *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[psutil.Process] = []
    try:
        workers = workers_of(psutil.Process(proc.pid))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        _gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive, f"{len(alive)} worker(s) outlived the killed {command}"
    finally:
        proc.kill()
        for worker in workers:
            if worker.is_running():
                worker.kill()
