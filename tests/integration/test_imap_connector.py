"""The IMAP connector against a real Dovecot: folders by special use, flags, settings,
and faults (a connection lost mid-fetch, a server restart, a UIDVALIDITY change,
a refused password)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connectors import imap
from connectors.imap import choose_folders
from syncd.core.errors import AuthRequired, TransientError, UserError
from tests.support.dovecot import PASSWORD, Dovecot
from tests.support.helpers import REPO, people_json, run_cli
from tests.support.imap_testing import ME, fill, home, imap_account, password_file, raw
from tests.support.reader_conformance import run
from tests.support.tcp_proxy import TcpProxy


@pytest.fixture
def server(tmp_path: Path):
    s = Dovecot(tmp_path / "dovecot").start()
    fill(s)
    yield s
    s.close()


def reader(server: Dovecot, tmp_path: Path, port: int | None = None, **options: Any):
    acc = imap_account(server, tmp_path, batch_size=5, **options)
    if port is not None:
        acc.options["port"] = port
    return imap.open_reader(acc, home(tmp_path))


def observations(server: Dovecot, tmp_path: Path, cursors: dict | None = None) -> list:
    out = []
    for batch in reader(server, tmp_path).fetch(cursors if cursors is not None else {}):
        out += batch.mail
    return out


def test_drafts_and_junk_are_never_read_trash_is(server, tmp_path):
    folders = {obs.folder for obs in observations(server, tmp_path)}
    assert folders == {"INBOX", "Sent", "Trash"}


def test_an_all_folder_is_read_alone_with_trash(tmp_path):
    s = Dovecot(tmp_path / "dovecot", all_folder=True).start()
    try:
        fill(s, 6)
        s.append("All", raw(1, "peer1@example.com", ME))
        seen = observations(s, tmp_path)
        assert {obs.folder for obs in seen} == {"All", "Trash"}
    finally:
        s.close()


def test_choose_folders_by_special_use():
    listing = [
        ((b"\\HasNoChildren",), b"/", "INBOX"),
        ((b"\\Drafts",), b"/", "Entw\u00fcrfe"),
        ((b"\\Junk",), b"/", "Bulk Mail"),
        ((b"\\Trash",), b"/", "Deleted Items"),
        ((b"\\Noselect", b"\\HasChildren"), b"/", "[Gmail]"),
    ]
    assert choose_folders(listing) == ["INBOX", "Deleted Items"]
    gmail = [*listing, ((b"\\All",), b"/", "[Gmail]/All Mail"), ((b"\\Sent",), b"/", "Sent")]
    assert choose_folders(gmail) == ["Deleted Items", "[Gmail]/All Mail"]


def test_a_message_flagged_draft_counts_as_a_draft(server, tmp_path):
    server.append("INBOX", raw(77, ME, "unsent@example.com"), flags=(b"\\Draft",))
    drafts = [o for o in observations(server, tmp_path) if o.labels == ("DRAFT",)]
    assert len(drafts) == 1 and "unsent@example.com" in drafts[0].headers["to"][0]


def test_a_connection_lost_mid_fetch_resumes_without_loss_or_duplicate(server, tmp_path):
    complete = run(reader(server, tmp_path), {})
    proxy = TcpProxy(server.port)
    try:
        cursors: dict = {}
        proxy.cut_after(b"UID FETCH", 3)  # the third batch's FETCH never gets an answer
        with pytest.raises(TransientError, match="dropped"):
            run(reader(server, tmp_path, port=proxy.port), cursors)
        before = sum(1 for c in cursors.values() if c.get("last_uid"))
        assert before >= 1, "the batches before the cut were committed"
        # (what was fetched before the cut is stored; the rerun reads the rest)
        again = run(reader(server, tmp_path, port=proxy.port), cursors)
        assert again and len(again) < len(complete)
        assert run(reader(server, tmp_path), cursors) == []
    finally:
        proxy.close()


def test_a_server_restart_during_a_sync_loses_nothing(server, tmp_path):
    complete = run(reader(server, tmp_path), {})
    cursors: dict = {}
    got: list = []
    gen = reader(server, tmp_path).fetch(cursors)
    first = next(gen)
    got += [("mail", o.folder, o.summarized() and o.hash) for o in first.mail]
    cursors.update(first.cursors)
    server.restart()
    try:  # the old connection either goes on or fails as a transient error
        for batch in gen:
            got += [("mail", o.folder, o.summarized() and o.hash) for o in batch.mail]
            cursors.update(batch.cursors)
    except TransientError:
        pass
    got += run(reader(server, tmp_path), cursors)
    assert sorted(got) == sorted(complete)
    assert run(reader(server, tmp_path), cursors) == []


def test_a_changed_uidvalidity_reads_that_folder_again(server, tmp_path):
    cursors: dict = {}
    first = observations(server, tmp_path, cursors)
    sent = {o.hash for o in first if o.folder == "Sent"}
    for batch in reader(server, tmp_path).fetch({}):
        cursors.update(batch.cursors)
    server.renumber("Sent")
    again = observations(server, tmp_path, cursors)
    assert {o.folder for o in again} == {"Sent"}
    assert {o.hash for o in again} == sent, "the same messages, found again"
    assert all(o.locator.split(":")[2] != str(cursors["imap:Sent"]["uidvalidity"]) for o in again)


def test_a_refused_password_asks_for_syncd_auth(server, tmp_path):
    (tmp_path / "wrong.pw").write_text("nope\n")
    (tmp_path / "wrong.pw").chmod(0o600)
    acc = imap_account(server, tmp_path)
    acc.options["password_file"] = str(tmp_path / "wrong.pw")
    with pytest.raises(AuthRequired, match="syncd auth m"):
        list(imap.open_reader(acc, home(tmp_path)).fetch({}))


def test_settings_are_checked_before_connecting(tmp_path):
    s = Dovecot(tmp_path / "unused")
    acc = imap_account(s, tmp_path)
    acc.options["host"] = "imap.example.com"
    with pytest.raises(UserError, match="plaintext IMAP is only allowed"):
        imap.open_reader(acc, home(tmp_path))
    acc.options.pop("host")
    with pytest.raises(UserError, match="host is needed"):
        imap.open_reader(acc, home(tmp_path))
    (tmp_path / "open.pw").write_text("x\n")
    (tmp_path / "open.pw").chmod(0o644)
    acc = imap_account(s, tmp_path, password_file=str(tmp_path / "open.pw"))
    with pytest.raises(UserError, match="chmod 600"):
        list(imap.open_reader(acc, home(tmp_path)).fetch({}))


def test_cli_without_a_password_says_run_syncd_auth(server, tmp_path):
    h = tmp_path / "home"
    run_cli(
        "account", "add", "imap", "work", "--address", ME, "--host", "127.0.0.1",
        "--port", str(server.port), "--plaintext", home=h,
    )  # fmt: skip
    proc = run_cli("sync", "--once", home=h, check=False)
    assert proc.returncode == 1
    assert "syncd auth work" in proc.stderr
    bad = run_cli("account", "add", "imap", "x", "--url", "https://x", home=h, check=False)
    assert bad.returncode != 0 and "--url: not an option of a imap account" in bad.stderr


def test_syncd_auth_asks_once_and_sync_uses_the_stored_password(server, tmp_path):
    h = tmp_path / "home"
    run_cli(
        "account", "add", "imap", "work", "--address", ME, "--host", "127.0.0.1",
        "--port", str(server.port), "--plaintext", home=h,
    )  # fmt: skip
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    env = {**os.environ, "SYNCD_KEYRING": "0"}  # the 0600 file store (no desktop keyring here)
    proc = subprocess.run(
        [*cmd, "--home", str(h), "auth", "work"],
        input=PASSWORD + "\n", capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "stored the password of work" in proc.stdout
    assert PASSWORD not in (h / "config.toml").read_text()
    stored = list((h / "tokens").iterdir())
    assert len(stored) == 1 and stat.S_IMODE(stored[0].stat().st_mode) == 0o600
    synced = subprocess.run(
        [*cmd, "--home", str(h), "sync", "--once"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert synced.returncode == 0, synced.stderr
    assert "work: 24 messages" in synced.stdout


def test_tls_is_verified_and_a_private_ca_is_named_with_cafile(tmp_path):
    s = Dovecot(tmp_path / "tls", tls=True).start()
    try:
        fill(s, 3)
        acc = imap_account(s, tmp_path, security="tls", port=s.tls_port)
        with pytest.raises(UserError, match=r"not trusted .*--cafile"):
            list(imap.open_reader(acc, home(tmp_path)).fetch({}))
        acc.options["cafile"] = str(s.cafile)
        seen = [o for b in imap.open_reader(acc, home(tmp_path)).fetch({}) for o in b.mail]
        assert len(seen) == 3
    finally:
        s.close()


def test_moved_and_expunged_messages_keep_the_figures(server, tmp_path):
    h = tmp_path / "home"
    pw = password_file(tmp_path)
    run_cli(
        "account", "add", "imap", "work", "--address", ME, "--host", "127.0.0.1",
        "--port", str(server.port), "--plaintext", "--password-file", str(pw), home=h,
    )  # fmt: skip
    run_cli("--now", "2025-01-01", "sync", "--once", home=h)
    before = people_json(h, "--now", "2025-01-01")
    client = server.client()
    try:
        client.create_folder("Archive")
        client.select_folder("INBOX")
        uids = client.search("ALL")
        client.move(uids[:2], "Archive")  # filed away by the user
        client.delete_messages(uids[2:3])  # deleted for good
        client.expunge()
    finally:
        client.logout()
    out = run_cli("--now", "2025-01-01", "sync", "--once", home=h).stdout
    assert "work: 2 messages" in out, out  # the two moved copies, seen in Archive
    assert people_json(h, "--now", "2025-01-01") == before
    assert "work: 0 messages" in run_cli("--now", "2025-01-01", "sync", "--once", home=h).stdout

    pw.chmod(0o644)
    doctor = run_cli("doctor", "--no-service", home=h, check=False)
    assert f"chmod 600 {pw}" in doctor.stdout + doctor.stderr


def test_a_message_without_headers_is_quarantined_not_fatal(server, tmp_path):
    server.append("INBOX", b"just a line of text, no header at all\r\n")
    batches = list(reader(server, tmp_path).fetch({}))
    bad = [q for b in batches for q in b.quarantined]
    assert len(bad) == 1 and bad[0].scope == "INBOX"
    assert bad[0].reason == "no recognisable headers"
    assert b"just a line" not in bad[0].excerpt  # the body never reaches the quarantine
    assert sum(len(b.mail) for b in batches) == 24
