"""The Graph client against the emulator: throttling done right (Retry-After on 429,
pacing below the mailbox's limit, at most 4 requests in flight), typed errors, $batch
rules, Mail.ReadBasic refusing bodies, expired delta links and a revoked token."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from connectors import google_api, outlook
from connectors.google_pacing import forget_pacers
from connectors.graph_api import Forbidden, GraphClient, NotFound, Settings
from syncd.core.errors import AuthRequired, TransientError, UserError
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import account as google_account
from tests.support.google_emulator.testing import home as google_home
from tests.support.graph_emulator import GraphEmulator
from tests.support.graph_emulator.testing import account, fill_mailbox, home
from tests.support.reader_conformance import run


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def client(emu: GraphEmulator, **settings) -> GraphClient:
    tuning = {"backoff_base": 0.01, "timeout": 5.0, **settings}
    return GraphClient(emu.url, lambda refresh: emu.access_token, "t", Settings(**tuning))


def test_a_429_is_honoured_and_the_pace_learnt():
    with GraphEmulator(requests_per_window=20, window=1.0) as emu:
        c = client(emu, requests_per_window=1000, window=1.0)  # it thinks it has more
        started = time.monotonic()
        for _ in range(60):
            assert c.get("me")["mail"] == emu.user
        took = time.monotonic() - started
        assert emu.throttled >= 1 and c.stats["throttled"] == emu.throttled
        assert took >= 2.0, "60 requests at 20 per second take two windows at least"
        # After the first congestion the pace stays below the limit: few 429s in all.
        assert emu.throttled <= 5


def test_pacing_below_the_limit_meets_no_429():
    with GraphEmulator(requests_per_window=30, window=1.0) as emu:
        c = client(emu, requests_per_window=30, window=1.0)
        for _ in range(75):
            c.get("me")
        assert emu.throttled == 0


def test_at_most_four_requests_in_flight_per_mailbox():
    with GraphEmulator(latency=0.05) as emu:
        c = client(emu)
        threads = [
            threading.Thread(target=lambda: [c.get("me") for _ in range(5)]) for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert emu.max_in_flight <= 4 and emu.throttled == 0
        assert emu.max_in_flight >= 2, "requests did overlap"


def test_retry_after_on_503_and_504_then_give_up():
    with GraphEmulator() as emu:
        c = client(emu, max_attempts=3)
        emu.fail_next("/me", 503, count=1, retry_after=0.2)
        emu.fail_next("/me", 504, count=1, retry_after=0.2)
        started = time.monotonic()
        c.get("me")
        assert time.monotonic() - started >= 0.4, "Retry-After was honoured"
        emu.fail_next("/me", 503, count=5, retry_after=0.01)
        with pytest.raises(TransientError) as caught:
            c.get("me")
        assert caught.value.retry_after and caught.value.retry_after >= 60


def test_typed_errors_batch_rules_and_bodies_refused():
    with GraphEmulator() as emu:
        c = client(emu)
        with pytest.raises(NotFound):
            c.get("me/mailFolders/nowhere")
        mid = emu.mail.add_message(b"From: a@x.org\r\nTo: me@example.com\r\n\r\nsecret\r\n")
        with pytest.raises(Forbidden):  # Mail.ReadBasic: no body, ever
            c.get(f"me/messages/{mid}", params={"$select": "subject,body"})
        assert c.get(f"me/messages/{mid}", params={"$select": "subject"})["id"] == mid
        with pytest.raises(UserError):
            c.batch([{"method": "GET", "url": "/me"}] * 21)
        emu.fail_next("/me/mailFolders/inbox", 429, count=1, retry_after=0.01)
        answers = c.batch(
            [{"method": "GET", "url": "/me"}, {"method": "GET", "url": "/me/mailFolders/inbox"}]
        )
        assert [a["status"] for a in answers] == [200, 200], "a throttled inner request is retried"
        assert c.stats["batches"] == 2


def test_an_expired_delta_link_reads_the_folder_again_without_losses(tmp_path: Path):
    with GraphEmulator() as emu:
        fill_mailbox(emu, 40)
        acc = account(emu, tmp_path, page_size=5, read_calendar=False)
        complete = run(outlook.open_reader(acc, home(tmp_path)), {})
        cursors: dict = {}
        first = run(outlook.open_reader(acc, home(tmp_path)), cursors, limit=3)
        emu.mail.expire_tokens()
        rest = run(outlook.open_reader(acc, home(tmp_path)), cursors)
        assert set(first + rest) == set(complete)
        assert emu.calls(status=410), "the stored link was refused"
        assert run(outlook.open_reader(acc, home(tmp_path)), cursors) == []


def test_a_revoked_token_is_auth_required(tmp_path: Path):
    with GraphEmulator() as emu:
        fill_mailbox(emu, 5)
        acc = account(emu, tmp_path, read_calendar=False)
        reader = outlook.open_reader(acc, home(tmp_path))
        emu.expire_access_tokens()
        with pytest.raises(AuthRequired, match="syncd auth o"):
            list(reader.fetch({}))


def test_a_calendar_chosen_by_name(tmp_path: Path):
    with GraphEmulator() as emu:
        emu.calendar.add_event("x", 1_717_405_200, 1_717_408_800)
        acc = account(emu, tmp_path, calendar="Calendar")
        reader = outlook.open_reader(acc, home(tmp_path))
        reader.mail.folders = lambda: []
        events = [e for b in reader.fetch({}) for e in b.events]
        assert len(events) == 1
        assert emu.calls("/me/calendars/CAL-1/calendarView/delta", status=200)
        with pytest.raises(UserError, match="no calendar named 'Holidays'"):
            outlook.open_reader(account(emu, tmp_path, calendar="Holidays"), home(tmp_path))


def test_a_less_complete_graph_server(tmp_path: Path):
    """No $batch, transactionId ignored, no calendar: mail still syncs, and a create that
    commits then fails is found by its key instead of being sent twice."""
    from connectors.base import Action

    with GraphEmulator(batching=False, transaction_ids=False) as emu:
        fill_mailbox(emu, 30)
        acc = account(emu, tmp_path, read_calendar=False, page_size=50)
        everything = run(outlook.open_reader(acc, home(tmp_path)), {})
        assert everything and emu.calls("/$batch", status=404)
        assert emu.calls("/mailFolders/drafts", status=200), "well-known names asked one by one"
        assert not emu.calls("/DRAFTS-ID/messages") and not emu.calls("/JUNKEMAIL-ID/messages")
        writer = outlook.open_writer(account(emu, tmp_path), home(tmp_path))
        emu.fail_next("/me/events", 503, count=1, after_commit=True, method="POST")
        action = Action("dormant:1:1", "event.create", {"title": "x", "start": 1_717_405_200})
        ref = writer.apply(action)
        assert writer.apply(action) == ref
        keyed = [e for e in emu.calendar.events.values() if e.get("singleValueExtendedProperties")]
        assert len(keyed) == 1 and emu.committed_failures == 1

    with GraphEmulator(calendar_enabled=False) as emu:
        fill_mailbox(emu, 10)
        got = run(outlook.open_reader(account(emu, tmp_path), home(tmp_path)), {})
        assert got and all(kind == "mail" for kind, *_ in got)
        assert emu.calls("/calendarView/delta", status=404)


def test_retry_after_as_an_http_date():
    from datetime import UTC, datetime, timedelta
    from email.utils import format_datetime

    from connectors.graph_api import retry_after

    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after({"Retry-After": later}) or 0) <= 30
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"Retry-After": "soon"}) is None and retry_after({}) is None


def test_calendar_removals_and_an_expired_delta_link(tmp_path: Path):
    from tests.support.graph_emulator.testing import fill_calendar

    with GraphEmulator() as emu:
        ids = fill_calendar(emu)
        acc = account(emu, tmp_path, page_size=100)

        def read(cursors: dict) -> list:
            reader = outlook.open_reader(acc, home(tmp_path))
            reader.mail.folders = lambda: []
            out = []
            for batch in reader.fetch(cursors):
                out += batch.events
                cursors.update(batch.cursors)
            return out

        cursors: dict = {}
        first = read(cursors)
        keys = {e.locator: e.key for e in first}
        emu.calendar.delete_event(ids["single"])
        gone = read(cursors)
        assert [(e.key, e.status) for e in gone] == [
            (keys[f"outlook:{ids['single']}"], "CANCELLED")
        ]
        emu.calendar.expire_tokens()
        again = read(cursors)
        assert {e.key for e in again} == set(keys.values()) - {keys[f"outlook:{ids['single']}"]}
        assert emu.calls("/calendarView/delta", status=410)


def test_the_shared_pacer_logs_as_the_api_that_uses_it(tmp_path: Path, caplog):
    """A 429 from Graph is logged by ``connectors.graph_api`` (not as Google's); Google's
    pacer still logs as ``connectors.google_api``."""
    caplog.set_level(logging.INFO)
    with GraphEmulator(requests_per_window=5, window=1.0) as emu:
        c = outlook.client_for(account(emu, tmp_path, requests_per_window=1000), home(tmp_path))
        for _ in range(12):
            c.get("me")
        assert emu.throttled >= 1
    learnt = [r for r in caplog.records if r.getMessage().startswith("rate limited")]
    assert learnt and {r.name for r in learnt} == {"connectors.graph_api"}
    caplog.clear()
    with GoogleEmulator() as gemu:
        gc = google_api.open_client(
            google_account(gemu, tmp_path), google_home(tmp_path), "gmail", "v1", 250.0
        )
        gc.pacer.rate_limited(0.0)
    learnt = [r for r in caplog.records if r.getMessage().startswith("rate limited")]
    assert learnt and {r.name for r in learnt} == {"connectors.google_api"}
