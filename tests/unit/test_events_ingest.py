"""Event instances across sources: edits apply, shared events count once, fixes clear quarantine."""

from __future__ import annotations

from pathlib import Path

from syncd.commands.context import Context
from syncd.core.home import Home
from syncd.core.timeutil import parse_instant
from syncd.pipeline.local_import import import_paths
from syncd.report.people import compute_people

ME = "me@corp.example"
NOW = parse_instant("2025-01-01")


def _event(uid: str, attendees: list[str], start: str = "20240105T100000Z", seq: int = 0) -> str:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20240101T000000Z",
        f"SEQUENCE:{seq}",
        f"DTSTART:{start}",
        f"DTEND:{start[:9]}110000Z",
        "SUMMARY:sync",
        f"ORGANIZER:mailto:{ME}",
        *[f"ATTENDEE;PARTSTAT=ACCEPTED:mailto:{a}" for a in attendees],
        "END:VEVENT",
    ]
    return "\n".join(lines)


def _calendar(path: Path, *events: str) -> Path:
    body = "\n".join(
        ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *events, "END:VCALENDAR"]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body.replace("\n", "\r\n") + "\r\n")
    return path


def _meetings(ctx: Context, path: Path) -> dict[str, int]:
    import_paths(ctx.db, ctx.home, "ics", [path], [ME], now=ctx.now)
    return {e: p.meetings for p in compute_people(ctx.db, NOW) for e in p.emails}


def test_edit_without_sequence_bump_is_applied(tmp_path):
    ctx = Context(Home(tmp_path / "home"), NOW)
    cal = tmp_path / "cal.ics"
    _calendar(cal, _event("u1", ["ana@x.example"]))
    assert _meetings(ctx, cal) == {"ana@x.example": 1}
    for attendee in ("bo@y.example", "cy@z.example", "dee@w.example", "ana@x.example"):
        _calendar(cal, _event("u1", [attendee]))
        assert _meetings(ctx, cal) == {attendee: 1}


def test_an_event_in_two_files_counts_once_and_survives_one_dropping_it(tmp_path):
    ctx = Context(Home(tmp_path / "home"), NOW)
    shared = _event("u-shared", ["ana@x.example"])
    a = _calendar(tmp_path / "a.ics", shared)
    b = _calendar(tmp_path / "b.ics", shared, _event("u-b", ["ana@x.example"], "20240106T100000Z"))
    import_paths(ctx.db, ctx.home, "ics", [a], [ME], now=ctx.now)
    assert _meetings(ctx, b) == {"ana@x.example": 2}
    _calendar(a, _event("u-other", ["bo@y.example"]))  # a drops the shared event
    assert _meetings(ctx, a) == {"ana@x.example": 2, "bo@y.example": 1}
    _calendar(b, _event("u-b", ["ana@x.example"], "20240106T100000Z"))  # now b drops it too
    assert _meetings(ctx, b) == {"ana@x.example": 1, "bo@y.example": 1}


def test_higher_sequence_wins_across_sources(tmp_path):
    ctx = Context(Home(tmp_path / "home"), NOW)
    old = _calendar(tmp_path / "old.ics", _event("u1", ["ana@x.example"], seq=1))
    new = _calendar(tmp_path / "new.ics", _event("u1", ["bo@y.example"], seq=2))
    import_paths(ctx.db, ctx.home, "ics", [new], [ME], now=ctx.now)
    assert _meetings(ctx, old) == {"bo@y.example": 1}


def test_fixing_a_file_clears_its_quarantine(tmp_path):
    ctx = Context(Home(tmp_path / "home"), NOW)
    cal = tmp_path / "cal.ics"
    broken = _event("u1", ["ana@x.example"]).replace("DTSTART:20240105T100000Z\n", "")
    _calendar(cal, broken)
    import_paths(ctx.db, ctx.home, "ics", [cal], [ME], now=ctx.now)
    assert ctx.db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 1
    _calendar(cal, _event("u1", ["ana@x.example"]))
    assert _meetings(ctx, cal) == {"ana@x.example": 1}
    assert ctx.db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
