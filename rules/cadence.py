"""Silence rules: ``dormant``, ``three_touches`` and ``reactivate``.

All three look at when the person was last (or last often enough) in touch.
Their cycle is the touch that started the silence, so a new touch starts a new
cycle and the open flag is closed as done.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rules.base import DAY, Explanation, Finding, Rule, Settings, Subject, day, days, plural

CADENCE_KEYS = {"core": "core_days", "active": "active_days", "network": "network_days"}


def _past_due(now: int, due: int) -> str:
    if now > due:
        return f"now {day(now)} is {days(now - due)} past due"
    return f"now {day(now)}: due in {days(due - now)}"


def _last_line(facts: dict[str, Any]) -> str:
    if facts.get("manual"):
        return (
            f"last touch {day(facts['last_touch'])} (recorded by you: `syncd done` or `syncd log`)"
        )
    return f"last touch {day(facts['last_touch'])}"


# -- dormant --------------------------------------------------------------------


def cadence_of(s: Subject, c: Settings) -> tuple[int, str | None] | None:
    """The person's cadence in days and the tag it comes from (None: the tier's).

    A tag with a cadence (``[rules.tags.NAME] cadence_days``) overrides the tier's,
    longer or shorter; with several such tags the shortest wins. Without one, only
    the core / active / network tiers have a cadence.
    """
    tag_days = c.get("tag_days", {})
    tagged = [(tag_days[t], t) for t in s.tags if t in tag_days]
    if tagged:
        return min(tagged)
    if s.tier in CADENCE_KEYS:
        return c[CADENCE_KEYS[s.tier]], None
    return None


def dormant_applies(s: Subject, c: Settings) -> bool:
    """Touched at least once, with a cadence: a tag's, or a tier's (core / active / network)."""
    if s.last_touch is None:
        return False
    if not s.tags:  # most people: only the tier can give a cadence
        return s.tier in CADENCE_KEYS
    return cadence_of(s, c) is not None


def dormant(s: Subject, c: Settings) -> list[Finding]:
    """No touchpoint for longer than the cadence (tag or tier), and none upcoming."""
    if c["upcoming_suppresses"] and s.agg.next_meeting is not None:
        return []
    last = s.last_touch
    found = cadence_of(s, c)
    assert last is not None and found is not None
    cadence, tag = found
    facts = {
        "tier": s.tier,
        "pinned": s.pinned,
        "cadence_days": cadence,
        "tag": tag,
        "last_touch": last,
        "manual": s.manual_touch is not None and last == s.manual_touch,
    }
    return [Finding("dormant", s.id, str(last), last + cadence * DAY, facts)]


def explain_dormant(f: dict[str, Any], now: int) -> Explanation:
    """Days of silence against the cadence (the tier's, or a tag's)."""
    tier = f["tier"] + (" (pinned)" if f.get("pinned") else "")
    tag = f.get("tag")
    whose = f"'{tag}' tag's" if tag else f["tier"]
    source = f"tag '{tag}' cadence, {tier} tier" if tag else f"{tier} cadence"
    if now <= f["due"]:
        reason = (
            f"Last touch {days(now - f['last_touch'])} ago; the {whose} cadence of"
            f" {f['cadence_days']} days runs out on {day(f['due'])}"
        )
    else:
        reason = (
            f"No touch for {days(now - f['last_touch'])} (since {day(f['last_touch'])});"
            f" the {whose} cadence is {f['cadence_days']} days"
        )
    return Explanation(
        reason,
        [
            f"{_last_line(f)} + {f['cadence_days']} days ({source}) = due {day(f['due'])}",
            f"{_past_due(now, f['due'])}; no upcoming meeting",
        ],
    )


# -- three_touches --------------------------------------------------------------


def three_touches_applies(s: Subject, c: Settings) -> bool:
    """A tier the rule covers (default core and active) and at least one touch."""
    return s.tier in c["tiers"] and s.agg.touches > 0


def three_touches_needs(s: Subject, c: Settings) -> dict[str, int]:
    """All past touch times."""
    return {"history": 0}


def episode_start(history: Sequence[tuple[int, str]], minimum: int, window: int) -> int:
    """When the current stretch of "fewer than ``minimum`` touches in ``window``" starts.

    ``history`` holds past touches ``(at, kind)``, newest first. The count at
    ``x`` is the number of touches in ``[x - window, x]``; it drops below
    ``minimum`` just after ``r_i + window`` when the ``minimum - 1`` touches
    newer than ``r_i`` all lie within ``window`` of it. The latest such instant
    is returned (in the future when the count is still high enough now); with
    no such instant ever, a relationship gets one window from its first touch.
    Usually only the newest ``minimum`` touches are read.
    """
    for i in range(minimum - 1, len(history)):
        if history[i - minimum + 1][0] <= history[i][0] + window:
            return history[i][0] + window
    return history[len(history) - 1][0] + window


def three_touches(s: Subject, c: Settings) -> list[Finding]:
    """Fewer than ``min_touches`` touchpoints in the trailing ``window_days``."""
    history = s.history
    assert history is not None
    if not len(history):
        return []
    minimum, window = c["min_touches"], c["window_days"] * DAY
    due = episode_start(history, minimum, window)
    facts = {
        "tier": s.tier,
        "min_touches": minimum,
        "window_days": c["window_days"],
        "recent": [history[i][0] for i in range(min(minimum, len(history)))],
        "first_touch": s.agg.first_touch,
    }
    return [Finding("three_touches", s.id, str(due), due, facts)]


def explain_three_touches(f: dict[str, Any], now: int) -> Explanation:
    """The touches in the window and where the due date comes from."""
    window = f["window_days"] * DAY
    minimum = f["min_touches"]
    recent = f["recent"]
    count = sum(1 for t in recent if now - window <= t <= now)
    dates = ", ".join(day(t) for t in recent) or "none"
    if len(recent) >= minimum and f["due"] == recent[minimum - 1] + window:
        origin = f"touch #{minimum} from the newest ({day(recent[minimum - 1])})"
    elif f["due"] == f["first_touch"] + window:
        origin = f"the first touch ({day(f['first_touch'])})"
    else:
        origin = "the last time the count fell below the minimum"
    if now <= f["due"]:
        # only the newest `minimum` touches are kept: a full count means "at least"
        counted = f"At least {minimum} touches" if count >= minimum else plural(count, "touch")
        reason = (
            f"{counted} in the last {f['window_days']} days; below {minimum}"
            f" from {day(f['due'])} unless you get in touch"
        )
    else:
        reason = (
            f"Only {plural(count, 'touch')} in the last {f['window_days']} days;"
            f" the {f['tier']} tier aims at {minimum} a year"
        )
    return Explanation(
        reason,
        [
            f"touches in [{day(now - window)}, {day(now)}]: {count} < {minimum}"
            f" (most recent: {dates})",
            f"{origin} + {f['window_days']} days = due {day(f['due'])}; {_past_due(now, f['due'])}",
        ],
    )


# -- reactivate -------------------------------------------------------------------


def exchanges(s: Subject) -> int:
    """Two-way exchanges: meetings plus matched pairs of inbound and outbound mail."""
    return s.agg.exchanges


def reactivate_applies(s: Subject, c: Settings) -> bool:
    """A strong history: at least ``min_exchanges`` two-way exchanges."""
    return s.last_touch is not None and exchanges(s) >= c["min_exchanges"]


def reactivate(s: Subject, c: Settings) -> list[Finding]:
    """A strong tie with no touch for ``silent_days``."""
    if c["upcoming_suppresses"] and s.agg.next_meeting is not None:
        return []
    last = s.last_touch
    assert last is not None
    facts = {
        "tier": s.tier,
        "exchanges": exchanges(s),
        "n_in": s.agg.n_in,
        "n_out": s.agg.n_out,
        "n_meet": s.agg.n_meet,
        "min_exchanges": c["min_exchanges"],
        "silent_days": c["silent_days"],
        "last_touch": last,
        "manual": s.manual_touch is not None and last == s.manual_touch,
    }
    return [Finding("reactivate", s.id, str(last), last + c["silent_days"] * DAY, facts)]


def explain_reactivate(f: dict[str, Any], now: int) -> Explanation:
    """The strength of the tie and the length of the silence."""
    if now <= f["due"]:
        reason = (
            f"A strong tie ({f['exchanges']} two-way exchanges); silent since"
            f" {day(f['last_touch'])}, due for reconnecting on {day(f['due'])}"
        )
    else:
        reason = (
            f"A strong tie ({f['exchanges']} two-way exchanges) silent for"
            f" {days(now - f['last_touch'])}: worth reconnecting"
        )
    return Explanation(
        reason,
        [
            f"exchanges = min({f['n_in']} in, {f['n_out']} out) + {f['n_meet']} meetings"
            f" = {f['exchanges']} >= {f['min_exchanges']}",
            f"{_last_line(f)} + {f['silent_days']} days = due {day(f['due'])};"
            f" {_past_due(now, f['due'])}; no upcoming meeting",
        ],
    )


RULES = (
    Rule(
        "dormant",
        "no touch (and none upcoming) for longer than the tier's (or a tag's) cadence",
        dormant_applies,
        dormant,
        explain_dormant,
    ),
    Rule(
        "three_touches",
        "fewer than three touches in the trailing year",
        three_touches_applies,
        three_touches,
        explain_three_touches,
        three_touches_needs,
    ),
    Rule(
        "reactivate",
        "a strong tie silent for half a year",
        reactivate_applies,
        reactivate,
        explain_reactivate,
    ),
)
