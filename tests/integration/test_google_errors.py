"""Google's error answers reach the connectors as typed errors (connectors.google_errors),
never as googleapiclient's HttpError; what the connectors make of them."""

from __future__ import annotations

import pytest
from googleapiclient.errors import HttpError

from connectors import gcal, gmail
from connectors.base import Action
from connectors.google_api import Call
from connectors.google_errors import BadRequest, Forbidden, GoogleApiError, NotFound
from connectors.google_pacing import forget_pacers
from syncd.core.errors import SyncdError, UserError
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import (
    CALENDAR_NOW,
    account,
    fill_calendar,
    fill_mailbox,
    home,
)


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


@pytest.fixture
def emu():
    with GoogleEmulator(window=0.5, calendar_now=CALENDAR_NOW) as server:
        fill_mailbox(server, 12)
        fill_calendar(server)
        yield server


def get(messages, mid: str):
    """A ``messages.get(format=metadata)`` request."""
    return messages.get(userId="me", id=mid, format="metadata")


def read(reader):
    mail, bad = [], []
    for batch in reader.fetch({}):
        mail += batch.mail
        bad += batch.quarantined
    return mail, bad


def test_single_calls_raise_typed_errors(emu, tmp_path):
    client = gmail.open_reader(account(emu, tmp_path), home(tmp_path)).client
    users = client.service.users()
    with pytest.raises(NotFound) as info:
        client.execute(lambda: get(users.messages(), "nope"), 5, "messages.get")
    assert not isinstance(info.value, HttpError) and isinstance(info.value, SyncdError)
    assert info.value.status == 404 and info.value.reason == "notFound"
    assert "messages.get: HTTP 404" in str(info.value)
    emu.fail_next("gmail.users.getProfile", 400, reason="invalidArgument")
    with pytest.raises(BadRequest):
        client.execute(lambda: users.getProfile(userId="me"), 1, "users.getProfile")
    emu.fail_next("gmail.users.getProfile", 403, reason="forbidden")
    with pytest.raises(Forbidden):
        client.execute(lambda: users.getProfile(userId="me"), 1, "users.getProfile")
    emu.fail_next("gmail.users.getProfile", 418)
    with pytest.raises(GoogleApiError) as info:
        client.execute(lambda: users.getProfile(userId="me"), 1, "users.getProfile")
    assert type(info.value) is GoogleApiError and info.value.status == 418


def test_batch_results_carry_typed_errors(emu, tmp_path):
    client = gmail.open_reader(account(emu, tmp_path), home(tmp_path)).client
    messages = client.service.users().messages()
    calls = [Call(mid, lambda m=mid: get(messages, m), 5) for mid in ("x", "y")]
    results = list(client.batch(calls, "messages.get"))
    assert [type(exc) for _, _, exc in results] == [NotFound, NotFound]


def test_gmail_quarantines_a_refused_message_and_survives_labels_failing(emu, tmp_path):
    emu.fail_next("gmail.users.labels.list", 403, reason="forbidden")
    emu.fail_next("gmail.users.messages.get", 400, reason="invalidArgument")
    mail, bad = read(gmail.open_reader(account(emu, tmp_path), home(tmp_path)))
    assert len(mail) == 11 and len(bad) == 1
    assert bad[0].reason == "messages.get failed: HTTP 400"


def test_gcal_refusals_become_user_errors(emu, tmp_path):
    writer = gcal.open_writer(account(emu, tmp_path, kind="gcal", name="c"), home(tmp_path))
    action = Action("k:1:1", "event.create", {"title": "t", "start": CALENDAR_NOW})
    emu.fail_next("calendar.events.insert", 403, reason="forbiddenForNonOrganizer")
    with pytest.raises(UserError, match="refused the event: HTTP 403"):
        writer.apply(action)
    emu.fail_next("calendar.events.delete", 400, reason="badRequest")
    with pytest.raises(UserError, match="refused the delete: HTTP 400"):
        writer.remove(action, None)
    missing = gcal.open_reader(
        account(emu, tmp_path, kind="gcal", name="c", calendar="nope@example.com"),
        home(tmp_path),
    )
    with pytest.raises(UserError, match=r"calendar 'nope@example\.com' not found"):
        read(missing)
