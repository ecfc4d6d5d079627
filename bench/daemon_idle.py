"""Benchmark: the daemon at rest (issue 17 item 4).

A real ``syncd run`` (a subprocess, in a fresh home) with accounts that have
no news: an mbox, a maildir and an .ics file (local), Gmail and Google
Calendar (the Google emulator), Microsoft 365 (the Graph emulator: mail and
calendar), IMAP (a real Dovecot on loopback, behind a recording TCP proxy) and
Exchange (the EWS emulator, mail). The servers run in this process (Dovecot
beside it), so their CPU is not the daemon's.

After every account's first sync (and the rules after it) the daemon is left
alone for ``--minutes``; meanwhile its process is sampled every few seconds:
CPU time (user + system, from psutil), RSS, and wake-ups (the voluntary
context switches of all its threads, from ``/proc/PID/task/*/status``). Each
server counts the requests it receives; divided by the daemon's idle syncs of
that account (from ``daemon.json``) that is the cost of a sync with no news.

Targets: CPU <= 0.1 % of one core averaged over the run, RSS <= 80 MB, no
wake-up loop tighter than the sync interval (wake-ups between jobs: at most one
per interval), one cheap request per source per idle sync (a source: a cursor
scope of the account): Gmail ``history.list``, Calendar ``events.list`` with its
sync token, Graph a ``delta`` per mail folder and the calendar view's, IMAP an
``EXAMINE`` per folder (CONDSTORE ``HIGHESTMODSEQ`` unchanged: nothing fetched),
EWS a ``SyncFolderItems`` per folder; besides them only the session and the
folder list (:data:`OVERHEAD`), never a fetch.

    .venv/bin/python bench/daemon_idle.py --write-results    # 10 minutes, syncs every 300 s
    .venv/bin/python bench/daemon_idle.py --minutes 2 --interval 60 --summary-json /tmp/i.json

With an interval other than the shipped 300 s, the CPU at the default interval is
also given, from the measured parts: the CPU between jobs plus each account's idle
sync cost times the accounts, every 300 s.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import sqlite3  # noqa: E402

import psutil  # noqa: E402

from bench.sections import machine, replace_section  # noqa: E402
from syncd.config.schema import AccountConfig, save_account  # noqa: E402
from tests.support.helpers import message, write_mbox  # noqa: E402

HEADING = "## Daemon at rest (bench/daemon_idle.py)"
ME = "me@example.com"
CPU_TARGET = 0.1  # percent of one core
DEFAULT_INTERVAL = 300  # seconds: sync.interval_minutes = 5, as shipped
RSS_TARGET = 80.0  # MB (10**6 bytes, as the issue says MB)
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


# -- the sources --------------------------------------------------------------------------------


@dataclass
class Sources:
    """The servers behind the accounts, and how to count what each received."""

    google: object | None = None
    graph: object | None = None
    ews: object | None = None
    dovecot: object | None = None
    proxy: object | None = None
    radicale: object | None = None
    dav_proxy: object | None = None
    notes: list[str] = field(default_factory=list)

    def reset(self) -> None:
        """Forget every request so far (the first sync's)."""
        if self.google is not None:
            self.google.reset_records()
        if self.graph is not None:
            with self.graph.lock:
                self.graph.records.clear()
        if self.proxy is not None:
            with self.proxy._lock:
                self.proxy.sent.clear()
        if self.ews is not None:
            with self.ews.lock:
                self.ews.requests.clear()
        if self.dav_proxy is not None:
            with self.dav_proxy._lock:
                self.dav_proxy.sent.clear()

    def requests(self) -> dict[str, Counter]:
        """Requests per account since :meth:`reset`, by method (or IMAP command)."""
        out: dict[str, Counter] = {}
        if self.google is not None:
            calls = self.google.calls()
            out["gmail"] = Counter(r.method for r in calls if r.method.startswith("gmail."))
            out["gcal"] = Counter(r.method for r in calls if r.method.startswith("calendar."))
        if self.graph is not None:
            out["outlook"] = Counter(
                f"{r.method} {_graph_route(r.path)}" for r in self.graph.calls()
            )
        if self.proxy is not None:
            out["imap"] = Counter(_imap_command(line) for line in self.proxy.commands() if line)
        if self.ews is not None:
            out["exchange"] = Counter(self.ews.ops())
        if self.dav_proxy is not None:
            text = "\n".join(self.dav_proxy.commands())  # a body runs into the next request
            out["caldav"] = Counter(
                re.findall(r"(PROPFIND|REPORT|GET|PUT|OPTIONS) /\S* HTTP", text)
            )
        return out

    def close(self) -> None:
        """Stop every server."""
        servers = (self.google, self.graph, self.ews, self.proxy, self.dovecot)
        for server in (*servers, self.dav_proxy, self.radicale):
            if server is not None:
                with contextlib.suppress(Exception):
                    (getattr(server, "close", None) or server.stop)()


def _graph_route(path: str) -> str:
    """A Graph path with ids replaced: ``/me/mailFolders/{id}/messages/delta``."""
    path = path.split("?", 1)[0]
    path = re.sub(r"^/v1\.0", "", path)
    return re.sub(r"/(mailFolders|calendars|events|messages)/(?!delta\b)[^/]+", r"/\1/{id}", path)


def _imap_command(line: str) -> str:
    """``a12 UID FETCH 1:* ...`` -> ``UID FETCH``; a literal or continuation -> ``(data)``."""
    parts = line.split()
    if len(parts) < 2 or not re.fullmatch(r"[A-Za-z]+\d+|\w+", parts[0]):
        return "(data)"
    verb = parts[1].upper()
    if verb == "UID" and len(parts) > 2:
        verb += " " + parts[2].upper()
    return verb


def local_accounts(root: Path) -> list[AccountConfig]:
    """An mbox, a maildir and an .ics calendar, a few dozen items each."""
    msgs = [
        message(
            sender=f"p{i % 9}@x.example" if i % 3 else ME,
            to=ME if i % 3 else f"p{i % 9}@x.example",
            subject=f"note {i}",
            date=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=7 * i),
        )
        for i in range(60)
    ]
    mbox = write_mbox(root / "mail" / "archive.mbox", msgs[:30])
    maildir = root / "maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(msgs[30:]):
        (maildir / "cur" / f"{i:04d}.bench:2,S").write_bytes(raw)
    ics = root / "calendar.ics"
    events = "".join(
        "BEGIN:VEVENT\r\n"
        f"UID:bench-{i}@example.com\r\nDTSTAMP:20240101T000000Z\r\n"
        f"DTSTART:202402{i + 1:02d}T100000Z\r\nDTEND:202402{i + 1:02d}T103000Z\r\n"
        f"SUMMARY:Meeting {i}\r\nORGANIZER:mailto:{ME}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{ME}\r\n"
        f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:p{i % 9}@x.example\r\n"
        "END:VEVENT\r\n"
        for i in range(20)
    )
    ics.write_text(
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n{events}END:VCALENDAR\r\n"
    )
    return [
        AccountConfig("archive", "mbox", ME, options={"paths": [str(mbox)]}),
        AccountConfig("maildir", "maildir", ME, options={"paths": [str(maildir)]}),
        AccountConfig("calendar", "ics", ME, options={"paths": [str(ics)]}),
    ]


