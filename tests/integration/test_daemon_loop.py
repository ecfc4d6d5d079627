"""The daemon's loop in-process: settings, missed runs after a suspend, backoff, the job
registry, fault injection, the lock, clock jumps and the sd_notify client."""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import sqlite3
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from syncd.config.schema import AccountConfig, parse_config, save_account
from syncd.core.errors import ConfigError, UserError
from syncd.core.home import Home
from syncd.daemon import loop as daemon_mod
from syncd.daemon import state as daemon_state
from syncd.daemon.log import redact
from syncd.daemon.loop import Daemon, Shutdown
from syncd.daemon.notify import Notifier
from syncd.daemon.settings import DaemonSettings, JobTable, Plugin, daemon_settings
from syncd.daemon.state import InstanceLock, running_pid
from syncd.followup.planner import plan_and_drain
from syncd.jobs import JOBS
from syncd.report.digest import send_weekly
from tests.support.helpers import message, write_mbox

ME = "me@example.com"


def make_home(tmp_path: Path, accounts: int = 1, daemon_table: str = "") -> Home:
    home = Home(tmp_path / "home")
    home.ensure()
    for i in range(accounts):
        mbox = write_mbox(tmp_path / f"mail{i}", [message(sender=f"p{i}@x.example", to=ME)])
        save_account(
            home.config_path,
            AccountConfig(f"acc{i}", "mbox", address=ME, options={"paths": [str(mbox)]}),
        )
    if daemon_table:
        with open(home.config_path, "a", encoding="utf-8") as fh:
            fh.write("\n[daemon]\n" + daemon_table)
    return home


@pytest.fixture
def opened(tmp_path):
    made: list[Daemon] = []

    def start(home: Home, environ: dict | None = None, jobs: JobTable = JOBS) -> Daemon:
        d = Daemon(home, jobs, environ or {})
        d.open()
        made.append(d)
        return d

    tz = os.environ.get("TZ")
    yield start
    for d in made:
        if d.lock.fd is not None:
            d.close()
    if tz is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = tz


# -- settings -----------------------------------------------------------------------------


def test_settings_defaults_follow_sync_interval_and_jitter_is_bounded():
    assert daemon_settings(parse_config({})) == DaemonSettings(sync_interval=300, jitter=30)
    s = daemon_settings(parse_config({"sync": {"interval_minutes": 1}}))
    assert s.sync_interval == 60 and s.jitter == 6
    s = daemon_settings(
        parse_config({"daemon": {"sync_interval_seconds": 2, "digest_day": "Friday"}})
    )
    assert s.sync_interval == 2 and s.digest_day == "friday"


def test_settings_report_every_problem_at_once():
    config = parse_config(
        {
            "daemon": {
                "bogus": 1,
                "digest_day": "someday",
                "digest_time": "25:00",
                "jitter_seconds": -1,
                "test_faults": "yes",
            }
        }
    )
    with pytest.raises(ConfigError) as err:
        daemon_settings(config)
    text = "\n".join(err.value.problems)
    for key in ("daemon.bogus", "digest_day", "digest_time", "jitter_seconds", "test_faults"):
        assert key in text


# -- the schedule ----------------------------------------------------------------------


def _count_runs(d: Daemon) -> dict[str, int]:
    """Count each scheduled job's runs; plugin jobs (outbox, digest) are counted, not run."""
    counts: dict[str, int] = {}

    def counting(name, func):
        counts[name] = counts.get(name, 0) + 1
        return None if name in JOBS.plugins else func()

    for job in d.scheduler.jobs:
        name = next(t for t in job.tags if t != "job")
        job.job_func = functools.partial(counting, name, job.job_func)
    return counts


def test_after_a_suspend_each_missed_job_runs_once_not_once_per_slot(tmp_path, opened):
    home = make_home(tmp_path, accounts=2, daemon_table="sync_interval_seconds = 60\n")
    d = opened(home)
    counts = _count_runs(d)
    hours_ago = datetime.now() - timedelta(hours=3)  # 180 missed sync slots per account
    for job in d.scheduler.jobs:
        job.next_run = hours_ago
    d.tick()
    plugins = {name: 1 for name in JOBS.plugins if name not in d.unavailable}
    assert counts == {"sync:acc0": 1, "sync:acc1": 1, "rules": 1, "selfcheck": 1, **plugins}
    assert all(job.next_run > datetime.now() for job in d.scheduler.jobs)
    d.tick()  # nothing is due any more
    assert sum(counts.values()) == 4 + len(plugins)
    assert d.jobs["sync:acc0"].last_result == "ok"
    assert d.jobs["rules"].runs >= 2  # on its own, and after each sync


