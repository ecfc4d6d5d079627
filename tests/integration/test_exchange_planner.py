"""Follow-ups into an Exchange calendar (``[planner] calendar = "account:NAME"``) and the
digest through Exchange (``[digest] via = "account:NAME"``), against the EWS emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import tomlkit

from connectors.ews_writer import PROPERTY_SET
from syncd.config.schema import load_config, save_account
from syncd.followup.outbox import drain_outbox, enqueue
from syncd.store.db import open_db
from tests.integration.test_outbox import ME, syncd
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.testing import account, add_event, home
from tests.support.helpers import message, write_mbox

LONDON = ZoneInfo("Europe/London")
KEY = f"{PROPERTY_SET}/syncdKey/String"


def follow_ups(emu: EwsEmulator) -> list[tuple[str, int, int]]:
    """``(key, start, end)`` of every calendar item syncd wrote."""
    box = emu.mailbox
    return [
        (i.extended[KEY], i.fields["Start"], i.fields["End"])
        for i in box.live_items(box.folder_id("calendar"))
        if KEY in i.extended
    ]


def test_plan_twice_fills_free_slots_of_the_exchange_calendar_once(tmp_path: Path):
    base = datetime(2026, 1, 5, 10, tzinfo=UTC)
    msgs = []
    for i in range(9):  # nine dormant contacts: more than the 5 a week allowed
        who = f"p{i}@acme.example"
        msgs.append(message(sender=who, to=ME, date=base + timedelta(days=i), subject=f"hi {i}"))
        msgs.append(
            message(sender=ME, to=who, date=base + timedelta(days=i, hours=2), subject="re")
        )
    write_mbox(tmp_path / "mail" / "INBOX", msgs)
    h = tmp_path / "home"
    h.mkdir()
    emu = EwsEmulator(address=ME).start()
    try:
        busy = []
        monday = datetime(2026, 6, 1, tzinfo=LONDON)
        for day in range(5):  # mornings busy all week, Monday busy all day
            d = monday + timedelta(days=day)
            start = int(d.replace(hour=9).timestamp())
            end = int(d.replace(hour=17 if day == 0 else 12).timestamp())
            add_event(emu, f"busy {day}", start, (end - start) // 60)
            busy.append((start, end))
        tuesday = monday + timedelta(days=1)
        free = int(tuesday.replace(hour=14).timestamp())
        add_event(emu, "free time", free, 60, LegacyFreeBusyStatus="Free")
        save_account(h / "config.toml", account(emu, tmp_path, name="x"))
        doc = tomlkit.parse((h / "config.toml").read_text())
        doc["timezone"] = "Europe/London"
        doc["planner"] = {"calendar": "account:x"}
        (h / "config.toml").write_text(tomlkit.dumps(doc))
        proc = syncd(h, "import", "mbox", str(tmp_path / "mail"), "--me", ME)
        assert proc.returncode == 0, proc.stderr

        # The first two creates commit, then the connection resets: the retries find them.
        emu.inject("reset_after", op="CreateItem", times=2)
        emu.inject("busy", op="GetUserAvailabilityRequest", times=1)
        for _ in range(2):
            proc = syncd(h, "plan")
            assert proc.returncode == 0, (proc.stdout, proc.stderr)
        written = follow_ups(emu)
        keys = [k for k, _, _ in written]
        assert 1 <= len(written) <= 5, written
        assert len(keys) == len(set(keys)), "a follow-up was written twice"
        for _, start, end in written:
            local_start = datetime.fromtimestamp(start, LONDON)
            local_end = datetime.fromtimestamp(end, LONDON)
            assert local_start.weekday() < 5 and local_start.hour >= 9
            assert (local_end.hour, local_end.minute) <= (17, 0)
            assert not any(s < end and start < e for s, e in busy), "in a busy slot"
        ops = emu.ops()
        assert "GetUserAvailabilityRequest" in ops, "free/busy came from Exchange"
        assert sum(1 for r in emu.requests if r.get("fault") == "reset_after") == 2
        assert not emu.content_requests()
    finally:
        emu.stop()


def test_digest_through_exchange_is_sent_once_even_when_the_answer_is_lost(tmp_path: Path):
    emu = EwsEmulator(address=ME).start()
    try:
        h = home(tmp_path)
        save_account(h.config_path, account(emu, tmp_path, name="x"))
        doc = tomlkit.parse(h.config_path.read_text())
        doc["digest"] = {"via": "account:x", "to": [ME]}
        h.config_path.write_text(tomlkit.dumps(doc))
        config = load_config(h.config_path)
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "syncd weekly", ME, ME
        msg.set_content("plain")
        msg.add_alternative("<p>html</p>", subtype="html")
        payload = {"message": msg.as_string(), "from": ME, "to": [ME]}
        db = open_db(h.db_path)
        now = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
        emu.inject("reset_after", op="CreateItem", times=1)
        with db.atomic():
            enqueue(db, "send", "digest:2026-W23", "mail.send", "account:x", payload, now)
        stats = drain_outbox(db, h, config, now)
        assert stats.done == 1, stats.errors
        assert [m.fields["Subject"] for m in emu.mailbox.sent] == ["syncd weekly"]
        # The same digest queued again (a retry after a crash): found in Sent Items.
        with db.atomic():
            enqueue(db, "send", "digest:2026-W23#2", "mail.send", "account:x", payload, now)
        assert drain_outbox(db, h, config, now).done == 1
        assert len(emu.mailbox.sent) == 1
        assert not emu.content_requests()
    finally:
        emu.stop()


def test_syncd_digest_send_through_exchange_goes_out_once_a_week(tmp_path: Path):
    emu = EwsEmulator(address=ME).start()
    try:
        h = tmp_path / "home"
        h.mkdir()
        write_mbox(tmp_path / "mail" / "INBOX", [message(sender="ana@acme.example", to=ME)])
        save_account(h / "config.toml", account(emu, tmp_path, name="x"))
        doc = tomlkit.parse((h / "config.toml").read_text())
        doc["digest"] = {"via": "account:x", "to": [ME]}
        (h / "config.toml").write_text(tomlkit.dumps(doc))
        assert syncd(h, "import", "mbox", str(tmp_path / "mail"), "--me", ME).returncode == 0
        emu.inject("reset_after", op="CreateItem", times=1)
        for _ in range(3):  # a lost answer, then two more tries in the same week
            proc = syncd(h, "digest", "--send")
            assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert len(emu.mailbox.sent) == 1
        sent = emu.mailbox.sent[0]
        assert [r["email"] for r in sent.fields["ToRecipients"]] == [ME]
        assert "<html" in sent.body.lower(), "the HTML part went out"
    finally:
        emu.stop()