def remote_accounts(
    root: Path, sources: Sources, dovecot: bool, exchange: bool
) -> list[AccountConfig]:
    """Gmail + Calendar (Google emulator), Outlook (Graph emulator), IMAP (Dovecot) and
    Exchange (the EWS emulator, mail only)."""
    from tests.support.google_emulator import GoogleEmulator
    from tests.support.google_emulator import testing as google_testing
    from tests.support.graph_emulator import GraphEmulator
    from tests.support.graph_emulator import testing as graph_testing

    accounts = []
    google = GoogleEmulator(calendar_now=google_testing.CALENDAR_NOW).start()
    sources.google = google
    google_testing.fill_mailbox(google, 60)
    google_testing.fill_calendar(google)
    accounts.append(google_testing.account(google, root, "gmail", "gmail", timeout=30.0))
    accounts.append(google_testing.account(google, root, "gcal", "gcal", timeout=30.0))
    graph = GraphEmulator().start()
    sources.graph = graph
    graph_testing.fill_mailbox(graph, 60)
    graph_testing.fill_calendar(graph)
    accounts.append(graph_testing.account(graph, root, "outlook", timeout=30.0))
    if dovecot:
        from tests.support.dovecot import Dovecot
        from tests.support.imap_testing import imap_account
        from tests.support.imap_testing import raw as imap_raw
        from tests.support.tcp_proxy import TcpProxy

        server = Dovecot(root / "dovecot").start()
        sources.dovecot = server
        for n in range(40):
            folder = ("INBOX", "Sent", "Archive", "Trash")[n % 4]
            sender, to = (
                (ME, f"q{n % 5}@y.example") if folder == "Sent" else (f"q{n % 5}@y.example", ME)
            )
            server.append(folder, imap_raw(n, sender, to))
        proxy = TcpProxy(server.port)
        sources.proxy = proxy
        account = imap_account(server, root, "imap", port=proxy.port, timeout=30)
        accounts.append(account)
    else:
        sources.notes.append("IMAP not run (--no-dovecot)")
    if exchange:
        from tests.support.ews_emulator import testing as ews_testing
        from tests.support.ews_emulator.server import EwsEmulator

        ews = EwsEmulator().start()
        sources.ews = ews
        ews_testing.fill_mailbox(ews, 30)
        accounts.append(ews_testing.account(ews, root, "exchange", timeout=30.0))
    else:
        sources.notes.append("Exchange not run (--no-exchange)")
    if dovecot:  # the servers of this machine: Dovecot, and Radicale for CalDAV
        from tests.support.caldav_testing import caldav_account, fill
        from tests.support.radicale_server import Radicale
        from tests.support.tcp_proxy import TcpProxy

        radicale = Radicale(root / "radicale").start()
        sources.radicale = radicale
        fill(radicale)
        dav_proxy = TcpProxy(radicale.port)
        sources.dav_proxy = dav_proxy
        account = caldav_account(radicale, root, "caldav", timeout=30)
        account.options["url"] = f"http://127.0.0.1:{dav_proxy.port}/"
        accounts.append(account)
    for account in accounts:  # as `syncd auth` leaves them (the daily self-check looks)
        for key in ("token_file", "password_file"):
            if account.options.get(key):
                Path(account.options[key]).chmod(0o600)
    return accounts