class FakeClock:
    """Wall-clock time that jumps by ``jump`` seconds during each sleep (monotonic does not)."""

    def __init__(self, real):
        self.real = real
        self.offset = 0.0
        self.jump = 0.0
        self.slept: float | None = None
        self.monotonic = real.monotonic
        self.tzset = real.tzset

    def time(self) -> float:
        return self.real.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.slept = seconds
        self.offset += self.jump


def test_a_clock_jump_is_noticed_and_a_backwards_jump_reschedules(
    tmp_path, opened, monkeypatch, caplog
):
    d = opened(make_home(tmp_path, accounts=1))
    caplog.set_level(logging.INFO, logger="syncd.daemon.loop")
    clock = FakeClock(daemon_mod.time)
    monkeypatch.setattr(daemon_mod, "time", clock)
    clock.jump = 7200  # two hours of suspend
    d._sleep()
    assert "woke 120 min late" in caplog.text
    assert clock.slept is not None and clock.slept <= daemon_mod.POLL_SLEEP  # no watch: polls

    job = next(j for j in d.scheduler.jobs if "rules" in j.tags)
    job.next_run = datetime.now() + timedelta(days=30)  # as if computed before a jump back
    clock.jump = -7200
    d._sleep()
    assert "clock went back 120 min" in caplog.text
    job = next(j for j in d.scheduler.jobs if "rules" in j.tags)
    assert job.next_run < datetime.now() + timedelta(days=1)


