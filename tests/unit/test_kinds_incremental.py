"""Person kinds inferred incrementally (only the messages added since the last pass folded
into the stored per-address statistics) are exactly those a full pass infers, after any
sequence of imports, new copies, merges, splits, new addresses and corrections."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.settings import build_config
from syncd.mail.addresses import match_key
from syncd.pipeline import address_stats, kinds
from syncd.pipeline.identity import add_my_addresses, merge_people
from syncd.pipeline.merging import split
from syncd.store.db import open_db
from tests.support.kinds_passes import full_pass_kinds, stored_kinds

# low thresholds: small stores reach every detector
T = {**build_config({}).kinds, "one_way_min": 2, "template_min": 2, "group_min_writers": 2}
ME = "ana.ruiz@corp.example"
POOL = [
    ME,
    "aruiz@home.example",
    "alerts@ci.example",
    "news@lists.corp.example",
    "bo.lee@x.example",
    "bo.lee+work@x.example",
    "cy@x.example",
    "di@y.example",
    "team@corp.example",
    "ed@z.example",
]
NAMES = ["", "Ana Ruiz", "Bo Lee", "Notifications", "Cy", "Team"]
SUBJECTS = ["Build {n} failed", "hello", "re: plan", "Invoice {n} attached", "lunch?", ""]
SIGNALS = ["", "", "CATEGORY_UPDATES", "list-id", "OUTLOOK_OTHER"]
FOLDERS = [("INBOX", None), ("INBOX", '["CATEGORY_PROMOTIONS"]'), ("Sent Items", None)]
FOLDERS += [("All", '["SENT"]'), ("All", '["CATEGORY_PERSONAL"]')]


class Store:
    """A small store written the way ingest writes messages, copies and people."""

    def __init__(self, rng: random.Random) -> None:
        self.db = open_db(":memory:")
        self.rng = rng
        self.serial = 0
        with self.db.atomic():
            self.account = self.db.execute(
                "INSERT INTO accounts(name, kind) VALUES ('t', 'local')"
            ).lastrowid
        add_my_addresses(self.db, [ME], source="user")

    def person_of(self, address: str) -> int:
        row = self.db.execute(
            "SELECT person_id FROM addresses WHERE address = ?", [address]
        ).fetchone()
        if row:
            return row[0]
        pid = self.db.execute("INSERT INTO people(name) VALUES (NULL)").lastrowid
        self.db.execute(
            "INSERT INTO addresses(address, match_key, person_id) VALUES (?, ?, ?)",
            [address, match_key(address), pid],
        )
        return pid

    def copy(self, mid: int) -> None:
        self.serial += 1
        folder, labels = self.rng.choice(FOLDERS)
        self.db.execute(
            "INSERT INTO observations(account_id, folder, content_hash, locator, headers,"
            " labels, message_id) VALUES (?, ?, ?, ?, '{}', ?, ?)",
            [self.account, folder, f"h{self.serial}", f"uid:{self.serial}", labels, mid],
        )

    def mail(self, display_names: list[str] = NAMES) -> None:
        rng = self.rng
        with self.db.atomic():
            for _ in range(rng.randint(1, 4)):
                sender = rng.choice([*POOL, None])
                to, cc, bcc = (rng.sample(POOL, rng.randint(0, n)) for n in (2, 2, 1))
                names = {
                    a: rng.choice(display_names) for a in [sender, *to] if a and rng.random() < 0.5
                }
                subject = rng.choice(SUBJECTS).format(n=rng.randint(1, 9))
                self.serial += 1
                mid = self.db.execute(
                    "INSERT INTO messages(canonical_hash, sender, sent_at, subject, recipients,"
                    " signals, names) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        f"c{self.serial}",
                        sender,
                        self.serial,
                        subject,
                        json.dumps({"to": to, "cc": cc, "bcc": bcc}),
                        rng.choice(SIGNALS),
                        json.dumps(names),
                    ],
                ).lastrowid
                for address in {sender, *to, *cc, *bcc} - {None}:
                    self.person_of(address)
                for _ in range(rng.randint(0, 2)):
                    self.copy(mid)

    def people(self) -> list[int]:
        return [p for (p,) in self.db.execute("SELECT id FROM people ORDER BY id")]

    def step(self) -> None:
        """One random change to the store."""
        rng, db = self.rng, self.db
        action = rng.choice(["mail"] * 6 + ["copy", "merge", "split", "alias", "kind", "me"])
        people = self.people()
        if action == "copy" and people:
            top = db.execute("SELECT max(id) FROM messages").fetchone()[0]
            if top:
                with db.atomic():
                    self.copy(rng.randint(1, top))
        elif action == "merge" and len(people) >= 2:
            keep, other = rng.sample(people, 2)
            merge_people(db, keep, other)
        elif action == "split":
            rows = list(db.execute("SELECT address, person_id FROM addresses"))
            by: dict[int, list[str]] = {}
            for address, person in rows:
                by.setdefault(person, []).append(address)
            several = [(p, a) for p, a in by.items() if len({match_key(x) for x in a}) >= 2]
            if several:
                person, addresses = rng.choice(several)
                split(db, person, rng.choice(addresses))
        elif action == "alias" and people:
            with db.atomic():
                self.serial += 1
                db.execute(
                    "INSERT INTO addresses(address, match_key, person_id) VALUES (?, ?, ?)",
                    [f"new{self.serial}@else.example", f"new{self.serial}", rng.choice(people)],
                )
        elif action == "kind" and people:
            kinds.set_kind(db, rng.choice(people), rng.choice([None, None, "human", "list"]))
        elif action == "me" and rng.random() < 0.3:
            add_my_addresses(db, ["aruiz@home.example"], source="user")
        else:
            self.mail()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 14))
def test_incremental_kinds_equal_a_full_pass_after_any_changes(seed, steps):
    store = Store(random.Random(seed))
    for _ in range(steps):
        store.step()
        with store.db.atomic():
            kinds.classify(store.db, T)
        assert stored_kinds(store.db) == full_pass_kinds(store.db, T)


def test_new_messages_alone_are_folded_without_a_full_pass(monkeypatch):
    store = Store(random.Random(7))
    for _ in range(4):
        store.mail()
    with store.db.atomic():
        kinds.classify(store.db, T)
    assert store.db.execute("SELECT count(*) FROM address_stats").fetchone()[0] > 0

    def no_full_pass(*args, **kwargs):
        raise AssertionError("a full pass over every message")

    monkeypatch.setattr(address_stats, "gather_stats", no_full_pass)
    monkeypatch.setattr(kinds, "_my_identity", no_full_pass)
    for _ in range(5):
        store.mail(display_names=[""])  # no new display name of mine
        with store.db.atomic():
            kinds.classify(store.db, T)
    monkeypatch.undo()
    assert stored_kinds(store.db) == full_pass_kinds(store.db, T)
    assert any(kind != "human" for _, kind, _, _ in stored_kinds(store.db))


class FullPass(Exception):
    """Raised where a full pass would read every message."""


def test_a_new_copy_of_a_stored_message_makes_a_full_pass(monkeypatch):
    store = Store(random.Random(3))
    store.mail()
    with store.db.atomic():
        kinds.classify(store.db, T)
        store.copy(1)  # its folder and labels count: the stored statistics cannot tell

    def full_pass(*args, **kwargs):
        raise FullPass

    monkeypatch.setattr(address_stats, "gather_stats", full_pass)
    with pytest.raises(FullPass), store.db.atomic():
        kinds.classify(store.db, T)