# -- the daemon ---------------------------------------------------------------------------------


def write_config(home: Path, accounts: list[AccountConfig], interval: int) -> None:
    """The accounts plus ``[daemon]``: the sync interval (jitter as shipped: a tenth)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = home / "config.toml"
    config.write_text(f'me = ["{ME}"]\n', encoding="utf-8")
    for account in accounts:
        save_account(config, account)
    with open(config, "a", encoding="utf-8") as fh:
        fh.write(f"\n[daemon]\nsync_interval_seconds = {interval}\n")


def state(home: Path) -> dict:
    """``daemon.json`` (empty while being replaced)."""
    try:
        return json.loads((home / "daemon.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def runs(home: Path, names: list[str]) -> dict[str, int]:
    """How many times each account's sync job has run."""
    jobs = state(home).get("jobs") or {}
    return {n: (jobs.get(f"sync:{n}") or {}).get("runs", 0) for n in names}


def wait_first_syncs(proc, home: Path, names: list[str], timeout: float = 300) -> dict:
    """Wait until every account synced once without error and no job is running."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the daemon exited with {proc.returncode}")
        s = state(home)
        jobs = s.get("jobs") or {}
        done = all((jobs.get(f"sync:{n}") or {}).get("runs", 0) >= 1 for n in names)
        if done and s.get("current_job") is None:
            bad = {
                n: jobs[f"sync:{n}"].get("last_error")
                for n in names
                if jobs[f"sync:{n}"].get("last_result") != "ok"
            }
            if bad:
                raise SystemExit(f"first sync failed: {bad}")
            return s
        time.sleep(0.5)
    raise SystemExit("the first syncs did not finish in time")


def wakeups(pid: int) -> int:
    """Voluntary context switches of every thread of ``pid`` (each is a sleep that ended)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            text = (task / "status").read_text()
            total += int(re.search(r"^voluntary_ctxt_switches:\s*(\d+)", text, re.M).group(1))
    return total


def _anon(pid: int) -> int:
    """``RssAnon`` of ``pid`` in bytes."""
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^RssAnon:\s*(\d+) kB", text, re.M).group(1)) * 1024


