"""The .ics connector on real third-party calendars (``../shared/data/ics``).

The whole folder goes through the real CLI once (a subprocess); a few files
with known recurrence exceptions are checked instance by instance, with the
expected values worked out by reading the files (comments say how).
"""

from __future__ import annotations

import calendar
import json
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from connectors import ics
from syncd.store.db import open_db

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "ics"
HORIZON = calendar.timegm((2030, 1, 1, 0, 0, 0))
SUMMARY = re.compile(
    r"imported (\d+) messages and (\d+) events; (\d+) already known, "
    r"(\d+) in skipped folders, (\d+) quarantined"
)
# Files with VEVENTs that legitimately yield no instance, and why (read from the file).
KNOWN_EMPTY = {
    # RRULE UNTIL=20231001 lies before DTSTART 20231002: the recurrence set is empty.
    "recurring-ical-events-3.8.2/issue_117_until_before_dtstart.ics",
}

pytestmark = pytest.mark.skipif(
    not DATA.is_dir(), reason="../shared/data/ics not present (real third-party calendars)"
)


def ts(text: str) -> int:
    return calendar.timegm(datetime.fromisoformat(text).timetuple())


def ics_files() -> list[Path]:
    return sorted(
        p.resolve()
        for p in DATA.rglob("*")
        if p.is_file() and p.name.lower().endswith(".ics") and not p.name.startswith(".")
    )


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    """Run ``syncd --home TMP import ics ../shared/data/ics`` once for the module."""
    home = tmp_path_factory.mktemp("home")
    started = time.time()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from syncd.cli import main; sys.exit(main())",
            "--home",
            str(home),
            "import",
            "ics",
            str(DATA),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    db = open_db(home / "syncd.db")
    yield proc, db, started
    db.conn.close()


def test_cli_imports_every_calendar(imported):
    proc, db, _ = imported
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    match = SUMMARY.search(proc.stdout)
    assert match, proc.stdout
    events, quarantined = int(match[2]), int(match[5])
    assert events > 0
    (rows,) = db.execute("SELECT count(*) FROM quarantine").fetchone()
    assert quarantined == rows
    assert rows > 0  # the folder holds deliberately broken calendars
    for locator, reason in db.execute("SELECT locator, reason FROM quarantine"):
        assert reason.strip(), locator


def test_no_file_silently_vanishes(imported):
    """Every .ics file was read and committed, and each one with events shows up somewhere."""
    _, db, started = imported
    files = ics_files()
    assert files
    cursors = {scope: json.loads(v) for scope, v in db.execute("SELECT scope, value FROM cursors")}
    assert [str(f) for f in files if not cursors.get(str(f), {}).get("done")] == []
    with_events = {r[0] for r in db.execute("SELECT DISTINCT scope FROM events")}
    quarantined = {r[0] for r in db.execute("SELECT DISTINCT scope FROM quarantine")}
    stored_keys = {r[0] for r in db.execute("SELECT key FROM events")}
    stored_uids = {key.rsplit("|", 1)[0] for key in stored_keys}
    unaccounted = []
    for path in files:
        data = path.read_bytes()
        if not re.search(rb"^BEGIN:VEVENT", data, re.M | re.I):
            continue  # timezones, to-dos, journals, free/busy: nothing to import
        if str(path) in with_events or str(path) in quarantined:
            continue
        # Instance keys are global: a file repeating another file's events (the same
        # UIDs) has them stored under that file. Check that each of its UIDs is stored.
        uids = vevent_uids(data)
        if uids and None not in uids and set(uids) <= stored_uids:
            continue
        # Events without UID get one derived from their content: ask the reader for them.
        horizon = int(started) + ics.HORIZON_SECONDS - 86400
        (batch,) = ics.IcsReader([path], horizon_end=horizon).fetch({})
        keys = {e.key for e in batch.events}
        rel = str(path.relative_to(DATA.resolve()))
        if not keys and rel in KNOWN_EMPTY:
            continue
        if not keys or not keys <= stored_keys:
            unaccounted.append(rel)
    assert unaccounted == []


def vevent_uids(data: bytes) -> list[str | None]:
    """The UID of each VEVENT (None when it has none), by a plain line scan."""
    text = re.sub(r"\r?\n[ \t]", "", data.decode("utf-8", "replace"))  # unfold
    stack: list[str] = []
    uids: list[str | None] = []
    for line in text.splitlines():
        upper = line.strip().upper()
        if upper.startswith("BEGIN:"):
            stack.append(upper[6:])
            if stack[-1] == "VEVENT":
                uids.append(None)
        elif upper.startswith("END:"):
            if stack:
                stack.pop()
        elif stack and stack[-1] == "VEVENT" and re.match(r"UID[:;]", upper):
            uids[-1] = line.split(":", 1)[1].strip()
    return uids