def test_accounts_in_backoff_or_needing_auth_are_skipped(tmp_path, opened):
    d = opened(make_home(tmp_path, accounts=2))
    assert d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert d.run_job("sync:acc1", functools.partial(d._sync_job, "acc1"))
    later = (datetime.now(UTC) + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with d.db.atomic():
        d.db.execute(
            "UPDATE account_state SET retry_after = ? WHERE account_id ="
            " (SELECT id FROM accounts WHERE name = 'acc0')",
            [later],
        )
        d.db.execute(
            "UPDATE account_state SET needs_auth = 1 WHERE account_id ="
            " (SELECT id FROM accounts WHERE name = 'acc1')"
        )
    d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert d.jobs["sync:acc0"].last_result == f"skipped: backoff until {later}"
    d.run_job("sync:acc1", functools.partial(d._sync_job, "acc1"))
    assert d.jobs["sync:acc1"].last_result.startswith("skipped: backoff")
    # SIGHUP means "retry now": the next run ignores the backoff once
    d.reload(explicit=True)
    d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert d.jobs["sync:acc0"].last_result == "ok"
    d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert d.jobs["sync:acc0"].last_result == "ok"  # the sync succeeded: no backoff any more


def test_an_unexpected_error_in_a_sync_is_caught_recorded_and_backed_off(
    tmp_path, opened, monkeypatch
):
    d = opened(make_home(tmp_path, accounts=1))

    def broken(*_a, **_k):
        raise ValueError("bug while reading ana@x.example")

    monkeypatch.setattr(daemon_mod, "sync_all", broken)
    assert d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0")) is False
    state = d.jobs["sync:acc0"]
    assert state.last_result == "error" and state.failures == 1
    assert "ana@x.example" not in state.last_error and "<address>" in state.last_error
    d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert d.jobs["sync:acc0"].last_result.startswith("skipped: backoff")


def test_no_account_means_idle_with_the_rules_still_scheduled(tmp_path, opened):
    d = opened(make_home(tmp_path, accounts=0))
    names = {next(t for t in j.tags if t != "job") for j in d.scheduler.jobs}
    assert names - set(JOBS.plugins) == {"rules", "selfcheck"}  # no sync job
    assert d._status_line() == "idle: no account configured"
    d._write_state("running")
    assert daemon_state.read_state(d.home)["idle_reason"] == "no account configured"


# -- pluggable jobs ------------------------------------------------------------------------


def test_the_job_table_runs_the_real_outbox_digest_and_doctor():
    assert JOBS.plugins["outbox"].run is plan_and_drain
    assert JOBS.plugins["digest"].run is send_weekly
    assert set(JOBS.plugins) == {"outbox", "digest"}


def test_the_self_check_is_doctor_without_the_service_manager(tmp_path, opened):
    d = opened(make_home(tmp_path))
    names = {c.name for c in JOBS.selfcheck(d.home, d.db)}
    assert "home" in names and "service" not in names


def _digest_only(send_weekly) -> JobTable:
    return JobTable({"digest": Plugin("digest", send_weekly, "test")}, JOBS.selfcheck)


def test_a_registered_digest_runs_weekly_at_its_local_time(tmp_path, opened):
    calls = []

    def send_weekly(db, home, config, now):
        calls.append((home, now))
        return "sent to you@example.com"

    home = make_home(tmp_path, daemon_table='digest_day = "wednesday"\ndigest_time = "07:30"\n')
    d = opened(home, jobs=_digest_only(send_weekly))
    job = next(j for j in d.scheduler.jobs if "digest" in j.tags)
    assert job.next_run.weekday() == 2 and (job.next_run.hour, job.next_run.minute) == (7, 30)
    job.next_run = datetime.now() - timedelta(days=2)  # missed while asleep: runs once
    d.tick()
    assert len(calls) == 1 and calls[0][0] == home
    assert d.jobs["digest"].last_result == "sent to <address>"
    assert job.next_run > datetime.now()


def _previous_run(home: Home, started: datetime, digest_finished: datetime | None) -> None:
    jobs = {"selfcheck": {"last_result": "ok", "last_finished": daemon_state.to_iso(started)}}
    if digest_finished:
        jobs["digest"] = {
            "last_result": "ok",
            "last_finished": daemon_state.to_iso(digest_finished),
        }
    state = {"state": "stopped", "started": daemon_state.to_iso(started), "jobs": jobs}
    (home.root / daemon_state.STATE_FILE).write_text(json.dumps(state), encoding="utf-8")


def test_a_digest_missed_while_no_daemon_ran_is_caught_up_once(tmp_path, opened):
    jobs = _digest_only(lambda db, home, config, now: None)
    home = make_home(tmp_path / "missed")
    _previous_run(home, datetime.now(UTC) - timedelta(days=10), None)
    d = opened(home, jobs=jobs)
    job = next(j for j in d.scheduler.jobs if "digest" in j.tags)
    assert job.next_run < datetime.now() + timedelta(minutes=2)
    assert d.jobs["selfcheck"].last_result == "ok"  # the previous outcome is kept for status
    d.close()

    home = make_home(tmp_path / "sent")  # sent since the last slot: wait for the next one
    _previous_run(home, datetime.now(UTC) - timedelta(days=10), datetime.now(UTC))
    d = opened(home, jobs=jobs)
    job = next(j for j in d.scheduler.jobs if "digest" in j.tags)
    assert job.next_run.weekday() == 0 and job.next_run > datetime.now()
    d.close()

    home = make_home(tmp_path / "first")  # a first start sends nothing at once
    d = opened(home, jobs=jobs)
    job = next(j for j in d.scheduler.jobs if "digest" in j.tags)
    assert job.next_run > datetime.now() + timedelta(minutes=2) or (
        job.next_run.weekday() == 0 and job.next_run.strftime("%H:%M") == "08:00"
    )


# -- faults, stop, lock, redaction --------------------------------------------------------


def test_fault_injection_needs_the_test_setting(tmp_path, opened, caplog):
    env = {"SYNCD_TEST_FAIL_JOB": "selfcheck"}
    d = opened(make_home(tmp_path / "a"), env)
    assert d.run_job("selfcheck", d._selfcheck_job)  # ignored: test_faults is off
    assert "is set but ignored" in caplog.text
    d.close()
    d = opened(
        make_home(tmp_path / "b", daemon_table="test_faults = true\n"),
        {"SYNCD_TEST_FAIL_JOB": "selfcheck:2,sync:acc0"},
    )
    results = [d.run_job("selfcheck", d._selfcheck_job) for _ in range(3)]
    assert results == [False, False, True]
    assert d.jobs["selfcheck"].failures == 2 and d.jobs["selfcheck"].last_result == "ok"
    assert not d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    assert "injected test fault" in d.jobs["sync:acc0"].last_error


def test_a_stop_request_ends_a_sync_at_the_next_batch_boundary(tmp_path, opened):
    d = opened(make_home(tmp_path))
    d._on_progress(1, None)  # no stop requested: carries on
    d._stop = True
    with pytest.raises(Shutdown):
        d._on_progress(1, None)
    assert d.run_job("selfcheck", d._selfcheck_job) is False  # nothing starts once stopping
    assert "selfcheck" not in d.jobs or d.jobs["selfcheck"].runs == 0


def test_one_daemon_per_home(tmp_path):
    home = Home(tmp_path / "h")
    home.ensure()
    assert running_pid(home) is None
    first = InstanceLock(home)
    first.acquire()
    try:
        assert running_pid(home) == os.getpid()
        with pytest.raises(UserError, match=rf"already running .*pid {os.getpid()}"):
            InstanceLock(home).acquire(wait=0.1)
    finally:
        first.release()
    assert running_pid(home) is None
    second = InstanceLock(home)
    second.acquire(wait=0.1)
    second.release()


def test_the_watchdog_pings_only_while_the_loop_is_healthy(tmp_path, opened):
    d = opened(make_home(tmp_path))
    now = daemon_mod.time.monotonic()
    d.last_beat = now
    assert d.alive()
    d.last_beat = now - (2 * daemon_mod.POLL_SLEEP + 31)
    assert not d.alive()  # the idle loop stopped waking up
    d.current, d.job_started, d.last_beat = "sync:acc0", now - 10, now - 10
    assert d.alive()  # a job may run for a while
    d.job_started = d.last_beat = now - d.settings.job_timeout - 1
    assert not d.alive()  # hung past job_timeout
    d.current = None


def test_redact_masks_addresses_and_bounds_length():
    text = redact("cannot reach Ana <ana.ruiz+x@mail.example.org>\n" + "x" * 500)
    assert "ana.ruiz" not in text and "<address>" in text
    assert len(text) <= 300 and "\n" not in text


# -- sd_notify --------------------------------------------------------------------------------


@pytest.fixture
def notify_socket():
    folder = tempfile.mkdtemp(prefix="sdn", dir="/tmp")
    path = os.path.join(folder, "n")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    server.settimeout(5)
    yield path, server
    server.close()
    os.unlink(path)
    os.rmdir(folder)


def test_notifier_speaks_the_protocol_over_a_real_socket(notify_socket):
    path, server = notify_socket
    n = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
    assert n.enabled and n.watchdog_interval == 1.5
    assert n.ready("2 accounts")
    assert server.recv(1024) == b"READY=1\nSTATUS=2 accounts"
    n.status("syncing\nwork")
    assert server.recv(1024) == b"STATUS=syncing work"
    n.watchdog()
    assert server.recv(1024) == b"WATCHDOG=1"
    n.reloading()
    reload = server.recv(1024).decode().split("\n")
    assert reload[0] == "RELOADING=1" and reload[1].startswith("MONOTONIC_USEC=")
    n.stopping()
    assert server.recv(1024) == b"STOPPING=1"
    n.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="abstract sockets are Linux-only")