@dataclass
class Sample:
    """One look at the daemon process."""

    at: float
    cpu: float  # user + system seconds
    rss: int
    anon: int  # of which anonymous memory (heap), the rest mapped files (code, libraries)
    wakeups: int
    threads: int
    jobs: tuple  # (runs of all jobs, current job, daemon.json's "updated"): what it did


def sample(proc: psutil.Process, home: Path) -> Sample:
    """CPU time, RSS, wake-ups and threads of the daemon now, and its jobs' state."""
    times = proc.cpu_times()
    s = state(home)
    done = sum(j.get("runs", 0) for j in (s.get("jobs") or {}).values())
    return Sample(
        time.monotonic(),
        times.user + times.system,
        proc.memory_info().rss,
        _anon(proc.pid),
        wakeups(proc.pid),
        proc.num_threads(),
        (done, s.get("current_job"), s.get("updated")),
    )


def quiet_rates(samples: list[Sample]) -> tuple[float, float, float]:
    """CPU seconds per second and wake-ups per minute between jobs, and the seconds those
    spans cover. A span is quiet when no job finished in it nor in the span after it:
    daemon.json changes when a job ends, so a job that started in a span shows only in
    the next one (idle jobs take milliseconds, far less than a sampling period)."""
    cpu = wake = span = 0.0
    for (a, b), c in zip(itertools.pairwise(samples), samples[2:], strict=False):
        if a.jobs == b.jobs == c.jobs and a.jobs[1] is None:
            cpu += b.cpu - a.cpu
            wake += b.wakeups - a.wakeups
            span += b.at - a.at
    if span <= 0:
        return 0.0, 0.0, 0.0
    return cpu / span, 60 * wake / span, span


def measure(
    minutes: float,
    interval: int,
    dovecot: bool,
    exchange: bool,
    every: float = 2.0,
    keep_log: Path | None = None,
) -> dict:
    """Start the daemon, wait for the first syncs, sample it for ``minutes``; the figures."""
    with tempfile.TemporaryDirectory(prefix="syncd-idle-") as tmp:
        root = Path(tmp)
        sources = Sources()
        try:
            accounts = local_accounts(root) + remote_accounts(root, sources, dovecot, exchange)
            names = [a.name for a in accounts]
            home = root / "home"
            write_config(home, accounts, interval)
            env = {
                k: v
                for k, v in os.environ.items()
                if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
            }
            empty_rss = rss_without_accounts(root, env)
            log_path = root / "daemon.log"
            with open(log_path, "wb") as err:
                daemon = subprocess.Popen(
                    [*CLI, "--home", str(home), "run"],
                    cwd=REPO,
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                )
            try:
                started = time.monotonic()
                wait_first_syncs(daemon, home, names)
                first_sync_s = time.monotonic() - started
                time.sleep(2)  # let the follow-up jobs (rules, outbox) of the last sync finish
                proc = psutil.Process(daemon.pid)
                sources.reset()
                before_runs = runs(home, names)
                samples = [sample(proc, home)]
                end = samples[0].at + minutes * 60
                while time.monotonic() < end:
                    time.sleep(min(every, max(0.0, end - time.monotonic())))
                    if daemon.poll() is not None:
                        raise SystemExit(f"the daemon exited with {daemon.returncode}")
                    samples.append(sample(proc, home))
                settle = time.monotonic() + 60  # a sync under way: count it whole, or not at all
                while state(home).get("current_job") and time.monotonic() < settle:
                    time.sleep(0.2)
                after_runs = runs(home, names)
                requests = sources.requests()
                final_state = state(home)
                scopes = sources_of(home / "syncd.db")
            finally:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                log_text = log_path.read_text(errors="replace")
                if keep_log is not None:
                    keep_log.write_text(log_text)
            provider_rss = rss_by_provider(root, accounts, env, interval)
        finally:
            sources.close()
    first, last = samples[0], samples[-1]
    wall = last.at - first.at
    idle_syncs = {n: after_runs[n] - before_runs[n] for n in names}
    per_sync = {
        name: {
            "requests": sum(c.values()),
            "syncs": idle_syncs.get(name, 0),
            "per_sync": sum(c.values()) / max(idle_syncs.get(name, 0), 1),
            "by_method": dict(c.most_common()),
            "sources": scopes.get(name, 0),
        }
        for name, c in requests.items()
    }
    for name, r in per_sync.items():
        r["ok"], r["why"] = judge(name, r, r["sources"])
    base, quiet_wakeups, quiet_span = quiet_rates(samples)
    syncs = sum(idle_syncs.values())
    per_sync_cpu = max(0.0, (last.cpu - first.cpu) - base * wall) / syncs if syncs else 0.0
    errors = {
        n: j.get("last_error")
        for n, j in (final_state.get("jobs") or {}).items()
        if j.get("last_result") == "error"
    }
    return {
        "minutes": wall / 60,
        "interval": interval,
        "accounts": names,
        "first_sync_s": first_sync_s,
        "cpu_s": last.cpu - first.cpu,
        "cpu_percent": 100 * (last.cpu - first.cpu) / wall,
        "base_cpu_percent": 100 * base,
        "quiet_minutes": quiet_span / 60,
        "quiet_wakeups_per_min": quiet_wakeups,
        "cpu_per_sync_s": per_sync_cpu,
        "cpu_percent_default": 100 * (base + per_sync_cpu * len(names) / DEFAULT_INTERVAL),
        "rss_mb_max": max(s.rss for s in samples) / 1e6,
        "rss_mb_end": last.rss / 1e6,
        "rss_mb_no_accounts": empty_rss,
        "rss_mb_by_provider": provider_rss,
        "import_mb": import_costs([a.kind for a in accounts]),
        "anon_mb_end": last.anon / 1e6,
        "wakeups": last.wakeups - first.wakeups,
        "wakeups_per_min": (last.wakeups - first.wakeups) / (wall / 60),
        "threads": last.threads,
        "idle_syncs": idle_syncs,
        "requests": per_sync,
        "job_errors": errors,
        "notes": sources.notes,
        "log_tail": log_text[-1500:],
    }


