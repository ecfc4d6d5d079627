"""Sending the digest over SMTP to a real aiosmtpd server on loopback."""

from __future__ import annotations

import email
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from syncd.config.schema import load_config
from syncd.core.errors import ConfigError, UserError
from syncd.core.home import Home
from syncd.followup import outbox
from syncd.followup.mailer import parse_smtp, smtp_password, store_password
from syncd.report.digest import send_weekly_digest
from syncd.store.db import open_db
from tests.support.helpers import REPO, message, write_mbox

NOW = "2026-06-01T07:00:00+00:00"
ME = "me@home.example"


class Recorder:
    """An aiosmtpd handler that keeps every envelope, or answers DATA with ``reply``."""

    def __init__(self, reply: str = "250 OK"):
        self.envelopes = []
        self.reply = reply

    async def handle_DATA(self, server, session, envelope):
        if self.reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.reply


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    servers = []

    def start(reply: str = "250 OK", **kwargs) -> tuple[Recorder, int]:
        handler = Recorder(reply)
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        controller.start()
        servers.append(controller)
        return handler, port

    yield start
    for controller in servers:
        controller.stop()


def make_home(tmp_path: Path, port: int, extra: str = "") -> Path:
    base = datetime(2026, 5, 27, 9, 0, tzinfo=UTC)
    msgs = []
    for i, who in enumerate(("ana@acme.example", "ben@bolt.example")):
        msgs.append(message(sender=who, to=ME, date=base + timedelta(days=i), subject=f"q{i}"))
        msgs.append(
            message(sender=ME, to=who, date=base + timedelta(days=i, hours=1), subject=f"Re: q{i}")
        )
    write_mbox(tmp_path / "mail" / "INBOX", msgs)
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'me = ["{ME}"]\ntimezone = "Europe/London"\n'
        '[digest]\nto = ["me@home.example"]\nfrom = "syncd <digest@home.example>"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n{extra}',
        encoding="utf-8",
    )
    assert syncd(home, "import", "mbox", str(tmp_path / "mail"), "--me", ME).returncode == 0
    return home


def syncd(home: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*cmd, "--home", str(home), "--now", NOW, *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        env={**os.environ},
    )


def test_digest_send_delivers_one_multipart_alternative_message(tmp_path, smtp):
    handler, port = smtp()
    home = make_home(tmp_path, port)
    proc = syncd(home, "digest", "--send")
    assert proc.returncode == 0, proc.stderr
    assert "sent the digest to me@home.example" in proc.stdout
    (env,) = handler.envelopes
    assert env.mail_from == "digest@home.example" and env.rcpt_tos == [ME]
    msg = email.message_from_bytes(env.original_content, policy=policy.default)
    assert msg.get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in msg.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert msg["Subject"].startswith("syncd weekly, 25 May – 1 Jun 2026: ")
    assert msg["From"] == "syncd <digest@home.example>" and msg["To"] == ME
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Syncd-Key"] == "digest:2026-W23"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "NETWORK HEALTH" in text and "This week: 4 emails and meetings with 2 people" in text
    assert "Network health" in html and "<script" not in html.lower()
    # once a week: a second --send does not send again, and neither does --force
    again = syncd(home, "digest", "--send")
    assert again.returncode == 0 and "went out already" in again.stdout
    forced = syncd(home, "digest", "--send", "--force")
    assert forced.returncode == 0 and "went out already" in forced.stdout
    assert len(handler.envelopes) == 1


def _keys(handler: Recorder) -> list[str]:
    return [
        email.message_from_bytes(e.original_content, policy=policy.default)["X-Syncd-Key"]
        for e in handler.envelopes
    ]


def test_exactly_one_digest_a_week_whatever_happens(tmp_path, smtp):
    """A refused first try (a retry queued with back-off), then --send --force, the daemon's
    weekly job, its outbox drains after the back-off, --send again, outbox retry: one mail."""
    handler, port = smtp("451 4.3.0 try later")
    home = make_home(tmp_path, port)
    first = syncd(home, "digest", "--send")
    assert first.returncode == 1 and "not sent (pending)" in first.stderr
    handler.reply = "250 OK"  # the server is back; a retry waits in the outbox for 5 minutes
    forced = syncd(home, "digest", "--send", "--force")
    assert forced.returncode == 0, forced.stderr
    assert _keys(handler) == ["digest:2026-W23"]

    h = Home(home)
    db = open_db(h.db_path)
    config = load_config(h.config_path)
    now = int(datetime.fromisoformat(NOW).timestamp())
    assert send_weekly_digest(db, h, config, now + 3600).startswith("digest done")
    for later in (now + 600, now + 86400, now + 3 * 86400):  # past every back-off
        outbox.drain_outbox(db, h, config, later)
    assert syncd(home, "outbox", "retry").returncode == 0
    outbox.drain_outbox(db, h, config, now + 4 * 86400)
    again = syncd(home, "digest", "--send", "--force")
    assert again.returncode == 0 and "went out already" in again.stdout
    assert _keys(handler) == ["digest:2026-W23"]
    (row,) = outbox.rows(db)
    assert (row.id, row.state, row.attempts) == ("send:digest:2026-W23", "done", 2)


