"""The touchpoint contract (design.md §2), rule by rule, on crafted mailboxes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from syncd.mail.addresses import is_valid, match_key, parse_address_list
from syncd.mail.metadata import parse_date, scan_headers, summarize
from syncd.mail.touchpoints import skipped_folder
from tests.support.helpers import import_mail, message

ME = "me@corp.example"
D1 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
D2 = datetime(2024, 3, 2, 12, 0, tzinfo=UTC)


# -- rule 1: addresses -------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "valid"),
    [
        ("a@b.example", True),
        ("'name'@enron.com", True),
        (".taylor@enron.com", True),
        ("@enron", False),
        ("user@", False),
        ("a@b@c", False),
        ("no-at-sign", False),
    ],
)
def test_address_validity(address, valid):
    assert is_valid(address) is valid


def test_gmail_match_key_ignores_dots_and_tags_but_keeps_form():
    assert match_key("john.smith+news@gmail.com") == match_key("johnsmith@googlemail.com")
    assert match_key("john.smith@corp.example") != match_key("johnsmith@corp.example")
    assert match_key("a+tag@corp.example") == "a+tag@corp.example"


def test_address_lists_are_lowercased_deduplicated_and_filtered():
    parsed = parse_address_list(['"Smith, Jo" <Jo@X.example>, jo@x.example, @ENRON, bad'])
    assert parsed == [("Smith, Jo", "jo@x.example")]


def test_gmail_variants_are_one_person(tmp_path):
    msgs = [
        message(sender=ME, to="John.Smith+work@gmail.com", date=D1, subject="a"),
        message(sender=ME, to="johnsmith@googlemail.com", date=D2, subject="b"),
    ]
    people = import_mail(tmp_path, {"Sent": msgs}, [ME])
    p = people["john.smith+work@gmail.com"]
    assert p is people["johnsmith@googlemail.com"]
    assert p.touches_out == 2
    assert sorted(p.emails) == ["john.smith+work@gmail.com", "johnsmith@googlemail.com"]


# -- rule 2: logical messages -----------------------------------------------


def test_copies_with_different_message_ids_count_once(tmp_path):
    base = dict(sender=ME, to=["ana@x.example"], cc="bo@y.example", date=D1, subject="Q3  plan")
    folders = {
        "sent": [message(**base, message_id="<1@a>")],
        "sent_items": [message(**{**base, "subject": "Q3 plan"}, message_id="<2@a>")],
        "all_documents": [message(**base, message_id="<3@a>")],
    }
    people = import_mail(tmp_path, folders, [ME])
    assert people["ana@x.example"].touches_out == 1
    assert people["bo@y.example"].touches_out == 1


def test_same_message_id_counts_once_even_if_headers_differ(tmp_path):
    sent = message(sender=ME, to="ana@x.example", bcc="bo@y.example", date=D1, message_id="<m@x>")
    inbox_copy = message(sender=ME, to="ana@x.example", date=D1, message_id="<m@x>")
    people = import_mail(tmp_path, {"Sent": [sent], "Archive": [inbox_copy]}, [ME])
    assert people["ana@x.example"].touches_out == 1
    # the Bcc seen on one copy belongs to the logical message
    assert people["bo@y.example"].touches_out == 1


def test_message_id_and_fingerprint_bridge_copies(tmp_path):
    # A~B share a Message-ID, B~C share a fingerprint: all three are one message.
    a = message(sender=ME, to="ana@x.example", date=D1, subject="x", message_id="<same@x>")
    b = message(sender=ME, to="ana@x.example", date=D2, subject="y", message_id="<same@x>")
    c = message(sender=ME, to="ana@x.example", date=D2, subject="y", message_id="<other@x>")
    people = import_mail(tmp_path, {"one": [a], "two": [c], "three": [b]}, [ME])
    assert people["ana@x.example"].touches_out == 1


def test_different_messages_are_not_merged(tmp_path):
    msgs = [
        message(sender=ME, to="ana@x.example", date=D1, subject="x"),
        message(sender=ME, to="ana@x.example", date=D1, subject="y"),
        message(sender=ME, to=["ana@x.example", "bo@y.example"], date=D1, subject="x"),
    ]
    people = import_mail(tmp_path, {"Sent": msgs}, [ME])
    assert people["ana@x.example"].touches_out == 3


# -- rule 3: skipped folders ----------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "skipped"),
    [
        ("Drafts", True),
        ("[Gmail]/Drafts", True),
        ("INBOX.Spam", True),
        ("Junk E-mail", True),
        ("junk_file", True),
        ("Trash", False),
        ("deleted_items", False),
        ("inbox", False),
        ("sent_items", False),
    ],
)
def test_skipped_folders(folder, skipped):
    assert (skipped_folder(folder) is not None) is skipped


def test_skipped_labels():
    assert skipped_folder("all", ("SPAM",))
    assert skipped_folder("all", ("DRAFT",))
    assert skipped_folder("all", ("TRASH",)) is None


def test_drafts_and_spam_yield_nothing_but_trash_counts(tmp_path):
    folders = {
        "Drafts": [message(sender=ME, to="ana@x.example", subject="draft")],
        "Spam": [message(sender="ana@x.example", to=ME, subject="spam")],
        "Trash": [message(sender="bo@y.example", to=ME, subject="deleted")],
    }
    people = import_mail(tmp_path, folders, [ME])
    assert "ana@x.example" not in people
    assert people["bo@y.example"].touches_in == 1


# -- rule 4: bulk / automated -------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "extra"),
    [
        ("news@x.example", {"Precedence": "bulk"}),
        ("news@x.example", {"Precedence": "List"}),
        ("news@x.example", {"Precedence": "junk"}),
        ("news@x.example", {"List-Id": "<news.x.example>"}),
        ("news@x.example", {"List-Unsubscribe": "<mailto:u@x.example>"}),
        ("bot@x.example", {"Auto-Submitted": "auto-replied"}),
        ("bot@x.example", {"Auto-Submitted": "auto-generated; type=x"}),
        ("bot@x.example", {"Return-Path": "<>"}),
        ("noreply@x.example", {}),
        ("No-Reply+abc@x.example", {}),
        ("do_not_reply@x.example", {}),
        ("MAILER-DAEMON@x.example", {}),
        ("postmaster@x.example", {}),
    ],
)
def test_bulk_and_automated_mail_yields_no_touchpoint(tmp_path, sender, extra):
    msg = message(sender=sender, to=ME, extra=extra)
    people = import_mail(tmp_path, {"INBOX": [msg]}, [ME])
    assert sender.lower() not in people


@pytest.mark.parametrize(
    "extra",
    [{"Auto-Submitted": "no"}, {"Precedence": "first-class"}, {"Return-Path": "<a@x.example>"}],
)
def test_personal_mail_headers_still_count(tmp_path, extra):
    msg = message(sender="ana@x.example", to=ME, extra=extra)
    people = import_mail(tmp_path, {"INBOX": [msg]}, [ME])
    assert people["ana@x.example"].touches_in == 1


# -- rule 5: broadcast --------------------------------------------------------


def test_broadcast_threshold_is_more_than_twenty(tmp_path):
    twenty = [f"p{i}@x.example" for i in range(20)]
    msgs = [
        message(sender=ME, to=twenty, subject="twenty"),
        message(sender=ME, to=[*twenty, "extra@x.example"], subject="twenty-one"),
    ]
    people = import_mail(tmp_path, {"Sent": msgs}, [ME])
    assert people["p0@x.example"].touches_out == 1
    assert "extra@x.example" not in people


def test_broadcast_counts_distinct_recipients(tmp_path):
    dup = [f"p{i}@x.example" for i in range(20)]
    msg = message(sender=ME, to=dup, cc=dup[:5], subject="dups")
    people = import_mail(tmp_path, {"Sent": [msg]}, [ME])
    assert people["p3@x.example"].touches_out == 1


# -- rules 6, 7, 8: direction and time ---------------------------------------


def test_outbound_touches_every_recipient_but_me(tmp_path):
    msg = message(sender=ME, to=["ana@x.example", ME], cc="bo@y.example", bcc="cy@z.example")
    people = import_mail(tmp_path, {"Sent": [msg]}, [ME, "alias@corp.example"])
    assert {a for a in people} == {"ana@x.example", "bo@y.example", "cy@z.example"}
    assert all(p.touches_out == 1 and p.touches_in == 0 for p in people.values())


def test_inbound_needs_me_in_to_or_cc_not_bcc(tmp_path):
    msgs = [
        message(sender="ana@x.example", to=ME, subject="to"),
        message(sender="bo@y.example", cc="Me@Corp.Example", subject="cc"),
        message(sender="cy@z.example", bcc=ME, to="list@z.example", subject="bcc"),
    ]
    people = import_mail(tmp_path, {"INBOX": msgs}, [ME])
    assert people["ana@x.example"].touches_in == 1
    assert people["bo@y.example"].touches_in == 1
    assert "cy@z.example" not in people
    # only the sender gets an inbound touch, not the other recipients
    assert "list@z.example" not in people


def test_time_is_date_header_in_utc(tmp_path):
    msg = message(sender="ana@x.example", to=ME, date="Mon, 23 Apr 2001 12:41:00 -0700 (PDT)")
    people = import_mail(tmp_path, {"INBOX": [msg]}, [ME])
    assert people["ana@x.example"].last_touch == int(
        datetime(2001, 4, 23, 19, 41, tzinfo=UTC).timestamp()
    )


def test_time_falls_back_to_received(tmp_path):
    msg = message(
        sender="ana@x.example",
        to=ME,
        date=None,
        extra={"Received": "from a by b; Tue, 2 Jan 2024 10:00:00 +0000"},
    )
    people = import_mail(tmp_path, {"INBOX": [msg]}, [ME])
    assert people["ana@x.example"].last_touch == int(
        datetime(2024, 1, 2, 10, tzinfo=UTC).timestamp()
    )


def test_message_without_any_time_is_quarantined_not_lost(tmp_path):
    from syncd.store.db import open_db

    msg = message(sender="ana@x.example", to=ME, date=None)
    people = import_mail(tmp_path, {"INBOX": [msg]}, [ME])
    assert "ana@x.example" not in people
    db = open_db(tmp_path / "home" / "syncd.db")
    reasons = [r[0] for r in db.execute("SELECT reason FROM quarantine")]
    assert reasons == ["no usable Date or Received time"]


# -- rule 11: per person figures ---------------------------------------------


def test_per_person_counts_and_first_last_touch(tmp_path):
    msgs_in = [message(sender="ana@x.example", to=ME, date=D1, subject="q")]
    msgs_out = [
        message(sender=ME, to="ana@x.example", date=D2, subject="a1"),
        message(
            sender="alias@corp.example", to="ana@x.example", date=D2.replace(day=5), subject="a2"
        ),
    ]
    people = import_mail(tmp_path, {"INBOX": msgs_in, "Sent": msgs_out}, [ME, "alias@corp.example"])
    ana = people["ana@x.example"]
    assert (ana.touches_in, ana.touches_out, ana.meetings) == (1, 2, 0)
    assert ana.first_touch == int(D1.timestamp())
    assert ana.last_touch == int(D2.replace(day=5).timestamp())


def test_now_hides_later_touchpoints(tmp_path):
    msgs = [
        message(sender="ana@x.example", to=ME, date=D1, subject="early"),
        message(sender="ana@x.example", to=ME, date=D2, subject="late"),
    ]
    people = import_mail(tmp_path, {"INBOX": msgs}, [ME], now="2024-03-01T18:00:00Z")
    assert people["ana@x.example"].touches_in == 1


def test_adding_me_later_rederives_directions(tmp_path):
    from syncd.commands.context import Context
    from syncd.core.home import Home
    from syncd.pipeline.local_import import import_paths
    from syncd.report.people import compute_people

    msg = message(sender="alias@corp.example", to="ana@x.example")
    people = import_mail(tmp_path, {"Sent": [msg]}, [ME])
    assert "ana@x.example" not in people
    ctx = Context(Home(tmp_path / "home"), int(datetime(2030, 1, 1, tzinfo=UTC).timestamp()))
    import_paths(ctx.db, ctx.home, "mbox", [tmp_path / "mail"], ["alias@corp.example"], now=ctx.now)
    figures = {e: p for p in compute_people(ctx.db, ctx.now) for e in p.emails}
    assert figures["ana@x.example"].touches_out == 1


# -- the header scanner on awkward input --------------------------------------


def test_scanner_handles_cr_only_and_folded_headers():
    raw = b"From: a@x.example\rTo: b@y.example,\r c@z.example\rSubject: hi\r\rbody"
    headers = scan_headers(raw)
    assert headers["to"] == ["b@y.example, c@z.example"]
    s = summarize(headers)
    assert s.to == ["b@y.example", "c@z.example"]


def test_dates_with_comments_and_without_zone():
    assert parse_date("Mon, 23 Apr 2001 12:41:00 -0700 (PDT)") == 988054860
    assert parse_date("23 Apr 2001 12:41") == 988029660
    assert parse_date("not a date") is None
