"""Pure conversions of the outlook connector: Graph messages and events to observations."""

from __future__ import annotations

from connectors.base import MailObservation, Quarantined
from connectors.outlook_calendar import event_key, event_observation
from connectors.outlook_mail import OTHER_SIGNAL, message_headers, observation


def graph_message(**extra) -> dict:
    msg = {
        "id": "M1",
        "internetMessageId": "<1@x>",
        "from": {"emailAddress": {"name": "Ana Ruiz", "address": "ana@example.org"}},
        "toRecipients": [{"emailAddress": {"name": "", "address": "me@example.com"}}],
        "ccRecipients": [],
        "bccRecipients": [{"emailAddress": {"address": "b@example.org"}}],
        "sentDateTime": "2024-03-01T10:00:00Z",
        "receivedDateTime": "2024-03-01T10:00:05Z",
        "subject": "hello",
        "isDraft": False,
        "parentFolderId": "F",
    }
    msg.update(extra)
    return msg


def test_headers_come_from_internet_message_headers_first_then_the_properties():
    sent = message_headers(graph_message())
    assert sent["from"] == ['"Ana Ruiz" <ana@example.org>']
    assert sent["bcc"] == ["b@example.org"] and sent["message-id"] == ["<1@x>"]
    assert sent["date"] == ["Fri, 01 Mar 2024 10:00:00 +0000"]
    raw = [
        {"name": "Date", "value": "Fri, 1 Mar 2024 11:00:00 +0100"},
        {"name": "List-Id", "value": "<news.example.org>"},
        {"name": "Received", "value": "from a by b; x"},
        {"name": "Received", "value": "from c by d; y"},
        {"name": "X-Body-Secret", "value": "never kept"},
    ]
    received = message_headers(graph_message(internetMessageHeaders=raw))
    assert received["date"] == ["Fri, 1 Mar 2024 11:00:00 +0100"]
    assert received["list-id"] == ["<news.example.org>"] and len(received["received"]) == 1
    assert "x-body-secret" not in received


def test_drafts_focused_other_and_empty_messages():
    draft = observation(graph_message(isDraft=True), "Projects")
    assert isinstance(draft, MailObservation) and draft.folder == "Drafts"
    other = graph_message(inferenceClassification="other")
    assert observation(other, "Inbox").signals == ()
    assert observation(other, "Inbox", filter_other=True).signals == (OTHER_SIGNAL,)
    assert observation(other, "Inbox").received_at == 1709287205
    empty = observation({"id": "M2", "parentFolderId": "F"}, "Inbox")
    assert isinstance(empty, Quarantined)


def test_events_keys_attendees_and_my_declined_response():
    item = {
        "id": "E1",
        "iCalUId": "UID1",
        "subject": "Pitch",
        "start": {"dateTime": "2024-05-10T15:00:00.0000000", "timeZone": "UTC"},
        "end": {"dateTime": "2024-05-10T16:00:00.0000000", "timeZone": "UTC"},
        "attendees": [
            {"emailAddress": {"address": "Dee@Example.org"}, "type": "required",
             "status": {"response": "accepted"}},
            {"emailAddress": {"address": "room@example.com"}, "type": "resource"},
        ],
        "organizer": {"emailAddress": {"address": "dee@example.org"}},
        "responseStatus": {"response": "declined"},
    }  # fmt: skip
    key = event_key(item)
    assert key == "UID1|1715353200"
    obs = event_observation(item, "cal", key, owner=("me@example.com",))
    assert obs is not None and (obs.start, obs.end) == (1715353200, 1715356800)
    kinds = {a.address: (a.cutype, a.partstat) for a in obs.attendees}
    assert kinds == {
        "dee@example.org": ("INDIVIDUAL", "ACCEPTED"),
        "room@example.com": ("RESOURCE", "NEEDS-ACTION"),
        "me@example.com": ("INDIVIDUAL", "DECLINED"),
    }
    assert event_observation({**item, "start": {"dateTime": "x"}}, "cal", key) is None
