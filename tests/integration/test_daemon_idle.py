"""The daemon at rest: it sleeps until its next job (at most one sync interval), an edit
of config.toml wakes it through inotify, and its own files changing beside it do not."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from syncd.daemon import loop as daemon_mod
from syncd.daemon.loop import next_wake
from syncd.daemon.watch import IN_CLOSE_WRITE, IN_Q_OVERFLOW, open_watch, parse_events, touches
from tests.integration.test_daemon_loop import make_home, opened  # noqa: F401 (fixture)


def test_next_wake_is_the_next_job_and_never_more_than_one_interval():
    assert next_wake(250.0, 300, watching=True) == 250.0  # the next job
    assert next_wake(86_400.0, 300, watching=True) == 300.0  # a clock jump seen within one
    assert next_wake(None, 300, watching=True) == 300.0
    assert next_wake(-3.0, 300, watching=True) == 0.0  # overdue: at once
    # without a config watch it polls config.toml every few seconds
    assert next_wake(250.0, 300, watching=False) == daemon_mod.POLL_SLEEP
    assert next_wake(1.0, 300, watching=False) == 1.0


def test_after_a_tick_the_idle_loop_sleeps_until_the_next_sync_not_a_polling_tick(
    tmp_path,
    opened,  # noqa: F811
):
    d = opened(make_home(tmp_path, accounts=2, daemon_table="sync_interval_seconds = 300\n"))
    for job in d.scheduler.jobs:  # everything due now: one tick runs it all
        job.next_run = datetime.now() - timedelta(seconds=1)
    d.tick()
    wake = next_wake(d.scheduler.idle_seconds, d.settings.sync_interval, watching=True)
    assert 250 <= wake <= 300  # the next sync (interval minus up to 30 s of jitter's draw)


def test_the_watch_reports_config_edits_only(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text("me = []\n")
    watch = open_watch(config)
    assert watch is not None, "inotify is available on Linux"
    try:
        assert not watch.changed()
        (tmp_path / "daemon.json.tmp").write_text("{}")
        (tmp_path / "daemon.json.tmp").replace(tmp_path / "daemon.json")
        assert not watch.changed()  # the state file (and the WAL) live beside it
        config.write_text("me = ['a@x.example']\n")
        assert watch.changed()
        assert not watch.changed()  # read once
        config.with_suffix(".new").write_text("me = []\n")
        config.with_suffix(".new").replace(config)  # an editor's atomic save
        assert watch.changed()
    finally:
        watch.close()


def test_parse_events_and_an_overflow_counts_as_a_change():
    import struct

    def event(mask: int, name: bytes) -> bytes:
        padded = name + b"\0" * (16 - len(name))
        return struct.pack("iIII", 1, mask, 0, len(padded)) + padded

    data = event(IN_CLOSE_WRITE, b"daemon.json") + event(IN_CLOSE_WRITE, b"config.toml")
    assert parse_events(data) == [(IN_CLOSE_WRITE, "daemon.json"), (IN_CLOSE_WRITE, "config.toml")]
    assert touches(parse_events(data), "config.toml")
    assert not touches(parse_events(data[: len(data) // 2]), "config.toml")
    assert touches([(IN_Q_OVERFLOW, "")], "config.toml")


def test_an_idle_sleep_ends_on_a_config_edit_and_not_on_other_files(tmp_path, opened):  # noqa: F811
    d = opened(make_home(tmp_path, accounts=1))
    d._watch = open_watch(d.home.config_path)
    d._wake_r, d._wake_w = socket.socketpair()  # the signal wake-up pipe (closed by close)
    try:

        def later():
            time.sleep(0.3)
            (d.home.root / "other.tmp").write_text("x")  # must not end the sleep
            time.sleep(0.3)
            with open(d.home.config_path, "a", encoding="utf-8") as fh:
                fh.write("\n")

        writer = threading.Thread(target=later)
        started = time.monotonic()
        writer.start()
        d._wait(60.0)
        took = time.monotonic() - started
        writer.join()
        assert 0.5 < took < 30, took  # woke by the edit, not the other file, not the timeout
    finally:
        d._watch.close()
        d._watch = None


# -- a sync with no news: one cheap request per source ------------------------------------


def test_an_idle_outlook_sync_lists_the_folders_and_asks_each_delta_once(tmp_path):
    from connectors import outlook
    from tests.support.graph_emulator import GraphEmulator
    from tests.support.graph_emulator.testing import account, fill_calendar, fill_mailbox, home
    from tests.support.reader_conformance import run

    with GraphEmulator() as emu:
        fill_mailbox(emu, 30)
        fill_calendar(emu)
        acc = account(emu, tmp_path)
        cursors: dict = {}
        assert run(outlook.open_reader(acc, home(tmp_path)), cursors)
        folders = [s for s in cursors if s.startswith("outlook:mail:")]
        emu.records.clear()
        assert run(outlook.open_reader(acc, home(tmp_path)), cursors) == []
        paths = sorted(r.path.split("?")[0].removeprefix("/v1.0") for r in emu.records)
    deltas = [p for p in paths if p.endswith("/messages/delta")]
    assert len(deltas) == len(folders)  # one delta request per folder read
    assert paths.count("/me/calendarView/delta") == 1  # and one for the calendar
    # besides: the folder tree (new folders are noticed), never GET /me nor the $batch
    # of well-known folders again (their ids are in the cursor)
    rest = [p for p in paths if p not in deltas and p != "/me/calendarView/delta"]
    assert rest[0] == "/me/mailFolders"
    assert rest[1:] and all(p.endswith("/childFolders") for p in rest[1:])
    assert "/me" not in paths and "/$batch" not in paths


def test_an_idle_exchange_sync_asks_each_folder_once_and_looks_up_no_folder(tmp_path):
    from connectors import exchange
    from tests.support.ews_emulator import EwsEmulator
    from tests.support.ews_emulator.testing import ME, account, add_event, fill_mailbox, home
    from tests.support.reader_conformance import run

    emu = EwsEmulator(address=ME).start()
    try:
        fill_mailbox(emu, 30)
        add_event(emu, "standup", int(time.time()) - 86400, attendees=("a@x.org",))
        acc = account(emu, tmp_path, calendar=True)
        cursors: dict = {}
        assert run(exchange.open_reader(acc, home(tmp_path)), cursors)
        first = emu.ops()
        folders = [s for s in cursors if s.startswith("ews:mail:")]
        emu.requests.clear()
        assert run(exchange.open_reader(acc, home(tmp_path)), cursors) == []
        ops = emu.ops()
    finally:
        emu.stop()
    assert folders and ops.count("SyncFolderItems") == len(folders)  # one per mail folder
    assert ops.count("FindItem") == 1  # the calendar's window: ids and change keys
    # besides: the folder tree's changes (one SyncFolderHierarchy from its sync state); the
    # root, the message root and the calendar are named by their distinguished ids, so
    # never a GetFolder, and no item is read
    assert sorted(set(ops) - {"SyncFolderItems", "FindItem"}) == ["SyncFolderHierarchy"], ops
    assert ops.count("SyncFolderHierarchy") == 1
    assert "GetItem" in first and "GetFolder" not in first  # the items' fields are checked
    # against the folder they are read from, not a looked-up root


def test_an_idle_imap_sync_examines_each_folder_once_and_fetches_nothing(tmp_path):
    from connectors import imap
    from tests.support.dovecot import Dovecot
    from tests.support.imap_testing import fill, home, imap_account
    from tests.support.reader_conformance import run
    from tests.support.tcp_proxy import TcpProxy

    server = Dovecot(tmp_path / "dovecot").start()
    try:
        fill(server)
        proxy = TcpProxy(server.port)
        try:
            acc = imap_account(server, tmp_path, port=proxy.port)
            cursors: dict = {}
            assert run(imap.open_reader(acc, home(tmp_path)), cursors)
            proxy.sent.clear()
            assert run(imap.open_reader(acc, home(tmp_path)), cursors) == []
            verbs = [line.split()[1].upper() for line in proxy.commands() if len(line.split()) > 1]
        finally:
            proxy.close()
    finally:
        server.close()
    folders = len(cursors)
    assert verbs.count("EXAMINE") == folders  # HIGHESTMODSEQ / UIDNEXT unchanged: no FETCH
    assert "FETCH" not in verbs and "UID" not in verbs and "SEARCH" not in verbs
    assert sorted(set(verbs) - {"EXAMINE"}) == ["CAPABILITY", "LIST", "LOGIN", "LOGOUT"]
