"""The planner: open flags become short follow-up events in the user's calendar.

Each run (:func:`plan_followups`) first **reconciles** what it placed before
with the calendar and the flags, then **places** new follow-ups:

1. Every placed event is looked up in the calendar by its key (the writer's
   ``lookup``): gone means the user deleted it (state ``deleted``: it is never
   re-created for those flags); a different time means the user moved it
   (state ``moved``: the new time stands and counts).
2. A future event is removed through the outbox when the person was touched
   after it was planned (any touchpoint newer than the last one known then),
   or when its flags all closed (the user marked them done or dismissed them,
   they expired, their reason went away) or were snoozed past it
   (``withdrawing`` -> ``withdrawn``); a create still waiting in the outbox is
   simply cancelled. Past events are history and stay.
3. Flags that are open, not snoozed, of a rule in ``planner.rules``, and due
   within the horizon are ranked (:func:`priority`), one event per person
   (covering all their flags), and each gets the earliest free slot of
   ``length_minutes`` within working hours on or after its due date, in a week
   that holds fewer than ``per_week`` follow-ups and on a day with fewer than
   ``per_day``. The rest wait in the digest.

Free/busy (local .ics target): the events already in the target file (the
writer's ``busy``) plus the user's imported calendar events (``events``
table: not cancelled, not all-day, not declined by me) -- the meetings the
user really has, whichever calendar they live in. Remote calendars answer
``busy`` themselves (their free/busy API).

The follow-up row and its outbox action are written in one transaction; the
outbox then writes the event (:mod:`syncd.followup.outbox`). The event's key is the
flag id (``rule:person:cycle``; ``~N`` is appended if a withdrawn follow-up
of a snoozed flag is placed again).

Configuration (``[planner]`` in config.toml; every problem reported at once)::

    [planner]
    calendar = "followups.ics"      # an .ics path (relative to the home), or "account:NAME"
    days = ["mon", "tue", "wed", "thu", "fri"]
    hours = "09:00-17:00"
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

import json
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlite_utils

from rules.flags import Flag, get_flag
from syncd.config.schema import Config
from syncd.core.errors import ConfigError
from syncd.core.home import Home
from syncd.followup import outbox
from syncd.followup.slots import WEEKDAYS, Busy, WorkingHours, find_slot, parse_hours, week_of
from syncd.mail.addresses import match_key
from syncd.pipeline.identity import my_keys

log = logging.getLogger(__name__)

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
}
TIER_WEIGHT = {"core": 30, "active": 20, "network": 10, "acquaintance": 0}
ACTIVE = ("planned", "placed", "moved")
_FU_COLUMNS = (
    "key, flag_id, person_id, covers, target, start, end, week, title, state, remote_ref,"
    " reason, created, updated"
)


# -- settings ---------------------------------------------------------------------------


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


def parse_settings(table: dict[str, Any], default_tz: str, root: Path) -> PlannerSettings:
    """Validate a ``[planner]`` table (see the module docstring)."""
    problems: list[str] = []
    known = {
        "enabled",
        "calendar",
        "days",
        "hours",
        "timezone",
        "length_minutes",
        "step_minutes",
        "per_week",
        "per_day",
        "horizon_days",
        "rules",
        "busy_from_imported",
    }
    for key in sorted(set(table) - known):
        problems.append(f"planner.{key}: unknown setting (known: {', '.join(sorted(known))})")
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
    tzname = table.get("timezone", default_tz)
    tz = ZoneInfo("UTC")
    try:
        tz = ZoneInfo(str(tzname))
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"planner.timezone: unknown time zone {tzname!r}")
    days = table.get("days", list(WEEKDAYS[:5]))
    day_set: set[int] = set()
    if not isinstance(days, list) or not days:
        problems.append("planner.days: must be a list of weekdays such as ['mon', 'tue']")
    else:
        for d in days:
            name = str(d).lower()[:3]
            if name not in WEEKDAYS:
                problems.append(f"planner.days: {d!r} is not a weekday")
            else:
                day_set.add(WEEKDAYS.index(name))
    try:
        start, end = parse_hours(str(table.get("hours", "09:00-17:00")))
    except ValueError as exc:
        problems.append(f"planner.hours: {exc}")
        start, end = parse_hours("09:00-17:00")
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
        length=length * 60,
        step=step * 60,
        per_week=per_week,
        per_day=per_day,
        horizon=horizon * DAY,
        rules=tuple(rules),
        busy_from_imported=busy_imported is not False,
    )


# -- follow-up rows ---------------------------------------------------------------------


@dataclass(slots=True)
class FollowUp:
    """One follow-up event the planner placed (or tried to)."""

    key: str
    flag_id: str
    person_id: int
    covers: list[str]
    target: str
    start: int
    end: int
    week: str
    title: str
    state: str
    remote_ref: str | None
    reason: str | None
    created: int
    updated: int

    @classmethod
    def from_row(cls, row: tuple) -> FollowUp:
        values = list(row)
        values[3] = json.loads(values[3])
        return cls(*values)


def followups(
    db: sqlite_utils.Database, states: tuple[str, ...] | None = None, target: str | None = None
) -> list[FollowUp]:
    """Stored follow-ups (optionally in ``states`` / for ``target``), by start."""
    sql = f"SELECT {_FU_COLUMNS} FROM followups WHERE 1"
    params: list[Any] = []
    if states:
        sql += f" AND state IN ({','.join('?' * len(states))})"
        params += list(states)
    if target:
        sql += " AND target = ?"
        params.append(target)
    return [FollowUp.from_row(r) for r in db.execute(sql + " ORDER BY start, key", params)]


# -- people and texts -------------------------------------------------------------------


def people_info(db: sqlite_utils.Database, ids: set[int]) -> dict[int, dict[str, Any]]:
    """Name, touched addresses and tier of ``ids`` (as ``syncd people`` shows them)."""
    info: dict[int, dict[str, Any]] = {
        p: {"name": None, "emails": [], "tier": "acquaintance"} for p in ids
    }
    items = sorted(ids)
    for i in range(0, len(items), 500):
        chunk = items[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for pid, address in db.execute(
            f"SELECT person_id, address FROM addresses a WHERE person_id IN ({marks})"
            " AND EXISTS (SELECT 1 FROM touchpoints t WHERE t.address = a.address)"
            " ORDER BY person_id, address",
            chunk,
        ):
            info[pid]["emails"].append(address)
        for pid, name in db.execute(
            "SELECT a.person_id, min(t.name) FROM addresses a"
            " JOIN touchpoints t ON t.address = a.address"
            f" WHERE a.person_id IN ({marks}) AND t.name IS NOT NULL AND t.name != ''"
            " GROUP BY a.person_id",
            chunk,
        ):
            info[pid]["name"] = name
        for pid, name, pin in db.execute(
            f"SELECT id, name, tier_pin FROM people WHERE id IN ({marks})", chunk
        ):
            if name:
                info[pid]["name"] = name
            if pin:
                info[pid]["pinned"] = pin
        for pid, tier, last in db.execute(
            f"SELECT person_id, tier, last_touch FROM rules_people WHERE person_id IN ({marks})",
            chunk,
        ):
            info[pid]["tier"] = tier
            info[pid]["last_touch"] = last
    for p in info.values():
        if p.get("pinned"):
            p["tier"] = p["pinned"]
        p["name"] = p["name"] or (p["emails"][0] if p["emails"] else "someone")
    return info


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


def explain(flag: Flag, now: int):
    """``flag.explain(now)``, or a plain fallback if the rule cannot explain these facts."""
    from rules.base import Explanation

    try:
        return flag.explain(now)
    except Exception as exc:  # a flag stored by an older rule pack: still show something
        log.warning("cannot explain flag %s: %s", flag.id, exc)
        return Explanation(f"{flag.rule.replace('_', ' ')} (see syncd why)", [])


def description_for(flags: list[Flag], who: dict[str, Any], now: int) -> str:
    """The event description: every reason, the arithmetic, how to make it go away."""
    lines = []
    for i, f in enumerate(flags[:6]):
        text = explain(f, now)
        lines.append(f"• {text.reason}")
        if i == 0:
            lines.extend(f"    {a}" for a in text.arithmetic)
    if len(flags) > 6:
        lines.append(f"• and {len(flags) - 6} more (syncd flags --person {flags[0].person_id})")
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


def priority(flag: Flag, tier: str, now: int) -> float:
    """Higher first: the rule's urgency, the tier, then how overdue (up to 10 for 30 days)."""
    overdue = max(0, min(30, (now - flag.due) / DAY))
    return RULE_WEIGHT.get(flag.rule, 10) + TIER_WEIGHT.get(tier, 0) + overdue / 3