# Libraries a connector imports on first use (inside functions), with the bench's accounts.
LAZY = {
    "gmail": ("googleapiclient.discovery", "googleapiclient.http", "google_auth_httplib2"),
    "gcal": ("googleapiclient.discovery", "googleapiclient.http", "google_auth_httplib2"),
    "outlook": ("requests",),
}


def import_costs(kinds: list[str]) -> dict[str, float]:
    """RSS (MB) of a fresh interpreter that imported what ``syncd run`` imports, then
    what each connector adds on its own (its module and the libraries it loads on first
    use, :data:`LAZY`; nothing run)."""
    code = (
        "import sys, importlib, psutil; import syncd.cli, syncd.commands.daemon, syncd.jobs\n"
        "p = psutil.Process(); base = p.memory_info().rss\n"
        "for name in sys.argv[1:]: importlib.import_module(name)\n"
        "print((p.memory_info().rss - (base if sys.argv[1:] else 0)) / 1e6)\n"
    )
    out = {}
    for kind in ["-", *dict.fromkeys(kinds)]:
        names = [] if kind == "-" else [f"connectors.{kind}", *LAZY.get(kind, ())]
        proc = subprocess.run(
            [sys.executable, "-c", code, *names], cwd=REPO, capture_output=True, text=True
        )
        with contextlib.suppress(ValueError):
            out["syncd run" if kind == "-" else kind] = float(proc.stdout.strip())
    return out


def rss_without_accounts(root: Path, env: dict[str, str]) -> float | None:
    """RSS (MB) of ``syncd run`` on a home without accounts, once it is up (None, with
    its stderr printed, when it did not come up)."""
    return rss_at_rest(root, "empty", [], env, DEFAULT_INTERVAL)


# One user's accounts, by provider: the configurations people run (the bench's main run
# has all nine kinds at once, in one process).
PROVIDERS = {
    "local files": ("archive", "maildir", "calendar"),
    "Google (Gmail + Calendar)": ("gmail", "gcal"),
    "Microsoft 365 (Graph)": ("outlook",),
    "Exchange (EWS)": ("exchange",),
    "IMAP + CalDAV": ("imap", "caldav"),
}


