"""Person-kind detectors (syncd.mail.kinds) on small synthetic cases, and flag value."""

from __future__ import annotations

from collections import Counter

import pytest

from rules.settings import build_config
from rules.value import flag_value
from syncd.core.errors import ConfigError
from syncd.mail.kinds import (
    AddressStats,
    decide,
    detect_automated,
    detect_self,
    is_source_category,
    owner_name_forms,
    squashed_local,
    subject_template,
)

T = build_config({}).kinds
DAY = 86400


def verdict(stats: AddressStats, forms=frozenset(), names=frozenset(), domains=frozenset()):
    """The kind decided for ``stats`` with the shipped thresholds."""
    locals_ = {squashed_local(f"{f}@x") for f in forms}
    evidence = detect_self(stats, set(forms), set(names), set(domains), locals_)
    return decide(evidence + detect_automated(stats, T), T)


def templates(subjects: list[str]) -> Counter[str]:
    """The subject templates of ``subjects``, counted in first-seen order."""
    return Counter(subject_template(s) for s in subjects)


def signals(v) -> set[str]:
    return {e.signal for e in v.evidence}


def test_subject_templates_ignore_numbers_addresses_and_reply_prefixes():
    assert subject_template("Re: FW: Ticket 1234 updated") == subject_template("Ticket 99 updated")
    assert subject_template("Access request for a@b.example") == "access request for @"
    assert subject_template("lunch?") != subject_template("dinner?")


def test_a_two_way_colleague_is_human():
    s = AddressStats(
        "ana.ruiz@corp.example",
        names={"Ana Ruiz"},
        sent=12,
        sent_to_me=12,
        received_from_me=10,
        with_others=3,
        exclusive=19,
        templates=templates([f"re: plan {i}" for i in range(12)]),
    )
    v = verdict(s)
    assert v.kind == "human"


def test_a_ticketing_robot_with_a_changing_number_in_its_subject_is_automated():
    s = AddressStats(
        "arsystem@mailman.corp.example",
        sent=8,
        sent_to_me=8,
        templates=templates([f"Your approval is overdue: request {n}" for n in range(8)]),
    )
    v = verdict(s)
    assert v.kind == "automated"
    assert {"one_way", "subject_template", "system_name", "system_domain"} <= signals(v)


def test_a_one_way_sender_with_a_plain_name_and_varied_subjects_stays_human():
    s = AddressStats(
        "jo@home.example",
        sent=6,
        sent_to_me=6,
        templates=templates(["hi", "photos", "sunday?", "", "", "call me"]),
    )
    v = verdict(s)
    assert v.kind == "human"
    assert "one_way" in signals(v)  # recorded, but not enough alone


def test_a_high_volume_unanswered_sender_is_automated_without_any_name_signal():
    s = AddressStats(
        "j.doe@vendor.example",
        sent=25,
        sent_to_me=25,
        templates=templates([f"s{i}" for i in range(25)]),
    )
    assert verdict(s).kind == "automated"


def test_system_words_in_the_local_part_or_display_name():
    assert verdict(AddressStats("notifications@svc.example", sent=1)).kind == "automated"
    assert verdict(AddressStats("exchange.administrator@corp.example")).kind == "automated"
    names = AddressStats(
        "x7@svc.example",
        names={"Calendar Alerts"},
        sent=6,
        templates=templates([f"event {i}" for i in range(6)]),
    )
    assert verdict(names).kind == "automated"
    # a person whose name merely contains a system word is not a robot
    assert (
        verdict(AddressStats("mark.newsome@corp.example", sent=2, received_from_me=2)).kind
        == "human"
    )


def test_role_mailboxes_are_lists():
    for address in ("help@corp.example", "rsvp@events.example", "price.desk@corp.example"):
        v = verdict(AddressStats(address, received_from_me=1))
        assert v.kind == "list", address


def test_an_address_many_people_write_to_but_that_never_writes_is_a_group():
    writers = {f"p{i}@corp.example" for i in range(7)}
    assert verdict(AddressStats("gas.traders@corp.example", writers=writers)).kind == "list"
    # ... but a colleague I write to myself is only suspected (weight 1), not decided
    v = verdict(AddressStats("bob.lee@corp.example", writers=writers, received_from_me=3))
    assert v.kind == "human" and "group" in signals(v)


