"""End to end: `syncd demo --out` writes the follow-up calendar and the digest (twice: no
change), the digest preview renders in headless Chromium, and a real touch removes a
follow-up through `syncd plan`."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from connectors.icsfile import KEY_PROPERTY
from syncd.report.digest import SECTIONS
from tests.support.helpers import REPO, import_mail, message, run_cli, write_mbox

NOW = "2026-06-01"
LONDON = ZoneInfo("Europe/London")


def _events(path: Path) -> list[tuple[str, datetime, datetime, str]]:
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    return [
        (
            str(ev["UID"]),
            ev.decoded("DTSTART").astimezone(LONDON),
            ev.decoded("DTEND").astimezone(LONDON),
            str(ev["SUMMARY"]),
        )
        for ev in cal.walk("VEVENT")
    ]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("actions")
    home, out = root / "home", root / "out"
    first = run_cli("--now", NOW, "demo", "--out", str(out), home=home)
    snapshot = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    second = run_cli("--now", NOW, "demo", "--out", str(out), home=home)
    return {
        "root": root,
        "home": home,
        "out": out,
        "first": first,
        "second": second,
        "snapshot": snapshot,
    }


def test_demo_writes_the_follow_ups_and_the_digest_and_a_second_run_changes_nothing(demo):
    out = demo["out"]
    events = _events(out / "followups.ics")
    uids = [e[0] for e in events]
    assert 1 <= len(events) <= 5
    assert len(set(uids)) == len(uids)  # no duplicates
    weeks = Counter(e[1].isocalendar()[:2] for e in events)
    assert max(weeks.values()) <= 5
    for _, start, end, summary in events:
        assert start.weekday() < 5 and start.hour >= 9 and end.hour * 60 + end.minute <= 17 * 60
        assert end - start == timedelta(minutes=15)
        assert re.match(r"(Reconnect with|Reply to|Follow up with|Check in with) \w", summary)
    # spread over the week, one a day, as near the preferred 10:00 as the calendar allows
    # (before: all five stacked on the first slot of the day, 09:00)
    assert len({e[1].date() for e in events}) == len(events)
    assert all(abs(e[1].hour * 60 + e[1].minute - 600) <= 60 for e in events)
    assert sum(e[1].strftime("%H:%M") == "10:00" for e in events) >= len(events) - 1
    # in the user's time zone, worded for a person: no rule keys, no arithmetic
    cal = icalendar.Calendar.from_ical((out / "followups.ics").read_bytes())
    for ev in cal.walk("VEVENT"):
        assert ev["DTSTART"].params["TZID"] == "Europe/London"
        words = f"{ev['SUMMARY']}\n{ev['DESCRIPTION']}"
        assert str(ev[KEY_PROPERTY]) not in words and "syncd why" not in words
        assert not re.search(r"\d+\.\d+|>=|cadence", words), words
        assert "your last contact was" in words or "Their email" in words
    # the second run: same bytes, same UIDs, and it says where things are
    for name in ("followups.ics", "digest.html", "digest.txt", "people.json"):
        assert (out / name).read_bytes() == demo["snapshot"][name], name
    assert [e[0] for e in _events(out / "followups.ics")] == uids
    for proc in (demo["first"], demo["second"]):
        assert str(out / "followups.ics") in proc.stdout
        assert str(out / "digest.html") in proc.stdout and str(out / "digest.txt") in proc.stdout
    assert "0 new" in demo["second"].stdout and f"{len(events)} new" in demo["first"].stdout
    # every planned follow-up is in the calendar syncd keeps in the home
    home_cal = _events(demo["home"] / "demo" / "followups.ics")
    assert sorted(e[0] for e in home_cal) == sorted(uids)
    _demo_digest_has_every_section_and_no_script(demo)


def _demo_digest_has_every_section_and_no_script(demo):
    html = (demo["out"] / "digest.html").read_text(encoding="utf-8")
    text = (demo["out"] / "digest.txt").read_text(encoding="utf-8")
    assert "<script" not in html.lower() and "javascript:" not in html.lower()
    assert "<link" not in html.lower() and "<style" not in html.lower()  # inline CSS only
    assert not re.search(r"""src=["']?https?:""", html)  # nothing fetched remotely
    headings = [unescape(h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html)]
    assert headings == list(SECTIONS)
    for heading in SECTIONS:
        assert heading.upper() in text
    # the follow-ups in the digest are the ones on the calendar
    for _, start, _, _ in _events(demo["out"] / "followups.ics"):
        assert start.strftime("%a %-d %b %H:%M") in text


