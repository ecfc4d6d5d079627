"""``syncd people`` and ``syncd why`` read the rules engine's cache and ranking index; what
they show equals the independent full computation (:func:`compute_people`) and the
previous whole-ranking arithmetic of ``why``.

The store mixes what changes the figures: pins (one pinned above its score, one
below), a non-human kind (ranked as an acquaintance), a person with two addresses,
display names on touchpoints and given by the user, tags, and someone with only an
upcoming meeting.
"""

from __future__ import annotations

from rules.base import DAY
from rules.engine import evaluate
from rules.settings import build_config
from rules.tiers import assign_tiers, rank_people, score_at
from syncd.pipeline.identity import my_keys
from syncd.pipeline.kinds import excluded, nonhuman, set_kind
from syncd.pipeline.tags import add_tags
from syncd.report.people import compute_people, top_people
from syncd.report.why import why_data
from syncd.store.db import open_db
from tests.support.synthetic import World

NOW = 1_700_000_000
CONFIG = build_config({"tiers": {"core": 3, "active": 4, "network": 5}})


def _store():
    db = open_db(":memory:")
    w = World(db)
    t0 = NOW - 500 * DAY
    people = [f"p{i:02d}@x.org" for i in range(24)]
    for i, address in enumerate(people):
        for j in range((i * 7) % 11 + 1):
            w.mail_out(address, t0 + (i * 13 + j * 17) * DAY, f"s{i}")
            if (i + j) % 3:
                w.mail_in(address, t0 + (i * 13 + j * 17) * DAY + 3600, f"Re: s{i}")
        if i % 4 == 0:
            w.meeting([address, people[(i + 1) % 24]], t0 + (i * 11) * DAY)
    w.alias(w.person(people[5]), "p05.home@y.org")
    w.mail_in("p05.home@y.org", NOW - 3 * DAY, "from home")
    w.meeting("future@x.org", NOW + 5 * DAY)  # an upcoming meeting only
    w.pin(w.person(people[0]), "core")
    w.pin(w.person(people[22]), "acquaintance")
    set_kind(db, w.person(people[21]), "automated")
    add_tags(db, w.person(people[7]), ["investor"])
    with db.atomic():
        db.execute("UPDATE touchpoints SET name = 'Name ' || address WHERE address LIKE 'p1%'")
        db.execute("UPDATE people SET name = 'Given Name' WHERE id = ?", [w.person(people[12])])
    evaluate(db, NOW, CONFIG, my_keys=my_keys, excluded=excluded)
    return db


def test_top_people_equals_compute_people():
    db = _store()
    everyone = compute_people(db, NOW, half_life_days=CONFIG.half_life_days, sizes=CONFIG.sizes)
    assert {p.tier for p in everyone} == {"core", "active", "network", "acquaintance"}
    for limit in (0, 1, 5, len(everyone), len(everyone) + 3, -1):
        total, first = top_people(db, NOW, CONFIG, limit)
        assert total == len(everyone)
        assert [p.as_json() for p in first] == [p.as_json() for p in everyone[:limit]]


def test_top_people_declines_a_stale_cache():
    db = _store()
    assert top_people(db, NOW + 1, CONFIG, 5) is None  # evaluated at another instant
    World(db).mail_in("p03@x.org", NOW - 10, "new")
    assert top_people(db, NOW, CONFIG, 5) is None  # a change not yet evaluated


def _why_by_whole_ranking(db, person: int) -> tuple:
    """``rank``, ``ranked_people`` and ``tier_cutoffs`` as ``why`` computed them before:
    from every cached score at ``NOW``, ranked and tiered in Python."""
    rows = db.execute("SELECT person_id, given, received, last_touch FROM rules_people")
    inputs = rows.fetchall()
    scores = {p: score_at(g, r, NOW, CONFIG.k).total for p, g, r, _ in inputs}
    last = {p: t for p, _, _, t in inputs}
    pins = dict(db.execute("SELECT id, tier_pin FROM people WHERE tier_pin IS NOT NULL"))
    pins.update((p, "acquaintance") for p in nonhuman(db))
    ranking = rank_people(scores, last, pins)
    tiers = assign_tiers(scores, last, pins, CONFIG.sizes)
    cutoffs = {}
    for tier in ("core", "active", "network"):
        members = [scores[p] for p in ranking if tiers.get(p) == tier]
        if members:
            cutoffs[tier] = round(min(members), 4)
    return (ranking.index(person) + 1 if person in ranking else None), len(ranking), cutoffs


def test_why_rank_equals_the_whole_ranking():
    db = _store()
    for (person,) in db.execute("SELECT id FROM people ORDER BY id").fetchall():
        d = why_data(db, NOW, CONFIG, person)
        expected = _why_by_whole_ranking(db, person)
        assert (d["rank"], d["ranked_people"], d["tier_cutoffs"]) == expected, person
    assert set(why_data(db, NOW, CONFIG, 1)["tier_cutoffs"]) == {"core", "active", "network"}