def rss_at_rest(
    root: Path, label: str, accounts: list[AccountConfig], env: dict[str, str], interval: int
) -> float | None:
    """RSS (MB) of ``syncd run`` with only ``accounts`` (in a fresh home), at rest after
    their first syncs and the jobs after them (None, with its stderr printed, when it did
    not come up)."""
    home = root / f"home-{re.sub(r'[^a-z0-9]+', '-', label.lower())}"
    write_config(home, accounts, interval)
    log_path = home.with_suffix(".log")
    with open(log_path, "wb") as err:
        daemon = subprocess.Popen(
            [*CLI, "--home", str(home), "run"], cwd=REPO, env=env, stdout=err, stderr=err
        )
    try:
        deadline = time.monotonic() + 120
        up = False
        while daemon.poll() is None and time.monotonic() < deadline and not up:
            s = state(home)
            jobs = s.get("jobs") or {}
            up = (
                s.get("pid") == daemon.pid
                and s.get("state") == "running"
                and s.get("current_job") is None
                and all((jobs.get(f"sync:{a.name}") or {}).get("runs", 0) for a in accounts)
            )
            time.sleep(0.2)
        time.sleep(3)  # the rules and outbox jobs after the last sync, then the rest
        if not up or daemon.poll() is not None:
            print(f"syncd run ({label}) did not come to rest: {tail_of(log_path)}")
            return None
        return psutil.Process(daemon.pid).memory_info().rss / 1e6
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
        daemon.wait(30)


def rss_by_provider(
    root: Path, accounts: list[AccountConfig], env: dict[str, str], interval: int
) -> dict[str, float | None]:
    """RSS at rest of a daemon per provider (:data:`PROVIDERS`) of the bench's accounts."""
    by_name = {a.name: a for a in accounts}
    out = {}
    for label, names in PROVIDERS.items():
        chosen = [by_name[n] for n in names if n in by_name]
        if chosen:
            out[label] = rss_at_rest(root, label, chosen, env, interval)
    return out


def tail_of(path: Path, chars: int = 800) -> str:
    """The end of a log file."""
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")[-chars:]
    return ""


# -- reporting ----------------------------------------------------------------------------------


# Per account kind: what counts as the cheap "anything new?" request of one source (a
# mailbox, a folder, a calendar), and the session / folder-list requests allowed besides.
CHEAP = {
    "gmail": lambda m: m == "gmail.users.history.list",
    "gcal": lambda m: m == "calendar.events.list",
    "outlook": lambda m: m.endswith("/delta"),
    "imap": lambda m: m == "EXAMINE",
    "exchange": lambda m: m == "SyncFolderItems",
    "caldav": lambda m: m == "REPORT",
}
OVERHEAD = {
    "gmail": set(),
    "gcal": set(),
    "outlook": {"GET /me/mailFolders", "GET /me/mailFolders/{id}/childFolders"},
    "imap": {"CAPABILITY", "LOGIN", "LIST", "LOGOUT"},
    "exchange": {"SyncFolderHierarchy", "GetFolder"},
    "caldav": {"PROPFIND", "OPTIONS"},
}
NOT_SOURCES = {"outlook:folders", "ews:folders"}  # cursors that are no source