# -- the run ----------------------------------------------------------------------------


@dataclass(slots=True)
class PlanReport:
    """What one planning run did."""

    placed: list[FollowUp] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    user_deleted: list[str] = field(default_factory=list)
    user_moved: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, without personal data."""
        return (
            f"{len(self.placed)} follow-ups planned, {len(self.withdrawn)} withdrawn,"
            f" {len(self.user_deleted)} deleted and {len(self.user_moved)} moved by you,"
            f" {len(self.waiting)} waiting for the digest"
        )


def _open_flags(db: sqlite_utils.Database, rules: tuple[str, ...], until: int, now: int):
    from rules.flags import _COLUMNS

    marks = ",".join("?" * len(rules))
    return [
        Flag.from_row(r)
        for r in db.execute(
            f"SELECT {_COLUMNS} FROM flags WHERE status = 'open' AND due <= ?"
            " AND (expires IS NULL OR expires >= ?)"
            " AND (snoozed_until IS NULL OR snoozed_until <= ?)"
            f" AND rule IN ({marks}) ORDER BY due, id",
            [until, now, now, *rules],
        )
    ]


def _flag_live(flag: Flag | None, at: int, now: int) -> bool:
    """Whether ``flag`` still asks for the event at ``at``."""
    if flag is None or flag.status != "open":
        return False
    if flag.expires is not None and flag.expires < now:
        return False
    return not (flag.snoozed_until is not None and flag.snoozed_until > at)


def _closure(flags: list[Flag | None]) -> str:
    for f in flags:
        if f is not None and f.status != "open":
            return {
                "touch": "you were in touch",
                "user": f"you marked it {f.status}",
                "expired": "it expired",
                "cleared": "the reason went away",
                "merged": "the person was merged",
            }.get(f.resolution or "", f"closed ({f.resolution})")
    if any(f is not None for f in flags):
        return "snoozed"
    return "the flag went away"


def imported_busy(db: sqlite_utils.Database, start: int, end: int) -> list[tuple[int, int]]:
    """The user's imported events in ``[start, end)`` that make them busy."""
    me = my_keys(db)
    out = []
    for s, e, status, attendees in db.execute(
        "SELECT start, end, status, attendees FROM events WHERE all_day = 0 AND end > ?"
        " AND start < ?",
        [start, end],
    ):
        if (status or "").upper() == "CANCELLED":
            continue
        declined = False
        for item in json.loads(attendees or "[]"):
            address, partstat = item[0], (item[2] or "").upper()
            if partstat == "DECLINED" and address and match_key(address) in me:
                declined = True
        if not declined:
            out.append((s, e))
    return out


