"""Tiers (Dunbar 15 / 50 / 150) from a recency-weighted, two-way interaction score.

Each touchpoint weighs ``0.5 ** (age_days / half_life)``. Outbound mail and
meetings count as *given*, inbound mail and meetings as *received*;
``score = 2·sqrt(given·received) + 0.25·(given + received)``, so two-way ties
rank above one-way ones of the same volume. The top 15 scored people are
``core``, the next 50 ``active``, the next 85 ``network``; everyone else is an
``acquaintance``. Pinned tiers win and take their slot from the automatic ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TIERS = ("core", "active", "network")
DEFAULT_SIZES = {"core": 15, "active": 50, "network": 85}
ACQUAINTANCE = "acquaintance"
DEFAULT_HALF_LIFE_DAYS = 180.0


@dataclass(slots=True)
class Score:
    """The parts of one person's score, kept for ``syncd why``."""

    given: float = 0.0
    received: float = 0.0

    @property
    def total(self) -> float:
        """The ranking score."""
        return 2 * math.sqrt(self.given * self.received) + 0.25 * (self.given + self.received)


def touch_weight(age_seconds: float, half_life_days: float = DEFAULT_HALF_LIFE_DAYS) -> float:
    """The recency weight of a touchpoint ``age_seconds`` old."""
    return 0.5 ** (max(age_seconds, 0.0) / 86400.0 / half_life_days)


def add_touch(score: Score, kind: str, age_seconds: float, half_life_days: float) -> None:
    """Fold one touchpoint into ``score``."""
    w = touch_weight(age_seconds, half_life_days)
    if kind in ("email_out", "meeting"):
        score.given += w
    if kind in ("email_in", "meeting"):
        score.received += w


def assign_tiers(
    scores: dict[int, float],
    last_touch: dict[int, int],
    pins: dict[int, str],
    sizes: dict[str, int] | None = None,
) -> dict[int, str]:
    """Tier per person id: pins first, then the best scores fill what is left of each tier."""
    sizes = dict(sizes or DEFAULT_SIZES)
    tiers: dict[int, str] = {}
    for person, tier in pins.items():
        tiers[person] = tier
        if tier in sizes:
            sizes[tier] = max(sizes[tier] - 1, 0)
    ranked = sorted(
        (p for p, s in scores.items() if s > 0 and p not in pins),
        key=lambda p: (-scores[p], -last_touch.get(p, 0), p),
    )
    index = 0
    for tier in TIERS:
        for person in ranked[index : index + sizes[tier]]:
            tiers[person] = tier
        index += sizes[tier]
    for person in scores:
        tiers.setdefault(person, ACQUAINTANCE)
    return tiers