def expand(relative: str) -> list:
    (batch,) = ics.IcsReader([DATA / relative], horizon_end=HORIZON).fetch({})
    assert batch.quarantined == []
    return sorted(batch.events, key=lambda e: e.start)


def test_weekly_series_with_two_exdates():
    # WEEKLY;COUNT=8 from Mon 2019-03-04 00:30 Europe/Berlin; EXDATEs 2019-03-10T23:30Z
    # (= Mar 11 00:30 CET) and 2019-03-24T23:30Z (= Mar 25 00:30 CET). Summer time
    # starts 2019-03-31, so later instances are 00:30 CEST = 22:30Z the day before.
    evs = expand("recurring-ical-events-3.8.2/each_week_but_two_deleted.ics")
    assert [e.start for e in evs] == [
        ts("2019-03-03T23:30"),
        ts("2019-03-17T23:30"),
        ts("2019-03-31T22:30"),
        ts("2019-04-07T22:30"),
        ts("2019-04-14T22:30"),
        ts("2019-04-21T22:30"),
    ]
    assert {e.end - e.start for e in evs} == {1800}
    assert len({e.key for e in evs}) == 6


def test_moved_instances_keep_their_slot():
    # 5d4c...: DAILY 04:00 Berlin (03:00Z) from Mar 18 UNTIL 2019-03-20T03:00Z -> 18, 19, 20;
    # the 19th is overridden in place (new summary). a0c7...: DAILY 02:00 Berlin (01:00Z)
    # from Mar 7 UNTIL 2019-03-10T01:00Z -> 7, 8, 9, 10; the 8th moved to 01:00 Berlin
    # (00:00Z), the 9th to 03:00 Berlin (02:00Z).
    evs = expand("recurring-ical-events-3.8.2/recurring_events_moved.ics")
    a, b = "a0c78729-30b1-4ba3-a86e-6aedd995d788", "5d4c6843-9300-4f91-8d88-6094d4b0b840"
    assert [(e.key, e.start, e.end) for e in evs] == [
        (f"{a}|{ts('2019-03-07T01:00')}", ts("2019-03-07T01:00"), ts("2019-03-07T02:00")),
        (f"{a}|{ts('2019-03-08T01:00')}", ts("2019-03-08T00:00"), ts("2019-03-08T01:00")),
        (f"{a}|{ts('2019-03-09T01:00')}", ts("2019-03-09T02:00"), ts("2019-03-09T03:00")),
        (f"{a}|{ts('2019-03-10T01:00')}", ts("2019-03-10T01:00"), ts("2019-03-10T02:00")),
        (f"{b}|{ts('2019-03-18T03:00')}", ts("2019-03-18T03:00"), ts("2019-03-18T04:00")),
        (f"{b}|{ts('2019-03-19T03:00')}", ts("2019-03-19T03:00"), ts("2019-03-19T04:00")),
        (f"{b}|{ts('2019-03-20T03:00')}", ts("2019-03-20T03:00"), ts("2019-03-20T04:00")),
    ]
    assert [e.summary for e in evs if e.key.startswith(b)] == ["test7", "test7 - edited", "test7"]


def test_exchange_rrule_with_blanks():
    # Exchange CDO wrote "BYDAY=MO, TU, WE, TH, FR" (blanks are invalid). DAILY on weekdays
    # from Fri 2015-07-03 10:00 (+0200 in July = 08:00Z) UNTIL 2015-07-22T08:00Z:
    # Jul 3, 6-10, 13-17, 20-22 = 14 instances.
    evs = expand("icalendar-7.3.2/calendars/issue_165_missing_event.ics")
    assert len(evs) == 14
    assert evs[0].start == ts("2015-07-03T08:00")
    assert evs[-1].start == ts("2015-07-22T08:00")
    assert {datetime.utcfromtimestamp(e.start).weekday() for e in evs} <= {0, 1, 2, 3, 4}


def test_x_wr_timezone_keeps_utc_instants():
    # Google export with X-WR-TIMEZONE:America/New_York and UTC times: the instants stay.
    evs = expand("recurring-ical-events-3.8.2/x_wr_timezone_simple_events_issue_59.ics")
    assert [(e.start, e.end) for e in evs] == [
        (ts("2021-12-22T17:00"), ts("2021-12-22T18:00")),
        (ts("2021-12-23T02:00"), ts("2021-12-23T03:00")),
    ]


def test_this_and_future_overrides_do_not_collide():
    # Two RANGE=THISANDFUTURE overrides: every instance must keep its own key.
    (batch,) = ics.IcsReader(
        [DATA / "recurring-ical-events-3.8.2/issue_75_range_parameter.ics"], horizon_end=HORIZON
    ).fetch({})
    keys = [e.key for e in batch.events]
    assert len(keys) == len(set(keys)) > 100
