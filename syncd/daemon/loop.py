"""``syncd run``: the long-running daemon, on the ``schedule`` library.

Jobs (one :class:`schedule.Scheduler`, all in the main thread):

- ``sync:NAME``: each enabled account every ``sync.interval_minutes`` (plus up
  to ``daemon.jitter_seconds`` of random delay), skipping accounts in backoff
  (the engine's ``account_state.retry_after``, an hour between retries of an
  account that needs ``syncd auth``, and our own backoff after an unexpected
  error); after a sync the ``rules`` and ``outbox`` jobs run at once;
- ``rules``: the rules engine (incremental), also every hour on its own;
- the plugin jobs of the job table it is given (:data:`syncd.jobs.JOBS`):
  ``outbox`` and ``digest`` (weekly, Monday 08:00 local time by default);
- ``selfcheck``: daily: the job table's self-check (the checks of ``syncd doctor``
  that need no service manager), plus ``PRAGMA optimize``.

Every job is wrapped: an exception is logged and recorded, never stops the
loop. Between jobs the process sleeps in ``select()`` on a signal wake-up
pipe and an inotify watch of config.toml's directory (:mod:`syncd.daemon.watch`:
an edit is picked up at once, without a signal) until the next due job, at
most one sync interval (:func:`next_wake`), so a wall-clock jump is noticed
within an interval and nothing wakes the process more often than its jobs.
Without inotify it wakes every :data:`POLL_SLEEP` seconds to ``stat``
config.toml instead. ``schedule`` computes the next run from *now*, so after a
suspend each missed job runs once, not once per missed slot.

Signals: SIGTERM/SIGINT stop (a running sync stops at its next batch boundary
when the engine reports progress, else it is abandoned after
``daemon.stop_grace_seconds``; the open transaction rolls back and the cursor
stays at the last committed batch), exit status 0. SIGHUP reloads the
configuration (a broken file is reported and the previous configuration
kept); an edited ``config.toml`` is also picked up on its own.

One daemon per home: ``flock`` on ``HOME/syncd.lock``. What the daemon is doing
is written to ``HOME/daemon.json`` for ``syncd status``. Under systemd it
speaks ``sd_notify`` (READY, STATUS, WATCHDOG, RELOADING, STOPPING).

Test-only fault injection: with ``test_faults = true`` in ``[daemon]``, the
environment variable ``SYNCD_TEST_FAIL_JOB`` makes named jobs raise
(:mod:`syncd.daemon.faults`), and
``SYNCD_TEST_SLOW_BATCH=SECONDS`` holds each sync batch boundary that long so
a test can stop a sync mid-way. Without that setting both are ignored.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import logging
import os
import random
import select
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import schedule

from rules.engine import evaluate
from syncd import __version__
from syncd.config.schema import Config
from syncd.core.environment import explain
from syncd.core.errors import UserError
from syncd.core.faults import FAULT_ENV, SLOW_BATCH_ENV
from syncd.core.home import Home
from syncd.core.memory import release_heap
from syncd.daemon.faults import JobFaults
from syncd.daemon.log import configure_logging, redact
from syncd.daemon.notify import Notifier
from syncd.daemon.settings import WEEKDAYS, DaemonSettings, JobTable
from syncd.daemon.state import InstanceLock, from_iso, read_state, to_iso, write_state
from syncd.daemon.validate import Loaded, load_everything
from syncd.daemon.watch import ConfigWatch, open_watch
from syncd.pipeline.account_sync import sync_all
from syncd.pipeline.accounts import account_state
from syncd.pipeline.identity import my_keys
from syncd.pipeline.kinds import excluded
from syncd.store.db import open_db, optimize, release_cache, rollback

log = logging.getLogger(__name__)

POLL_SLEEP = 5.0  # seconds: without inotify, wake this often to notice config edits
CLOCK_JUMP = 30.0  # seconds of wall-clock vs monotonic drift that count as a suspend / jump
AUTH_RETRY = timedelta(hours=1)
MAX_BACKOFF = timedelta(hours=6)


def next_wake(idle: float | None, interval: float, watching: bool) -> float:
    """Seconds to sleep before the next tick: until the next due job (``idle``, None when
    nothing is scheduled), at most one sync ``interval`` (a wall-clock jump is noticed
    within it), or at most :data:`POLL_SLEEP` when config.toml is not ``watching``."""
    cap = float(interval) if watching else POLL_SLEEP
    return cap if idle is None else max(0.0, min(idle, cap))


class Shutdown(BaseException):
    """Raised inside a running job to abandon it: syncd must stop now.

    A ``BaseException`` so that no ``except Exception`` on the way swallows it;
    ``db.atomic()`` rolls back on it.
    """


# -- the daemon ------------------------------------------------------------------------


@dataclass(slots=True)
class JobState:
    """What ``syncd status`` shows per job."""

    next_run: str | None = None
    last_started: str | None = None
    last_finished: str | None = None
    last_result: str | None = None
    last_error: str | None = None
    runs: int = 0
    failures: int = 0


class Daemon:
    """The scheduler loop behind ``syncd run``."""

    def __init__(self, home: Home, jobs: JobTable, environ: dict[str, str] | None = None):
        self.home = home
        self.job_table = jobs
        self.environ = os.environ if environ is None else environ
        self.notifier = Notifier(self.environ)
        self.lock = InstanceLock(home)
        self.db = None
        self.loaded: Loaded | None = None
        self.scheduler = schedule.Scheduler()
        self.jobs: dict[str, JobState] = {}
        self.unavailable: dict[str, str] = {}
        self.config_error: str | None = None
        self.config_stamp: tuple | None = None
        self.started = datetime.now(UTC)
        self.current: str | None = None
        self.job_started = time.monotonic()
        self.last_beat = time.monotonic()
        self._backoff: dict[str, tuple[int, datetime]] = {}
        self._retry_now: set[str] = set()
        self._plugin_calls: dict[str, Callable] = {}
        self._faults = JobFaults()
        self._stop = False
        self._reload = False
        self._closing = False
        self._status_sent = ""
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._watch: ConfigWatch | None = None
        self._worked = False  # a job ran since the last rest
        self._quiet = 0.0  # the current sleep's length (the watchdog allows for it)
        self._watchdog_stop = threading.Event()
        self._original_tz = os.environ.get("TZ")
        self._previous: dict | None = read_state(home)  # what the last daemon left

    # -- life cycle

    @property
    def config(self) -> Config:
        assert self.loaded is not None
        return self.loaded.config

    @property
    def settings(self) -> DaemonSettings:
        assert self.loaded is not None
        return self.loaded.settings

    def open(self) -> None:
        """Lock the home, read the configuration, open the store (no signals, no loop)."""
        self.home.ensure()
        self.lock.acquire()
        try:
            self._apply(load_everything(self.home), keep_next_runs=False)
            try:
                self.db = open_db(self.home.db_path)
            except Exception as exc:
                db_path = self.home.db_path
                fallback = UserError(f"cannot open the database {db_path}: {exc}")
                raise (explain(exc, db_path) or fallback) from None
        except BaseException:
            self.lock.release()
            raise

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the exit status (0)."""
        self.open()
        self._watch = open_watch(self.home.config_path)
        previous = self._install_signals()
        watchdog = self._start_watchdog()
        try:
            try:
                self._announce_start()
                while not self._stop:
                    self.tick()
                    if self._stop:
                        break
                    self._rest()
                    self._sleep()
            except Shutdown as exc:
                self._closing = True
                log.info("stopped %s", exc)
        finally:
            self._closing = True
            signal.setitimer(signal.ITIMER_REAL, 0)
            self.close(previous, watchdog)
        return 0

    def close(self, previous_handlers: dict | None = None, watchdog=None) -> None:
        """Roll back anything open, write the final state, release the lock."""
        self.notifier.stopping("stopping")
        self._watchdog_stop.set()
        if self.db is not None:
            with contextlib.suppress(Exception):
                rollback(self.db)
            with contextlib.suppress(Exception):
                self.db.conn.close()
        self._write_state("stopped")
        for signum, handler in (previous_handlers or {}).items():
            signal.signal(signum, handler)
        if previous_handlers:
            signal.set_wakeup_fd(-1)
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        if self._watch is not None:
            self._watch.close()
        if watchdog is not None:
            watchdog.join(timeout=1)
        self.notifier.close()
        self.lock.release()
        log.info("stopped")

    def _announce_start(self) -> None:
        accounts = self._enabled_accounts()
        if accounts:
            log.info(
                "syncd %s running for %s: %d account(s), sync every %ds (+ up to %ds jitter)",
                __version__,
                self.home.root,
                len(accounts),
                self.settings.sync_interval,
                self.settings.jitter,
            )
        else:
            log.info(
                "syncd %s running for %s, idle: no account configured "
                "(syncd account add ...; the daemon picks it up)",
                __version__,
                self.home.root,
            )
        for name, reason in self.unavailable.items():
            log.info("job %s not available: %s", name, reason)
        self._write_state("running")
        self.notifier.ready(self._status_line())
        self._status_sent = self._status_line()

    # -- configuration

    def _enabled_accounts(self) -> list[str]:
        return [a.name for a in self.config.accounts.values() if a.enabled]

    def _config_stamp(self) -> tuple | None:
        try:
            st = self.home.config_path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _apply(self, loaded: Loaded, keep_next_runs: bool) -> None:
        self.loaded = loaded
        self.config_error = None
        self.config_stamp = self._config_stamp()
        tz = loaded.config.raw.get("timezone")
        # schedule works in naive local time: make "local" the configured zone, if any.
        if isinstance(tz, str):
            os.environ["TZ"] = tz
        elif self._original_tz is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = self._original_tz
        time.tzset()
        test_faults = loaded.settings.test_faults
        self._faults = JobFaults(self.environ.get(FAULT_ENV, ""), test_faults)
        slow = self.environ.get(SLOW_BATCH_ENV, "") if test_faults else ""
        self._slow_batch = float(slow) if slow.replace(".", "", 1).isdigit() else 0.0
        self._build_schedule(keep_next_runs)

    def reload(self, explicit: bool = True) -> bool:
        """Re-read the configuration; on a problem keep the old one (and say so)."""
        self.notifier.reloading()
        try:
            loaded = load_everything(self.home)
        except UserError as exc:
            self.config_error = redact(str(exc), 2000)
            self.config_stamp = self._config_stamp()
            log.error("configuration not reloaded, keeping the previous one: %s", self.config_error)
            self._write_state("running")
            self.notifier.ready(
                f"config error, running with the previous config; {self._status_line()}"
            )
            return False
        before = set(self._enabled_accounts())
        self._apply(loaded, keep_next_runs=not explicit)
        after = set(self._enabled_accounts())
        if explicit:  # SIGHUP also means "retry now": every account syncs soon, backoff or not
            self._backoff.clear()
            self._retry_now = after
        log.info(
            "configuration reloaded: %d account(s) (%d added, %d removed)%s",
            len(after),
            len(after - before),
            len(before - after),
            "" if after else "; idle: no account configured",
        )
        self._write_state("running")
        self.notifier.ready(self._status_line())
        return True

    # -- the schedule

    def _build_schedule(self, keep_next_runs: bool) -> None:
        kept = {}
        for job in self.scheduler.jobs:
            name = next(iter(t for t in job.tags if t != "job"), None)
            # interval jobs keep their slot (or an earlier one); the weekly digest is recomputed
            keep = keep_next_runs or not (name or "").startswith("sync:")
            if name and job.next_run and name != "digest" and keep:
                kept[name] = job.next_run
        sched = schedule.Scheduler()
        s = self.settings
        now = datetime.now()
        self.unavailable = {}
        self._plugin_calls = {}
        names: list[str] = []

        def add(name: str, job: schedule.Job, func: Callable, first: datetime | None) -> None:
            job.do(self.run_job, name, func).tag("job", name)
            if name in kept:
                job.next_run = min(kept[name], job.next_run)
            elif first is not None:
                job.next_run = first
            names.append(name)

        for account in self._enabled_accounts():
            every = sched.every(s.sync_interval)
            if s.jitter:
                every = every.to(s.sync_interval + s.jitter)
            stagger = random.uniform(0, min(s.jitter, 10))
            add(
                f"sync:{account}",
                every.seconds,
                functools.partial(self._sync_job, account),
                now + timedelta(seconds=stagger),
            )
        first_rules = now if not self._enabled_accounts() else None
        add("rules", sched.every(s.rules_interval).seconds, self._rules_job, first_rules)
        for plugin in self.job_table.plugins.values():
            call = functools.partial(self._plugin_job, plugin.name, plugin.run)
            self._plugin_calls[plugin.name] = call
            if plugin.name == "digest":
                if s.digest_day == "off":
                    self.unavailable["digest"] = "turned off (daemon.digest_day = 'off')"
                    continue
                weekly = getattr(sched.every(), s.digest_day).at(s.digest_time)
                add("digest", weekly, call, self._digest_catch_up(now))
            else:
                add(plugin.name, sched.every(s.sync_interval).seconds, call, None)
        first_check = now + timedelta(seconds=min(s.selfcheck_interval, 600))
        add(
            "selfcheck", sched.every(s.selfcheck_interval).seconds, self._selfcheck_job, first_check
        )
        self.scheduler = sched
        self.jobs = {n: self.jobs.get(n) or self._previous_job(n) for n in names}
        self._previous = None  # only the first schedule looks back at the previous run
        self._refresh_next_runs()

    def _previous_job(self, name: str) -> JobState:
        """A job's last outcome as the previous daemon left it (status stays continuous)."""
        old = ((self._previous or {}).get("jobs") or {}).get(name) or {}
        keys = ("last_started", "last_finished", "last_result", "last_error")
        return JobState(**{k: old.get(k) for k in keys})

    def _digest_catch_up(self, now: datetime) -> datetime | None:
        """A minute from now when the last digest slot passed while no daemon ran, else None.

        Only with a previous run on record (a first start sends nothing at once); the
        digest module keys each week's digest, so a catch-up never sends one twice.
        """
        previous = self._previous
        if not previous:
            return None
        hour, minute = map(int, self.settings.digest_time.split(":"))
        slot = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
        slot -= timedelta(days=(now.weekday() - WEEKDAYS.index(self.settings.digest_day)) % 7)
        if slot > now:
            slot -= timedelta(days=7)
        digest = (previous.get("jobs") or {}).get("digest") or {}
        last = from_iso(digest.get("last_finished") or previous.get("started"))
        if last is None or last.astimezone().replace(tzinfo=None) >= slot:
            return None
        log.info("the weekly digest of %s was missed: it runs in a minute", slot.date())
        return now + timedelta(seconds=60)

    def _refresh_next_runs(self) -> None:
        for job in self.scheduler.jobs:
            name = next(iter(t for t in job.tags if t != "job"), None)
            if name in self.jobs:
                self.jobs[name].next_run = to_iso(job.next_run)

    def tick(self) -> None:
        """Run every due job once, then pick up signals-driven work (reload)."""
        self.last_beat = time.monotonic()
        if self._reload:
            self._reload = False
            self.reload(explicit=True)
        elif self._config_stamp() != self.config_stamp:
            log.info("config.toml changed; reloading")
            self.reload(explicit=False)
        self.scheduler.run_pending()
        self._refresh_next_runs()
        status = self._status_line()
        if status != self._status_sent:
            self.notifier.status(status)
            self._status_sent = status

    def _rest(self) -> None:
        """Before sleeping after jobs ran, give back what they left cached: SQLite's page
        cache and the C heap's free pages (so at rest the process holds what it needs, not
        its peak)."""
        if not self._worked:
            return
        self._worked = False
        if self.db is not None:
            release_cache(self.db)
        release_heap()

    def _sleep(self) -> None:
        timeout = next_wake(
            self.scheduler.idle_seconds, self.settings.sync_interval, self._watch is not None
        )
        self._quiet = timeout
        wall, mono = time.time(), time.monotonic()
        if self._wake_r is not None:
            self._wait(timeout)
        else:
            time.sleep(timeout)
        drift = (time.time() - wall) - (time.monotonic() - mono)
        if drift > CLOCK_JUMP:
            log.info(
                "woke %d min late (suspend or clock change): due jobs run once", round(drift / 60)
            )
        elif drift < -CLOCK_JUMP:
            log.info("the clock went back %d min: rescheduling", round(-drift / 60))
            self._build_schedule(keep_next_runs=False)

    def _wait(self, timeout: float) -> None:
        """Sleep in ``select()`` for ``timeout`` s, or until a signal or a config.toml edit
        (other files changing beside it, such as our own state file, sleep on)."""
        assert self._wake_r is not None
        deadline = time.monotonic() + timeout
        fds: list = [self._wake_r] if self._watch is None else [self._wake_r, self._watch]
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select(fds, [], [], left)
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    while self._wake_r.recv(512):
                        pass
                return
            if not ready or self._watch is None or self._watch.changed():
                return

    # -- running jobs

    def run_job(self, name: str, func: Callable[[], str | None]) -> bool:
        """Run one job, catching and recording every error; True when it succeeded."""
        if self._stop:
            return False
        state = self.jobs.setdefault(name, JobState())
        outer = self.current
        self.current = name if outer is None else outer
        if outer is None:
            self.job_started = time.monotonic()
            self._worked = True
        state.last_started = to_iso(datetime.now(UTC))
        ok = False
        try:
            self._faults.check(name)
            summary = func()
            ok = True
            state.last_result = "ok" if summary is None else summary
            state.last_error = None
        except Shutdown:
            state.last_result = "interrupted"
            raise
        except _JobFailed as exc:  # the job ran and reported a failure
            state.failures += 1
            state.last_result = "error"
            state.last_error = str(exc)
            log.warning("job %s failed: %s", name, state.last_error)
        except Exception as exc:
            state.failures += 1
            state.last_result = "error"
            state.last_error = redact(f"{type(exc).__name__}: {exc}")
            log.error("job %s failed: %s", name, state.last_error)
            log.debug("job %s traceback", name, exc_info=True)
        finally:
            state.runs += 1
            state.last_finished = to_iso(datetime.now(UTC))
            self.current = outer
            self.last_beat = time.monotonic()
            if outer is None and not self._closing:
                self._refresh_next_runs()
                self._write_state("running")
        return ok

    def _backoff_until(self, account: str) -> datetime | None:
        """When ``account`` may be synced again, if it is in backoff."""
        until = None
        state = account_state(self.db, account)
        if state is not None:
            until = from_iso(state.retry_after)
            finished = from_iso(state.last_finished)
            if state.needs_auth and finished:
                until = max(filter(None, [until, finished + AUTH_RETRY]))
        if account in self._backoff:
            mine = self._backoff[account][1]
            until = max(until, mine) if until else mine
        return until

    def _sync_job(self, account_name: str) -> str | None:
        account = self.config.accounts.get(account_name)
        if account is None or not account.enabled:
            return "skipped: not configured"
        until = self._backoff_until(account_name)
        retry_now = account_name in self._retry_now
        self._retry_now.discard(account_name)
        if until and until > datetime.now(UTC) and not retry_now:
            log.debug("account %s in backoff until %s", account_name, to_iso(until))
            return f"skipped: backoff until {to_iso(until)}"
        single = dataclasses.replace(self.config, accounts={account_name: account})
        kwargs = {}
        if "on_progress" in inspect.signature(sync_all).parameters:
            kwargs["on_progress"] = self._on_progress
        started = time.monotonic()
        try:
            (result,) = sync_all(self.db, self.home, single, **kwargs)
        except Exception:
            failures = self._backoff.get(account_name, (0, None))[0] + 1
            delay = min(timedelta(minutes=2**failures), MAX_BACKOFF)
            self._backoff[account_name] = (failures, datetime.now(UTC) + delay)
            raise
        self._backoff.pop(account_name, None)
        if not result.ok:
            hint = f" (run `syncd auth {account_name}`)" if result.needs_auth else ""
            raise _JobFailed(redact(result.error or "failed") + hint)
        stats = result.stats
        news = stats.observations or stats.events or stats.quarantined
        # a quiet daemon: INFO only when something arrived, else DEBUG
        (log.info if news else log.debug)(
            "synced %s: %d messages, %d events, %d quarantined in %.1fs",
            account_name,
            stats.observations,
            stats.events,
            stats.quarantined,
            time.monotonic() - started,
        )
        self.run_job("rules", self._rules_job)
        if "outbox" in self._plugin_calls:
            self.run_job("outbox", self._plugin_calls["outbox"])
        return "ok"

    def _on_progress(self, *_args) -> None:
        self.last_beat = time.monotonic()
        # test hook: hold each batch boundary so a test can stop a sync mid-way
        deadline = time.monotonic() + getattr(self, "_slow_batch", 0.0)
        while not self._stop and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._stop:
            raise Shutdown("the sync at a batch boundary (committed batches are kept)")

    def _rules_job(self) -> str | None:
        if self.loaded is None or self.loaded.rules is None:
            return "skipped: the rules package is not installed"
        report = evaluate(
            self.db, int(time.time()), self.loaded.rules, my_keys=my_keys, excluded=excluded
        )
        (log.info if report.opened or report.closed or report.mode != "incremental" else log.debug)(
            "rules (%s): %d people evaluated, %d flags opened, %d closed in %.1fs",
            report.mode,
            report.evaluated,
            report.opened,
            report.closed,
            report.seconds,
        )
        return "ok"

    def _plugin_job(self, name: str, func: Callable) -> str | None:
        summary = func(self.db, self.home, self.config, int(time.time()))
        summary = None if summary is None else redact(summary, 200)
        (log.info if name == "digest" else log.debug)("%s: %s", name, summary or "done")
        return summary

    def _selfcheck_job(self) -> str:
        checks = self.job_table.selfcheck(self.home, self.db)
        bad = [c for c in checks if c.level != "ok"]
        for check in bad:
            logger = log.error if check.level == "fail" else log.warning
            logger("self-check %s: %s", check.name, redact(check.message))
        with contextlib.suppress(Exception):
            optimize(self.db)
        fails = sum(c.level == "fail" for c in bad)
        if fails:
            raise _JobFailed(f"{fails} problem(s); run `syncd doctor`")
        return f"ok ({len(bad)} warning(s))" if bad else "ok"

    # -- signals, watchdog, state

    def _install_signals(self) -> dict:
        self._wake_r, self._wake_w = socket.socketpair()
        for sock in (self._wake_r, self._wake_w):
            sock.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        previous = {}
        for signum, handler in (
            (signal.SIGTERM, self._on_stop),
            (signal.SIGINT, self._on_stop),
            (signal.SIGHUP, self._on_hup),
            (signal.SIGALRM, self._on_alarm),
        ):
            previous[signum] = signal.signal(signum, handler)
        return previous

    def _on_stop(self, signum, _frame) -> None:
        first = not self._stop
        self._stop = True
        if first:
            log.info("%s received: stopping", signal.Signals(signum).name)
        if self._closing or self.current is None:
            return
        if not first:
            raise Shutdown(f"{self.current} on a second signal (its open transaction rolled back)")
        signal.setitimer(signal.ITIMER_REAL, max(0.01, self.settings.stop_grace))

    def _on_alarm(self, _signum, _frame) -> None:
        if self._stop and self.current is not None and not self._closing:
            raise Shutdown(
                f"{self.current} after {self.settings.stop_grace:g}s of grace"
                " (its open transaction rolled back)"
            )

    def _on_hup(self, _signum, _frame) -> None:
        self._reload = True

    def _start_watchdog(self) -> threading.Thread | None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return None
        thread = threading.Thread(
            target=self._watchdog_loop, args=(interval,), name="watchdog", daemon=True
        )
        thread.start()
        return thread

    def alive(self) -> bool:
        """Whether the main loop looks healthy (the watchdog pings only then)."""
        now = time.monotonic()
        if self.current is not None:
            return now - max(self.job_started, self.last_beat) < self.settings.job_timeout
        return now - self.last_beat < max(2 * POLL_SLEEP, self._quiet) + 30

    def _watchdog_loop(self, interval: float) -> None:
        self.notifier.watchdog()
        while not self._watchdog_stop.wait(interval):
            if self.alive():
                self.notifier.watchdog()
            else:
                log.error("main loop stuck in %s; no watchdog ping", self.current or "idle")

    def _status_line(self) -> str:
        if self.current:
            return f"running {self.current}"
        accounts = self._enabled_accounts()
        if not accounts:
            return "idle: no account configured"
        failing = [
            a for a in accounts if self.jobs.get(f"sync:{a}", JobState()).last_result == "error"
        ]
        text = f"{len(accounts)} account(s)"
        if failing:
            text += f", {len(failing)} failing ({', '.join(failing)})"
        nxt = self.scheduler.next_run
        if nxt:
            text += f"; next job at {nxt.strftime('%H:%M:%S')}"
        if self.config_error:
            text += "; config error (previous config kept)"
        return text

    def _write_state(self, state: str) -> None:
        data = {
            "pid": os.getpid(),
            "state": state,
            "started": to_iso(self.started),
            "updated": to_iso(datetime.now(UTC)),
            "current_job": self.current,
            "accounts": self._enabled_accounts() if self.loaded else [],
            "idle_reason": None,
            "config_error": self.config_error,
            "jobs": {n: dataclasses.asdict(j) for n, j in sorted(self.jobs.items())},
            "unavailable": self.unavailable,
            "sync_interval_seconds": self.settings.sync_interval if self.loaded else None,
        }
        if self.loaded and not data["accounts"]:
            data["idle_reason"] = "no account configured"
        write_state(self.home, data)


class _JobFailed(Exception):
    """A job that completed but failed (already logged and recorded elsewhere)."""


def run_daemon(home: Home, jobs: JobTable, verbose: int = 0) -> int:
    """``syncd run``: configure logging, run the loop with ``jobs``, return the exit status."""
    configure_logging(verbose)
    os.umask(0o077)  # the store, its WAL and the state file: private to the user
    try:
        return Daemon(home, jobs).run()
    except Shutdown:  # a stop signal landed outside the loop's own handling
        return 0