def _reconcile(
    db: sqlite_utils.Database,
    writer: Any,
    settings: PlannerSettings,
    now: int,
    report: PlanReport,
) -> None:
    tz = settings.hours.tz
    lookup = getattr(writer, "lookup", None)
    for fu in followups(db, ("placed", "moved"), settings.target):
        if lookup is None:
            break
        if fu.end <= now:
            continue  # history: what the user does with past events changes nothing
        try:
            remote = lookup(fu.key)
        except Exception as exc:  # the calendar is unreachable: decide nothing now
            report.errors.append(f"lookup {fu.key}: {exc}")
            log.warning("cannot look up follow-up %s: %s", fu.key, exc)
            return
        if remote is None:
            with db.atomic():
                db.execute(
                    "UPDATE followups SET state = 'deleted', reason = ?, updated = ? WHERE key = ?",
                    ["deleted in the calendar", now, fu.key],
                )
            report.user_deleted.append(fu.key)
        elif (remote.start, remote.end) != (fu.start, fu.end):
            with db.atomic():
                db.execute(
                    "UPDATE followups SET state = 'moved', start = ?, end = ?, week = ?,"
                    " reason = ?, updated = ? WHERE key = ?",
                    [remote.start, remote.end, week_of(remote.start, tz), "moved", now, fu.key],
                )
            report.user_moved.append(fu.key)
    for fu in followups(db, ACTIVE, settings.target):
        if fu.end <= now:
            continue  # history
        flags = [get_flag(db, fid) for fid in fu.covers]
        basis = db.execute("SELECT basis FROM followups WHERE key = ?", [fu.key]).fetchone()[0]
        latest = last_touch(db, fu.person_id, now)
        if latest is not None and latest > (fu.created if basis is None else basis):
            why = "you were in touch"
        elif any(_flag_live(f, fu.start, now) for f in flags):
            continue
        else:
            why = _closure(flags)
        with db.atomic():
            if fu.state == "planned" and outbox.cancel(db, f"create:{fu.key}", now):
                state = "withdrawn"
            else:
                outbox.enqueue(
                    db,
                    "remove",
                    fu.key,
                    "event.remove",
                    fu.target,
                    {"remote_ref": fu.remote_ref},
                    now,
                )
                state = "withdrawing"
            db.execute(
                "UPDATE followups SET state = ?, reason = ?, updated = ? WHERE key = ?",
                [state, why, now, fu.key],
            )
        report.withdrawn.append(fu.key)


def last_touch(db: sqlite_utils.Database, person: int, now: int) -> int | None:
    """The person's latest touchpoint at or before ``now``."""
    return db.execute(
        "SELECT max(t.at) FROM touchpoints t JOIN addresses a ON a.address = t.address"
        " WHERE a.person_id = ? AND t.at <= ?",
        [person, now],
    ).fetchone()[0]