def test_notifier_abstract_namespace_and_watchdog_pid():
    name = f"syncd-test-{os.getpid()}-{id(object())}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(5)
    try:
        n = Notifier(
            {
                "NOTIFY_SOCKET": "@" + name,
                "WATCHDOG_USEC": "1000000",
                "WATCHDOG_PID": str(os.getpid() + 1),
            }
        )
        assert n.watchdog_interval is None  # the watchdog is meant for another process
        assert n.ready()
        assert server.recv(1024) == b"READY=1"
    finally:
        server.close()


def test_notifier_without_a_manager_is_a_no_op():
    n = Notifier({})
    assert not n.enabled and n.watchdog_interval is None
    assert n.ready("x") is False and n.watchdog() is False
    assert Notifier({"NOTIFY_SOCKET": "/nonexistent/socket"}).ready() is False


def test_state_file_is_private(tmp_path, opened):
    d = opened(make_home(tmp_path))
    d._write_state("running")
    mode = (d.home.root / daemon_state.STATE_FILE).stat().st_mode & 0o777
    assert mode == 0o600
    conn = sqlite3.connect(d.home.db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


# -- memory at rest ------------------------------------------------------------------------


def test_after_jobs_ran_the_loop_gives_back_caches_before_sleeping_and_not_when_idle(
    tmp_path, opened, monkeypatch
):
    released: list[str] = []
    monkeypatch.setattr(daemon_mod, "release_cache", lambda db: released.append("sqlite"))
    monkeypatch.setattr(daemon_mod, "release_heap", lambda: released.append("heap"))
    d = opened(make_home(tmp_path))
    d._rest()
    assert released == []  # nothing ran yet: nothing to give back
    assert d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    d._rest()
    assert released == ["sqlite", "heap"]
    d._rest()  # a tick without jobs
    assert released == ["sqlite", "heap"]
    assert d.db.execute("select count(*) from accounts").fetchone()[0] == 1  # still usable


def test_the_real_releases_leave_the_store_usable(tmp_path, opened):
    d = opened(make_home(tmp_path))
    assert d.run_job("sync:acc0", functools.partial(d._sync_job, "acc0"))
    d._rest()
    assert d.db.execute("select count(*) from messages").fetchone()[0] == 1
