"""The Gmail connector against the emulator, through google-api-python-client.

The metadata-only contract (no body ever asked for), unit costs, history,
404 -> full resync, pacing and the faults Google produces. (The reader
conformance suite runs in tests/conformance.)
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors import gmail
from connectors.google_pacing import forget_pacers
from connectors.outgoing import message_id_for
from syncd.core.errors import AuthRequired, CursorExpired, TransientError
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import (
    BODY_MARKER,
    ME,
    account,
    fill_mailbox,
    home,
    raw_message,
)
from tests.support.reader_conformance import run

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


@pytest.fixture
def emu():
    with GoogleEmulator(window=0.5) as server:
        fill_mailbox(server, 60)
        yield server


def read_all(reader, cursors=None):
    """(mail observations, committed cursors) of one complete fetch."""
    cursors = {} if cursors is None else cursors
    mail = []
    for batch in reader.fetch(cursors):
        mail.extend(batch.mail)
        cursors.update(batch.cursors)
    return mail, cursors


# -- conversion ---------------------------------------------------------------------------


def test_folder_for_prefers_countable_folders():
    labels = {"Label_1": ("Drafts", "user"), "Label_2": ("Projects/alpha", "user")}
    assert gmail.folder_for(["INBOX", "UNREAD"], labels) == "INBOX"
    assert gmail.folder_for(["SENT", "IMPORTANT"], labels) == "[Gmail]/Sent Mail"
    assert gmail.folder_for(["Label_2", "TRASH"], labels) == "Projects/alpha"
    assert gmail.folder_for(["TRASH"], labels) == "[Gmail]/Trash"
    assert gmail.folder_for(["Label_1", "Label_2"], labels) == "Projects/alpha"
    assert gmail.folder_for(["Label_1"], labels) == "Drafts"
    assert gmail.folder_for(["DRAFT"], labels) == "[Gmail]/Drafts"
    assert gmail.folder_for(["SPAM"], labels) == "[Gmail]/Spam"
    assert gmail.folder_for(["CATEGORY_UPDATES"], labels) == "[Gmail]/All Mail"


def test_observation_keeps_only_kept_headers_and_first_received():
    resource = {
        "id": "abc",
        "labelIds": ["INBOX", "CATEGORY_PROMOTIONS"],
        "internalDate": "1714564800000",
        "payload": {
            "headers": [
                {"name": "Received", "value": "from a; Wed, 1 May 2024 12:00:00 +0000"},
                {"name": "Received", "value": "from b; Wed, 1 May 2024 11:00:00 +0000"},
                {"name": "From", "value": "Ann <ann@example.org>"},
                {"name": "To", "value": "me@example.com,\r\n\tbob@example.org"},
                {"name": "X-Secret", "value": "nope"},
                {"name": "SUBJECT", "value": "hi"},
            ]
        },
    }
    obs = gmail.observation(resource, {})
    assert obs.headers == {
        "received": ["from a; Wed, 1 May 2024 12:00:00 +0000"],
        "from": ["Ann <ann@example.org>"],
        "to": ["me@example.com,\tbob@example.org"],
        "subject": ["hi"],
    }
    assert obs.labels == ("INBOX", "CATEGORY_PROMOTIONS")
    assert obs.signals == ()
    assert obs.received_at == 1714564800
    assert obs.folder == "INBOX"
    assert gmail.observation(resource, {}, filter_categories=True).signals == (
        "CATEGORY_PROMOTIONS",
    )
    assert obs.summary.to == ["me@example.com", "bob@example.org"]


# -- the API contract --------------------------------------------------------------------------


def test_first_sync_asks_no_body_and_costs_about_five_units(emu, tmp_path):
    mail, cursors = read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
    assert len(mail) == 60
    assert cursors["gmail"]["phase"] == "incremental"
    gets = emu.calls("gmail.users.messages.get")
    assert len(gets) == 60
    assert all(r.params["format"] == "metadata" and r.params["metadataHeaders"] for r in gets)
    assert all(r.batch for r in gets), "messages.get goes in batches"
    assert not any("q" in r.params for r in emu.calls())
    assert not any(r.params.get("format") in ("full", "raw", None) for r in gets)
    assert emu.units() / len(mail) <= 5.3
    assert not emu.calls(status=403) and not emu.calls(status=429)
    folders = {o.folder for o in mail}
    assert folders == {"INBOX", "[Gmail]/Sent Mail", "Projects/alpha", "[Gmail]/Trash"}
    assert BODY_MARKER not in repr(mail)


def test_history_brings_new_mail_and_mail_out_of_spam(emu, tmp_path):
    acc = account(emu, tmp_path)
    _, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    emu.reset_records()
    fresh = emu.gmail.add_message(raw_message("a@example.org", [ME], "fresh", WHEN), ["INBOX"])
    spam = emu.gmail.add_message(raw_message("b@example.org", [ME], "spammy", WHEN), ["SPAM"])
    draft = emu.gmail.add_message(raw_message(ME, ["c@example.org"], "draft", WHEN), ["DRAFT"])
    first = next(iter(emu.gmail.messages))
    emu.gmail.modify(first, add=["STARRED"])
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert [o.locator for o in mail] == [f"gmail:{fresh.id}"]
    got = {r.params["id"] for r in emu.calls("gmail.users.messages.get")}
    assert got == {fresh.id}, "spam, drafts and label changes cost nothing"
    assert draft.id not in got
    emu.gmail.modify(spam.id, add=["INBOX"], remove=["SPAM"])
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert [(o.locator, o.folder) for o in mail] == [(f"gmail:{spam.id}", "INBOX")]
    assert read_all(gmail.open_reader(acc, home(tmp_path)), cursors)[0] == []
    history = emu.calls("gmail.users.history.list")
    assert all(set(r.params["historyTypes"]) == {"messageAdded", "labelRemoved"} for r in history)


def test_history_pages_move_the_cursor(emu, tmp_path):
    acc = account(emu, tmp_path, page_size=40)
    _, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    for i in range(130):  # more than three pages of 40 history records
        emu.gmail.add_message(raw_message(f"p{i}@example.org", [ME], f"n{i}", WHEN), ["INBOX"])
    emu.reset_records()
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert len({o.locator for o in mail}) == 130
    assert len(emu.calls("gmail.users.history.list")) == 4
    assert cursors["gmail"]["history_id"] == str(emu.gmail.history_id)


def test_expired_history_raises_cursor_expired(emu, tmp_path):
    acc = account(emu, tmp_path)
    _, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    emu.expire_history()
    with pytest.raises(CursorExpired):
        read_all(gmail.open_reader(acc, home(tmp_path)), cursors)


def test_history_gone_right_after_the_first_sync_does_not_fetch_twice(emu, tmp_path):
    emu.fail_next("gmail.users.history.list", 404)
    acc = account(emu, tmp_path)
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    assert len(mail) == 60
    assert len(emu.calls("gmail.users.messages.get")) == 60
    assert cursors["gmail"]["phase"] == "incremental"
    emu.gmail.add_message(raw_message("late@example.org", [ME], "late", WHEN), ["INBOX"])
    mail, _ = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert [o.summary.sender for o in mail] == ["late@example.org"]


def test_filter_categories_option(emu, tmp_path):
    mail, _ = read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
    assert not any(o.signals for o in mail)
    forget_pacers()
    acc = account(emu, tmp_path, name="g2", filter_categories=True)
    mail, _ = read_all(gmail.open_reader(acc, home(tmp_path)))
    assert {o.signals for o in mail} == {(), ("CATEGORY_UPDATES",)}


def test_revoked_grant_is_auth_required(emu, tmp_path):
    emu.revoke()
    with pytest.raises(AuthRequired, match="syncd auth g"):
        read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))


# -- faults ------------------------------------------------------------------------------------


def test_recovers_from_every_transient_fault(emu, tmp_path):
    clean, _ = read_all(gmail.open_reader(account(emu, tmp_path, name="clean"), home(tmp_path)))
    emu.reset_records()
    emu.fail_next("gmail.users.messages.get", 500, count=3)
    emu.fail_next("gmail.users.messages.get", 503, count=2)
    emu.fail_next("gmail.users.messages.get", 429, count=3)
    emu.fail_next("gmail.users.messages.get", 403, count=3)  # userRateLimitExceeded
    emu.fail_next(
        "gmail.users.messages.get", 429, count=2, reason="Too many concurrent requests for user"
    )
    emu.fail_next("batch", 503, count=1)
    emu.fail_next("gmail.users.messages.list", 500, count=1)
    emu.fail_next("gmail.users.getProfile", 429, count=1, retry_after=0.05)
    emu.delay_next("gmail.users.labels.list", seconds=1.5)
    acc = account(emu, tmp_path, timeout=0.5)
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    assert sorted((o.folder, o.hash) for o in mail) == sorted((o.folder, o.hash) for o in clean)
    assert cursors["gmail"]["phase"] == "incremental"


def test_concurrency_errors_shrink_batches_but_keep_the_pace(emu, tmp_path):
    from connectors.google_errors import classify

    emu.fail_next(
        "gmail.users.messages.get", 429, count=6, reason="Too many concurrent requests for user"
    )
    reader = gmail.open_reader(account(emu, tmp_path), home(tmp_path))
    mail, _ = read_all(reader)
    assert len(mail) == 60
    assert reader.client.pacer.limit == reader.client.pacer.configured
    assert (
        classify(
            type(
                "E",
                (),
                {
                    "resp": type("R", (), {"status": 429})(),
                    "content": b'{"error": {"message": "Quota"}}',
                },
            )()
        )
        == "rate"
    )


def test_an_outage_is_transient_and_keeps_progress(emu, tmp_path):
    acc = account(emu, tmp_path, batch_size=10, page_size=20, max_attempts=3)
    cursors: dict = {}
    gen = gmail.open_reader(acc, home(tmp_path)).fetch(cursors)
    got = []
    for batch in gen:
        got.extend(batch.mail)
        cursors.update(batch.cursors)
        if len(got) >= 20:
            emu.fail_next("*", 503, count=1000)
            emu.fail_next("batch", 503, count=1000)
            break
    with pytest.raises(TransientError) as info:
        for batch in gen:
            got.extend(batch.mail)
            cursors.update(batch.cursors)
    assert info.value.retry_after and info.value.retry_after > 0
    emu.faults.clear()
    rest, _ = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert len({o.hash for o in got + rest}) == 60


@pytest.mark.parametrize("paths", [("batch",), ()])
def test_batch_endpoint_falls_back(tmp_path, paths):
    with GoogleEmulator(window=0.5, batch_paths=paths) as emu:
        fill_mailbox(emu, 20)
        mail, _ = read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
        assert len(mail) == 20
        gets = emu.calls("gmail.users.messages.get")
        assert len(gets) == 20
        assert all(r.batch == bool(paths) for r in gets)


def test_interrupted_first_sync_resumes_with_the_page_it_stopped_in(emu, tmp_path):
    acc = account(emu, tmp_path, batch_size=7, page_size=20)
    cursors: dict = {}
    first = run(gmail.open_reader(acc, home(tmp_path)), cursors, limit=2)
    assert len(first) == 14 and cursors["gmail"]["pending"]
    emu.reset_records()
    rest = run(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert len(first) + len(rest) == 60
    assert len(emu.calls("gmail.users.messages.get")) == 46, "nothing fetched twice"


# -- pacing ------------------------------------------------------------------------------------


def test_pacing_keeps_under_the_quota_without_rejections(tmp_path):
    # 600 units per 0.5 s window: 240 messages need ~1,220 units, about 1 s at the limit.
    with GoogleEmulator(window=0.5, quota_per_minute=600) as emu:
        fill_mailbox(emu, 240)
        acc = account(emu, tmp_path, quota_per_minute=600)
        started = time.monotonic()
        mail, _ = read_all(gmail.open_reader(acc, home(tmp_path)))
        elapsed = time.monotonic() - started
        assert len(mail) == 240
        assert not emu.calls(status=403) and not emu.calls(status=429)
        # paced, not merely lucky: the units cannot have been spent faster than the quota
        # allows (how close to the quota floor it stays is bench/gmail_sync.py's figure)
        floor = emu.units() / 600 * 0.5
        assert elapsed >= floor * 0.75


@pytest.mark.parametrize("status", [429])  # 403 userRateLimitExceeded: the next test
def test_learns_a_quota_lower_than_configured(tmp_path, status):
    # The server allows 400 units per 0.5 s; the connector assumes Gmail's 15,000.
    with GoogleEmulator(
        window=0.5, quota_per_minute=400, rate_limit_status=status, charge_rejected=True
    ) as emu:
        fill_mailbox(emu, 300)
        acc = account(emu, tmp_path)
        mail, _ = read_all(gmail.open_reader(acc, home(tmp_path)))
        assert len(mail) == 300
        rejected = emu.calls(status=status)
        assert rejected, "the server's quota was hit at first"
        # Slow start bounds the rejected tail to about one batch, once; then the learned pace
        # holds. (Rejected calls are charged here: ~1 unit per message on only 300 messages.)
        assert len(rejected) <= 60
        assert emu.units() / len(mail) <= 6.1
        late = [r for r in rejected if r.at > rejected[0].at + 2 * emu.window]
        assert len(late) <= 5, "no rejections after warm-up"


def test_retry_after_is_honoured(tmp_path):
    with GoogleEmulator(
        window=0.5, quota_per_minute=300, retry_after_header=True, charge_rejected=True
    ) as emu:
        fill_mailbox(emu, 200)
        mail, _ = read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
        assert len(mail) == 200
        assert len(emu.calls(status=403)) <= 60
        assert emu.units() / len(mail) <= 6.6


# -- sending -----------------------------------------------------------------------------------


def test_send_digest_once_per_key(emu, tmp_path):
    from email.message import EmailMessage

    def digest() -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = ME
        msg["To"] = ME
        msg["Subject"] = "Your week"
        msg.set_content("plain")
        msg.add_alternative("<p>html</p>", subtype="html")
        return msg

    acc = account(emu, tmp_path, send_digest=True)
    first = gmail.open_writer(acc, home(tmp_path)).send(digest(), "digest:2024-W18")
    again = gmail.open_writer(acc, home(tmp_path)).send(digest(), "digest:2024-W18")
    assert first == again
    assert len(emu.gmail.sent) == 1
    assert b"Subject: Your week" in emu.gmail.sent[0]
    assert message_id_for("digest:2024-W18").encode() in emu.gmail.sent[0]
    other = gmail.open_writer(acc, home(tmp_path)).send(digest(), "digest:2024-W19")
    assert other != first and len(emu.gmail.sent) == 2
    assert len(emu.calls("gmail.users.messages.send")) == 2
    # A message with its own Message-ID keeps it (the digest sets one per week).
    mine = digest()
    mine["Message-ID"] = "<week.20@syncd.local>"
    gmail.open_writer(acc, home(tmp_path)).send(mine, "digest:2024-W20")
    assert b"Message-ID: <week.20@syncd.local>" in emu.gmail.sent[-1]
    assert not any(r.params.get("format") in ("full", "raw") for r in emu.calls())


def test_the_profile_address_counts_as_mine(emu, tmp_path):
    """Without --address or --me, the mailbox's own address (users.getProfile) is "me":
    mail to it yields email_in touches, mail from it email_out."""
    from syncd.pipeline.accounts import ensure_account
    from syncd.pipeline.runner import run_reader
    from syncd.store.db import open_db

    db = open_db(tmp_path / "s.db")
    acc = account(emu, tmp_path)
    reader = gmail.open_reader(acc, home(tmp_path))
    run_reader(db, ensure_account(db, "g", "gmail"), reader)
    mine = db.execute("SELECT address, source FROM my_addresses").fetchall()
    assert [a for a, _ in mine] == [ME.lower()]
    assert mine[0][1].startswith("account:")
    kinds = {k for (k,) in db.execute("SELECT DISTINCT kind FROM touchpoints")}
    assert "email_in" in kinds
