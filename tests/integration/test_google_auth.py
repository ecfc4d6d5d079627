"""Google grants: scopes, token storage (keyring or 0600 files), `syncd auth`, refresh, revoking.

``syncd auth`` runs the real InstalledAppFlow against the emulator's OAuth
endpoints; the "browser" is a thread that follows the consent redirect.
"""

from __future__ import annotations

import json
import stat
import threading
import urllib.request
from pathlib import Path

import keyring
import keyring.backend
import pytest
from click.testing import CliRunner

from connectors import gmail, secret_store
from connectors import google_auth as auth
from connectors.google_pacing import forget_pacers
from syncd.cli import cli
from syncd.config.schema import AccountConfig, load_config, save_account
from syncd.core.errors import AuthRequired, UserError
from syncd.pipeline.account_sync import sync_all
from syncd.store.db import open_db
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import ME, account, fill_mailbox, home


class MemoryKeyring(keyring.backend.KeyringBackend):
    priority = 10

    def __init__(self):
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.items.get((service, username))

    def set_password(self, service, username, password):
        self.items[(service, username)] = password

    def delete_password(self, service, username):
        self.items.pop((service, username), None)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch):
    forget_pacers()
    monkeypatch.setenv("SYNCD_KEYRING", "0")
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator's OAuth is plain http
    yield
    forget_pacers()


def test_least_privilege_scopes():
    mail = AccountConfig("m", "gmail", ME)
    assert auth.scopes_for(mail) == [auth.GMAIL_METADATA]
    mail.options["send_digest"] = True
    assert auth.scopes_for(mail) == [auth.GMAIL_METADATA, auth.GMAIL_SEND]
    cal = AccountConfig("c", "gcal", ME)
    assert auth.scopes_for(cal) == [auth.CALENDAR_EVENTS, auth.CALENDAR_FREEBUSY]
    with pytest.raises(UserError):
        auth.scopes_for(AccountConfig("x", "imap", ME))


def test_file_store_is_private(tmp_path):
    store = secret_store.TokenStore(home(tmp_path))
    assert store.load("g") is None
    store.save("g", {"token": "t", "refresh_token": "r"})
    path = home(tmp_path).tokens_dir / "g.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert store.load("g") == {"token": "t", "refresh_token": "r"}
    store.delete("g")
    assert store.load("g") is None and not path.exists()


def test_keyring_store_when_a_backend_exists(tmp_path, monkeypatch):
    monkeypatch.delenv("SYNCD_KEYRING")
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    try:
        store = secret_store.TokenStore(home(tmp_path))
        assert "keyring" in store.where
        store.save("g", {"token": "t"})
        assert not (home(tmp_path).tokens_dir / "g.json").exists()
        assert list(ring.items) == [("syncd", f"{home(tmp_path).root}:g")]
        assert secret_store.TokenStore(home(tmp_path)).load("g") == {"token": "t"}
        store.delete("g")
        assert ring.items == {}
    finally:
        keyring.set_keyring(previous)


def test_token_file_accounts(tmp_path):
    with GoogleEmulator() as emu:
        acc = account(emu, tmp_path)
        grant = auth.load_grant(acc, home(tmp_path))
        assert grant.credentials.token == "test-token" and grant.store is None
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(UserError, match="token"):
        auth.load_grant(
            AccountConfig("g", "gmail", ME, options={"token_file": str(bad)}), home(tmp_path)
        )
    with pytest.raises(AuthRequired, match="syncd auth g"):
        auth.load_grant(AccountConfig("g", "gmail", ME), home(tmp_path))


def browser_following_redirects(monkeypatch) -> list[str]:
    """Make ``webbrowser.get().open(url)`` fetch the URL (consent, then the redirect)."""
    opened: list[str] = []

    class Browser:
        def open(self, url, new=0, autoraise=True):
            opened.append(url)
            threading.Thread(
                target=lambda: urllib.request.urlopen(url, timeout=10).read(), daemon=True
            ).start()
            return True

    monkeypatch.setattr("webbrowser.get", lambda using=None: Browser())
    return opened


def add_oauth_account(h, emu, name="g", kind="gmail", **options):
    h.ensure()
    acc = AccountConfig(
        name,
        kind,
        ME,
        options={
            "api_endpoint": emu.url,
            "quota_window": emu.window,
            "backoff_base": 0.01,
            **options,
        },
    )
    save_account(h.config_path, acc)
    return acc


def run_auth(h, *args):
    result = CliRunner().invoke(cli, ["--home", str(h.root), "auth", *args], catch_exceptions=True)
    return result


