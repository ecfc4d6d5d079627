"""Errors that say what to do (issue 12, items 3 and 9): a failure of the machine is one
sentence and an exit status other than 70 (an internal error), and the data stays intact.

The home as a file, a symbolic link loop, a full disk (``RLIMIT_FSIZE`` in a
subprocess) and a damaged database run the real CLI as a subprocess; a missing
permission, a read-only file system, ``ENOSPC`` and a locked database are injected
in-process (root passes every permission check, and neither needs a mount).
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import syncd.store.db
from syncd.cli import main
from tests.support.helpers import REPO, message, people_json, run_cli, write_mbox

ME = "me@corp.example"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


def one_sentence(proc: subprocess.CompletedProcess | tuple[int, str], *needles: str) -> str:
    """The run failed with a status other than 0 and 70, one line on stderr naming
    ``needles``, no exception text."""
    code, err = (proc.returncode, proc.stderr) if hasattr(proc, "stderr") else proc
    assert code not in (0, 70), (code, err)
    text = err.strip()
    assert text.count("\n") == 0, text
    assert text.startswith("syncd: error: ")
    for name in ("Traceback", "internal error", "Error:", "Errno", "OperationalError"):
        assert name not in text, text
    for needle in needles:
        assert needle in text, text
    return text


def mailbox(tmp_path: Path, n: int = 3) -> Path:
    msgs = [message(sender=f"p{i}@x.example", to=ME, subject=f"s{i}") for i in range(n)]
    return write_mbox(tmp_path / "inbox.mbox", msgs)


def run_main(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().err


# -- the real CLI ---------------------------------------------------------------------------


def test_home_pointing_at_a_file(tmp_path):
    home = tmp_path / "notes.txt"
    home.write_text("not a directory", encoding="utf-8")
    for args in (["people"], ["import", "mbox", str(mailbox(tmp_path)), "--me", ME], ["sync"]):
        proc = run_cli(*args, home=home, check=False)
        one_sentence(proc, str(home), "is a file, not a directory", "--home")
        assert proc.returncode == 73  # EX_CANTCREAT
    assert home.read_text(encoding="utf-8") == "not a directory"


def test_a_symbolic_link_loop_given_as_a_path(tmp_path):
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    proc = run_cli("import", "mbox", str(loop), "--me", ME, home=tmp_path / "h", check=False)
    one_sentence(proc, str(loop), "symbolic link loop")
    proc = run_cli("people", home=loop, check=False)
    one_sentence(proc, str(loop), "symbolic link loop")


def _limited(size: int):
    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))

    return limit


def test_a_full_disk_is_one_sentence_and_what_was_committed_stays(tmp_path):
    home = tmp_path / "h"
    first = mailbox(tmp_path, 5)
    run_cli("import", "mbox", str(first), "--me", ME, home=home)
    before = people_json(home)
    big = write_mbox(
        tmp_path / "big.mbox",
        [message(sender=f"q{i}@y{i % 40}.example", to=ME, subject=f"t{i} " + "x" * 300)
         for i in range(2500)],
    )  # fmt: skip
    size = sum(p.stat().st_size for p in home.iterdir() if p.is_file()) + 200_000
    proc = subprocess.run(
        [*CLI, "--home", str(home), "import", "mbox", str(big), "--me", ME],
        capture_output=True,
        text=True,
        cwd=REPO,
        preexec_fn=_limited(size),
        timeout=120,
    )
    one_sentence(proc, "syncd.db", "free some space")
    assert proc.returncode == 74  # EX_IOERR
    # intact: the store opens, passes its integrity check and still holds the first import
    doctor = run_cli("doctor", "--no-service", "--json", home=home, check=False)
    assert '"integrity ok' in doctor.stdout or "integrity ok" in doctor.stdout, doctor.stdout
    after = {p["emails"][0] for p in people_json(home)}
    assert {p["emails"][0] for p in before} <= after


def test_a_damaged_database_is_named_as_such(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "syncd.db").write_bytes(b"this is not a database" * 200)
    proc = run_cli("people", home=home, check=False)
    one_sentence(proc, str(home / "syncd.db"), "is damaged", "backup")
    assert proc.returncode == 65  # EX_DATAERR


# -- injected: permission, read-only, no space, locked ------------------------------------


def _failing_mkdir(under: Path, code: int, monkeypatch) -> None:
    real = os.mkdir

    def mkdir(path, mode=0o777, *args, **kwargs):
        if Path(path).is_relative_to(under):
            raise OSError(code, os.strerror(code), str(path))
        return real(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)


@pytest.mark.parametrize(
    ("code", "status", "words"),
    [
        (errno.EACCES, 77, "permission denied"),
        (errno.EROFS, 74, "read-only file system"),
        (errno.ENOSPC, 74, "no space left"),
    ],
)
def test_an_unwritable_home(tmp_path, monkeypatch, capsys, code, status, words):
    home = tmp_path / "locked-away" / "home"
    _failing_mkdir(tmp_path / "locked-away", code, monkeypatch)
    result = run_main(capsys, "--home", str(home), "import", "mbox", str(mailbox(tmp_path)))
    one_sentence(result, words, str(tmp_path / "locked-away"))
    assert result[0] == status


def test_no_space_while_writing_the_store(tmp_path, monkeypatch, capsys):
    home = tmp_path / "h"
    run_cli("import", "mbox", str(mailbox(tmp_path)), "--me", ME, home=home)

    def full(*_args, **_kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("syncd.commands.context.open_db", full)
    result = run_main(capsys, "--home", str(home), "people")
    one_sentence(result, "no space left", str(home / "syncd.db"))


def test_a_locked_database(tmp_path, monkeypatch, capsys):
    home = tmp_path / "h"
    run_cli("import", "mbox", str(mailbox(tmp_path)), "--me", ME, home=home)
    holder = sqlite3.connect(home / "syncd.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the write lock
    monkeypatch.setattr(syncd.store.db, "BUSY_TIMEOUT", 0.2)
    try:
        more = write_mbox(tmp_path / "more.mbox", [message(sender="z@z.example", to=ME)])
        result = run_main(capsys, "--home", str(home), "import", "mbox", str(more), "--me", ME)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_sentence(result, "is locked by another program", "run the command again")
    assert result[0] == 75  # EX_TEMPFAIL
