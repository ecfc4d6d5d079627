"""`syncd plan` tells the truth (issue 12, item 9): failed calendar writes make it exit
non-zero and say how many, dead letters are listed and retried, a temporary file left by a
killed writer is cleaned up, two planners racing on one home never crash, and the .ics
writer drops control characters and bounds the title and description."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import re
from pathlib import Path

import icalendar
import pytest

from connectors.base import Action
from connectors.icsfile import DESCRIPTION_MAX, KEY_PROPERTY, SUMMARY_MAX, IcsFileWriter
from syncd.core.errors import TransientError
from syncd.followup import outbox
from syncd.followup.apply import apply
from syncd.followup.decide import PlaceFollowUp
from syncd.followup.ledger import followups
from syncd.followup.outbox import drain_outbox
from syncd.followup.planner import plan_followups
from syncd.store.db import open_db
from tests.integration import test_outbox
from tests.integration.test_outbox import ics_events, syncd
from tests.unit.test_planner import DAY, NOW, Env

mail_home = test_outbox.mail_home  # the fixture: three dormant contacts and a planner

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


# -- exit status, dead letters, retry ----------------------------------------------------------


def test_plan_fails_loudly_when_the_calendar_cannot_be_written_and_retry_recovers(mail_home):
    home: Path = mail_home
    lock = home / ".followups.ics.lock"
    lock.mkdir()  # the writer cannot take its lock: every write is refused
    proc = syncd(home, "plan")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    assert "3 calendar writes failed: 3 gave up" in proc.stderr
    assert "syncd outbox retry" in proc.stderr
    listing = syncd(home, "outbox")
    assert listing.returncode == 0
    assert listing.stdout.count("dead") >= 3 and "cannot write the calendar" in listing.stdout
    # --json says the same, and still exits 1
    again = syncd(home, "plan", "--json")
    assert again.returncode == 1 and '"dead": 3' in again.stdout

    lock.rmdir()
    retried = syncd(home, "outbox", "retry")
    assert retried.returncode == 0 and "3 actions queued again" in retried.stdout
    fixed = syncd(home, "plan")
    assert fixed.returncode == 0, fixed.stderr
    assert len(ics_events(home / "followups.ics")) == 3
    assert "dead" not in syncd(home, "outbox").stdout


def test_retrying_writes_are_counted_too(tmp_path):
    class Flaky(IcsFileWriter):
        def apply(self, action):
            raise TransientError("the calendar server is busy", 120)

    env = Env(tmp_path)
    env.person(1, "Ana Ruiz")
    env.dormant(1, NOW - DAY)
    writer = Flaky(env.ics)
    plan_followups(env.db, env.home, env.config, NOW, settings=env.settings, writer=writer)
    stats = drain_outbox(env.db, env.home, env.config, NOW, writers={env.settings.target: writer})
    assert stats.retrying == 1
    assert outbox.failing(env.db, ("event.create", "event.remove")) == (1, 0)


# -- a temporary file left by a killed writer ----------------------------------------------------


def test_a_temporary_file_left_by_a_killed_plan_is_removed_next_run(mail_home):
    home: Path = mail_home
    leftover = home / ".followups.ics.tmp-999999"
    leftover.write_bytes(b"BEGIN:VCALENDAR\r\n")  # half a calendar, its writer killed
    proc = syncd(home, "plan")
    assert proc.returncode == 0, proc.stderr
    assert not leftover.exists()
    assert not list(home.glob(".followups.ics.tmp-*"))


def test_a_reader_never_removes_the_temporary_file_of_a_writer_at_work(tmp_path):
    ics = tmp_path / "cal.ics"
    writer = IcsFileWriter(ics)
    writer.apply(Action("k:1", "event.create", {"title": "x", "start": 0, "end": 600}))
    busy_tmp = tmp_path / ".cal.ics.tmp-424242"
    busy_tmp.write_bytes(b"partial")
    fd = os.open(tmp_path / ".cal.ics.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # another process is writing right now
    try:
        writer.busy(0, 3600)
        assert busy_tmp.exists()
    finally:
        os.close(fd)
    writer.busy(0, 3600)  # the writer is gone: its file is litter
    assert not busy_tmp.exists()


# -- two planners on one home ----------------------------------------------------------------------


def _plan_in_child(root: str, now: int, barrier, results) -> None:
    try:
        env = Env(Path(root), per_week=50, per_day=50, horizon_days=60)
        barrier.wait(timeout=30)
        plan_followups(env.db, env.home, env.config, now, settings=env.settings)
        drain_outbox(env.db, env.home, env.config, now)
        results.put("ok")
    except BaseException as exc:  # report anything, IntegrityError included
        results.put(f"{type(exc).__name__}: {exc}")


def test_two_planners_racing_on_one_home_never_crash(tmp_path):
    env = Env(tmp_path, per_week=50, per_day=50, horizon_days=60)
    ctx = multiprocessing.get_context("fork")
    rounds, per_round = 15, 3
    for r in range(rounds):
        for i in range(per_round):
            pid = 100 * (r + 1) + i
            env.person(pid, f"Person {pid}")
            env.dormant(pid, NOW - DAY)
        barrier, results = ctx.Barrier(2), ctx.Queue()
        procs = [
            ctx.Process(target=_plan_in_child, args=(str(tmp_path), NOW + r, barrier, results))
            for _ in range(2)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        outcomes = [results.get(timeout=5) for _ in procs]
        assert outcomes == ["ok", "ok"], (r, outcomes)
        rows = followups(env.db)
        assert len(rows) == (r + 1) * per_round, r  # one follow-up per flag, never two
        keys = [k for _, k in ics_events(env.ics)]
        assert len(keys) == len(set(keys)) == len(rows), r  # one event per key


def test_a_second_insert_of_the_same_key_is_a_no_op(tmp_path):
    env = Env(tmp_path)
    step = PlaceFollowUp(
        key="dormant:1:0",
        flag_id="dormant:1:0",
        person_id=1,
        covers=("dormant:1:0",),
        target=env.settings.target,
        start=NOW + DAY,
        end=NOW + DAY + 900,
        week="2026-W23",
        title="Reconnect with Ana",
        description="",
        timezone="Europe/London",
        basis=None,
        created=NOW,
    )
    first = apply(env.db, [step], NOW)
    second = apply(env.db, [step], NOW)  # a planner that decided the same thing
    assert len(first.placed) == 1 and second.placed == []
    assert len(followups(env.db)) == 1 and outbox.count(env.db) == 1


# -- the .ics writer's text handling ---------------------------------------------------------------


@pytest.mark.parametrize("evil", ["\x1b]0;owned\x07", "\x1b[2J\x1b[H", "a\x00b\x9bc", "x\r\ny"])
def test_the_ics_writer_drops_control_characters_and_bounds_lengths(tmp_path, evil):
    ics = tmp_path / "cal.ics"
    payload = {
        "title": f"Reply to {evil}Eve — " + "long " * 100,
        "description": f"Line one {evil}\nLine two\n" + "word " * 2000,
        "start": 1_780_000_000,
        "end": 1_780_000_900,
        "timezone": "Europe/London",
    }
    IcsFileWriter(ics).apply(Action("k:evil", "event.create", payload))
    raw = ics.read_bytes()
    assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", raw)
    (ev,) = icalendar.Calendar.from_ical(raw).walk("VEVENT")
    summary, description = str(ev["SUMMARY"]), str(ev["DESCRIPTION"])
    assert not CONTROL.search(summary) and "\n" not in summary
    assert not CONTROL.search(description)
    assert summary.startswith("Reply to ") and summary.endswith("…")
    assert len(summary) <= SUMMARY_MAX and len(description) <= DESCRIPTION_MAX
    assert description.startswith("Line one ") and "\nLine two\n" in description
    assert str(ev[KEY_PROPERTY]) == "k:evil"


def test_plan_never_prints_a_control_character_from_a_name(mail_home):
    home: Path = mail_home
    db = open_db(home / "syncd.db")
    with db.atomic():
        db.execute("UPDATE people SET name = ? WHERE id = 1", ["Ana\x1b]0;owned\x07\x1b[2J\x9b"])
    proc = syncd(home, "plan")
    assert proc.returncode == 0, proc.stderr
    assert "Ana\ufffd]0;owned" in proc.stdout
    assert not CONTROL.search(proc.stdout.replace("\n", "")), repr(proc.stdout)
    for summary in (
        str(ev["SUMMARY"])
        for ev in icalendar.Calendar.from_ical((home / "followups.ics").read_bytes()).walk("VEVENT")
    ):
        assert not CONTROL.search(summary), repr(summary)