def test_syncd_auth_flow_refresh_and_revocation(tmp_path, monkeypatch):
    with GoogleEmulator(window=0.5, token_lifetime=3600) as emu:
        fill_mailbox(emu, 12)
        h = home(tmp_path)
        add_oauth_account(h, emu)
        secrets = emu.client_secrets(tmp_path / "client_secret.json")
        opened = browser_following_redirects(monkeypatch)
        result = run_auth(h, "g", "--client-secrets", str(secrets))
        assert result.exit_code == 0, result.output + repr(result.exception)
        assert "authorized g" in result.output
        assert "scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fgmail.metadata" in opened[0]
        assert "gmail.send" not in opened[0] and "calendar" not in opened[0]
        stored = json.loads((h.tokens_dir / "g.json").read_text())
        assert stored["refresh_token"].startswith("1//")
        assert stat.S_IMODE((h.tokens_dir / "g.json").stat().st_mode) == 0o600

        db = open_db(h.db_path)
        config = load_config(h.config_path)
        [result] = sync_all(db, h, config)
        assert result.ok and result.stats.observations == 12

        # The access token expires: the library refreshes it and syncd saves the new one.
        emu.expire_access_tokens()
        emu.gmail.add_message(
            b"From: a@example.org\r\nTo: me@example.com\r\nSubject: x\r\n"
            b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\nbody",
            ["INBOX"],
        )
        forget_pacers()
        [result] = sync_all(db, h, config)
        assert result.ok, result.error
        assert result.stats.observations == 1
        refreshed = json.loads((h.tokens_dir / "g.json").read_text())
        assert refreshed["token"] != stored["token"]

        # Revoked: the account needs `syncd auth`, the others keep running.
        mbox = tmp_path / "mail.mbox"
        mbox.write_bytes(
            b"From x\nFrom: b@example.org\nTo: me@example.com\nSubject: y\n"
            b"Date: Tue, 2 Jan 2024 10:00:00 +0000\n\nbody\n"
        )
        save_account(
            h.config_path, AccountConfig("local", "mbox", ME, options={"paths": [str(mbox)]})
        )
        emu.revoke()
        emu.expire_access_tokens()
        results = {r.name: r for r in sync_all(db, h, load_config(h.config_path))}
        assert results["g"].needs_auth and not results["g"].ok
        assert "syncd auth g" in results["g"].error
        assert results["local"].ok and results["local"].stats.observations == 1
        row = db.execute(
            "SELECT needs_auth, last_result FROM account_state s JOIN accounts a"
            " ON a.id = s.account_id WHERE a.name = 'g'"
        ).fetchone()
        assert row == (1, "needs-auth")

        # `syncd auth` again clears the mark.
        emu.grants.clear()
        result = run_auth(h, "g", "--client-secrets", str(secrets))
        assert result.exit_code == 0, result.output
        row = db.execute(
            "SELECT needs_auth FROM account_state s JOIN accounts a"
            " ON a.id = s.account_id WHERE a.name = 'g'"
        ).fetchone()
        assert row == (0,)


def test_syncd_auth_asks_calendar_and_send_scopes(tmp_path, monkeypatch):
    with GoogleEmulator() as emu:
        h = home(tmp_path)
        add_oauth_account(h, emu, "c", "gcal")
        add_oauth_account(h, emu, "m", "gmail", send_digest=True)
        secrets = emu.client_secrets(h.root / "client_secret.json")  # the default place
        opened = browser_following_redirects(monkeypatch)
        assert run_auth(h, "c").exit_code == 0
        assert run_auth(h, "m").exit_code == 0
        assert "calendar.events" in opened[0] and "calendar.freebusy" in opened[0]
        assert "gmail" not in opened[0]
        assert "gmail.metadata" in opened[1] and "gmail.send" in opened[1]
        assert secrets.exists()
        grants = {g.scopes for g in emu.grants.values() if g.refresh_token}
        assert frozenset({auth.CALENDAR_EVENTS, auth.CALENDAR_FREEBUSY}) in grants


def test_syncd_auth_errors(tmp_path):
    with GoogleEmulator() as emu:
        h = home(tmp_path)
        add_oauth_account(h, emu)
        save_account(
            h.config_path,
            AccountConfig(
                "t",
                "gmail",
                ME,
                options={"token_file": str(emu.write_token_file(tmp_path / "t.json"))},
            ),
        )
        save_account(
            h.config_path, AccountConfig("local", "mbox", ME, options={"paths": [str(tmp_path)]})
        )
        result = run_auth(h, "g")
        assert result.exit_code != 0
        assert "Desktop app" in str(result.exception)
        assert isinstance(run_auth(h, "nope").exception, UserError)
        assert "gmail, gcal" in str(run_auth(h, "local").exception)
        assert "token file" in str(run_auth(h, "t").exception)


def test_missing_grant_marks_needs_auth(tmp_path):
    with GoogleEmulator() as emu:
        h = home(tmp_path)
        add_oauth_account(h, emu)
        db = open_db(h.db_path)
        [result] = sync_all(db, h, load_config(h.config_path))
        assert result.needs_auth and "syncd auth g" in result.error


def test_reader_saves_nothing_for_token_files(tmp_path):
    with GoogleEmulator(window=0.5) as emu:
        fill_mailbox(emu, 3)
        reader = gmail.open_reader(account(emu, tmp_path), home(tmp_path))
        assert sum(len(b.mail) for b in reader.fetch({})) == 3
        assert not home(tmp_path).tokens_dir.exists()


def test_tokens_dir_is_not_world_readable_even_with_umask(tmp_path):
    import os

    old = os.umask(0)
    try:
        secret_store.TokenStore(home(tmp_path)).save("g", {"token": "x"})
    finally:
        os.umask(old)
    path = home(tmp_path).tokens_dir / "g.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Path(path).read_text() == '{"token": "x"}'
