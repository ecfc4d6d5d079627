"""Follow-ups into an Outlook calendar (``[planner] calendar = "account:NAME"``) and the
digest through Outlook (``[digest] via = "account:NAME"``), against the Graph emulator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomlkit

from connectors import outlook
from connectors.base import Action
from connectors.google_pacing import forget_pacers
from connectors.outlook_writer import PROPERTY_ID
from syncd.config.schema import load_config, save_account
from syncd.followup.outbox import drain_outbox, enqueue
from syncd.store.db import open_db
from tests.integration.test_outbox import ME, syncd
from tests.support.graph_emulator import GraphEmulator
from tests.support.graph_emulator.calendar import parse_time
from tests.support.graph_emulator.testing import account, home
from tests.support.helpers import message, write_mbox

LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def follow_ups(emu: GraphEmulator) -> list[tuple[str, float, float]]:
    """``(key, start, end)`` of every event syncd wrote."""
    out = []
    for e in emu.calendar.events.values():
        for p in e.get("singleValueExtendedProperties", []):
            if p["id"] == PROPERTY_ID:
                out.append((p["value"], parse_time(e["start"]), parse_time(e["end"])))
    return out


def test_plan_twice_fills_free_slots_of_the_outlook_calendar_once(tmp_path: Path):
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
    with GraphEmulator(user=ME) as emu:
        busy = []
        monday = datetime(2026, 6, 1, tzinfo=LONDON)
        for day in range(5):  # mornings busy all week, Monday busy all day
            d = monday + timedelta(days=day)
            start = d.replace(hour=9).timestamp()
            end = d.replace(hour=17 if day == 0 else 12).timestamp()
            emu.calendar.add_event(f"busy {day}", start, end)
            busy.append((start, end))
        tuesday = monday + timedelta(days=1)
        free = (tuesday.replace(hour=14).timestamp(), tuesday.replace(hour=15).timestamp())
        emu.calendar.add_event("free time", *free, showAs="free")
        acc = account(emu, tmp_path, read_calendar=False)
        save_account(h / "config.toml", acc)
        doc = tomlkit.parse((h / "config.toml").read_text())
        doc["timezone"] = "Europe/London"
        doc["planner"] = {"calendar": "account:o"}
        (h / "config.toml").write_text(tomlkit.dumps(doc))
        proc = syncd(h, "import", "mbox", str(tmp_path / "mail"), "--me", ME)
        assert proc.returncode == 0, proc.stderr

        emu.flaky(0.05, statuses=(503, 504), seed=11, commit_share=0.5)
        # The first two creates commit, then answer 503: the retries must find them.
        emu.fail_next("/me/events", 503, count=2, after_commit=True, method="POST")
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
        assert emu.calls("/calendar/getSchedule", status=200), "free/busy came from Outlook"
        assert emu.committed_failures >= 2


def test_digest_through_outlook_is_sent_once_even_when_send_mail_fails_after_committing(
    tmp_path: Path,
):
    with GraphEmulator(user=ME) as emu:
        h = home(tmp_path)
        h.ensure()
        save_account(h.config_path, account(emu, tmp_path))
        doc = tomlkit.parse(h.config_path.read_text())
        doc["digest"] = {"via": "account:o", "to": [ME]}
        h.config_path.write_text(tomlkit.dumps(doc))
        config = load_config(h.config_path)
        msg = EmailMessage()
        msg["Subject"], msg["From"], msg["To"] = "syncd weekly", ME, ME
        msg["Message-ID"] = "<digest.2026-W23@syncd.local>"
        msg.set_content("plain")
        payload = {"message": msg.as_string(), "from": ME, "to": [ME]}
        db = open_db(h.db_path)
        now = int(datetime(2026, 6, 1, tzinfo=UTC).timestamp())
        emu.fail_next("/sendMail", 503, count=2, after_commit=True, retry_after=0.05)
        with db.atomic():
            enqueue(db, "send", "digest:2026-W23", "mail.send", "account:o", payload, now)
        stats = drain_outbox(db, h, config, now)
        assert stats.done == 1, stats.errors
        sent = [m for m in emu.mail.messages.values() if m["parentFolderId"] == "SENTITEMS-ID"]
        assert [m["internetMessageId"] for m in sent] == ["<digest.2026-W23@syncd.local>"]
        # The same digest queued again (a retry after a crash): found in Sent Items.
        with db.atomic():
            enqueue(db, "send", "digest:2026-W23#2", "mail.send", "account:o", payload, now)
        assert drain_outbox(db, h, config, now).done == 1
        assert (
            len([m for m in emu.mail.messages.values() if m["parentFolderId"] == "SENTITEMS-ID"])
            == 1
        )
        assert emu.body_requests == 0


def test_free_busy_comes_from_the_named_calendar_the_follow_ups_go_to(tmp_path: Path):
    """With ``calendar = "Follow-ups"`` the busy times are that calendar's (its
    ``calendarView``, every page), not the default calendar's ``getSchedule``."""
    monday = datetime(2026, 6, 1, tzinfo=UTC)
    lo, hi = int(monday.timestamp()), int((monday + timedelta(days=5)).timestamp())
    with GraphEmulator(user=ME, max_page_size=3) as emu:
        emu.calendar.add_event("default: all week", lo, hi)  # not the calendar written to
        named = emu.add_calendar("Follow-ups")
        wanted = []
        for day in range(5):
            d = monday + timedelta(days=day)
            start, end = d.replace(hour=9).timestamp(), d.replace(hour=10).timestamp()
            named.add_event(f"busy {day}", start, end)
            wanted.append((int(start), int(end)))
        tentative = (monday.replace(hour=11).timestamp(), monday.replace(hour=12).timestamp())
        named.add_event("tentative", *tentative, showAs="tentative")
        wanted.append(tuple(int(t) for t in tentative))
        named.add_event("free", lo + 13 * 3600, lo + 14 * 3600, showAs="free")
        named.add_event("cancelled", lo + 15 * 3600, lo + 16 * 3600, isCancelled=True)
        named.add_event("outside", hi + 3600, hi + 7200)
        writer = outlook.open_writer(account(emu, tmp_path, calendar="Follow-ups"), home(tmp_path))
        assert writer.busy(lo, hi) == sorted(wanted)
        assert not emu.calls("getSchedule"), "the default calendar's free/busy was asked"
        assert (
            len(emu.calls(f"/me/calendars/{named.calendar_id}/calendarView", 200)) == 3
        )  # 8 instances, 3 a page
        # A follow-up written there is busy there (and not in the default calendar).
        at = int((monday + timedelta(days=1)).replace(hour=14).timestamp())
        action = Action("k1", "event.create", {"start": at, "end": at + 900, "title": "x"})
        ref = writer.apply(action)
        assert ref in named.events and ref not in emu.calendar.events
        assert (at, at + 900) in writer.busy(lo, hi)
        assert writer.lookup("k1") is not None
        writer.remove(action, ref)
        assert ref not in named.events
