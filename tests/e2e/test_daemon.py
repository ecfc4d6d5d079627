"""``syncd run`` as a real subprocess: syncs, survives failing jobs, one instance per home,
stops on SIGTERM/SIGINT with status 0, rolls back on a stop or a kill -9 mid-sync, speaks
sd_notify.

The daemon runs with a fast schedule (``[daemon] sync_interval_seconds = 1``) against
local maildir / mbox accounts. Every wait polls with a timeout; nothing sleeps blindly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.maildir import BATCH_FILES
from tests.support.helpers import REPO, message, run_cli, write_mbox

ME = "me@example.com"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
FAST = """
[daemon]
sync_interval_seconds = 1
jitter_seconds = 0
test_faults = true
"""


def wait_for(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Daemon:
    """A ``syncd --home H run`` subprocess with its stderr in a file."""

    def __init__(self, home: Path, env: dict[str, str] | None = None, *extra: str):
        self.home = home
        self.log = home.parent / f"daemon-{time.monotonic_ns()}.log"
        environ = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "SYNCD_TEST_FAIL_JOB")
        }
        environ.update(env or {})
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(
                [*CLI, "--home", str(home), *extra, "run"],
                cwd=REPO,
                env=environ,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )

    def state(self) -> dict:
        try:
            return json.loads((self.home / "daemon.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}

    def wait_running(self) -> dict:
        def ready():
            assert self.proc.poll() is None, f"daemon exited early:\n{self.stderr()}"
            s = self.state()
            return s if s.get("pid") == self.proc.pid and s.get("state") == "running" else None

        return wait_for(ready, what="the daemon to start")

    def stderr(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig: int = signal.SIGTERM, within: float = 5.0) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=within + 5)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def daemons():
    started: list[Daemon] = []

    def start(home: Path, env: dict[str, str] | None = None) -> Daemon:
        d = Daemon(home, env)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def query(home: Path, sql: str, params=()) -> list[tuple]:
    """Read the store from outside (WAL: never blocks the daemon)."""
    path = home / "syncd.db"
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError:  # schema not created yet
        return []
    finally:
        conn.close()


def count(home: Path, table: str) -> int:
    rows = query(home, f"SELECT count(*) FROM {table}")
    return rows[0][0] if rows else 0


def account_state(home: Path, name: str) -> dict:
    rows = query(
        home,
        "SELECT s.last_started, s.last_finished, s.last_result, s.failures FROM account_state s"
        " JOIN accounts a ON a.id = s.account_id WHERE a.name = ?",
        [name],
    )
    if not rows:
        return {}
    return dict(zip(("started", "finished", "result", "failures"), rows[0], strict=True))


def add_daemon_table(home: Path, text: str = FAST) -> None:
    config = home / "config.toml"
    existing = config.read_text(encoding="utf-8") if config.exists() else ""
    config.write_text(existing + text, encoding="utf-8")


def mbox_home(tmp_path: Path, n: int = 5) -> tuple[Path, Path]:
    home = tmp_path / "home"
    mbox = write_mbox(
        tmp_path / "mail" / "inbox",
        [message(sender=f"p{i}@x.example", to=ME, subject=f"s{i}") for i in range(n)],
    )
    run_cli("account", "add", "mbox", "inbox", "--path", str(mbox), "--address", ME, home=home)
    add_daemon_table(home)
    return home, mbox


def write_maildir(root: Path, n: int, people: int = 300) -> Path:
    """``n`` inbound messages from ``people`` senders as maildir files (fast: no locking)."""
    cur = root / "cur"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i in range(n):
        raw = message(
            sender=f"p{i % people}@x.example",
            to=ME,
            subject=f"m{i}",
            date=f"Mon, 1 Jan 2024 {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000",
        )
        (cur / f"{i:06d}.test:2,S").write_bytes(raw)
    return root


BIG = 2 * BATCH_FILES + 500


@pytest.fixture(scope="module")
def big_maildir(tmp_path_factory) -> Path:
    """Two batches and a quarter of messages: long enough to interrupt a sync in the middle."""
    return write_maildir(tmp_path_factory.mktemp("big") / "md", BIG)


def big_home(tmp_path: Path, maildir: Path) -> Path:
    home = tmp_path / "home"
    run_cli("account", "add", "maildir", "md", "--path", str(maildir), "--address", ME, home=home)
    add_daemon_table(home)
    return home


# -- the everyday loop ----------------------------------------------------------------


def test_syncs_survives_a_failing_job_refuses_a_second_instance_and_stops(tmp_path, daemons):
    home, mbox = mbox_home(tmp_path)
    # the first sync and every rules run raise; the loop must carry on regardless
    d = daemons(home, {"SYNCD_TEST_FAIL_JOB": "sync:1,rules"})
    d.wait_running()
    wait_for(lambda: count(home, "touchpoints") == 5, what="the first successful sync")
    state = wait_for(
        lambda: (s := d.state())["jobs"]["sync:inbox"]["last_result"] == "ok" and s,
        what="the sync job to report ok",
    )
    job = state["jobs"]["sync:inbox"]
    assert job["failures"] >= 1 and job["runs"] >= 2
    assert state["jobs"]["rules"]["failures"] >= 1
    assert state["jobs"]["rules"]["last_result"] == "error"
    assert "injected test fault" in d.stderr()
    assert "Traceback" not in d.stderr()

    # new mail arrives: the next scheduled sync reads it
    write_mbox(mbox, [message(sender=f"p{i}@x.example", to=ME, subject=f"s{i}") for i in range(8)])
    wait_for(lambda: count(home, "touchpoints") == 8, what="the appended messages")

    # a second daemon on the same home refuses, with a clear message
    second = run_cli("run", home=home, check=False)
    assert second.returncode == 1
    assert "already running" in second.stderr and f"pid {d.proc.pid}" in second.stderr

    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["daemon"]["running"] and status["daemon"]["pid"] == d.proc.pid
    (account,) = status["accounts"]
    assert account["name"] == "inbox" and account["last_result"] == "ok"
    assert account["next_run"] is not None
    # the outbox runs after each sync once it exists; until then it is reported missing
    assert "outbox" in state["jobs"] or "outbox" in status["daemon"]["unavailable"]

    code, took = d.stop(signal.SIGTERM)
    assert code == 0 and took < 5.0, d.stderr()
    assert d.state()["state"] == "stopped"
    assert "Traceback" not in d.stderr()
    # the lock is free again: status says so, a new daemon could start
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["daemon"]["running"] is False


def test_idle_without_accounts_reload_keeps_old_config_then_picks_up_an_account(tmp_path, daemons):
    home = tmp_path / "home"
    run_cli("init", "--me", ME, home=home)
    text = (home / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[daemon]\n", "[daemon]\nsync_interval_seconds = 1\njitter_seconds = 0\n")
    (home / "config.toml").write_text(text, encoding="utf-8")
    d = daemons(home)
    d.wait_running()
    assert d.state()["idle_reason"] == "no account configured"
    out = run_cli("status", home=home).stdout
    assert "idle: no account configured" in out

    # `syncd auth` and friends can nudge the daemon: a reload, no harm done
    from syncd.core.home import Home
    from syncd.daemon.state import nudge

    assert nudge(Home(home))
    assert not nudge(Home(tmp_path / "no-daemon-here"))
    wait_for(lambda: "configuration reloaded" in d.stderr(), what="the nudge")
    assert d.proc.poll() is None

    # a broken config: reported, the daemon keeps running on the old one
    good = (home / "config.toml").read_text(encoding="utf-8")
    (home / "config.toml").write_text(good + "\n[daemon]\nbogus = 1\n", encoding="utf-8")
    d.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: d.state().get("config_error"), what="the reload error")
    assert d.proc.poll() is None
    out = run_cli("status", home=home).stdout
    assert "config reload failed" in out

    # fixed, with an account: picked up without a signal (config.toml changed)
    (home / "config.toml").write_text(good, encoding="utf-8")
    mbox = write_mbox(tmp_path / "inbox", [message(sender="a@x.example", to=ME)])
    run_cli("account", "add", "mbox", "inbox", "--path", str(mbox), home=home)
    wait_for(lambda: count(home, "touchpoints") == 1, what="the new account's sync")
    assert d.state()["config_error"] is None
    assert d.state()["idle_reason"] is None

    code, took = d.stop(signal.SIGINT)
    assert code == 0 and took < 5.0, d.stderr()


def test_a_failing_account_backs_off_and_does_not_stop_the_others(tmp_path, daemons):
    home, _ = mbox_home(tmp_path)
    bulk = message(sender="g@x.example", to=ME, extra={"Precedence": "bulk"})  # no touch
    gone = write_mbox(tmp_path / "gone.mbox", [bulk])
    run_cli("account", "add", "mbox", "gone", "--path", str(gone), home=home)
    d = daemons(home)
    d.wait_running()
    gone.unlink()  # gone once the daemon runs (a missing path at start is a config error)
    wait_for(lambda: account_state(home, "gone").get("result") == "error", what="the failure")
    wait_for(lambda: count(home, "touchpoints") == 5, what="the healthy account")
    # the healthy account keeps syncing every second; the failing one waits (backoff)
    runs = d.state()["jobs"]["sync:inbox"]["runs"]
    wait_for(lambda: d.state()["jobs"]["sync:inbox"]["runs"] >= runs + 2, what="more syncs")
    assert account_state(home, "gone")["failures"] == 1
    assert d.state()["jobs"]["sync:gone"]["last_result"].startswith("skipped: backoff")
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    gone = next(a for a in status["accounts"] if a["name"] == "gone")
    assert gone["last_result"] == "error" and gone["retry_after"]
    assert gone["next_run"] >= gone["retry_after"]
    assert "gone" in run_cli("status", home=home).stdout
    assert d.stop()[0] == 0


# -- interrupted syncs ------------------------------------------------------------------


def _mid_sync(home: Path) -> bool:
    state = account_state(home, "md")
    return bool(state.get("started")) and not state.get("finished") and count(home, "observations")


def _complete(home: Path) -> None:
    assert count(home, "observations") == BIG
    assert count(home, "touchpoints") == BIG
    assert query(home, "SELECT count(DISTINCT address) FROM touchpoints")[0][0] == 300
    assert query(home, "PRAGMA integrity_check")[0][0] == "ok"


def test_kill_9_during_a_sync_then_restart_loses_and_duplicates_nothing(
    tmp_path, daemons, big_maildir
):
    home = big_home(tmp_path, big_maildir)
    # a short hold at each batch boundary keeps the sync running long enough to be
    # killed on a loaded machine; the kill still lands anywhere, inside a batch or not
    d = daemons(home, {"SYNCD_TEST_SLOW_BATCH": "1"})
    wait_for(lambda: _mid_sync(home), what="a sync in progress")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    partial = count(home, "observations")
    assert 0 < partial < BIG
    assert partial % BATCH_FILES == 0  # only whole batches were committed
    assert query(home, "PRAGMA integrity_check")[0][0] == "ok"

    again = daemons(home)  # the lock died with the process: a restart is allowed
    wait_for(lambda: account_state(home, "md").get("result") == "ok", what="the resumed sync")
    _complete(home)
    assert again.stop()[0] == 0


def test_sigterm_during_a_sync_exits_0_quickly_and_rolls_back(tmp_path, daemons, big_maildir):
    home = big_home(tmp_path, big_maildir)
    # hold each batch boundary, so the stop lands mid-sync however loaded the machine is
    d = daemons(home, {"SYNCD_TEST_SLOW_BATCH": "30"})
    wait_for(lambda: _mid_sync(home), what="a sync in progress")
    code, took = d.stop(signal.SIGTERM)
    assert code == 0, d.stderr()
    assert took < 5.0
    partial = count(home, "observations")
    assert partial < BIG and partial % BATCH_FILES == 0
    assert query(home, "PRAGMA integrity_check")[0][0] == "ok"
    assert "Traceback" not in d.stderr()

    again = daemons(home)
    wait_for(lambda: account_state(home, "md").get("result") == "ok", what="the resumed sync")
    _complete(home)
    assert again.stop()[0] == 0


# -- sd_notify ---------------------------------------------------------------------------


def test_ready_status_watchdog_and_stopping_reach_the_notify_socket(tmp_path, daemons):
    home, _ = mbox_home(tmp_path)
    sock_dir = tempfile.mkdtemp(prefix="sdn", dir="/tmp")  # short: AF_UNIX paths are limited
    path = os.path.join(sock_dir, "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(10)
    messages: list[str] = []

    def receive_until(key: str) -> None:
        while not any(key in m.split("\n") for m in messages):
            messages.append(server.recv(4096).decode())

    try:
        d = daemons(home, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        receive_until("READY=1")
        ready = next(m for m in messages if "READY=1" in m.split("\n"))
        assert any(line.startswith("STATUS=") for line in ready.split("\n"))
        receive_until("WATCHDOG=1")
        before = sum(m == "WATCHDOG=1" for m in messages)
        for _ in range(3):
            messages.append(server.recv(4096).decode())
        assert sum(m == "WATCHDOG=1" for m in messages) > before  # pinged repeatedly
        wait_for(lambda: count(home, "touchpoints") == 5, what="a sync")
        d.proc.send_signal(signal.SIGHUP)
        receive_until("RELOADING=1")
        reloading = next(m for m in messages if "RELOADING=1" in m.split("\n"))
        assert "MONOTONIC_USEC=" in reloading
        d.proc.send_signal(signal.SIGTERM)
        receive_until("STOPPING=1")
        assert d.proc.wait(timeout=10) == 0
    finally:
        server.close()
        os.unlink(path)
        os.rmdir(sock_dir)


def test_the_files_the_daemon_creates_are_private_whatever_the_umask(tmp_path, daemons):
    home, _ = mbox_home(tmp_path)
    previous = os.umask(0o022)  # a permissive umask in the environment that starts it
    try:
        d = daemons(home)
    finally:
        os.umask(previous)
    d.wait_running()
    wait_for(lambda: count(home, "touchpoints") == 5, what="the first sync")
    assert d.stop()[0] == 0
    for name in ("daemon.json", "syncd.lock", "syncd.db"):
        mode = (home / name).stat().st_mode & 0o777
        assert mode == 0o600, f"{name}: {mode:04o}"
    assert not list(home.glob("*.tmp")) and not list(home.glob(".*.tmp"))