def sources_of(db: Path) -> dict[str, int]:
    """Cursor scopes per account (each a source read with its own change query)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT a.name, c.scope FROM cursors c JOIN accounts a ON a.id = c.account_id"
        ).fetchall()
    finally:
        conn.close()
    out: Counter = Counter()
    for name, scope in rows:
        if scope not in NOT_SOURCES:
            out[name] += 1
    return dict(out)


def judge(name: str, r: dict, sources: int) -> tuple[bool | None, str]:
    """Whether an idle sync of ``name`` made one cheap request per source and nothing but
    session / folder-list requests besides; and why."""
    if name not in CHEAP or not r["syncs"]:
        return None, "no idle sync measured"
    cheap = sum(v for k, v in r["by_method"].items() if CHEAP[name](k)) / r["syncs"]
    other = {k: v for k, v in r["by_method"].items() if not CHEAP[name](k)}
    unexpected = {k: v for k, v in other.items() if k not in OVERHEAD[name]}
    text = f"{cheap:g} change queries/sync for {sources} sources"
    if other:
        text += "; besides: " + ", ".join(f"{k} {v / r['syncs']:g}" for k, v in other.items())
    return cheap == sources and not unexpected, text


def summary_rows(result: dict) -> list[dict]:
    """Rows in the shared bench summary format (bench/RESULTS.md, ``--summary-json``)."""
    n = len(result["accounts"])
    run = f"{result['minutes']:.1f} min, {n} accounts, sync every {result['interval']} s"
    at_default = result["interval"] == DEFAULT_INTERVAL

    def row(metric, value, unit, target, ok, detail):
        return {
            "bench": "daemon_idle",
            "metric": metric,
            "value": value,
            "unit": unit,
            "target": target,
            "ok": ok,
            "detail": detail,
        }

    def rss_row(metric, mb, what):
        return row(
            metric,
            None if mb is None else round(mb, 1),
            "MB",
            f"<= {RSS_TARGET:g} MB",
            None if mb is None else mb <= RSS_TARGET,
            what if mb is not None else "not measured: the daemon did not come up (see the output)",
        )

    cpu_target = f"<= {CPU_TARGET} %"
    empty = result["rss_mb_no_accounts"]
    rows = [
        row(
            f"idle CPU (sync every {result['interval']} s)",
            round(result["cpu_percent"], 4),
            "% core",
            cpu_target if at_default else "(reference)",
            result["cpu_percent"] <= CPU_TARGET if at_default else None,
            f"measured: {result['cpu_s']:.2f} s CPU in {run}",
        )
    ]
    if not at_default:
        rows.append(
            row(
                f"idle CPU at the {DEFAULT_INTERVAL} s default",
                round(result["cpu_percent_default"], 4),
                "% core",
                cpu_target,
                result["cpu_percent_default"] <= CPU_TARGET,
                f"between syncs {result['base_cpu_percent']:.4f} % + "
                f"{1000 * result['cpu_per_sync_s']:.0f} ms per account sync × {n} / "
                f"{DEFAULT_INTERVAL} s (measured in {run})",
            )
        )
    rows += [
        row(
            "idle RSS (max)",
            round(result["rss_mb_max"], 1),
            "MB",
            f"<= {RSS_TARGET:g} MB",
            result["rss_mb_max"] <= RSS_TARGET,
            f"{run}; {', '.join(result['accounts'])}",
        ),
        rss_row(
            "idle RSS without accounts",
            empty,
            "syncd run on an empty home (its imports and the store)",
        ),
        *(
            rss_row(
                f"idle RSS, {label} only",
                mb,
                "a daemon with only these accounts, at rest after their first syncs",
            )
            for label, mb in result["rss_mb_by_provider"].items()
        ),
        row(
            "wake-ups between syncs",
            round(result["quiet_wakeups_per_min"], 2),
            "/min",
            f"<= {60 / result['interval']:.2g}/min (one per interval)",
            result["quiet_minutes"] > 0
            and result["quiet_wakeups_per_min"] <= 60 / result["interval"],
            f"voluntary context switches, all threads, over {result['quiet_minutes']:.1f} min "
            f"with no job; {result['wakeups_per_min']:.0f}/min overall",
        ),
    ]
    for name, r in sorted(result["requests"].items()):
        rows.append(
            row(
                f"{name}: requests per idle sync",
                round(r["per_sync"], 2),
                "req",
                "one cheap request per source",
                r["ok"],
                f"{r['why']} ({r['syncs']} syncs)",
            )
        )
    return rows


def print_result(result: dict) -> None:
    """The figures, readable."""
    print(
        f"{result['minutes']:.1f} min at rest, {len(result['accounts'])} accounts "
        f"({', '.join(result['accounts'])}), sync every {result['interval']} s "
        f"(first syncs took {result['first_sync_s']:.1f} s)"
    )
    print(
        f"CPU {result['cpu_s']:.2f} s = {result['cpu_percent']:.4f} % of one core "
        f"(between syncs {result['base_cpu_percent']:.4f} %, "
        f"{1000 * result['cpu_per_sync_s']:.1f} ms per account sync; at the "
        f"{DEFAULT_INTERVAL} s default {result['cpu_percent_default']:.4f} %)"
    )
    print(
        f"RSS max {result['rss_mb_max']:.1f} MB (end {result['rss_mb_end']:.1f}, "
        f"of which heap {result['anon_mb_end']:.1f}); {result['threads']} threads; "
        f"without accounts {result['rss_mb_no_accounts'] or 0:.1f} MB"
    )
    print(
        "RSS per provider (MB): "
        + ", ".join(f"{k} {v or 0:.1f}" for k, v in result["rss_mb_by_provider"].items())
    )
    print("imports (MB): " + ", ".join(f"{k} {v:.1f}" for k, v in result["import_mb"].items()))
    print(
        f"wake-ups {result['wakeups']} ({result['wakeups_per_min']:.1f}/min), "
        f"{result['quiet_wakeups_per_min']:.2f}/min over {result['quiet_minutes']:.1f} min "
        f"without a job"
    )
    print(f"idle syncs per account: {result['idle_syncs']}")
    for name, r in sorted(result["requests"].items()):
        print(
            f"  {name}: {r['per_sync']:.2f} requests/sync ({r['why']}; "
            f"{'ok' if r['ok'] else 'MISS'}): {r['by_method']}"
        )
    if result["job_errors"]:
        print(f"job errors: {result['job_errors']}")
    for note in result["notes"]:
        print(note)


def markdown(result: dict, argv: list[str]) -> str:
    """This benchmark's section of bench/RESULTS.md."""
    rows = summary_rows(result)
    lines = [
        HEADING,
        "",
        f"A real `syncd run` at rest for {result['minutes']:.1f} min, syncing every "
        f"{result['interval']} s (jitter as shipped), with {len(result['accounts'])} accounts "
        f"that have no news: {', '.join(result['accounts'])} (local mbox / maildir / .ics; "
        "Gmail and Google Calendar on the Google emulator, Microsoft 365 on the Graph "
        "emulator, IMAP on a real Dovecot behind a recording proxy, Exchange on the EWS "
        "emulator). Sampled every 2 s after the first syncs: CPU (user + system), RSS, "
        "voluntary context switches of all threads (wake-ups).",
        f"Run {datetime.now(UTC):%Y-%m-%d} on {machine()}.",
        "",
        "| metric | value | target | ok | detail |",
        "|---|---:|---|---|---|",
    ]
    for r in rows:
        ok = {True: "ok", False: "**miss**", None: "-"}[r["ok"]]
        lines.append(
            f"| {r['metric']} | {r['value']:g} {r['unit']} | {r['target']} | {ok} | {r['detail']} |"
        )
    lines += [
        "",
        f"CPU: {result['cpu_s']:.2f} s over the run; between jobs "
        f"{result['base_cpu_percent']:.4f} % of a core and "
        f"{result['quiet_wakeups_per_min']:.2f} wake-ups/min over "
        f"{result['quiet_minutes']:.1f} min; each account's idle sync (with the rules and "
        f"outbox jobs after it) {1000 * result['cpu_per_sync_s']:.1f} ms of CPU. "
        f"RSS {result['rss_mb_end']:.1f} MB at the end, of which "
        f"{result['anon_mb_end']:.1f} MB anonymous (heap), the rest mapped code. "
        f"The same daemon on a home without accounts: {result['rss_mb_no_accounts'] or 0:.1f} MB. "
        "What importing each connector adds (a fresh interpreter that imported what "
        f"`syncd run` imports, {result['import_mb'].get('syncd run', 0):.1f} MB): "
        + ", ".join(f"{k} +{v:.1f} MB" for k, v in result["import_mb"].items() if k != "syncd run")
        + ".",
        "",
        "Command: `.venv/bin/python " + " ".join(["bench/daemon_idle.py", *argv]) + "`",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="time at rest measured")
    parser.add_argument(
        "--interval", type=int, default=DEFAULT_INTERVAL, help="sync interval (seconds)"
    )
    parser.add_argument("--no-dovecot", action="store_true", help="no IMAP account")
    parser.add_argument("--no-exchange", action="store_true", help="no Exchange account")
    parser.add_argument("--summary-json", type=Path, help="write the summary rows here")
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--json", action="store_true", help="print the raw figures as JSON")
    parser.add_argument("--keep-log", type=Path, help="copy the daemon's stderr here")
    args = parser.parse_args()
    result = measure(
        args.minutes,
        args.interval,
        dovecot=not args.no_dovecot,
        exchange=not args.no_exchange,
        keep_log=args.keep_log,
    )
    print_result(result)
    if args.json:
        print(json.dumps(result, indent=1))
    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary_rows(result), indent=1) + "\n")
    if args.write_results:
        replace_section(HEADING, markdown(result, sys.argv[1:]))


if __name__ == "__main__":
    main()