def test_a_retry_that_comes_after_its_week_is_dropped(tmp_path, smtp):
    """The digest of week 23 keeps failing until week 24: week 24 gets its own digest, and
    the stale one is never sent beside it."""
    handler, port = smtp("451 4.3.0 try later")
    home = make_home(tmp_path, port)
    h = Home(home)
    db = open_db(h.db_path)
    config = load_config(h.config_path)
    monday = int(datetime.fromisoformat(NOW).timestamp())  # Monday 1 June, 08:00 London
    assert send_weekly_digest(db, h, config, monday).startswith("digest pending")
    for day in range(1, 6):  # the server stays down all week; the retries back off
        outbox.drain_outbox(db, h, config, monday + day * 86400)
    handler.reply = "250 OK"
    next_monday = monday + 7 * 86400
    summary = send_weekly_digest(db, h, config, next_monday)
    assert summary.startswith("digest done") and "1 expired" in summary
    assert _keys(handler) == ["digest:2026-W24"]
    states = {r.key: (r.state, r.last_error) for r in outbox.rows(db)}
    assert states["digest:2026-W23"][0] == "cancelled"
    assert "expired" in states["digest:2026-W23"][1]
    # later drains send nothing more
    outbox.drain_outbox(db, h, config, next_monday + 86400)
    assert _keys(handler) == ["digest:2026-W24"]


def test_login_with_the_password_from_the_environment(tmp_path, smtp, monkeypatch):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    handler, port = smtp(authenticator=authenticator, auth_require_tls=False)
    home = make_home(
        tmp_path, port, 'user = "me@home.example"\npassword_env = "TEST_SMTP_PASSWORD"\n'
    )
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "s3cret")
    h = Home(home)
    db = open_db(h.db_path)
    config = load_config(h.config_path)
    now = int(datetime.fromisoformat(NOW).timestamp())
    summary = send_weekly_digest(db, h, config, now)  # the daemon's weekly job
    assert summary.startswith("digest done"), summary
    assert seen == [(b"me@home.example", b"s3cret")]
    assert len(handler.envelopes) == 1
    assert send_weekly_digest(db, h, config, now + 3600).startswith("digest done")
    assert len(handler.envelopes) == 1  # still once this week

    monkeypatch.delenv("TEST_SMTP_PASSWORD")
    with db.atomic():
        db.execute("DELETE FROM outbox")
    summary = send_weekly_digest(db, h, config, now)
    assert summary.startswith("digest dead")
    assert "TEST_SMTP_PASSWORD is not set" in outbox.dead_letters(db)[0]["last_error"]


def test_permanent_refusals_are_dead_letters_and_temporary_ones_retry(tmp_path, smtp):
    _, port = smtp("550 5.7.1 relaying denied")
    home = make_home(tmp_path, port)
    proc = syncd(home, "digest", "--send")
    assert proc.returncode == 1 and "not sent (dead)" in proc.stderr and "550" in proc.stderr
    listing = syncd(home, "outbox")
    assert "dead" in listing.stdout and "550" in listing.stdout

    _, port2 = smtp("451 4.3.0 try later")
    home2 = make_home(tmp_path / "b", port2)
    proc = syncd(home2, "digest", "--send")
    assert proc.returncode == 1 and "not sent (pending)" in proc.stderr
    db = open_db(home2 / "syncd.db")
    (row,) = outbox.rows(db)
    assert row.state == "pending" and row.not_before - row.updated == 300


def test_the_password_never_lives_in_config_and_comes_from_the_keyring(tmp_path):
    with pytest.raises(ConfigError) as err:
        parse_smtp({"host": "smtp.example", "user": "me", "password": "x"}, tmp_path)
    assert "keyring" in str(err.value)

    import keyring
    from keyring.backend import KeyringBackend

    class Memory(KeyringBackend):
        priority = 1

        def __init__(self):
            self.items = {}

        def get_password(self, service, username):
            return self.items.get((service, username))

        def set_password(self, service, username, password):
            self.items[(service, username)] = password

        def delete_password(self, service, username):
            self.items.pop((service, username), None)

    previous = keyring.get_keyring()
    memory = Memory()
    keyring.set_keyring(memory)
    try:
        s = parse_smtp({"host": "smtp.example", "user": "me@x.example"}, tmp_path)
        with pytest.raises(UserError, match="--set-password"):
            smtp_password(s)
        store_password(s, "pw1")
        assert memory.items == {("syncd", "smtp:me@x.example@smtp.example"): "pw1"}
        assert smtp_password(s) == "pw1"
    finally:
        keyring.set_keyring(previous)

    secret = tmp_path / "pw"
    secret.write_text("pw2\n")
    secret.chmod(0o644)
    s = parse_smtp({"host": "h", "user": "u", "password_file": "pw"}, tmp_path)
    with pytest.raises(UserError, match="chmod 600"):
        smtp_password(s)
    secret.chmod(0o600)
    assert smtp_password(s) == "pw2"
    assert parse_smtp({"host": "h", "tls": True}, tmp_path).port == 465
    assert parse_smtp({"host": "h", "starttls": False}, tmp_path).security == "none"
