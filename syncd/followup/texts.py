"""The words of a follow-up event: its title (who and why) and its description
(every reason, the arithmetic, how to make it go away). Pure functions of the
flags, the person and ``now``."""

from __future__ import annotations

import logging
from typing import Any

from rules.base import Explanation
from rules.flags import Flag
from syncd.followup.settings import DAY

log = logging.getLogger(__name__)

SHOWN_REASONS = 6


def _days_since(epoch: Any, now: int) -> int | None:
    return (now - int(epoch)) // DAY if isinstance(epoch, int | float) else None


def title_for(flag: Flag, who: dict[str, Any], now: int) -> str:
    """The event title: who and why, in a few words."""
    name, tier, f = who["name"], who["tier"], flag.facts
    since = _days_since(f.get("last_touch"), now)
    if flag.rule == "dormant" and since is not None:
        return f"Reconnect with {name} — {since} days since your last touch ({tier} tier)"
    if flag.rule == "reactivate" and since is not None:
        return f"Reconnect with {name} — a strong tie, silent for {since} days"
    if flag.rule == "unanswered" and f.get("subject") is not None:
        return f"Reply to {name} — “{f['subject'] or '(no subject)'}”"
    if flag.rule == "meeting_follow_up":
        return f"Follow up with {name} after “{f.get('title') or 'your meeting'}”"
    if flag.rule == "nurture":
        step = f" (step {f['index']} of {f['steps']})" if "index" in f and "steps" in f else ""
        return f"Follow up with {name} — a new connection{step}"
    if flag.rule == "three_touches":
        return f"Check in with {name} — fewer than {f.get('min_touches', 3)} touches this year"
    if flag.rule == "reciprocity":
        return f"Reach out to {name} first"
    return f"Get in touch with {name}"


def explain(flag: Flag, now: int) -> Explanation:
    """``flag.explain(now)``, or a plain fallback if the rule cannot explain these facts."""
    try:
        return flag.explain(now)
    except Exception as exc:  # a flag stored by an older rule pack: still show something
        log.warning("cannot explain flag %s: %s", flag.id, exc)
        return Explanation(f"{flag.rule.replace('_', ' ')} (see syncd why)", [])


def description_for(flags: list[Flag], who: dict[str, Any], now: int) -> str:
    """The event description: every reason, the arithmetic, how to make it go away."""
    lines = []
    for i, f in enumerate(flags[:SHOWN_REASONS]):
        text = explain(f, now)
        lines.append(f"• {text.reason}")
        if i == 0:
            lines.extend(f"    {a}" for a in text.arithmetic)
    if len(flags) > SHOWN_REASONS:
        more = len(flags) - SHOWN_REASONS
        lines.append(f"• and {more} more (syncd flags --person {flags[0].person_id})")
    if who["emails"]:
        lines.append("")
        lines.append(f"{who['name']} <{who['emails'][0]}>, {who['tier']} tier")
    lines.append("")
    lines.append(
        "Planned by syncd. Get in touch and this reminder removes itself; move or delete it"
        " and syncd leaves your choice alone."
    )
    lines.append(f"syncd why {flags[0].person_id}  ·  flags: {', '.join(f.id for f in flags)}")
    return "\n".join(lines)
