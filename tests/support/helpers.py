"""Shared test helpers: the real-data location, a CLI runner, message builders."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test with a clear reason when absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data not present: {path} (CI always has ../shared/data)")
    return path


def run_cli(
    *args: str, home: Path | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """Run ``syncd`` as a subprocess, exactly as a user would."""
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    if home is not None:
        cmd += ["--home", str(home)]
    cmd += list(args)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"syncd {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def people_json(home: Path, *extra: str) -> list[dict]:
    """``syncd people --json`` parsed."""
    return json.loads(run_cli(*extra, "people", "--json", home=home).stdout)


def message(
    *,
    sender: str,
    to: list[str] | str = (),
    cc: list[str] | str = (),
    bcc: list[str] | str = (),
    date: datetime | str = datetime(2024, 3, 1, 12, 0, tzinfo=UTC),
    subject: str = "hello",
    message_id: str | None = "auto",
    extra: dict[str, str] | None = None,
) -> bytes:
    """A raw RFC 5322 message (headers and a one-line body)."""

    def join(v):
        return v if isinstance(v, str) else ", ".join(v)

    lines = [f"From: {sender}"]
    if to:
        lines.append(f"To: {join(to)}")
    if cc:
        lines.append(f"Cc: {join(cc)}")
    if bcc:
        lines.append(f"Bcc: {join(bcc)}")
    if date is not None:
        lines.append(f"Date: {date if isinstance(date, str) else format_datetime(date)}")
    lines.append(f"Subject: {subject}")
    if message_id == "auto":
        seed = repr((sender, str(date), subject, join(to), join(cc), join(bcc), extra))
        message_id = f"<{hashlib.sha1(seed.encode()).hexdigest()[:16]}@test.invalid>"
    if message_id:
        lines.append(f"Message-ID: {message_id}")
    for name, value in (extra or {}).items():
        lines.append(f"{name}: {value}")
    return ("\n".join(lines) + "\n\nbody line\n").encode()


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    """Write messages as an mbox file (``From `` separators, >From escaping)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        for raw in messages:
            fh.write(b"From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n")
            for line in raw.splitlines(keepends=True):
                fh.write(b">" + line if line.startswith(b"From ") else line)
            fh.write(b"\n")
    return path


def import_mail_cli(root: Path, folders: dict[str, list[bytes]], me: str) -> Path:
    """Write ``folders`` as mbox files under ``root/mail`` and import them with
    ``syncd import mbox --me ME`` (a subprocess, as a user runs it); returns the home."""
    for folder, msgs in folders.items():
        write_mbox(root / "mail" / folder, msgs)
    home = root / "home"
    run_cli("import", "mbox", str(root / "mail"), "--me", me, home=home)
    return home


def ana_and_bo(me: str) -> dict[str, list[bytes]]:
    """A small mailbox: a reply exchanged with Ana Ruiz, and Bo Li writing from two
    addresses (bo@z.org, bo.li@w.org), in January 2024."""

    def d(day: int) -> datetime:
        return datetime(2024, 1, day, 9, tzinfo=UTC)

    return {
        "Sent": [message(sender=me, to="ana@x.org", date=d(1), subject="Plan")],
        "INBOX": [
            message(sender="Ana Ruiz <ana@x.org>", to=me, date=d(2), subject="Re: Plan"),
            message(sender="Bo Li <bo@z.org>", to=me, date=d(3), subject="Hi"),
            message(sender="Bo Li <bo.li@w.org>", to=me, date=d(4), subject="Hi"),
        ],
    }


def import_mail(
    root: Path,
    folders: dict[str, list[bytes]],
    me: list[str],
    now: str = "2030-01-01",
    workers: int = 1,
) -> dict[str, object]:
    """Write ``folders`` as mbox files under ``root/mail`` and import them in-process.

    Returns ``{address: PersonFigures}`` for every address of every person.
    """
    from syncd.commands.context import Context
    from syncd.core.home import Home
    from syncd.core.timeutil import parse_instant
    from syncd.pipeline.local_import import import_paths
    from syncd.report.people import compute_people

    for folder, msgs in folders.items():
        write_mbox(root / "mail" / folder, msgs)
    ctx = Context(Home(root / "home"), parse_instant(now))
    options = {"workers": workers}
    import_paths(ctx.db, ctx.home, "mbox", [root / "mail"], me, now=ctx.now, options=options)
    people = compute_people(ctx.db, ctx.now)
    return {email: p for p in people for email in p.emails}
