"""The value of acting on a flag: tie strength × urgency (design.md §3, issue 14).

``syncd flags``, the calendar planner and the digest all order flags by this value,
highest first, so the first screen holds the people most worth a reach-out: a dormant
core tie comes before a three-day-old unanswered message from an acquaintance.

- **Tie strength** comes from the tier: core 1.0, active 0.6, network 0.3,
  acquaintance 0.1.
- **Urgency** is the rule's weight (a message waiting for your reply or a meeting
  without a follow-up first, a one-sided balance last) times
  ``1 + 0.5 · min(overdue, 30 days) / 30 days``: a flag overdue for a month counts half
  as much again as one just due, never enough to lift a flag above the same rule's
  flag on a stronger tie.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DAY = 86400
TIE_STRENGTH = {"core": 1.0, "active": 0.6, "network": 0.3, "acquaintance": 0.1}
RULE_URGENCY = {
    "unanswered": 1.0,
    "meeting_follow_up": 0.95,
    "reactivate": 0.9,
    "dormant": 0.7,
    "nurture": 0.6,
    "intro_followup": 0.5,
    "celebration": 0.45,
    "three_touches": 0.4,
    "reciprocity": 0.25,
}
OVERDUE_DAYS = 30
OVERDUE_BONUS = 0.5  # at most: below the tier ratio, so a tier always outranks the next
UNKNOWN_RULE = 0.3


@dataclass(frozen=True, slots=True)
class Value:
    """A flag's value and its two factors."""

    value: float
    tie: float
    urgency: float
    overdue_days: float

    def explain(self, rule: str, tier: str) -> str:
        """The arithmetic, as one line for ``syncd why``."""
        base = RULE_URGENCY.get(rule, UNKNOWN_RULE)
        return (
            f"value {self.value:.3f} = tie strength {self.tie:g} ({tier})"
            f" × urgency {self.urgency:.3f} ({rule} {base:g}"
            f" × (1 + {OVERDUE_BONUS:g} · min({self.overdue_days:.0f} days overdue,"
            f" {OVERDUE_DAYS}) / {OVERDUE_DAYS}))"
        )


def flag_value(rule: str, tier: str, due: int, now: int) -> Value:
    """The value of a flag of ``rule`` on a person of ``tier``, due at ``due``, at ``now``."""
    overdue = max(0.0, (now - due) / DAY)
    tie = TIE_STRENGTH.get(tier, TIE_STRENGTH["acquaintance"])
    late = OVERDUE_BONUS * min(overdue, OVERDUE_DAYS) / OVERDUE_DAYS
    urgency = RULE_URGENCY.get(rule, UNKNOWN_RULE) * (1 + late)
    return Value(round(tie * urgency, 6), tie, round(urgency, 6), overdue)


def values_of(items: Iterable[tuple[str, str, int]], now: int) -> list[float]:
    """``flag_value(rule, tier, due, now).value`` of each ``(rule, tier, due)``, the same
    arithmetic in one loop (ranking thousands of flags)."""
    ties, urgencies = TIE_STRENGTH, RULE_URGENCY
    default_tie = ties["acquaintance"]
    capped_since = now - OVERDUE_DAYS * DAY  # due by then: the bonus is at its cap
    capped: dict[tuple[str, str], float] = {}
    out = []
    for rule, tier, due in items:
        if due <= capped_since and (rule, tier) in capped:
            out.append(capped[rule, tier])
            continue
        overdue = max(0.0, (now - due) / DAY)
        late = OVERDUE_BONUS * min(overdue, OVERDUE_DAYS) / OVERDUE_DAYS
        value = round(
            ties.get(tier, default_tie) * (urgencies.get(rule, UNKNOWN_RULE) * (1 + late)), 6
        )
        if due <= capped_since:
            capped[rule, tier] = value
        out.append(value)
    return out
