"""The emulator itself: it must be as strict as Google where the connectors could go wrong.

Routes, parameters and enums come from the discovery documents shipped with
google-api-python-client; quota costs are Gmail's documented ones.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from google.oauth2.credentials import Credentials
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from connectors.google_api import build_service
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.discovery import load_api
from tests.support.google_emulator.quota import GMAIL_COSTS
from tests.support.google_emulator.testing import ME, fill_mailbox


@pytest.fixture(scope="module")
def emu():
    with GoogleEmulator(quota_per_minute=None) as server:
        fill_mailbox(server, 30)
        yield server


def raw(emu, path, token="test-token", method="GET", body=None):
    req = urllib.request.Request(emu.url + path, method=method, data=body)
    req.add_header("Authorization", f"Bearer {token}")
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        data = exc.read()
        return exc.code, json.loads(data) if data.startswith(b"{") else data


def reason(payload):
    return payload["error"]["errors"][0]["reason"]


def test_every_emulated_method_exists_in_the_discovery_documents(emu):
    ids = {
        m
        for api in ("gmail", "calendar")
        for m in load_api(api, "v1" if api == "gmail" else "v3").by_id
    }
    assert set(emu.handlers) <= ids


def test_parameters_are_checked_against_discovery(emu):
    mid = next(iter(emu.gmail.messages))
    assert raw(emu, f"gmail/v1/users/me/messages/{mid}?format=metadata")[0] == 200
    status, body = raw(emu, f"gmail/v1/users/me/messages/{mid}?format=metadata&bogus=1")
    assert status == 400 and "bogus" in body["error"]["message"]
    status, body = raw(emu, f"gmail/v1/users/me/messages/{mid}?format=headers")
    assert status == 400 and "Allowed" in body["error"]["message"]
    assert raw(emu, "gmail/v1/users/me/messages?maxResults=ten")[0] == 400
    assert raw(emu, "gmail/v1/users/me/messages?includeSpamTrash=maybe")[0] == 400
    assert raw(emu, "gmail/v1/users/me/messages?pageToken=a&pageToken=b")[0] == 400
    assert (
        raw(emu, "gmail/v1/users/me/history?historyTypes=messageMoved&startHistoryId=1")[0] == 400
    )
    assert raw(emu, "gmail/v1/users/me/nothing")[0] == 404
    assert raw(emu, "calendar/v3/calendars/primary/events?singleEvents=yes")[0] == 400
    assert raw(emu, "calendar/v3/calendars/primary/events?orderBy=start")[0] == 400


def test_metadata_scope_forbids_bodies_and_search(emu):
    mid = next(iter(emu.gmail.messages))
    for fmt in ("full", "raw"):
        status, body = raw(emu, f"gmail/v1/users/me/messages/{mid}?format={fmt}")
        assert status == 403 and fmt.upper() in body["error"]["message"]
    assert raw(emu, f"gmail/v1/users/me/messages/{mid}")[0] == 403  # the default is full
    assert raw(emu, "gmail/v1/users/me/messages?q=from:x")[0] == 403
    status, body = raw(
        emu,
        f"gmail/v1/users/me/messages/{mid}?format=metadata"
        "&metadataHeaders=From&metadataHeaders=subject",
    )
    assert status == 200
    assert {h["name"].lower() for h in body["payload"]["headers"]} == {"from", "subject"}
    assert "snippet" not in body and "body" not in body["payload"]


def test_authentication(emu):
    assert raw(emu, "gmail/v1/users/me/profile", token="wrong")[0] == 401
    assert raw(emu, "gmail/v1/users/me/profile", token="")[0] == 401
    emu.grants["cal-only"] = type(emu.grants["test-token"])(
        frozenset({"https://www.googleapis.com/auth/calendar.events"})
    )
    status, body = raw(emu, "gmail/v1/users/me/profile", token="cal-only")
    assert status == 403 and reason(body) == "insufficientPermissions"


def test_history_and_sync_token_expiry():
    with GoogleEmulator() as emu:
        fill_mailbox(emu, 3)
        start = emu.gmail.history_id
        assert raw(emu, f"gmail/v1/users/me/history?startHistoryId={start}")[0] == 200
        emu.expire_history()
        assert raw(emu, f"gmail/v1/users/me/history?startHistoryId={start}")[0] == 404
        assert raw(emu, "gmail/v1/users/me/history")[0] == 400  # startHistoryId is required
        status, body = raw(emu, "calendar/v3/calendars/primary/events")
        token = body["nextSyncToken"]
        status, body = raw(
            emu,
            f"calendar/v3/calendars/primary/events?syncToken={token}&timeMin=2024-01-01T00:00:00Z",
        )
        assert status == 400
        status, _ = raw(
            emu, f"calendar/v3/calendars/primary/events?syncToken={token}&showDeleted=false"
        )
        assert status == 400
        emu.expire_sync_token()
        status, body = raw(emu, f"calendar/v3/calendars/primary/events?syncToken={token}")
        assert status == 410 and reason(body) == "fullSyncRequired"


def test_event_ids_and_duplicates():
    with GoogleEmulator() as emu:
        path = "calendar/v3/calendars/primary/events"
        times = {
            "start": {"dateTime": "2024-01-01T10:00:00Z"},
            "end": {"dateTime": "2024-01-01T11:00:00Z"},
        }
        for bad in ("abc", "UPPERCASE1", "with-dash1", "wxyz12345", "x" * 1025):
            body = json.dumps({"id": bad, **times}).encode()
            assert raw(emu, path, method="POST", body=body)[0] == 400, bad
        body = json.dumps({"id": "abcdev0123", **times}).encode()
        assert raw(emu, path, method="POST", body=body)[0] == 200
        status, payload = raw(emu, path, method="POST", body=body)
        assert status == 409 and reason(payload) == "duplicate"


def test_quota_costs_and_the_per_user_limit():
    with GoogleEmulator(quota_per_minute=30, window=0.4, rate_limit_status=403) as emu:
        fill_mailbox(emu, 3)
        assert raw(emu, "gmail/v1/users/me/profile")[0] == 200
        assert raw(emu, "gmail/v1/users/me/labels")[0] == 200
        assert raw(emu, "gmail/v1/users/me/messages")[0] == 200
        assert (
            raw(emu, "gmail/v1/users/me/history?startHistoryId=" + str(emu.gmail.history_id))[0]
            == 200
        )
        assert [r.units for r in emu.calls()] == [1, 1, 5, 2]
        for _ in range(4):
            raw(emu, "gmail/v1/users/me/messages")
        status, body = raw(emu, "gmail/v1/users/me/messages")
        assert status == 403 and reason(body) == "userRateLimitExceeded"
        assert emu.calls()[-1].units == 0
        time.sleep(0.45)
        assert raw(emu, "gmail/v1/users/me/messages")[0] == 200
    with GoogleEmulator(
        quota_per_minute=5, window=10, rate_limit_status=429, retry_after_header=True
    ) as emu:
        assert raw(emu, "gmail/v1/users/me/messages")[0] == 200
        status, body = raw(emu, "gmail/v1/users/me/messages")
        assert status == 429 and reason(body) == "rateLimitExceeded"
    assert GMAIL_COSTS["gmail.users.messages.get"] == 5
    assert GMAIL_COSTS["gmail.users.messages.send"] == 100


def test_batches_charge_each_call_and_hold_at_most_100(emu):
    emu.reset_records()
    service = build_service("gmail", "v1", Credentials(token="test-token"), emu.url)
    ids = list(emu.gmail.messages)
    results = {}
    batch = BatchHttpRequest(
        callback=lambda rid, resp, exc: results.update({rid: (resp, exc)}),
        batch_uri=emu.url + "batch/gmail/v1",
    )
    for mid in ids[:3]:
        batch.add(service.users().messages().get(userId="me", id=mid, format="metadata"))
    batch.add(service.users().messages().get(userId="me", id="missing", format="metadata"))
    batch.execute()
    assert [r.units for r in emu.calls()] == [5, 5, 5, 5]
    assert all(r.batch for r in emu.calls())
    assert isinstance(results["4"][1], HttpError) and results["4"][1].resp.status == 404
    assert results["1"][0]["id"] == ids[0]
    too_big = BatchHttpRequest(batch_uri=emu.url + "batch/gmail/v1")
    messages = service.users().messages()
    for _ in range(101):
        too_big.add(messages.get(userId="me", id=ids[0], format="metadata"))
    with pytest.raises(HttpError) as info:
        too_big.execute()
    assert info.value.resp.status == 400


def test_faults_are_injected_per_route(emu):
    emu.fail_next("gmail.users.getProfile", 503, count=2)
    emu.fail_next("gmail.*", 500)
    assert raw(emu, "gmail/v1/users/me/profile")[0] == 503
    assert raw(emu, "gmail/v1/users/me/profile")[0] == 503
    assert raw(emu, "gmail/v1/users/me/labels")[0] == 500
    assert raw(emu, "gmail/v1/users/me/labels")[0] == 200
    emu.delay_next("gmail.users.labels.list", seconds=0.3)
    started = time.monotonic()
    assert raw(emu, "gmail/v1/users/me/labels")[0] == 200
    assert time.monotonic() - started >= 0.3
    emu.flaky(1.0, statuses=(503,), seed=1)
    assert raw(emu, "gmail/v1/users/me/labels")[0] == 503
    emu.flaky(0)
    assert raw(emu, f"gmail/v1/users/{ME}/labels")[0] == 200
