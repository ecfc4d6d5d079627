"""Who appears together with whom: shared messages and meetings (read-only).

Two people co-occur when both are touchpoints of one logical message (both
recipients of mail you sent) or one meeting (both attendees). The dashboard's
network map draws these links between the core and active people.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

from syncd.store.db import select_in


def cooccurrences(db: sqlite_utils.Database, people: Iterable[int], now: int) -> dict:
    """``{(a, b): n}`` for ``a < b`` in ``people``: the messages and meetings up to ``now``
    that both are touchpoints of."""
    ids = sorted(set(people))
    if len(ids) < 2:
        return {}
    refs: dict[tuple[str, int], set[int]] = {}
    for kind, ref, person in select_in(
        db,
        "SELECT DISTINCT t.kind, t.ref, a.person_id FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address"
        " WHERE a.person_id IN (?...) AND t.at <= ? AND t.kind IN ('email_out', 'meeting')",
        ids,
        after=(now,),
    ):
        refs.setdefault((kind, ref), set()).add(person)
    pairs: dict[tuple[int, int], int] = {}
    for members in refs.values():
        if len(members) < 2:
            continue
        ordered = sorted(members)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                pairs[(a, b)] = pairs.get((a, b), 0) + 1
    return pairs
