"""Tiers (Dunbar 15 / 50 / 150) from a recency-weighted, two-way interaction score.

Each touchpoint weighs ``0.5 ** (age_days / half_life)``. Outbound mail and
meetings count as *given*, inbound mail and meetings as *received*;
``score = 2·sqrt(given·received) + 0.25·(given + received)``, so two-way ties
rank above one-way ones of the same volume. The top 15 scored people are
``core``, the next 50 ``active``, the next 85 ``network``; everyone else is an
``acquaintance``. Pinned tiers win and take their slot from the automatic ones.

Ranking compares scores rounded to 10 significant digits (then the later last
touch, then the lower id), so two ways of summing the same weights (a Python
loop, an SQL aggregate) always rank people identically.

Because every weight is ``2 ** ((at - now) / half_life)``, a person's given and
received sums can be cached as ``Σ 2 ** (at · k)`` (``k`` = 1 / half-life in
seconds) and scaled to any instant by ``2 ** (-now · k)`` (:func:`score_at`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

TIERS = ("core", "active", "network")
DEFAULT_SIZES = {"core": 15, "active": 50, "network": 85}
ACQUAINTANCE = "acquaintance"
ALL_TIERS = (*TIERS, ACQUAINTANCE)
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


def score_at(given_sum: float, received_sum: float, now: int, k: float) -> Score:
    """The score at ``now`` from cached sums of ``2 ** (at · k)`` (touches at or before ``now``)."""
    scale = 2.0 ** (-now * k)
    return Score(given=given_sum * scale, received=received_sum * scale)


def rank_key(score: float) -> float:
    """``score`` rounded to 10 significant digits: immune to summation-order noise."""
    return float(f"{score:.10g}")


def rank_score(given_sum: float, received_sum: float) -> float:
    """The stored ranking key of cached sums: :func:`rank_key` of the scale-free score.

    Scores at any instant are this score times one common factor, so the order
    (and so the tiers) does not depend on the instant.
    """
    return rank_key(Score(given_sum, received_sum).total)


def rank_people(
    scores: dict[int, float], last_touch: dict[int, int], pins: dict[int, str]
) -> list[int]:
    """Unpinned people with a positive score, best first (ties: later last touch, lower id)."""
    keys = {p: rank_key(s) for p, s in scores.items() if s > 0 and p not in pins}
    return sorted(keys, key=lambda p: (-keys[p], -last_touch.get(p, 0), p))


def assign_tiers(
    scores: dict[int, float],
    last_touch: dict[int, int],
    pins: dict[int, str],
    sizes: dict[str, int] | None = None,
) -> dict[int, str]:
    """Tier per person id: pins first, then the best scores fill what is left of each tier."""
    tiers = tiers_from_ranking(rank_people(scores, last_touch, pins), pins, sizes)
    for person in scores:
        tiers.setdefault(person, ACQUAINTANCE)
    return tiers


def tiers_from_ranking(
    ranked: list[int], pins: dict[int, str], sizes: dict[str, int] | None = None
) -> dict[int, str]:
    """Pinned tiers, then the best of ``ranked`` (unpinned people first) fill what is left.

    Returns only pinned and tiered people; everyone else is an acquaintance.
    """
    sizes = dict(sizes or DEFAULT_SIZES)
    tiers: dict[int, str] = {}
    for person, tier in pins.items():
        tiers[person] = tier
        if tier in sizes:
            sizes[tier] = max(sizes[tier] - 1, 0)
    free = [p for p in ranked if p not in pins]
    index = 0
    for tier in TIERS:
        for person in free[index : index + sizes[tier]]:
            tiers[person] = tier
        index += sizes[tier]
    return tiers


def explain_score(score: Score, half_life_days: float) -> list[str]:
    """How ``score`` was computed, as lines for ``syncd why``."""
    g, r = score.given, score.received
    return [
        f"score {score.total:.4f} = 2·√(given × received) + 0.25·(given + received)"
        f" = 2·√({g:.4f} × {r:.4f}) + 0.25·({g:.4f} + {r:.4f})",
        f"each touchpoint weighs 0.5^(age in days / {half_life_days:g}); outbound mail and"
        " meetings add to given, inbound mail and meetings to received",
    ]


def tier_rule_text(sizes: dict[str, int]) -> str:
    """One line stating how automatic tiers are assigned."""
    c, a, n = sizes["core"], sizes["active"], sizes["network"]
    return (
        f"tiers: the top {c} scores are core, the next {a} active, the next {n} network"
        f" ({c + a + n} in all), the rest acquaintance; pinned tiers win and use up a slot"
    )
