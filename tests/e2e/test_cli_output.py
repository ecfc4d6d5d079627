"""The CLI agrees with itself and prints safely (issue 12, items 7 and 9).

- ``status`` counts the open flags ``flags`` lists, for the same ``--now``;
- ``account list`` and ``status`` report the same last sync and result;
- a person without a display name shows their address;
- tables fit an 80-column terminal, carry no escape sequence under ``NO_COLOR``
  and are plain, whole-valued text in a pipe;
- nothing from a message reaches the terminal raw: random display names and
  subjects with control characters go through every table and JSON view.
"""

from __future__ import annotations

import base64
import json
import os
import re
import select
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncd.cli import cli
from tests.support.helpers import REPO, message, run_cli, write_mbox

ME = "me@home.example"
BASE = datetime(2026, 3, 2, 9, tzinfo=UTC)
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _mailbox(tmp_path: Path) -> Path:
    msgs = []
    for i in range(24):
        who = f"person{i % 6}@org{i % 3}.example"
        name_part = f"Person Number {i % 6} With A Rather Long Name <{who}>" if i % 6 else who
        when = BASE + timedelta(days=9 * i)
        msgs.append(message(sender=name_part, to=ME, date=when, subject=f"topic {i}"))
        if i % 4:
            msgs.append(message(sender=ME, to=who, date=when + timedelta(hours=2),
                                subject=f"Re: topic {i}"))  # fmt: skip
    return write_mbox(tmp_path / "mail" / "inbox", msgs)


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    run_cli("import", "mbox", str(_mailbox(tmp_path)), "--me", ME, home=home)
    return home


def test_status_counts_the_flags_that_flags_lists(tmp_path):
    home = _home(tmp_path)
    for now in ("2026-06-01", "2027-01-15", "2026-12-06"):
        listed = json.loads(run_cli("--now", now, "flags", "--json", home=home).stdout)
        status = json.loads(run_cli("--now", now, "status", "--json", home=home).stdout)
        assert status["flags"]["open"] == len(listed), now
    # and the other way round: status first on a fresh instant
    status = json.loads(run_cli("--now", "2028-01-01", "status", "--json", home=home).stdout)
    listed = json.loads(run_cli("--now", "2028-01-01", "flags", "--json", home=home).stdout)
    assert status["flags"]["open"] == len(listed) > 0


def test_account_list_and_status_report_the_same_last_sync_and_result(tmp_path):
    home = tmp_path / "home"
    mbox = _mailbox(tmp_path)
    run_cli("account", "add", "mbox", "arch", "--path", str(mbox), "--address", ME, home=home)
    before = run_cli("account", "list", home=home).stdout
    assert "last sync never" in before and "result never" in before
    run_cli("sync", home=home)
    listed = run_cli("account", "list", home=home).stdout.strip().splitlines()
    status = run_cli("status", home=home).stdout.splitlines()
    assert listed[0] in status
    assert "result ok" in listed[0] and "last sync 2" in listed[0]
    rows = json.loads(run_cli("account", "list", "--json", home=home).stdout)
    state = json.loads(run_cli("status", "--json", home=home).stdout)["accounts"]
    assert [(r["last_sync"], r["last_result"]) for r in rows] == [
        (a["last_sync"], a["last_result"]) for a in state
    ]


def test_people_without_a_display_name_show_their_address(tmp_path):
    home = _home(tmp_path)
    out = run_cli("people", home=home).stdout
    row = next(line for line in out.splitlines() if "person0@org0.example" in line)
    assert row.split()[1] == "person0@org0.example"  # the name column, not blank


def _run_tty(args: list[str], home: Path, columns: int, extra_env: dict[str, str]) -> str:
    """Run syncd with stdout on a pseudo-terminal ``columns`` wide; its output."""
    master, slave = os.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "LINES": "50", **extra_env}
    env.pop("NO_COLOR", None) if "NO_COLOR" not in extra_env else None
    proc = subprocess.Popen([*CLI, "--home", str(home), *args], stdout=slave,
                            stderr=subprocess.PIPE, cwd=REPO, env=env)  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0, proc.stderr.read()
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_tables_fit_80_columns_and_honour_no_color_and_pipes(tmp_path):
    home = _home(tmp_path)
    for args in (["people"], ["--now", "2027-01-15", "flags"]):
        colour = _run_tty(args, home, 80, {})
        assert ANSI.search(colour)  # styled on a terminal
        lines = ANSI.sub("", colour).splitlines()
        assert lines and max(len(line) for line in lines) <= 80, args
        plain = _run_tty(args, home, 80, {"NO_COLOR": "1"})
        assert "\x1b" not in plain
        assert max(len(line) for line in plain.splitlines()) <= 80
        piped = run_cli(*args, home=home).stdout
        assert "\x1b" not in piped and "│" not in piped and "…" not in piped
    piped = run_cli("people", home=home).stdout
    assert "Person Number 1 With A Rather Long Name" in piped  # whole values in a pipe


# -- nothing from a message reaches a terminal raw --------------------------------------

PIECES = ["\x1b", "\x1b]0;pwned\x07", "\x07", "\x00", "\x9b", "\x7f", "\r", "\n", "\t",
          "\x08", "[bold]", "[/]", "a", "Z", "é", " ", "\u202e"]  # fmt: skip
NASTY = st.lists(st.sampled_from(PIECES), min_size=1, max_size=8).map("".join)


def _encoded(text: str) -> str:
    """``text`` as an RFC 2047 encoded word, the way a crafted header smuggles it in."""
    return "=?utf-8?b?" + base64.b64encode(text.encode("utf-8")).decode() + "?="


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=NASTY, subject=NASTY)
def test_no_control_character_reaches_the_output(tmp_path_factory, name, subject):
    root = tmp_path_factory.mktemp("nasty")
    who = "crafted@evil.example"
    msgs = [
        message(
            sender=f"{_encoded('x' + name)} <{who}>",
            to=ME,
            date=BASE + timedelta(days=d),
            subject=_encoded("s" + subject),
        )
        for d in (0, 40, 80)
    ]
    msgs.append(message(sender=ME, to=f"{_encoded(name)} <{who}>", date=BASE,
                        subject=_encoded(subject)))  # fmt: skip
    mbox = write_mbox(root / "mail" / "inbox", msgs)
    home = str(root / "home")
    runner = CliRunner()
    first = runner.invoke(cli, ["--home", home, "import", "mbox", str(mbox), "--me", ME])
    assert first.exit_code == 0, first.output
    outputs = []
    for args in (
        ["people"], ["people", "--json"], ["--now", "2027-06-01", "flags"],
        ["--now", "2027-06-01", "flags", "--json"], ["why", who], ["why", who, "--json"],
        ["status"], ["--now", "2027-06-01", "flags", "--all"],
    ):  # fmt: skip
        result = runner.invoke(cli, ["--home", home, *args])
        assert result.exit_code == 0, (args, result.output)
        outputs.append(result.output)
    for out in outputs:
        assert not CONTROL.search(out), repr(CONTROL.search(out))
