"""The planner's settings: the validated ``[planner]`` table of config.toml.

Every problem is reported at once (:class:`~syncd.core.errors.ConfigError`)::

    [planner]
    calendar = "followups.ics"      # an .ics path (relative to the home), or "account:NAME"
    days = ["mon", "tue", "wed", "thu", "fri"]
    hours = "09:00-17:00"
    preferred_time = "10:00"        # follow-ups go as near this local time as is free
    timezone = "Europe/London"      # default: the top-level timezone
    length_minutes = 15
    per_week = 5
    per_day = 0                     # 0: ceil(per_week / working days)
    horizon_days = 7
    rules = ["unanswered", "meeting_follow_up", "reactivate", "nurture", "dormant",
             "three_touches"]
    busy_from_imported = true
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.config.schema import Config
from syncd.config.spec import unknown_keys
from syncd.core.errors import ConfigError
from syncd.core.home import Home
from syncd.followup.slots import WEEKDAYS, WorkingHours, parse_hours

DAY = 86400
DEFAULT_RULES = (
    "unanswered",
    "meeting_follow_up",
    "reactivate",
    "nurture",
    "dormant",
    "three_touches",
)
RULE_WEIGHT = {
    "meeting_follow_up": 80,
    "reactivate": 75,
    "unanswered": 70,
    "dormant": 60,
    "nurture": 55,
    "three_touches": 40,
    "reciprocity": 20,
    "celebration": 50,  # only when listed in [planner] rules
    "intro_followup": 45,  # only when listed in [planner] rules
}
DEFAULT_PREFERRED = time(10, 0)
KNOWN = frozenset(
    {
        "enabled",
        "calendar",
        "days",
        "hours",
        "preferred_time",
        "timezone",
        "length_minutes",
        "step_minutes",
        "per_week",
        "per_day",
        "horizon_days",
        "rules",
        "busy_from_imported",
    }
)


@dataclass(frozen=True, slots=True)
class PlannerSettings:
    """The validated ``[planner]`` table."""

    enabled: bool = False
    target: str = ""
    hours: WorkingHours = field(
        default_factory=lambda: WorkingHours(
            frozenset(range(5)),
            *parse_hours("09:00-17:00"),
            ZoneInfo("UTC"),
        )
    )
    preferred: time = time(10, 0)
    length: int = 15 * 60
    step: int = 15 * 60
    per_week: int = 5
    per_day: int = 1
    horizon: int = 7 * DAY
    rules: tuple[str, ...] = DEFAULT_RULES
    busy_from_imported: bool = True

    @classmethod
    def from_config(cls, config: Config, home: Home) -> PlannerSettings:
        """Read ``[planner]``; :class:`ConfigError` lists every problem."""
        return parse_settings(config.section("planner"), config.timezone, home.root)


def _int(table: dict, key: str, default: int, lo: int, hi: int, problems: list[str]) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        problems.append(f"planner.{key}: must be a whole number from {lo} to {hi}")
        return default
    return value


def target_for(calendar: str, root: Path) -> str:
    """The outbox target of a ``planner.calendar`` value."""
    if calendar.startswith("account:"):
        return calendar
    path = Path(calendar.removeprefix("ics:")).expanduser()
    if not path.is_absolute():
        path = root / path
    return f"ics:{path}"


def _zone(tzname: object, problems: list[str]) -> ZoneInfo:
    try:
        return ZoneInfo(str(tzname))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"planner.timezone: unknown time zone {tzname!r}")
        return ZoneInfo("UTC")


def _days(days: object, problems: list[str]) -> set[int]:
    day_set: set[int] = set()
    if not isinstance(days, list) or not days:
        problems.append("planner.days: must be a list of weekdays such as ['mon', 'tue']")
        return day_set
    for d in days:
        name = str(d).lower()[:3]
        if name not in WEEKDAYS:
            problems.append(f"planner.days: {d!r} is not a weekday")
        else:
            day_set.add(WEEKDAYS.index(name))
    return day_set


def _preferred(value: object, start: time, end: time, problems: list[str]) -> time:
    """``preferred_time``: a local ``HH:MM`` within the working hours (default 10:00, or the
    start of the working day when that is later)."""
    if value is None:
        return max(start, min(DEFAULT_PREFERRED, end))
    try:
        if not isinstance(value, str) or len(value.strip()) != 5:
            raise ValueError(value)
        chosen = time.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"planner.preferred_time: {value!r} is not a time such as '10:00'")
        return start
    if not start <= chosen < end:
        problems.append(
            f"planner.preferred_time: {value} is outside planner.hours ({start:%H:%M}-{end:%H:%M})"
        )
        return start
    return chosen


def parse_settings(table: dict[str, Any], default_tz: str, root: Path) -> PlannerSettings:
    """Validate a ``[planner]`` table (see the module docstring)."""
    problems: list[str] = []
    problems += unknown_keys("planner", table, KNOWN)
    calendar = table.get("calendar")
    if calendar is not None and (not isinstance(calendar, str) or not calendar.strip()):
        problems.append("planner.calendar: must be an .ics path or 'account:NAME'")
        calendar = None
    enabled = table.get("enabled", calendar is not None)
    if not isinstance(enabled, bool):
        problems.append("planner.enabled: must be true or false")
        enabled = False
    if enabled and calendar is None:
        problems.append("planner.calendar: needed when the planner is enabled")
    tz = _zone(table.get("timezone", default_tz), problems)
    day_set = _days(table.get("days", list(WEEKDAYS[:5])), problems)
    try:
        start, end = parse_hours(str(table.get("hours", "09:00-17:00")))
    except ValueError as exc:
        problems.append(f"planner.hours: {exc}")
        start, end = parse_hours("09:00-17:00")
    preferred = _preferred(table.get("preferred_time"), start, end, problems)
    length = _int(table, "length_minutes", 15, 5, 240, problems)
    step = _int(table, "step_minutes", 15, 5, 60, problems)
    per_week = _int(table, "per_week", 5, 0, 50, problems)
    per_day = _int(table, "per_day", 0, 0, 50, problems)
    horizon = _int(table, "horizon_days", 7, 1, 60, problems)
    rules = table.get("rules", list(DEFAULT_RULES))
    if not isinstance(rules, list) or not all(r in RULE_WEIGHT for r in rules):
        problems.append(f"planner.rules: must be a list of rule ids ({', '.join(RULE_WEIGHT)})")
        rules = list(DEFAULT_RULES)
    busy_imported = table.get("busy_from_imported", True)
    if not isinstance(busy_imported, bool):
        problems.append("planner.busy_from_imported: must be true or false")
    if problems:
        raise ConfigError(problems)
    if not per_day:
        per_day = max(1, math.ceil(per_week / max(1, len(day_set))))
    return PlannerSettings(
        enabled=enabled,
        target=target_for(calendar, root) if calendar else "",
        hours=WorkingHours(frozenset(day_set), start, end, tz),
        preferred=preferred,
        length=length * 60,
        step=step * 60,
        per_week=per_week,
        per_day=per_day,
        horizon=horizon * DAY,
        rules=tuple(rules),
        busy_from_imported=busy_imported is not False,
    )


def calendar_file(config: Config, home: Home) -> Path | None:
    """The local ``.ics`` file ``[planner] calendar`` names, absolute (None for an
    ``account:NAME`` calendar, none at all, or a value :func:`parse_settings` refuses)."""
    calendar = config.section("planner").get("calendar")
    if not isinstance(calendar, str) or not calendar.strip():
        return None
    target = target_for(calendar, home.root)
    return Path(target[4:]) if target.startswith("ics:") else None
