"""Gmail at the quota floor: ``threads.get`` for threads of three or more waiting ids.

The emulator's ``threads.get`` (validated against the shipped discovery
document, charged 10 units as in Google's quota table) and the connector's
per-thread choice between one ``threads.get`` and k ``messages.get``: the same
observations as fetching every message singly, fewer units, and history
fetching only what changed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from googleapiclient.errors import HttpError

from connectors import gmail
from connectors.gmail_cursor import GmailCursor
from connectors.google_pacing import forget_pacers
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import BODY_MARKER, ME, account, home, raw_message
from tests.support.reader_conformance import run

START = datetime(2024, 3, 1, 9, tzinfo=UTC)
# Thread sizes; message 2 of the 5-thread is in Spam, message 4 of the 4-thread in Trash.
SIZES = [1, 2, 3, 4, 5, 1, 6]


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def thread_ids(t: int, n: int) -> list[str]:
    """The Message-IDs of thread ``t``'s ``n`` messages."""
    return [f"<t{t}m{i}@test.invalid>" for i in range(n)]


def reply(t: int, i: int, when: datetime) -> bytes:
    """Message ``i`` of thread ``t``: a reply to all before it (``i == 0``: the start)."""
    ids = thread_ids(t, i + 1)
    extra = {"In-Reply-To": ids[-2], "References": " ".join(ids[:-1])} if i else {}
    sender, to = (ME, f"p{t}@example.org") if i % 2 else (f"p{t}@example.org", ME)
    return raw_message(sender, [to], f"topic {t}", when, extra=extra, message_id=ids[-1])


def fill_threads(emu: GoogleEmulator) -> dict[str, str]:
    """Threads of :data:`SIZES` messages; returns Message-ID -> Gmail id."""
    out = {}
    for t, n in enumerate(SIZES):
        for i in range(n):
            labels = ["SENT"] if i % 2 else ["INBOX"]
            if (n, i) == (5, 2):
                labels = ["SPAM"]
            if (n, i) == (4, 3):
                labels = ["TRASH"]
            msg = emu.gmail.add_message(reply(t, i, START + timedelta(days=t, hours=i)), labels)
            out[thread_ids(t, i + 1)[-1]] = msg.id
    return out


@pytest.fixture
def emu():
    with GoogleEmulator(window=0.5) as server:
        fill_threads(server)
        yield server


def read_all(reader, cursors=None):
    """(mail observations, committed cursors) of one complete fetch."""
    cursors = {} if cursors is None else cursors
    mail = []
    for batch in reader.fetch(cursors):
        mail.extend(batch.mail)
        cursors.update(batch.cursors)
    return mail, cursors


def facts(mail) -> list[tuple]:
    """What an observation tells the store, comparable across fetch strategies."""
    return sorted(
        (o.locator, o.folder, o.labels, o.received_at, sorted(o.headers.items())) for o in mail
    )


# -- the emulator ------------------------------------------------------------------------------


def test_emulator_threads_by_references():
    with GoogleEmulator(window=0.5) as emu:
        ids = fill_threads(emu)
        threads = {emu.gmail.messages[g].thread_id for g in ids.values()}
        assert len(threads) == len(SIZES)
        first = ids[thread_ids(4, 1)[0]]
        assert all(emu.gmail.messages[ids[m]].thread_id == first for m in thread_ids(4, 5))
        parent = thread_ids(4, 1)[0]
        same = raw_message(
            ME,
            ["p4@example.org"],
            "RE: Fwd:  TOPIC 4",
            START,
            extra={"In-Reply-To": parent},
            message_id="<s@test.invalid>",
        )
        other = raw_message(
            ME,
            ["p4@example.org"],
            "something else",
            START,
            extra={"In-Reply-To": parent},
            message_id="<o@test.invalid>",
        )
        assert emu.gmail.add_message(same, ["SENT"]).thread_id == first
        assert emu.gmail.add_message(other, ["SENT"]).thread_id != first  # subjects must match


def test_threads_get_metadata_returns_what_google_documents_at_ten_units(emu, tmp_path):
    reader = gmail.open_reader(account(emu, tmp_path), home(tmp_path))
    tid = emu.gmail.messages[next(iter(emu.gmail.messages))].thread_id
    tid = next(m.thread_id for m in emu.gmail.messages.values() if m.thread_id != tid)
    resp = reader.threads.get(
        userId="me", id=tid, format="metadata", metadataHeaders=["From", "Subject"]
    ).execute()
    assert set(resp) == {"id", "historyId", "messages"}  # no snippet: it comes from the body
    assert resp["id"] == tid and len(resp["messages"]) == 2
    for m in resp["messages"]:
        assert m["threadId"] == tid and m["labelIds"]
        assert {h["name"] for h in m["payload"]["headers"]} == {"From", "Subject"}
        assert "body" not in m["payload"] and "raw" not in m and "snippet" not in m
    assert BODY_MARKER not in repr(resp)
    dates = [int(m["internalDate"]) for m in resp["messages"]]
    assert dates == sorted(dates)
    assert emu.units() == 10
    with pytest.raises(HttpError) as err:
        reader.threads.get(userId="me", id=tid, format="full").execute()
    assert err.value.resp.status == 403
    with pytest.raises(HttpError) as err:
        reader.threads.get(userId="me", id="0", format="metadata").execute()
    assert err.value.resp.status == 404


