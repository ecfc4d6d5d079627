"""The CalDAV connector against a real Radicale: meetings end to end, deletions, the
etag fallback, a refused sync token, a server restart mid-sync, settings."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from connectors import caldav
from connectors.dav import DavSession
from syncd.core.errors import CursorExpired, TransientError, UserError
from tests.support.caldav_testing import (
    ME,
    caldav_account,
    fill,
    home,
    new_calendar,
    password_file,
    shared_server,
    vevent,
)
from tests.support.helpers import people_json, run_cli
from tests.support.radicale_server import USER, Radicale
from tests.support.reader_conformance import run
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def calendar():
    server = shared_server()
    name = new_calendar(server)
    fill(server, calendar=name)
    return server, name


def reader(server, name, tmp_path: Path, **options):
    acc = caldav_account(server, tmp_path, calendar=name, batch_size=5, **options)
    return caldav.open_reader(acc, home(tmp_path))


def test_meetings_through_syncd_sync(calendar, tmp_path):
    server, name = calendar
    h = tmp_path / "home"
    run_cli(
        "account", "add", "caldav", "cal", "--address", ME, "--url", server.url,
        "--username", USER, "--calendar", name,
        "--password-file", str(password_file(tmp_path)), home=h,
    )  # fmt: skip
    out = run_cli("--now", "2025-01-01", "sync", "--once", home=h).stdout
    assert "cal: 0 messages, 16 events" in out, out  # 12 + 3 weekly instances + 1 declined
    people = {p["emails"][0]: p for p in people_json(h, "--now", "2025-01-01")}
    assert people["peer0@example.com"]["meetings"] == 3  # meetings 0, 5, 10
    assert people["peer3@example.com"]["meetings"] == 2
    assert people["team@example.com"]["meetings"] == 3  # 4 weekly, one EXDATE
    assert "x@example.com" not in people or people["x@example.com"]["meetings"] == 0

    # the user deletes a meeting in their calendar app: the next sync forgets it
    server.delete(f"{server.url}{USER}/{name}/meeting-0.ics")
    again = run_cli("--now", "2025-01-01", "sync", "--once", home=h).stdout
    assert "cal:" in again
    people = {p["emails"][0]: p for p in people_json(h, "--now", "2025-01-01")}
    assert people["peer0@example.com"]["meetings"] == 2
    status = json.loads(run_cli("account", "list", "--json", home=h).stdout)
    assert status[0]["name"] == "cal"

    # the server forgets its sync tokens: the next sync reads everything once more,
    # and the figures stay what they were
    with sqlite3.connect(h / "syncd.db") as db:
        rows = db.execute("SELECT scope, value FROM cursors").fetchall()
        assert len(rows) == 1
        cursor = json.loads(rows[0][1])
        cursor["token"] = "http://radicale.org/ns/sync/" + "0" * 64
        db.execute("UPDATE cursors SET value = ?", [json.dumps(cursor)])
    resync = run_cli("--now", "2025-01-01", "sync", "--once", home=h).stdout
    assert "cal: 0 messages" in resync, resync  # (nothing new to count: all known)
    with sqlite3.connect(h / "syncd.db") as db:
        (value,) = db.execute("SELECT value FROM cursors").fetchone()
    assert json.loads(value)["token"] not in (cursor["token"], None), "a fresh token"
    people = {p["emails"][0]: p for p in people_json(h, "--now", "2025-01-01")}
    assert people["peer0@example.com"]["meetings"] == 2
    assert people["team@example.com"]["meetings"] == 3


def test_a_deleted_resource_is_replaced_by_nothing(calendar, tmp_path):
    server, name = calendar
    cursors: dict = {}
    run(reader(server, name, tmp_path), cursors)
    server.delete(f"{server.url}{USER}/{name}/weekly.ics")
    batches = list(reader(server, name, tmp_path).fetch(cursors))
    assert [b.events for b in batches] == [[]]
    assert any(s.endswith("/weekly.ics") for s in batches[0].replace_scopes)


def test_an_edited_event_replaces_its_instances(calendar, tmp_path):
    server, name = calendar
    cursors: dict = {}
    run(reader(server, name, tmp_path), cursors)
    server.put(
        "weekly",
        vevent("weekly", "20240603T090000Z", "20240603T093000Z", {"team@example.com": "ACCEPTED"},
               extra="RRULE:FREQ=WEEKLY;COUNT=2"),
        name,
    )  # fmt: skip
    batches = list(reader(server, name, tmp_path).fetch(cursors))
    events = [e for b in batches for e in b.events]
    assert len(events) == 2 and {e.key.split("|")[0] for e in events} == {"weekly"}
    assert any(s.endswith("/weekly.ics") for b in batches for s in b.replace_scopes)


def test_without_sync_collection_etags_are_compared(calendar, tmp_path, monkeypatch):
    server, name = calendar
    monkeypatch.setattr(DavSession, "sync_collection", lambda self, token: None)
    cursors: dict = {}
    first = run(reader(server, name, tmp_path), cursors)
    assert len(first) == 16
    assert run(reader(server, name, tmp_path), cursors) == []
    server.put("late", vevent("late", "20240801T100000Z", "20240801T110000Z"), name)
    server.delete(f"{server.url}{USER}/{name}/meeting-1.ics")
    batches = list(reader(server, name, tmp_path).fetch(cursors))
    assert [e.key.split("|")[0] for b in batches for e in b.events] == ["late"]
    assert any(s.endswith("/meeting-1.ics") for b in batches for s in b.replace_scopes)


def test_a_refused_sync_token_means_a_full_resync(calendar, tmp_path):
    server, name = calendar
    cursors: dict = {}
    complete = run(reader(server, name, tmp_path), cursors)
    scope = next(iter(cursors))
    cursors[scope]["token"] = "http://radicale.org/ns/sync/" + "0" * 64
    with pytest.raises(CursorExpired):
        list(reader(server, name, tmp_path).fetch(cursors))
    # what the sync engine does then: drop the cursors and read everything again
    assert sorted(run(reader(server, name, tmp_path), {})) == sorted(complete)


def test_a_server_restart_mid_sync_resumes(tmp_path):
    server = Radicale(tmp_path / "own").start()
    try:
        fill(server, calendar="c")
        complete = run(reader(server, "c", tmp_path), {})
        cursors: dict = {}
        gen = reader(server, "c", tmp_path).fetch(cursors)
        first = next(gen)
        cursors.update(first.cursors)
        server.stop()
        with pytest.raises(TransientError):
            for batch in gen:
                cursors.update(batch.cursors)
        server.start()
        rest = run(reader(server, "c", tmp_path), cursors)
        got = [("event", e.calendar, e.key, e.hash) for e in first.events] + rest
        assert sorted(got) == sorted(complete)
        assert run(reader(server, "c", tmp_path), cursors) == []
    finally:
        server.stop()


def test_settings_and_a_missing_calendar(calendar, tmp_path):
    server, name = calendar
    with pytest.raises(UserError, match="no calendar named 'nope'"):
        list(reader(server, "nope", tmp_path).fetch({}))
    acc = caldav_account(server, tmp_path, calendar=name)
    acc.options["url"] = "http://caldav.example.com/"
    with pytest.raises(UserError, match="plain http is only allowed"):
        caldav.open_reader(acc, home(tmp_path))


def test_https_is_verified_and_a_private_ca_is_named_with_cafile(tmp_path):
    server = Radicale(tmp_path / "tls", tls=True).start()
    try:
        acc = caldav_account(server, tmp_path, calendar="c")
        assert acc.options["url"].startswith("https://127.0.0.1:")
        with pytest.raises(UserError, match=r"not trusted.*--cafile"):
            list(caldav.open_reader(acc, home(tmp_path)).fetch({}))
        acc.options["cafile"] = str(server.cafile)
        session = caldav.open_reader(acc, home(tmp_path)).session
        status, _, _ = session.request(
            "MKCALENDAR", server.url + f"{USER}/c/", b"", {"Content-Type": "application/xml"}
        )
        assert status == 201
        writer = caldav.open_writer(acc, home(tmp_path))
        assert writer.busy(1_717_400_000, 1_717_500_000) == []
    finally:
        server.stop()


def _requests(proxy: TcpProxy) -> list[str]:
    """The HTTP methods sent through ``proxy`` since it was last cleared."""
    text = "\n".join(proxy.commands())  # a body runs into the next request line
    with proxy._lock:
        proxy.sent.clear()
    return re.findall(r"(PROPFIND|REPORT|GET|PUT|DELETE|OPTIONS) /\S* HTTP", text)


def test_a_sync_with_no_news_is_one_report_and_a_calendar_gone_is_found_again(tmp_path):
    server = Radicale(tmp_path / "own").start()
    proxy = TcpProxy(server.port)
    try:
        fill(server, count=2, calendar="first")
        acc = caldav_account(server, tmp_path, calendar="")  # no name: the first calendar
        acc.options["url"] = f"http://127.0.0.1:{proxy.port}/"
        cursors: dict = {}
        assert len(run(caldav.open_reader(acc, home(tmp_path)), cursors)) == 6
        assert "PROPFIND" in _requests(proxy)  # the first sync discovers the calendar

        assert run(caldav.open_reader(acc, home(tmp_path)), cursors) == []
        assert _requests(proxy) == ["REPORT"]  # no discovery: the cursor remembers

        # a remembered scheme the server no longer takes: refused, negotiated again
        scope = next(iter(cursors))
        cursors[scope]["auth"] = "digest"
        assert run(caldav.open_reader(acc, home(tmp_path)), cursors) == []
        assert cursors[scope]["auth"] == "basic"
        _requests(proxy)
        assert run(caldav.open_reader(acc, home(tmp_path)), cursors) == []
        assert _requests(proxy) == ["REPORT"]

        # the user deletes that calendar and makes another: the remembered URL answers
        # 404, discovery runs again and finds the new one
        server.delete(f"{server.url}{USER}/first/")
        server.make_calendar("second")
        server.put("later", vevent("later", "20240901T100000Z", "20240901T110000Z"), "second")
        moved = run(caldav.open_reader(acc, home(tmp_path)), cursors)
        assert [key.split("|")[0] for _, _, key, _ in moved] == ["later"]
        assert "PROPFIND" in _requests(proxy)
        assert cursors[
            f"caldav:{server.url}{USER}/first/".replace(str(server.port), str(proxy.port))
        ].get("gone")
        assert run(caldav.open_reader(acc, home(tmp_path)), cursors) == []
        assert _requests(proxy) == ["REPORT"]

        # other settings (another calendar named): discovered, not the remembered one
        acc.options["calendar"] = "first"
        server.make_calendar("first")
        assert run(caldav.open_reader(acc, home(tmp_path)), cursors) == []
        assert "PROPFIND" in _requests(proxy)
    finally:
        proxy.close()
        server.stop()
