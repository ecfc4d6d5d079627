"""The weekly digest through an ``imap`` account (``[digest] via = "account:NAME"``):
SMTP submission to a real aiosmtpd with the account's own login and password,
once a week across retries, and not again when the message is already in Sent."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import tomlkit
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from connectors.base import Action
from connectors.imap import open_writer
from syncd.config.schema import load_config
from syncd.core.home import Home
from syncd.report.digest import send_weekly_digest
from syncd.store.db import open_db
from tests.support.dovecot import PASSWORD, USER, Dovecot
from tests.support.helpers import message, run_cli, write_mbox
from tests.support.imap_testing import imap_account, password_file

NOW = "2026-06-01T07:00:00+00:00"


class Recorder:
    """Keeps every envelope; logs every login."""

    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=(auth_data.login, auth_data.password)
                          == (USER.encode(), PASSWORD.encode()))  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_digest_goes_by_smtp_with_the_imap_credentials_once_a_week(tmp_path: Path) -> None:
    handler = Recorder()
    port = free_port()
    smtpd = Controller(handler, hostname="127.0.0.1", port=port,
                       authenticator=handler.authenticate, auth_require_tls=False)  # fmt: skip
    smtpd.start()
    server = Dovecot(tmp_path / "dovecot").start()
    try:
        base = datetime(2026, 5, 27, 9, 0, tzinfo=UTC)
        msgs = []
        for i, who in enumerate(("ana@acme.example", "ben@bolt.example")):
            msgs.append(message(sender=who, to=USER, date=base + timedelta(days=i), subject="q"))
            msgs.append(message(sender=USER, to=who, date=base + timedelta(days=i, hours=1)))
        write_mbox(tmp_path / "mail" / "INBOX", msgs)
        home = tmp_path / "home"
        run_cli("--now", NOW, "import", "mbox", str(tmp_path / "mail"), "--me", USER, home=home)
        run_cli(
            "account", "add", "imap", "work", "--address", USER, "--host", "127.0.0.1",
            "--port", str(server.port), "--plaintext",
            "--password-file", str(password_file(tmp_path)), home=home,
        )  # fmt: skip
        doc = tomlkit.parse((home / "config.toml").read_text())
        doc["accounts"]["work"]["smtp_host"] = "127.0.0.1"
        doc["accounts"]["work"]["smtp_port"] = port
        doc["accounts"]["work"]["smtp_security"] = "none"
        doc["digest"] = {"via": "account:work", "to": [USER]}
        (home / "config.toml").write_text(tomlkit.dumps(doc))

        first = run_cli("--now", NOW, "digest", "--send", home=home)
        assert "sent the digest" in first.stdout, first.stdout
        assert handler.logins == [(USER, PASSWORD)]
        assert len(handler.envelopes) == 1
        msg = message_from_bytes(handler.envelopes[0].content, policy=policy.default)
        assert msg["X-Syncd-Key"] == "digest:2026-W23"
        assert handler.envelopes[0].rcpt_tos == [USER]
        run_cli("--now", NOW, "digest", "--send", home=home)
        run_cli("--now", NOW, "digest", "--send", "--force", home=home)
        h = Home(home)
        later = int(datetime.fromisoformat(NOW).timestamp()) + 3600
        summary = send_weekly_digest(open_db(h.db_path), h, load_config(h.config_path), later)
        assert summary.startswith("digest done"), summary
        assert len(handler.envelopes) == 1, "one digest a week, whatever is retried"

        # A retry after a crash between sending and committing: the server filed the
        # message in Sent, so the account's sender finds it there and does not send again.
        raw = handler.envelopes[0].content.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        server.append("Sent", raw)
        writer = open_writer(
            imap_account(server, tmp_path, smtp_host="127.0.0.1", smtp_port=port,
                         smtp_security="none"),
            h,
        )  # fmt: skip
        ref = writer.apply(
            Action("digest:2026-W23", "mail.send",
                   {"message": raw.decode(), "from": USER, "to": [USER]})
        )  # fmt: skip
        assert ref == msg["Message-ID"]
        assert len(handler.envelopes) == 1
    finally:
        server.close()
        smtpd.stop()