# -- the connector -----------------------------------------------------------------------------


def test_fetch_plan_takes_the_cheaper_per_thread():
    thread_of = {"a": "T1", "b": "T1", "c": "T2", "d": "T2", "e": "T2", "f": "T3"}
    plan = gmail.fetch_plan(["a", "c", "b", "d", "e", "f", "g"], thread_of)
    assert plan == [(None, ["a"]), (None, ["b"]), ("T2", ["c", "d", "e"]), (None, ["f"]),
                    (None, ["g"])]  # fmt: skip
    assert gmail.plan_units(plan) == 4 * 5 + 10


def test_first_sync_fetches_threads_where_cheaper_with_the_same_observations(
    emu, tmp_path, monkeypatch
):
    mail, cursors = read_all(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
    assert cursors["gmail"]["phase"] == "incremental"
    # Listed: everything but Spam (listing 1, Trash excluded) plus the Trash message
    # (listing 2). Threads of >= 3 listed ids in one listing go by threads.get.
    assert len(mail) == sum(SIZES) - 1
    tgets = emu.calls("gmail.users.threads.get")
    gets = emu.calls("gmail.users.messages.get")
    assert all(r.params["format"] == "metadata" and r.params["metadataHeaders"] for r in tgets)
    assert all(r.batch for r in tgets)  # (the lone Trash message goes unbatched)
    # 3-thread, 4-thread (3 listed + 1 in Trash), 5-thread (4 listed), 6-thread.
    assert len(tgets) == 4
    assert len(gets) == 1 + 2 + 1 + 1  # singles, the 2-thread, the Trash message
    threaded_units = emu.units()
    assert BODY_MARKER not in repr(mail)
    assert not any("SPAM" in o.labels for o in mail)
    assert not emu.calls(status=429) and not emu.calls(status=403)

    emu.reset_records()
    forget_pacers()
    monkeypatch.setitem(gmail.COSTS, "thread", 10**6)  # never cheaper: messages singly
    single, _ = read_all(gmail.open_reader(account(emu, tmp_path, name="h"), home(tmp_path)))
    assert not emu.calls("gmail.users.threads.get")
    assert facts(mail) == facts(single)
    assert threaded_units < emu.units()
    assert threaded_units / len(mail) < 4.0 < emu.units() / len(single)


def test_incremental_sync_fetches_only_what_changed(emu, tmp_path):
    acc = account(emu, tmp_path)
    _, cursors = read_all(gmail.open_reader(acc, home(tmp_path)))
    emu.reset_records()
    later = START + timedelta(days=30)
    for i in range(6, 9):  # three replies to the 6-thread: one threads.get
        emu.gmail.add_message(reply(6, i, later + timedelta(hours=i)), ["INBOX"])
    emu.gmail.add_message(reply(2, 3, later), ["SENT"])  # one reply to the 3-thread: singly
    emu.gmail.add_message(reply(20, 0, later), ["SPAM"])  # skipped
    mail, cursors = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert sorted(o.headers["message-id"][0] for o in mail) == sorted(
        [*thread_ids(6, 9)[6:], thread_ids(2, 4)[3]]
    )
    assert len(emu.calls("gmail.users.threads.get")) == 1
    assert len(emu.calls("gmail.users.messages.get")) == 1
    assert not emu.calls("gmail.users.messages.list")
    assert emu.units() == 10 + 5 + 2 * len(emu.calls("gmail.users.history.list")) + 1
    emu.reset_records()
    again, _ = read_all(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert again == []
    # a sync with no news: one history.list, nothing else (labels are listed only to fetch)
    assert [r.method for r in emu.calls()] == ["gmail.users.history.list"]


def test_an_interrupted_first_sync_resumes_with_its_threads(emu, tmp_path):
    acc = account(emu, tmp_path, batch_size=2)  # two calls per batch: threads wait in the cursor
    cursors: dict = {}
    first = run(gmail.open_reader(acc, home(tmp_path)), cursors, limit=1)
    saved = cursors["gmail"]
    assert saved["pending"] and set(saved["threads"]) == set(saved["pending"])
    assert GmailCursor.from_json({**saved, "threads": ["junk"]}).threads == {}
    emu.reset_records()
    rest = run(gmail.open_reader(acc, home(tmp_path)), cursors)
    assert len(first) + len(rest) == sum(SIZES) - 1
    done = len(first)  # ids fetched before the interruption: one batch of two calls
    assert (
        len(emu.calls("gmail.users.threads.get")) + len(emu.calls("gmail.users.messages.get"))
        < sum(SIZES) - 1 - done
    ), "the resumed sync still fetches threads"
    assert len(emu.calls("gmail.users.threads.get")) >= 3
