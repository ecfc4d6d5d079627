"""The outbox under injected failures: a crash between the remote write and the commit,
transient errors with retry-after, backoff, dead letters, ordering and stale claims; and the
local .ics writer's idempotency."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.base import Action
from connectors.icsfile import KEY_PROPERTY, IcsFileWriter, uid_for
from syncd.config.schema import Config
from syncd.core.errors import AuthRequired, TransientError, UserError
from syncd.core.faults import CRASH_ENV
from syncd.core.home import Home
from syncd.followup import outbox
from syncd.store.db import open_db
from tests.support.helpers import REPO, message, write_mbox

NOW = "2026-06-01T06:00:00+00:00"
ME = "me@home.example"
T0 = 1_780_000_000


def syncd(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*cmd, "--home", str(home), "--now", NOW, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def ics_events(path: Path) -> list[tuple[str, str]]:
    """``(UID, X-SYNCD-KEY)`` of every syncd event in the file (duplicates kept)."""
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    return [(str(ev["UID"]), str(ev[KEY_PROPERTY])) for ev in cal.walk("VEVENT")]


@pytest.fixture
def mail_home(tmp_path):
    """A home with three contacts last touched ~4 months before NOW (dormant), a planner."""
    base = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    msgs = []
    for i, who in enumerate(("ana@acme.example", "ben@bolt.example", "cy@corp.example")):
        msgs.append(message(sender=who, to=ME, date=base + timedelta(days=i), subject=f"hi {i}"))
        msgs.append(
            message(
                sender=ME, to=who, date=base + timedelta(days=i, hours=2), subject=f"Re: hi {i}"
            )
        )
    write_mbox(tmp_path / "mail" / "INBOX", msgs)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'timezone = "Europe/London"\n[planner]\ncalendar = "followups.ics"\n', encoding="utf-8"
    )
    proc = syncd(home, "import", "mbox", str(tmp_path / "mail"), "--me", ME)
    assert proc.returncode == 0, proc.stderr
    return home


def test_a_crash_between_the_remote_write_and_the_commit_leaves_one_event(mail_home):
    ics = mail_home / "followups.ics"
    crashed = syncd(mail_home, "plan", env={CRASH_ENV: "1"})
    assert crashed.returncode == 137, crashed.stderr
    first = ics_events(ics)
    assert len(first) == 1  # the first event was written, then the process died
    uid, key = first[0]
    assert uid == uid_for(key)
    db = open_db(mail_home / "syncd.db")
    states = dict(db.execute("SELECT id, state FROM outbox"))
    assert states[f"create:{key}"] == "running"  # never marked done
    assert sorted(states.values()).count("pending") == 2
    db.close()

    again = syncd(mail_home, "plan")
    assert again.returncode == 0, again.stderr
    events = ics_events(ics)
    assert len(events) == 3
    assert len({u for u, _ in events}) == 3  # no duplicate UID
    assert [u for u, _ in events].count(uid) == 1
    db = open_db(mail_home / "syncd.db")
    rows = {r.id: r for r in outbox.rows(db)}
    assert {r.state for r in rows.values()} == {"done"}
    assert rows[f"create:{key}"].attempts == 2 and rows[f"create:{key}"].remote_ref == uid
    assert {s for (s,) in db.execute("SELECT state FROM followups")} == {"placed"}

    # and a third run changes nothing
    before = ics.read_bytes()
    assert syncd(mail_home, "plan").returncode == 0
    assert ics.read_bytes() == before


# -- the queue with fake writers --------------------------------------------------------------


class FlakyWriter:
    """Fails with the queued exceptions, then succeeds; records every call."""

    def __init__(self, *failures: Exception):
        self.failures = list(failures)
        self.calls: list[tuple[str, str]] = []

    def apply(self, action: Action) -> str:
        self.calls.append(("apply", action.key))
        if self.failures:
            raise self.failures.pop(0)
        return f"ref-{action.key}"

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        self.calls.append(("remove", action.key))
        if self.failures:
            raise self.failures.pop(0)


@pytest.fixture
def queue(tmp_path):
    db = open_db(tmp_path / "syncd.db")
    return db, Home(tmp_path), Config()


def put(db, key: str, op: str = "create", kind: str = "event.create", now: int = T0) -> str:
    with db.atomic():
        outbox.enqueue(db, op, key, kind, "fake", {"title": key}, now)
    return f"{op}:{key}"


def test_transient_errors_are_retried_after_retry_after(queue):
    db, home, config = queue
    writer = FlakyWriter(TransientError("429", retry_after=120), TransientError("503", 30))
    aid = put(db, "k1")
    stats = outbox.drain_outbox(db, home, config, T0, {"fake": writer})
    assert (stats.done, stats.retrying) == (0, 1)
    row = outbox.get(db, aid)
    assert (row.state, row.attempts, row.not_before) == ("pending", 1, T0 + 120)
    assert "429" in row.last_error
    assert outbox.drain_outbox(db, home, config, T0 + 119, {"fake": writer}).done == 0
    assert len(writer.calls) == 1  # not before its time
    outbox.drain_outbox(db, home, config, T0 + 120, {"fake": writer})
    assert outbox.get(db, aid).not_before == T0 + 150
    assert outbox.drain_outbox(db, home, config, T0 + 150, {"fake": writer}).done == 1
    row = outbox.get(db, aid)
    assert (row.state, row.attempts, row.remote_ref, row.last_error) == ("done", 3, "ref-k1", None)
    assert outbox.backlog(db) == 0


def test_backoff_grows_then_the_action_is_a_dead_letter(queue):
    db, home, config = queue
    writer = FlakyWriter(*[RuntimeError(f"boom {i}") for i in range(20)])
    aid = put(db, "k2")
    now, delays = T0, []
    for _ in range(outbox.MAX_ATTEMPTS):
        outbox.drain_outbox(db, home, config, now, {"fake": writer})
        row = outbox.get(db, aid)
        if row.state == "dead":
            break
        delays.append(row.not_before - now)
        now = row.not_before
    assert delays[:4] == [60, 120, 240, 480]
    assert row.state == "dead" and row.attempts == outbox.MAX_ATTEMPTS
    assert "boom 7" in row.last_error
    assert outbox.dead_letters(db)[0]["last_error"] == row.last_error
    # dead letters wait for the user
    outbox.drain_outbox(db, home, config, now + 10**6, {"fake": writer})
    assert len(writer.calls) == outbox.MAX_ATTEMPTS
    assert outbox.retry(db, None, now) == 1
    writer.failures.clear()
    assert outbox.drain_outbox(db, home, config, now, {"fake": writer}).done == 1


def test_user_errors_die_at_once_and_auth_waits_an_hour(queue):
    db, home, config = queue
    writer = FlakyWriter(UserError("calendar is read-only"))
    a = put(db, "bad")
    assert outbox.drain_outbox(db, home, config, T0, {"fake": writer}).dead == 1
    assert outbox.get(db, a).state == "dead"
    writer = FlakyWriter(AuthRequired("token revoked"))
    b = put(db, "auth")
    outbox.drain_outbox(db, home, config, T0, {"fake": writer})
    row = outbox.get(db, b)
    assert (row.state, row.attempts, row.not_before) == ("pending", 0, T0 + outbox.AUTH_WAIT)


def test_actions_on_one_key_run_in_order(queue):
    db, home, config = queue
    writer = FlakyWriter(TransientError("busy", 60))
    put(db, "k")
    put(db, "k", "remove", "event.remove")
    put(db, "other")
    outbox.drain_outbox(db, home, config, T0, {"fake": writer})
    # the create failed: its remove waits behind it; the other key went ahead
    assert writer.calls == [("apply", "k"), ("apply", "other")]
    outbox.drain_outbox(db, home, config, T0 + 60, {"fake": writer})
    assert writer.calls[2:] == [("apply", "k"), ("remove", "k")]


def test_unknown_targets_are_dead_letters_with_the_reason(queue):
    db, home, config = queue
    with db.atomic():
        outbox.enqueue(db, "create", "x", "event.create", "account:nope", {}, T0)
    stats = outbox.drain_outbox(db, home, config, T0)
    assert stats.dead == 1
    assert "no account named 'nope'" in outbox.dead_letters(db)[0]["last_error"]


def test_a_running_action_is_reclaimed_only_when_its_claimer_is_gone(queue):
    db, home, config = queue
    aid = put(db, "k")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        import socket
        import time

        lease = int(time.time()) + 600
        db.execute(
            "UPDATE outbox SET state = 'running', claimed_by = ?, lease_until = ? WHERE id = ?",
            [f"{socket.gethostname()}:{sleeper.pid}", lease, aid],
        )
        writer = FlakyWriter()
        outbox.drain_outbox(db, home, config, T0, {"fake": writer})
        assert writer.calls == []  # its claimer is alive and its lease holds
        sleeper.kill()
        sleeper.wait()
        outbox.drain_outbox(db, home, config, T0, {"fake": writer})
        assert writer.calls == [("apply", "k")]
        assert outbox.get(db, aid).state == "done"
    finally:
        if sleeper.poll() is None:
            sleeper.kill()


def test_syncd_outbox_shows_dead_letters_with_their_error(tmp_path):
    home = tmp_path / "home"
    db = open_db(home / "syncd.db")
    with db.atomic():
        outbox.enqueue(db, "create", "k9", "event.create", "account:gone", {}, T0)
    db.close()
    proc = syncd(home, "outbox", "drain")
    assert proc.returncode == 0 and "1 dead" in proc.stdout
    shown = syncd(home, "outbox")
    assert "dead" in shown.stdout and "no account named 'gone'" in shown.stdout
    assert "syncd outbox retry" in shown.stdout
    assert "1 action queued again" in syncd(home, "outbox", "retry").stdout


# -- the local .ics writer ----------------------------------------------------------------------


def test_ics_writer_is_idempotent_and_atomic(tmp_path):
    path = tmp_path / "cal" / "f.ics"
    w = IcsFileWriter(path, "Europe/London")
    action = Action(
        "dormant:7:123",
        "event.create",
        {
            "title": "Reconnect with Ana",
            "description": "why; because, \\ yes",
            "start": T0,
            "end": T0 + 900,
            "created": T0,
        },
    )
    ref = w.apply(action)
    assert ref == uid_for("dormant:7:123")
    data = path.read_bytes()
    assert w.apply(action) == ref and path.read_bytes() == data  # found, not added again
    assert ics_events(path) == [(ref, "dormant:7:123")]
    remote = w.lookup("dormant:7:123")
    assert (remote.ref, remote.start, remote.end) == (ref, T0, T0 + 900)
    assert w.busy(T0 - 3600, T0 + 3600) == [(T0, T0 + 900)]
    assert w.lookup("other") is None
    assert sorted(p.name for p in path.parent.iterdir()) == [".f.ics.lock", "f.ics"]
    w.remove(action, ref)
    w.remove(action, ref)  # missing is fine
    assert ics_events(path) == [] and w.lookup("dormant:7:123") is None
    with pytest.raises(UserError):
        w.apply(Action("x", "mail.send", {}))


def test_ics_writer_never_overwrites_a_file_it_cannot_read(tmp_path):
    path = tmp_path / "f.ics"
    path.write_bytes(b"this is not a calendar")
    w = IcsFileWriter(path)
    with pytest.raises(UserError):
        w.apply(Action("k", "event.create", {"title": "t", "start": T0, "end": T0 + 60}))
    assert path.read_bytes() == b"this is not a calendar"


class IdempotentRemote:
    """A remote that keeps one object per key; ``schedule`` injects failures in order.

    ``lost_ack`` writes the object and then fails, as a crash or timeout between the
    remote write and the outbox commit would.
    """

    def __init__(self, schedule: list[str]):
        self.schedule = list(schedule)
        self.objects: dict[str, str] = {}
        self.creations: dict[str, int] = {}

    def apply(self, action: Action) -> str:
        outcome = self.schedule.pop(0) if self.schedule else "ok"
        if outcome == "transient":
            raise TransientError("503", retry_after=5)
        if outcome == "error":
            raise RuntimeError("boom")
        if action.key not in self.objects:
            self.objects[action.key] = f"obj-{action.key}"
            self.creations[action.key] = self.creations.get(action.key, 0) + 1
        if outcome == "lost_ack":
            raise TransientError("timed out after the write", retry_after=5)
        return self.objects[action.key]

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        self.objects.pop(action.key, None)


@settings(max_examples=25, deadline=None)
@given(
    schedule=st.lists(st.sampled_from(["ok", "transient", "lost_ack", "error"]), max_size=40),
    keys=st.integers(1, 6),
)
def test_the_outbox_converges_to_one_object_per_key(tmp_path_factory, schedule, keys):
    db = open_db(tmp_path_factory.mktemp("prop") / "syncd.db")
    home, config = Home(tmp_path_factory.getbasetemp()), Config()
    remote = IdempotentRemote(schedule)
    for k in range(keys):
        put(db, f"k{k}")
    now = T0
    for _ in range(200):
        outbox.drain_outbox(db, home, config, now, {"fake": remote})
        if not outbox.backlog(db):
            if not outbox.dead_letters(db):
                break
            outbox.retry(db, None, now)
        now += outbox.BACKOFF_CAP
    rows = outbox.rows(db)
    assert {r.state for r in rows} == {"done"}
    assert remote.creations == {f"k{k}": 1 for k in range(keys)}
    assert {r.key: r.remote_ref for r in rows} == remote.objects
    db.close()
