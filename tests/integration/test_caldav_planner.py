"""``[planner] calendar = "account:NAME"`` on a real Radicale calendar with busy blocks.

Twelve people are due a follow-up; the calendar is busy all Monday and
Tuesday and on Wednesday morning. ``syncd plan`` twice (a separate process
each time, as a user runs it): follow-ups only in free slots inside working
hours, at most five in the week, none twice, each event's UID derived from
its key and the key carried in ``X-SYNCD-KEY``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import icalendar

from connectors.icsfile import KEY_PROPERTY, uid_for
from tests.support.caldav_testing import ME, new_calendar, password_file, shared_server, vevent
from tests.support.helpers import message, run_cli, write_mbox
from tests.support.radicale_server import USER

NOW = "2026-06-01T06:00:00+00:00"  # a Monday
MONDAY = datetime(2026, 6, 1, tzinfo=UTC)
BUSY = [
    (MONDAY + timedelta(hours=8), MONDAY + timedelta(hours=18)),
    (MONDAY + timedelta(days=1, hours=8), MONDAY + timedelta(days=1, hours=18)),
    (MONDAY + timedelta(days=2, hours=9), MONDAY + timedelta(days=2, hours=12)),
]


def stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%SZ")


def events(server, calendar: str) -> list[icalendar.Event]:
    out = []
    for path in sorted(server.collection(calendar).glob("*.ics")):
        out += list(icalendar.Calendar.from_ical(path.read_bytes()).walk("VEVENT"))
    return out


def test_plan_into_a_caldav_calendar_twice(tmp_path: Path) -> None:
    server = shared_server()
    calendar = new_calendar(server)
    for n, (start, end) in enumerate(BUSY):
        server.put(f"busy-{n}", vevent(f"busy-{n}", stamp(start), stamp(end)), calendar)

    base = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    msgs = []
    for i in range(12):
        who = f"p{i}@firm{i}.example"
        when = base + timedelta(days=i)
        msgs.append(message(sender=who, to=ME, date=when, subject=f"q{i}"))
        msgs.append(message(sender=ME, to=who, date=when + timedelta(hours=1), subject=f"Re: q{i}"))
    write_mbox(tmp_path / "mail" / "INBOX", msgs)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'timezone = "UTC"\n'
        '[planner]\ncalendar = "account:cal"\nhours = "09:00-17:00"\n'
        'days = ["mon", "tue", "wed", "thu", "fri"]\nper_week = 5\n',
        encoding="utf-8",
    )
    run_cli("--now", NOW, "import", "mbox", str(tmp_path / "mail"), "--me", ME, home=home)
    run_cli(
        "account", "add", "caldav", "cal", "--url", server.url, "--username", USER,
        "--calendar", calendar, "--password-file", str(password_file(tmp_path)),
        home=home,
    )  # fmt: skip

    first = json.loads(run_cli("--now", NOW, "plan", "--json", home=home).stdout)
    placed = first["placed"]
    # Twelve due, five a week at one a day: Monday and Tuesday are busy, so Wed, Thu, Fri.
    assert len(placed) == 3, first
    assert sorted(p["start"][:10] for p in placed) == ["2026-06-03", "2026-06-04", "2026-06-05"]
    again = json.loads(run_cli("--now", NOW, "plan", "--json", home=home).stdout)
    assert again["placed"] == [], again

    written = [ev for ev in events(server, calendar) if KEY_PROPERTY in ev]
    assert len(written) == len(placed)
    keys = [str(ev[KEY_PROPERTY]) for ev in written]
    assert len(set(keys)) == len(keys), "a follow-up was written twice"
    assert set(keys) == {p["key"] for p in placed}
    for ev in written:
        assert str(ev["UID"]) == uid_for(str(ev[KEY_PROPERTY]))
        start, end = ev.decoded("DTSTART"), ev.decoded("DTEND")
        assert start.weekday() < 5 and start.hour >= 9 and end <= start.replace(hour=17, minute=0)
        assert MONDAY <= start < MONDAY + timedelta(days=7)
        for busy_start, busy_end in BUSY:
            assert end <= busy_start or start >= busy_end, f"{start} overlaps a busy block"