def test_source_categories_mark_automated_mail():
    s = AddressStats(
        "deals@shop.example",
        sent=5,
        sent_to_me=5,
        source_signals=Counter({"CATEGORY_PROMOTIONS": 5}),
        templates=templates([f"{i}" for i in "abcde"]),
    )
    assert "source_category" in signals(verdict(s))


FORMS = owner_name_forms(["phillip.allen@enron.example", "k..allen@enron.example"], [])


def test_owner_name_forms():
    assert {"pallen", "phillipallen", "allenphillip", "allenp"} <= FORMS
    assert "kallen" not in FORMS  # a middle initial is not a first name
    named = owner_name_forms([], ["Allen, Phillip K."])
    assert "pallen" in named


def test_a_home_address_with_my_name_written_only_with_me_is_self():
    s = AddressStats("pallen70@isp.example", received_from_me=30, exclusive=28, with_others=4)
    v = verdict(s, FORMS, domains={"enron.example"})
    assert v.kind == "self"
    assert {"name_form", "only_with_me", "never_writes_back"} <= signals(v)


def test_a_namesake_who_writes_back_among_others_is_not_self():
    s = AddressStats(
        "pallen@other.example",
        sent=5,
        sent_to_me=5,
        received_from_me=5,
        with_others=10,
        exclusive=1,
        templates=templates(list("abcde")),
    )
    v = verdict(s, FORMS)
    assert v.kind == "human" and "name_form" in signals(v)


def test_a_notes_form_of_my_address_delivered_to_me_is_self():
    s = AddressStats("phillip.k.allen@enron.example", sole_recipient=4, with_others=9)
    v = verdict(s, FORMS, domains={"enron.example"})
    assert v.kind == "self" and "delivered_to_me" in signals(v)
    mangled = AddressStats("k.allen@ect.enron.example", sole_recipient=2)
    assert verdict(mangled, FORMS | {"k..allen"}, domains={"enron.example"}).kind == "self"


def test_my_display_name_alone_is_enough_my_sent_folder_needs_support():
    same = AddressStats("pa@else.example", names={"Phillip  Allen"}, sent=1)
    assert verdict(same, names={"phillip allen"}).kind == "self"
    # an assistant sending from my Sent folder to many people: only a suggestion
    assistant = AddressStats("ina@corp.example", sent=3, sent_in_sent_folder=3, with_others=3)
    v = verdict(assistant)
    assert v.kind == "human" and "sent_folder_sender" in signals(v)
    # my old address, writing from my Sent folder to one person at a time
    old = AddressStats("old@box.example", sent=3, sent_in_sent_folder=3, exclusive=3)
    assert verdict(old).kind == "self"


def test_supporting_signals_alone_never_make_self():
    # a spouse: every message between us alone, I write and they never do
    s = AddressStats("lucy@home.example", received_from_me=40, exclusive=40, sole_recipient=5)
    assert verdict(s, FORMS).kind == "human"


def test_thresholds_are_configurable_and_checked():
    strict = build_config({"kinds": {"automated_threshold": 100.0}}).kinds
    s = AddressStats("notifications@svc.example", sent=1)
    assert decide(detect_automated(s, strict), strict).kind == "human"
    with pytest.raises(ConfigError, match=r"kinds\.template_share"):
        build_config({"kinds": {"template_share": 2.0}})
    with pytest.raises(ConfigError, match=r"kinds\.nonsense"):
        build_config({"kinds": {"nonsense": 1}})


def test_flag_value_puts_a_dormant_core_tie_before_a_fresh_acquaintance_reply():
    now = 1_000 * DAY
    core_dormant = flag_value("dormant", "core", now - 1 * DAY, now)
    acq_unanswered = flag_value("unanswered", "acquaintance", now - 3 * DAY, now)
    assert core_dormant.value > acq_unanswered.value
    # a stronger tie always outranks the same rule on a weaker one, however overdue
    assert (
        flag_value("dormant", "core", now, now).value
        > flag_value("dormant", "active", now - 400 * DAY, now).value
    )
    # within one tie, the older flag first
    assert flag_value("dormant", "core", now - 20 * DAY, now).value > core_dormant.value
    assert "tie strength 1 (core)" in core_dormant.explain("dormant", "core")


