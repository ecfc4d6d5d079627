"""Properties of the engine on random timelines (hypothesis).

- A person is flagged ``dormant`` exactly when tiered, past the tier's cadence,
  with no upcoming meeting and not snoozed (tiers and touches come from
  ``syncd.report.people.compute_people``, an independent implementation).
- Snoozing and then touching closes the flag.
- Any sequence of incremental evaluations, at any instants, shows the same
  flags as one fresh evaluation at the last instant.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules.base import DAY, HOUR
from rules.flags import all_flags, shown_flags, snooze
from rules.settings import build_config
from syncd.report.people import compute_people
from syncd.store.db import open_db
from tests.support.synthetic import World, evaluate

T0 = 1_000_000_000
CONFIG = build_config({})
CADENCE = {"core": 30, "active": 90, "network": 365}
PEOPLE = [f"p{i}@x.org" for i in range(8)]

touch = st.tuples(
    st.sampled_from(["in", "out", "meeting"]),
    st.lists(st.integers(0, len(PEOPLE) - 1), min_size=1, max_size=3, unique=True),
    st.integers(0, 500 * 24),  # hours after T0
)
pins = st.dictionaries(
    st.integers(0, len(PEOPLE) - 1), st.sampled_from(["core", "active", "network", "acquaintance"])
)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def apply(w: World, event) -> None:
    kind, who, hours = event
    at = T0 + hours * HOUR
    addresses = [PEOPLE[i] for i in who]
    if kind == "in":
        w.mail_in(addresses[0], at, f"subject {hours % 7}")
    elif kind == "out":
        w.mail_out(addresses, at, f"subject {hours % 5}")
    else:
        w.meeting(addresses, at, f"meeting {hours}")


def build(events, pinned) -> tuple:
    db = open_db(":memory:")
    w = World(db)
    for address in PEOPLE:
        w.person(address)
    for event in events:
        apply(w, event)
    for i, tier in pinned.items():
        w.pin(w.person(PEOPLE[i]), tier)
    return db, w


def expected_dormant(
    db, now: int, snoozed: dict[int, int] | None = None, touched: dict[int, int] | None = None
) -> set[int]:
    """Who is dormant at ``now``. A snooze (``snoozed``: person -> until) holds only for the
    silence it was given for: a touch after it (a last touch other than ``touched``'s)
    closes that flag, and the next silence is a new flag that nobody snoozed."""
    out = set()
    for p in compute_people(db, now):
        if p.tier not in CADENCE or p.last_touch is None or p.upcoming is not None:
            continue
        until = (snoozed or {}).get(p.id, 0)
        if touched is not None and touched.get(p.id) != p.last_touch:
            until = 0
        if now - p.last_touch > CADENCE[p.tier] * DAY and until <= now:
            out.add(p.id)
    return out


def dormant(db, now: int) -> set[int]:
    return {f.person_id for f in shown_flags(db, now, rule="dormant")}


@SETTINGS
@given(
    st.lists(touch, min_size=1, max_size=25),
    pins,
    st.integers(0, 900),
    st.data(),
)
def test_dormant_exactly_when_tiered_past_cadence_not_upcoming_not_snoozed(
    events, pinned, now_days, data
):
    db, _ = build(events, pinned)
    now = T0 + now_days * DAY + 7
    evaluate(db, now, CONFIG)
    assert dormant(db, now) == expected_dormant(db, now)
    flags = shown_flags(db, now, rule="dormant")
    chosen = data.draw(st.lists(st.sampled_from(flags), unique_by=lambda f: f.id)) if flags else []
    until = {f.person_id: now + data.draw(st.integers(1, 60)) * DAY for f in chosen}
    for f in chosen:
        snooze(db, [f], until[f.person_id], now)
    touched = {p.id: p.last_touch for p in compute_people(db, now)}
    later = now + data.draw(st.integers(0, 90)) * DAY
    evaluate(db, later, CONFIG)
    assert dormant(db, later) == expected_dormant(db, later, until, touched)


@SETTINGS
@given(st.lists(touch, min_size=1, max_size=20), st.integers(40, 900), st.data())
def test_snoozing_then_touching_closes_the_flag(events, now_days, data):
    db, w = build(events, {})
    now = T0 + now_days * DAY
    evaluate(db, now, CONFIG)
    # Rules that one touch settles (three touches and reciprocity need more than one).
    one_touch = ("dormant", "reactivate", "unanswered", "nurture", "meeting_follow_up")
    # A flag that expires before the touch arrives is closed as expired, not by the touch.
    flags = [
        f
        for f in shown_flags(db, now)
        if f.rule in one_touch and (f.expires is None or f.expires > now + HOUR)
    ]
    if not flags:
        return
    flag = data.draw(st.sampled_from(flags))
    snooze(db, [flag], now + 365 * DAY, now)
    address = db.execute(
        "SELECT address FROM addresses WHERE person_id = ?", [flag.person_id]
    ).fetchone()[0]
    w.mail_out(address, now + HOUR, "Re: " + flag.facts.get("subject", "catching up"))
    evaluate(db, now + 2 * HOUR, CONFIG)
    (stored,) = [f for f in all_flags(db) if f.id == flag.id]
    assert (stored.status, stored.resolution) == ("done", "touch")
    assert flag.id not in {f.id for f in shown_flags(db, now + 366 * DAY)}


@SETTINGS
@given(
    st.lists(st.tuples(st.lists(touch, max_size=6), st.integers(0, 900)), min_size=1, max_size=6),
    pins,
    st.integers(0, 900),
)
def test_incremental_evaluation_equals_a_fresh_full_one(batches, pinned, final_days):
    db, w = build([], pinned)
    everything = []
    for events, now_days in batches:
        for event in events:
            apply(w, event)
        everything.extend(events)
        evaluate(db, T0 + now_days * DAY + 5, CONFIG)
    final = T0 + final_days * DAY + 3
    evaluate(db, final, CONFIG)
    reference, _ = build(everything, pinned)
    evaluate(reference, final, CONFIG)

    def view(store):
        return {f.id: (f.due, f.expires, f.facts) for f in shown_flags(store, final)}

    assert view(db) == view(reference)
    tiers = "SELECT person_id, tier FROM rules_people ORDER BY person_id"
    assert db.execute(tiers).fetchall() == reference.execute(tiers).fetchall()
