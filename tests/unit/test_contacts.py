"""Contacts: matching cards to people (address, unique name, else a candidate with a
suggestion), idempotent re-imports, contact_details, merge / split / undo in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.cards import CardFile, ContactCard
from rules.dirty import marked_people
from syncd.core.errors import UserError
from syncd.pipeline.contacts import Match, contact_details, import_cards, match_card
from syncd.pipeline.identity import AddressBook, name_key, person_addresses
from syncd.pipeline.merging import merge, split, undo_merge
from syncd.pipeline.tags import add_tags, remove_tags, tags_for
from syncd.store.db import open_db


def card(name=None, *emails, uid=None, **fields) -> ContactCard:
    return ContactCard(
        source="vcard",
        uid=uid or f"uid:{name}:{','.join(emails)}",
        locator="card",
        full_name=name,
        emails=tuple(emails),
        **fields,
    )


def cards(*items: ContactCard) -> list[CardFile]:
    return [CardFile(Path("contacts.vcf"), list(items))]


@pytest.fixture
def db(tmp_path):
    db = open_db(tmp_path / "syncd.db")
    with db.atomic():
        AddressBook(db).ensure(["ana@x.example", "bo@z.example", "bo.li@w.example", "jn@q.example"])
    # display names come from touchpoints; give the people names as the user would
    for address, name in [
        ("ana@x.example", "Ana Ruiz"),
        ("bo@z.example", "Bo Li"),
        ("bo.li@w.example", "Bo Li"),
        ("jn@q.example", "José Núñez"),
    ]:
        db.execute(
            "UPDATE people SET name = ? WHERE id = (SELECT person_id FROM addresses"
            " WHERE address = ?)",
            [name, address],
        )
    db.conn.commit()
    return db


def person(db, address: str) -> int:
    return db.execute("SELECT person_id FROM addresses WHERE address = ?", [address]).fetchone()[0]


def test_name_key_ignores_case_diacritics_and_spacing():
    assert name_key("  José   NÚÑEZ ") == name_key("jose nunez") == "jose nunez"


def test_match_card_is_a_pure_decision():
    owners = {"a@x": 1, "b@x": 2}
    names = {"ana ruiz": [1], "bo li": [2, 3]}
    assert match_card(card("Whoever", "b@x", "a@x"), owners, names) == Match("address", 2, (1,))
    assert match_card(card("ANA RUIZ", "new@x"), owners, names) == Match("name", 1)
    assert match_card(card("Bo Li"), owners, names) == Match("candidate", None, (2, 3))
    assert match_card(card("Nobody"), owners, names) == Match("candidate", None)


def test_import_matches_by_address_then_unique_name_else_candidate(db):
    result = import_cards(
        db,
        cards(
            card(
                "Ana R.",
                "ana@x.example",
                "ana@work.example",
                organization="Luz",
                birthday="--04-12",
            ),
            card("jose nunez", "jose@home.example", title="CTO"),
            card("Bo Li", "bo@home.example"),
            card("Cy Stranger", "cy@s.example", birthday="1990-01-02"),
        ),
    )
    assert (result.by_address, result.by_name, result.candidates) == (1, 1, 2)
    assert result.addresses == 4  # ana@work, jose@home, bo@home, cy@s
    ana, jose = person(db, "ana@x.example"), person(db, "jn@q.example")
    assert person(db, "ana@work.example") == ana
    assert person(db, "jose@home.example") == jose
    bo_card = person(db, "bo@home.example")
    assert bo_card not in (person(db, "bo@z.example"), person(db, "bo.li@w.example"))
    [suggestion] = result.suggestions
    assert suggestion.person == bo_card
    assert suggestion.people == (person(db, "bo@z.example"), person(db, "bo.li@w.example"))
    details = contact_details(db)
    assert details[ana].organization == "Luz" and details[ana].birthday == "--04-12"
    assert details[jose].title == "CTO" and details[jose].sources == ("vcard",)
    assert contact_details(db, [ana]).keys() == {ana}
    assert {ana, jose, bo_card} <= marked_people(db)


def test_the_same_cards_again_change_nothing_and_a_changed_card_is_updated(db):
    first = cards(card("Ana Ruiz", "ana@x.example", uid="u1", title="CTO"))
    import_cards(db, first)
    before = db.execute("SELECT * FROM contacts").fetchall()
    again = import_cards(db, first)
    assert (again.known, again.updated, again.by_address, again.candidates) == (1, 0, 0, 0)
    assert db.execute("SELECT * FROM contacts").fetchall() == before
    changed = import_cards(db, cards(card("Ana Ruiz", "ana@x.example", uid="u1", title="CEO")))
    assert (changed.known, changed.updated) == (0, 1)
    assert contact_details(db)[person(db, "ana@x.example")].title == "CEO"
    assert db.execute("SELECT count(*) FROM contacts").fetchone()[0] == 1


def test_merge_moves_cards_and_addresses_and_undo_puts_them_back(db):
    import_cards(db, cards(card("Bo Li", "bo@home.example", birthday="1980-05-06")))
    keep, cand = person(db, "bo@z.example"), person(db, "bo@home.example")
    change = merge(db, keep, cand)
    assert person(db, "bo@home.example") == keep
    assert contact_details(db)[keep].birthday == "1980-05-06"
    assert change.detail["addresses"] == ["bo@home.example"]
    assert db.execute("SELECT suggested FROM contacts").fetchone()[0] is None
    assert db.execute("SELECT 1 FROM people WHERE id = ?", [cand]).fetchone() is None
    undone = undo_merge(db, change.id)
    assert undone.detail["addresses"] == ["bo@home.example"]
    assert person(db, "bo@home.example") == cand
    assert contact_details(db)[cand].birthday == "1980-05-06"
    assert keep not in contact_details(db)
    with pytest.raises(UserError, match="no merge with id"):
        undo_merge(db, change.id)


def test_split_gives_an_address_and_its_cards_a_person_of_its_own(db):
    import_cards(db, cards(card("Bo Li", "bo.li@w.example", uid="w")))
    bo = person(db, "bo@z.example")
    merge(db, bo, person(db, "bo.li@w.example"))
    assert person_addresses(db, bo) == ["bo.li@w.example", "bo@z.example"]
    change = split(db, bo, "BO.LI@w.example")
    assert person(db, "bo.li@w.example") == change.other != bo
    assert change.detail == {"addresses": ["bo.li@w.example"], "contacts": [1]}
    assert contact_details(db)[change.other].sources == ("vcard",)
    with pytest.raises(UserError, match="nothing to split off"):
        split(db, bo, "bo@z.example")
    with pytest.raises(UserError, match="has no address"):
        split(db, bo, "nobody@z.example")


def test_categories_become_tags_and_an_undone_merge_gets_them_back(db):
    labelled = card("Cy New", "cy@new.example", categories=("Work Friends", "investor"))
    result = import_cards(db, cards(labelled))
    cy = person(db, "cy@new.example")
    assert result.tags == 2 and tags_for(db, [cy])[cy] == ("investor", "work-friends")
    remove_tags(db, cy, ["investor"])
    assert import_cards(db, cards(labelled)).known == 1
    assert tags_for(db, [cy])[cy] == ("work-friends",)  # a tag you took off stays off
    add_tags(db, cy, ["investor"])
    ana = person(db, "ana@x.example")
    change = merge(db, ana, cy)
    assert tags_for(db, [ana])[ana] == ("investor", "work-friends")
    undo_merge(db, change.id)
    assert tags_for(db, [cy])[cy] == ("investor", "work-friends")