def test_a_few_numbered_messages_from_a_person_are_not_a_robot():
    s = AddressStats("ana@x.example", sent=3, sent_to_me=3, templates=templates(["0", "1", "2"]))
    assert verdict(s).kind == "human"
    invoices = AddressStats(
        "bo@x.example",
        sent=3,
        sent_to_me=3,
        templates=templates(["Invoice 1 attached", "Invoice 2 attached", "Invoice 3 attached"]),
    )
    v = verdict(invoices)
    assert v.kind == "human" and "subject_template" in signals(v)


def test_source_classifications_are_gmail_categories_and_outlook_other():
    assert is_source_category("CATEGORY_UPDATES") and is_source_category("OUTLOOK_OTHER")
    assert not is_source_category("CATEGORY_PERSONAL") and not is_source_category("list-id")


def _store(tmp_path):
    from datetime import UTC, datetime, timedelta

    from syncd.store.db import open_db
    from tests.support.helpers import import_mail, message

    me = "ana.ruiz@corp.example"
    base = datetime(2026, 2, 1, tzinfo=UTC)
    msgs = [
        message(
            sender="alerts@ci.example",
            to=me,
            subject=f"Build {i} failed",
            date=base + timedelta(hours=i),
        )
        for i in range(6)
    ] + [
        message(
            sender=me, to="aruiz@home.example", subject=f"fwd {i}", date=base + timedelta(days=i)
        )
        for i in range(3)
    ]
    import_mail(tmp_path, {"INBOX": msgs}, [me])
    return open_db(tmp_path / "home" / "syncd.db")


def _kind(db, address):
    from syncd.pipeline.identity import resolve_person
    from syncd.pipeline.kinds import kinds_of

    person = resolve_person(db, address)
    return kinds_of(db, [person])[person]


def test_classify_stores_evidence_skips_unchanged_stores_and_keeps_corrections(tmp_path):
    from syncd.pipeline.identity import resolve_person
    from syncd.pipeline.kinds import classify, excluded, set_kind

    db = _store(tmp_path)
    with db.atomic():
        assert classify(db, T) == 2
    robot, alias = _kind(db, "alerts@ci.example"), _kind(db, "aruiz@home.example")
    assert (robot.kind, robot.source, alias.kind) == ("automated", "inferred", "self")
    assert {e["signal"] for e in robot.evidence} >= {"one_way", "subject_template"}
    with db.atomic():
        assert classify(db, T) == 0  # nothing changed: not even read again
    set_kind(db, resolve_person(db, "alerts@ci.example"), "human")
    with db.atomic():
        classify(db, T, force=True)
        others = excluded(db, T)
    assert _kind(db, "alerts@ci.example").source == "user"
    assert resolve_person(db, "alerts@ci.example") not in others
    assert resolve_person(db, "aruiz@home.example") in others


def test_auto_self_off_leaves_candidates_human_with_their_evidence(tmp_path):
    from syncd.pipeline.kinds import classify

    db = _store(tmp_path)
    with db.atomic():
        classify(db, {**T, "auto_self": False})
    alias = _kind(db, "aruiz@home.example")
    assert alias.kind == "human" and "name_form" in {e["signal"] for e in alias.evidence}


def test_a_kind_changes_while_its_person_is_already_marked_for_the_rules(tmp_path):
    # the change-mark triggers use INSERT OR IGNORE; an upsert would override that
    from syncd.pipeline.kinds import classify

    db = _store(tmp_path)
    with db.atomic():
        classify(db, T)  # marks the robot and the alias for the rules engine
        classify(db, {**T, "automated_threshold": 100.0})  # the robot is human again
    assert _kind(db, "alerts@ci.example").kind == "human"
    marked = {p for (p,) in db.execute("SELECT person_id FROM rules_dirty_people")}
    assert len(marked) >= 2
