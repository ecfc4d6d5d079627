"""``syncd import`` on a terminal draws a progress bar; piped, it draws none and loads no
progress code, and both import the same."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import REPO, message, people_json, write_mbox

ME = "me@example.com"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


def _mbox(tmp_path: Path) -> Path:
    return write_mbox(
        tmp_path / "mail.mbox",
        [message(sender=f"p{i}@x.example", to=ME, subject=f"s{i}") for i in range(30)],
    )


def test_an_import_on_a_terminal_shows_progress_and_imports_the_same_as_piped(tmp_path):
    mbox = _mbox(tmp_path)
    leader, follower = pty.openpty()
    try:
        tty = subprocess.run(
            [*CLI, "--home", str(tmp_path / "tty"), "import", "mbox", str(mbox), "--me", ME],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=follower,
            timeout=120,
            env={**os.environ, "COLUMNS": "100", "TERM": "xterm"},
        )
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the terminal's other end is closed
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower != -1:
            os.close(follower)
        os.close(leader)
    piped = subprocess.run(
        [*CLI, "--home", str(tmp_path / "piped"), "import", "mbox", str(mbox), "--me", ME],
        cwd=REPO,
        capture_output=True,
        timeout=120,
    )
    assert tty.returncode == 0 and piped.returncode == 0, piped.stderr
    assert b"imported 30 messages" in tty.stdout
    assert tty.stdout == piped.stdout
    assert b"importing mbox" in drawn  # the bar, on the terminal
    assert b"importing mbox" not in piped.stderr
    assert people_json(tmp_path / "tty") == people_json(tmp_path / "piped")


def test_a_piped_import_loads_no_rich_code(tmp_path):
    """Neither the progress bar nor the tables: rich is start-up an import does not use."""
    mbox = _mbox(tmp_path)
    code = (
        "import sys; from syncd.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'rich'), file=sys.stderr)"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--home",
            str(tmp_path / "h"),
            "import",
            "mbox",
            str(mbox),
            "--me",
            ME,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "imported 30 messages" in proc.stdout, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "[]"
