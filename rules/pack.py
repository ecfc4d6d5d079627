"""The built-in rule pack, in the order of design.md §3."""

from __future__ import annotations

from rules import cadence, celebrations, conversation, introductions
from rules.base import Rule

ORDER = (
    "dormant",
    "three_touches",
    "meeting_follow_up",
    "unanswered",
    "reciprocity",
    "reactivate",
    "nurture",
    "intro_followup",
    "celebration",
)

RULES: dict[str, Rule] = {
    r.id: r
    for r in sorted(
        (*cadence.RULES, *conversation.RULES, *introductions.RULES, *celebrations.RULES),
        key=lambda r: ORDER.index(r.id),
    )
}