# -- Chromium ---------------------------------------------------------------------------------


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium_args(exe: str, profile: Path) -> list[str]:
    return [
        exe,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
    ]


def read_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and unfiltered rows (RGB or RGBA, 8 bits) of a PNG, in pure Python."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, [r if bpp == 3 else _rgb(r) for r in rows]


def _rgb(rgba: bytes) -> bytes:
    out = bytearray()
    for i in range(0, len(rgba), 4):
        out += rgba[i : i + 3]
    return bytes(out)


def test_digest_preview_renders_in_headless_chromium(tmp_path):
    exe = _chromium()
    assert exe is not None, "chromium is missing: apt-get install chromium (.ci/run installs it)"
    me, base = "me@home.example", datetime(2026, 5, 27, 9, tzinfo=UTC)
    msgs = []
    for i in range(12):
        who = f"p{i % 4}@org{i % 3}.example"
        msgs.append(message(sender=who, to=me, date=base + timedelta(hours=5 * i), subject=f"s{i}"))
        msgs.append(
            message(sender=me, to=who, date=base + timedelta(hours=5 * i + 1), subject=f"Re: s{i}")
        )
        msgs.append(message(sender=me, to=who, date=base - timedelta(days=7 * (i + 1))))
    import_mail(tmp_path, {"INBOX": msgs}, [me], now=NOW)
    preview = tmp_path / "preview.html"
    proc = run_cli("--now", NOW, "digest", "--preview", str(preview), home=tmp_path / "home")
    assert f"wrote {preview}" in proc.stdout
    assert preview.with_suffix(".txt").exists()
    url = preview.resolve().as_uri()
    env = {**os.environ, "HOME": str(tmp_path)}
    dom = subprocess.run(
        [*_chromium_args(exe, tmp_path / "p1"), "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", dom.stdout)
    assert [unescape(h) for h in headings] == list(SECTIONS)
    assert "<script" not in dom.stdout

    shot = tmp_path / "digest.png"
    run = subprocess.run(
        [
            *_chromium_args(exe, tmp_path / "p2"),
            f"--screenshot={shot}",
            "--window-size=800,1400",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    width, height, rows = read_png(shot)
    assert (width, height) == (800, 1400)
    colours: Counter[bytes] = Counter()
    for row in rows[::4]:
        for x in range(0, len(row), 12):
            colours[row[x : x + 3]] += 1
    total = sum(colours.values())
    white = sum(n for c, n in colours.items() if min(c) >= 245)
    assert len(colours) >= 20, "a blank or flat image: no text drawn (fonts-dejavu-core?)"
    assert 0.02 < 1 - white / total < 0.9
    # the dark bar of this week in the chart: the inline styles were applied
    accent = (0x2F, 0x6F, 0x9F)
    assert any(all(abs(a - b) <= 6 for a, b in zip(c, accent, strict=True)) for c in colours)


def test_this_weeks_follow_ups_are_visible_without_scrolling_at_640_px(demo, tmp_path):
    """Chromium lays the demo's digest out 640 px wide: all five follow-ups (with their
    actions) end within the first 640 px, and nothing is wider than the window."""
    exe = _chromium()
    assert exe is not None, "chromium is missing: apt-get install chromium (.ci/run installs it)"
    html = (demo["out"] / "digest.html").read_text(encoding="utf-8")
    assert "<script" not in html.lower()
    probe = (
        "<script>var rows = document.querySelectorAll('[data-followup]');"
        "var last = rows[rows.length - 1].getBoundingClientRect();"
        "document.body.setAttribute('data-layout', JSON.stringify({rows: rows.length,"
        " bottom: last.bottom, scroll: document.documentElement.scrollWidth,"
        " width: window.innerWidth}));</script></body>"
    )
    page = tmp_path / "probe.html"  # a copy with a measuring script: the email has none
    page.write_text(html.replace("</body>", probe), encoding="utf-8")
    args = [*_chromium_args(exe, tmp_path / "p"), "--window-size=640,800", "--dump-dom"]
    dom = subprocess.run(
        [*args, page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    (raw,) = re.findall(r'data-layout="([^"]*)"', dom.stdout)
    layout = json.loads(unescape(raw))
    assert layout["width"] == 640 and layout["scroll"] <= 640, layout
    assert layout["rows"] == 5 and layout["bottom"] <= 640, layout


# -- a real touch removes a planned follow-up ----------------------------------------------------


def _syncd(home: Path, now: str, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    proc = subprocess.run(
        [*cmd, "--home", str(home), "--now", now, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_a_touch_removes_the_follow_up_and_a_user_deletion_stands(tmp_path):
    me = "me@home.example"
    base = datetime(2026, 2, 2, 10, 0, tzinfo=UTC)
    people = ("ana@acme.example", "ben@bolt.example", "cy@corp.example")
    msgs = []
    for i, who in enumerate(people):
        msgs.append(message(sender=who, to=me, date=base + timedelta(days=i), subject=f"q{i}"))
        msgs.append(
            message(sender=me, to=who, date=base + timedelta(days=i, hours=1), subject=f"Re: q{i}")
        )
    write_mbox(tmp_path / "mail" / "INBOX", msgs)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        'timezone = "Europe/London"\n[planner]\ncalendar = "cal/followups.ics"\n', encoding="utf-8"
    )
    t0 = "2026-06-01T06:00:00+00:00"
    _syncd(home, t0, "import", "mbox", str(tmp_path / "mail"), "--me", me)
    plan = json.loads(_syncd(home, t0, "plan", "--json").stdout)
    assert len(plan["placed"]) == 3
    ics = home / "cal" / "followups.ics"
    before = {e[0]: e for e in _events(ics)}
    assert len(before) == 3
    ids = {p["emails"][0]: p["id"] for p in json.loads(_syncd(home, t0, "people", "--json").stdout)}
    keys = {f["key"].split(":")[1]: f for f in plan["placed"]}
    ana = keys[str(ids["ana@acme.example"])]
    ben = keys[str(ids["ben@bolt.example"])]

    # the user writes to Ana (a touch) before her follow-up, and deletes Ben's event by hand
    touch = datetime.fromisoformat(t0) + timedelta(minutes=30)
    write_mbox(
        tmp_path / "mail2" / "Sent",
        [message(sender=me, to="ana@acme.example", date=touch, subject="news")],
    )
    t1 = (touch + timedelta(minutes=10)).isoformat()
    _syncd(home, t1, "import", "mbox", str(tmp_path / "mail2"))
    cal = icalendar.Calendar.from_ical(ics.read_bytes())
    cal.subcomponents = [c for c in cal.subcomponents if str(c.get(KEY_PROPERTY, "")) != ben["key"]]
    ics.write_bytes(cal.to_ical())

    result = json.loads(_syncd(home, t1, "plan", "--json").stdout)
    assert result["withdrawn"] == [ana["key"]]
    assert result["deleted_by_user"] == [ben["key"]]
    assert result["placed"] == []
    left = _events(ics)
    assert len(left) == 1 and ana["title"] not in {e[3] for e in left}
    # and later runs keep it that way
    again = json.loads(_syncd(home, t1, "plan", "--json").stdout)
    assert again["placed"] == [] and len(_events(ics)) == 1