def _new_key(db: sqlite_utils.Database, flag_id: str) -> str:
    key, n = flag_id, 1
    while db.execute("SELECT 1 FROM followups WHERE key = ?", [key]).fetchone():
        n += 1
        key = f"{flag_id}~{n}"
    return key


def plan_followups(
    db: sqlite_utils.Database,
    home: Home,
    config: Config,
    now: int,
    settings: PlannerSettings | None = None,
    writer: Any = None,
) -> PlanReport:
    """Reconcile and place follow-ups as of ``now`` (see the module docstring).

    Only stores rows and outbox actions; :func:`syncd.followup.outbox.drain_outbox`
    performs the writes. ``writer`` overrides the target's writer (tests).
    """
    settings = settings or PlannerSettings.from_config(config, home)
    report = PlanReport()
    if not settings.enabled:
        return report
    if writer is None:
        writer = outbox.resolve_writer(settings.target, home, config)
    _reconcile(db, writer, settings, now, report)
    if report.errors:
        return report  # the calendar could not be read: place nothing blind

    tz = settings.hours.tz
    horizon_end = now + settings.horizon
    rows = followups(db, target=settings.target)
    covered: set[str] = set()
    busy_people: set[int] = set()
    per_week: dict[str, int] = defaultdict(int)
    per_day: dict[date, int] = defaultdict(int)
    for fu in rows:
        replaceable = fu.state == "withdrawn" and fu.reason == "snoozed"
        if not replaceable:
            covered.update(fu.covers)
        if fu.state in ACTIVE and fu.end > now:
            busy_people.add(fu.person_id)
        if fu.state in (*ACTIVE, "deleted", "withdrawing", "failed"):
            per_week[fu.week] += 1
            per_day[settings.hours.local_day(fu.start)] += 1
    candidates = [
        f
        for f in _open_flags(db, settings.rules, horizon_end, now)
        if f.id not in covered and f.person_id not in busy_people
    ]
    if not candidates:
        return report
    info = people_info(db, {f.person_id for f in candidates})
    by_person: dict[int, list[Flag]] = defaultdict(list)
    for f in candidates:
        by_person[f.person_id].append(f)
    for flags in by_person.values():
        flags.sort(key=lambda f: (-priority(f, info[f.person_id]["tier"], now), f.due, f.id))
    order = sorted(
        by_person.values(),
        key=lambda fl: (-priority(fl[0], info[fl[0].person_id]["tier"], now), fl[0].due, fl[0].id),
    )
    try:
        busy = Busy(writer.busy(now, horizon_end) if hasattr(writer, "busy") else [])
    except Exception as exc:
        report.errors.append(f"free/busy: {exc}")
        log.warning("cannot read free/busy of %s: %s", settings.target, exc)
        return report
    if settings.busy_from_imported:
        for s, e in imported_busy(db, now, horizon_end):
            busy.add(s, e)

    def day_ok(day: date) -> bool:
        if per_day[day] >= settings.per_day:
            return False
        year, week, _ = day.isocalendar()
        return per_week[f"{year}-W{week:02d}"] < settings.per_week

    for flags in order:
        first = flags[0]
        latest = horizon_end if first.expires is None else min(horizon_end, first.expires)
        slot = find_slot(
            settings.hours,
            busy,
            max(now, first.due),
            latest,
            settings.length,
            settings.step,
            day_ok,
        )
        if slot is None:
            report.waiting.append(first.id)
            continue
        start, end = slot
        who = info[first.person_id]
        title = title_for(first, who, now)
        key = _new_key(db, first.id)
        fu = FollowUp(
            key=key,
            flag_id=first.id,
            person_id=first.person_id,
            covers=[f.id for f in flags],
            target=settings.target,
            start=start,
            end=end,
            week=week_of(start, tz),
            title=title,
            state="planned",
            remote_ref=None,
            reason=None,
            created=now,
            updated=now,
        )
        payload = {
            "title": title,
            "description": description_for(flags, who, now),
            "start": start,
            "end": end,
            "timezone": tz.key,
            "created": now,
            "person": first.person_id,
            "flags": fu.covers,
        }
        with db.atomic():
            db.execute(
                f"INSERT INTO followups({_FU_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    fu.key,
                    fu.flag_id,
                    fu.person_id,
                    json.dumps(fu.covers),
                    fu.target,
                    fu.start,
                    fu.end,
                    fu.week,
                    fu.title,
                    fu.state,
                    None,
                    None,
                    now,
                    now,
                ],
            )
            db.execute(
                "UPDATE followups SET basis = ? WHERE key = ?",
                [last_touch(db, first.person_id, now), key],
            )
            outbox.enqueue(db, "create", key, "event.create", settings.target, payload, now)
        busy.add(start, end)
        per_week[fu.week] += 1
        per_day[settings.hours.local_day(start)] += 1
        report.placed.append(fu)
    return report
