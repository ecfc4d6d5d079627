"""The Exchange connector under faults, against the EWS emulator through exchangelib.

ErrorServerBusy (with its back-off hint), throttling (HTTP 503), a stalled
server (client timeout) and reset connections are retried and lose or
duplicate nothing; attempts that run out are a TransientError with
retry_after, and the next sync resumes where the last committed page ended;
a lost sync state reads the folder again; an expired password marks only
that account as needing `syncd auth`; NTLM logs in (the real handshake:
requests_ntlm against pyspnego's acceptor) and a wrong password needs `syncd
auth`; a private CA is a clear error naming --ca-bundle, and works with it; a
deleted item is consumed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import tomlkit
from exchangelib.errors import ErrorServerBusy

from connectors import exchange
from connectors.ews_errors import Retrier
from syncd.config.schema import save_account
from syncd.core.errors import AuthRequired, TransientError, UserError
from tests.support.certs import private_ca
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.loading import add_message
from tests.support.ews_emulator.testing import ME, account, fill_mailbox, home, raw_message
from tests.support.helpers import message, run_cli, write_mbox
from tests.support.reader_conformance import run

COUNT = 30


@pytest.fixture
def emu():
    server = EwsEmulator(address=ME).start()
    fill_mailbox(server, COUNT)
    yield server
    server.stop()


def read_all(emu: EwsEmulator, tmp_path: Path, cursors: dict | None = None, **opts: Any) -> list:
    reader = exchange.open_reader(account(emu, tmp_path, page_size=4, **opts), home(tmp_path))
    return run(reader, {} if cursors is None else cursors)


@pytest.mark.parametrize(
    ("kind", "op"),
    [("busy", "SyncFolderItems"), ("throttle", "GetItem"), ("reset", "SyncFolderHierarchy")],
)  # fmt: skip
def test_transient_faults_are_retried_without_loss_or_duplicates(emu, tmp_path, kind, op):
    emu.inject(kind, op=op, times=2, back_off_ms=80)
    started = time.monotonic()
    got = read_all(emu, tmp_path)
    assert len(got) == len(set(got)) == COUNT + 1  # the draft too (labelled DRAFT)
    assert set(got) == set(read_all(emu, tmp_path))  # a read without faults
    faulted = [r for r in emu.requests if r.get("fault") == kind]
    assert len(faulted) == 2
    if kind == "busy":
        assert time.monotonic() - started >= 0.16, "the BackOffMilliseconds hint was ignored"


def test_busy_hint_sets_the_delay():
    waits: list[float] = []
    retrier = Retrier("x", max_attempts=3, backoff_base=0.01, sleep=waits.append)
    calls = iter([ErrorServerBusy("busy", back_off=7.5), ErrorServerBusy("busy"), "ok"])

    def call() -> str:
        value = next(calls)
        if isinstance(value, Exception):
            raise value
        return value

    assert retrier.run("op", call) == "ok"
    assert waits == [7.5, 0.02]


def test_a_stalled_server_times_out_and_is_retried(emu, tmp_path):
    emu.stall_seconds = 2.0
    emu.inject("stall", op="GetItem", times=1)
    got = read_all(emu, tmp_path, timeout=0.5)
    assert len(set(got)) == COUNT + 1


def test_attempts_running_out_is_transient_and_the_next_sync_resumes(emu, tmp_path):
    cursors: dict = {}
    emu.inject("busy", op="GetItem", times=3, back_off_ms=1)
    reader = exchange.open_reader(
        account(emu, tmp_path, page_size=4, max_attempts=3), home(tmp_path)
    )
    seen: list = []
    with pytest.raises(TransientError) as err:
        seen += run(reader, cursors)
    assert err.value.retry_after and err.value.retry_after >= 30
    assert "busy" in str(err.value)
    more = read_all(emu, tmp_path, cursors)
    assert len(more) == len(set(more))
    assert len(set(more) | set(seen)) == COUNT + 1


def test_a_lost_sync_state_reads_the_folder_again(emu, tmp_path):
    cursors: dict = {}
    first = read_all(emu, tmp_path, cursors)
    assert len(first) == COUNT + 1
    box = emu.mailbox
    late = raw_message("late@example.org", [ME], "late", datetime(2024, 3, 1, 12, tzinfo=UTC))
    add_message(box, box.folder_id("inbox"), late)
    emu.inject("invalid_sync_state", op="SyncFolderItems", times=1)
    again = read_all(emu, tmp_path, cursors)
    # The refused folder was read from the start: its messages again (the store knows them)
    # plus the new one; no error.
    assert any(obs[1] == "Inbox" for obs in again)
    assert set(first) | set(again) >= set(first)
    assert len(set(again) - set(first)) == 1
    assert [r for r in emu.requests if r.get("op") == "SyncFolderItems" and r.get("after") == 0]


def test_deleted_items_are_consumed(emu, tmp_path):
    cursors: dict = {}
    read_all(emu, tmp_path, cursors)
    box = emu.mailbox
    victim = box.live_items(box.folder_id("inbox"))[0]
    box.delete_item(victim.id)
    assert read_all(emu, tmp_path, cursors) == []
    assert read_all(emu, tmp_path, cursors) == []


def test_an_expired_password_needs_auth_and_other_accounts_go_on(emu, tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    save_account(h / "config.toml", account(emu, tmp_path, name="work"))
    write_mbox(tmp_path / "mail" / "INBOX", [message(sender="a@b.example", to=ME)])
    doc = tomlkit.parse((h / "config.toml").read_text())
    doc["accounts"]["local"] = {"kind": "mbox", "paths": [str(tmp_path / "mail")]}
    (h / "config.toml").write_text(tomlkit.dumps(doc))
    emu.inject("expired")
    proc = run_cli("sync", "--once", home=h, check=False)
    assert proc.returncode == 1
    assert "local: 1 messages" in proc.stdout, proc.stdout
    assert "work: failed" in proc.stderr and "syncd auth work" in proc.stderr, proc.stderr
    with pytest.raises(AuthRequired):
        exchange.open_reader(account(emu, tmp_path), home(tmp_path))


def test_a_private_ca_is_a_clear_error_and_works_with_ca_bundle(tmp_path):
    ca, cert, key = private_ca(tmp_path / "pki")
    server = EwsEmulator(address=ME).start(tls=(cert, key))
    try:
        fill_mailbox(server, 4)
        with pytest.raises(UserError) as err:
            exchange.open_reader(account(server, tmp_path), home(tmp_path))
        assert "--ca-bundle" in str(err.value) and "certificate" in str(err.value)
        reader = exchange.open_reader(account(server, tmp_path, ca_bundle=str(ca)), home(tmp_path))
        assert len(run(reader, {})) == 5
    finally:
        server.stop()


def test_ntlm_login_and_a_refused_password(tmp_path):
    server = EwsEmulator(address=ME, auth="ntlm").start()
    try:
        fill_mailbox(server, 4)
        reader = exchange.open_reader(account(server, tmp_path, auth="ntlm"), home(tmp_path))
        assert len(run(reader, {})) == 5
        assert [r["op"] for r in server.requests][:2] == ["(ntlm handshake)"] * 2
        wrong = tmp_path / "wrong"
        wrong.write_text("not-the-password\n", encoding="utf-8")
        wrong.chmod(0o600)
        acc = account(server, tmp_path, auth="ntlm", password_file=str(wrong))
        with pytest.raises(AuthRequired, match="syncd auth x"):
            exchange.open_reader(acc, home(tmp_path))
    finally:
        server.stop()


def test_oauth_sends_the_stored_token_as_bearer_over_https_only(tmp_path):
    ca, cert, key = private_ca(tmp_path / "pki")
    server = EwsEmulator(address=ME, auth="oauth").start(tls=(cert, key))
    plain = EwsEmulator(address=ME, auth="oauth").start()
    try:
        fill_mailbox(server, 3)
        acc = account(server, tmp_path, auth="oauth", ca_bundle=str(ca))
        assert len(run(exchange.open_reader(acc, home(tmp_path)), {})) == 4
        assert "(unauthorized)" not in server.ops()
        with pytest.raises(UserError, match="oauth needs an https"):
            exchange.open_reader(account(plain, tmp_path, auth="oauth"), home(tmp_path))
    finally:
        server.stop()
        plain.stop()
