"""A newcomer's first commands (issue 12, item 1): the version, ``python -m syncd``,
and the demo's closing hints, which must run as printed even when ``syncd`` is not
on PATH yet."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import REPO, message, write_mbox

SCRIPT = Path(sys.executable).with_name("syncd")  # the console script pip installed


def _env_without_syncd_on_path() -> dict[str, str]:
    return {**os.environ, "PATH": "/usr/bin:/bin"}


def test_version_and_python_dash_m():
    version = subprocess.run([str(SCRIPT), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("syncd, version ")
    help_ = subprocess.run([sys.executable, "-m", "syncd", "--help"], capture_output=True,
                           text=True, cwd=REPO)  # fmt: skip
    assert help_.returncode == 0 and "syncd keeps your professional network warm" in help_.stdout


def test_the_demo_hints_run_as_printed_without_syncd_on_path(tmp_path):
    env = _env_without_syncd_on_path()
    home = tmp_path / "my home"  # a space: the hints must quote it
    proc = subprocess.run([str(SCRIPT), "--home", str(home), "demo"], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    hints = lines[lines.index(next(x for x in lines if x.endswith("Explore:"))) + 1 :]
    assert len(hints) >= 3
    for hint in hints:
        argv = shlex.split(hint)
        assert argv[0] == str(SCRIPT)  # not a bare `syncd` that is not on PATH
        run = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path,
                             timeout=300)  # fmt: skip
        assert run.returncode == 0, (hint, run.stderr)
        assert "Traceback" not in run.stderr


def test_the_demo_hints_say_syncd_when_it_is_on_path(tmp_path):
    env = {**os.environ, "PATH": f"{SCRIPT.parent}:/usr/bin:/bin"}
    proc = subprocess.run([str(SCRIPT), "--home", str(tmp_path / "h"), "demo"],
                          capture_output=True, text=True, env=env, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"  syncd --home {tmp_path / 'h'} people" in proc.stdout


def test_the_console_script_closes_the_store_and_keeps_the_exit_status(tmp_path):
    """`syncd` skips the interpreter's teardown collections at exit (``run``), so nothing
    may be left for them to close: the store is closed by the command (its WAL copied in
    and removed, no shared-memory file left), and the exit status is the command's."""
    home = tmp_path / "home"
    mbox = write_mbox(tmp_path / "in.mbox", [message(sender="ana@x.example", to="me@x.example")])
    done = subprocess.run([str(SCRIPT), "--home", str(home), "import", "mbox", str(mbox),
                           "--me", "me@x.example"], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in home.iterdir() if p.name.startswith("syncd.db")) == ["syncd.db"]
    missing = subprocess.run([sys.executable, "-m", "syncd", "--home", str(home), "import",
                              "mbox", str(tmp_path / "none.mbox")], capture_output=True,
                             text=True, cwd=REPO)  # fmt: skip
    assert missing.returncode == 1 and "syncd: error:" in missing.stderr
