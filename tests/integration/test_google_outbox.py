"""Google writers behind syncd's outbox: the digest through Gmail, follow-ups into Calendar."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
import tomlkit

from connectors import google_auth as auth
from connectors.google_pacing import forget_pacers
from syncd.config.schema import load_config, save_account
from syncd.followup.outbox import drain_outbox, enqueue
from syncd.store.db import open_db
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import ME, account, home

NOW = int(datetime(2024, 5, 6, 8, tzinfo=UTC).timestamp())


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def digest_message() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "syncd weekly, 2024-W19"
    msg["From"] = f"syncd <{ME}>"
    msg["To"] = ME
    msg["Message-ID"] = "<digest.2024-W19.abc@syncd.local>"
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content("plain text")
    msg.add_alternative("<p>html</p>", subtype="html")
    return msg


def test_digest_and_follow_ups_through_the_outbox(tmp_path):
    with GoogleEmulator(window=0.5) as emu:
        h = home(tmp_path)
        h.ensure()
        save_account(h.config_path, account(emu, tmp_path, "gmail", "g"))
        save_account(h.config_path, account(emu, tmp_path, "gcal", "c"))
        doc = tomlkit.parse(h.config_path.read_text())
        doc["digest"] = {"via": "account:g", "to": [ME]}
        h.config_path.write_text(tomlkit.dumps(doc))
        config = load_config(h.config_path)
        assert auth.scopes_for(config.accounts["g"], config) == [
            auth.GMAIL_METADATA,
            auth.GMAIL_SEND,
        ]
        assert auth.scopes_for(config.accounts["g"]) == [auth.GMAIL_METADATA]

        db = open_db(h.db_path)
        payload = {"message": digest_message().as_string(), "from": ME, "to": [ME]}
        start = NOW + 86400
        event = {
            "title": "Reconnect with Ana",
            "description": "why",
            "start": start,
            "end": start + 900,
            "timezone": "UTC",
            "created": NOW,
        }
        with db.atomic():
            enqueue(db, "send", "digest:2024-W19", "mail.send", "account:g", payload, NOW)
            enqueue(db, "create", "dormant:12:1", "event.create", "account:c", event, NOW)
        stats = drain_outbox(db, h, config, NOW)
        assert stats.done == 2, stats.errors
        assert len(emu.gmail.sent) == 1
        assert b"Message-ID: <digest.2024-W19.abc@syncd.local>" in emu.gmail.sent[0]
        assert emu.calls("gmail.users.messages.send")[0].units == 100
        refs = dict(db.execute("SELECT kind, remote_ref FROM outbox").fetchall())
        created = emu.calendar.events[ME][refs["event.create"]].resource
        assert created["summary"] == "Reconnect with Ana"

        # The same digest again (a retry after a crash): found among Sent, not sent twice.
        with db.atomic():
            enqueue(db, "send", "digest:2024-W19#2", "mail.send", "account:g", payload, NOW)
        assert drain_outbox(db, h, config, NOW).done == 1
        assert len(emu.gmail.sent) == 1

        with db.atomic():
            enqueue(
                db,
                "remove",
                "dormant:12:1",
                "event.remove",
                "account:c",
                {"remote_ref": refs["event.create"]},
                NOW,
            )
        assert drain_outbox(db, h, config, NOW).done == 1
        assert emu.calendar.events[ME][refs["event.create"]].resource["status"] == "cancelled"


def test_a_revoked_grant_waits_in_the_outbox(tmp_path):
    with GoogleEmulator(window=0.5) as emu:
        h = home(tmp_path)
        h.ensure()
        save_account(h.config_path, account(emu, tmp_path, "gcal", "c"))
        config = load_config(h.config_path)
        db = open_db(h.db_path)
        emu.revoke()
        event = {"title": "x", "start": NOW, "end": NOW + 600}
        with db.atomic():
            enqueue(db, "create", "k:1", "event.create", "account:c", event, NOW)
        stats = drain_outbox(db, h, config, NOW)
        assert stats.done == 0 and stats.retrying == 1
        state, error = db.execute("SELECT state, last_error FROM outbox").fetchone()
        assert state == "pending" and "syncd auth c" in error
