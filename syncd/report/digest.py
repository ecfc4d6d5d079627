"""The weekly summary email: HTML (inline CSS, no scripts) plus a plain-text alternative.

What to do first, the figures after (design.md §3 "network audit", §4): this
week's follow-ups with their reasons and actions, the flags waiting beyond
them and the quiet ties worth reconnecting, strongest first
(:mod:`syncd.report.digest_actions`); then new connections, network health,
the weekly chart, tier sizes and organisations
(:mod:`syncd.report.digest_figures`). All figures are as of ``now`` in the
configured time zone. The renderings: :mod:`syncd.report.digest_render`.

``syncd digest --preview FILE`` writes it; ``--send`` (and the daemon's weekly
``digest`` job, :func:`send_weekly_digest`) sends it through the outbox.

**Exactly one digest a week.** Each ISO week has one outbox action, key
``digest:YYYY-Www`` (:func:`queue_digest`): once it is done nothing sends
that week's digest again, ``--force`` included; a second ``--send`` while a
retry waits runs that same action now instead of queueing another; and the
action expires at the end of its week (payload ``expires``), so a retry that
comes too late is dropped rather than sent beside the next week's digest.

Configuration (``[digest]``)::

    [digest]
    to = ["me@example.com"]        # default: the first of `me`
    from = "me@example.com"        # default: the first recipient
    via = "smtp"                   # the [smtp] server, or "account:NAME" (a Gmail account)
    preview = "digest.html"        # the daemon also writes each week's digest here (+ .txt)
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from rules.settings import RulesConfig, build_config
from rules.settings import load_config as load_rules_config
from syncd.config.schema import Config
from syncd.config.spec import unknown_keys
from syncd.core.errors import ConfigError, UserError
from syncd.core.files import replace_file
from syncd.core.home import Home
from syncd.followup import outbox
from syncd.followup.slots import week_of
from syncd.mail.addresses import is_valid
from syncd.pipeline.accounts import needing_auth
from syncd.pipeline.kinds import kind_summary
from syncd.report.digest_actions import actions
from syncd.report.digest_figures import (
    WEEK,
    health,
    local,
    new_connections,
    tiers_and_organisations,
)
from syncd.report.digest_render import SECTIONS, build_message, render
from syncd.report.digest_schedule import give_and_take, maintenance, monthly_audit
from syncd.report.people import compute_people
from syncd.store.db import write_transaction

__all__ = [
    "SECTIONS",
    "DigestSettings",
    "digest_json",
    "gather",
    "parse_digest",
    "queue_digest",
    "render",
    "send_weekly",
    "send_weekly_digest",
    "sent_this_week",
    "write_preview",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """The validated ``[digest]`` table."""

    to: tuple[str, ...]
    sender: str
    via: str


DIGEST_KEYS = ("to", "from", "via", "preview")


def parse_digest(config: Config) -> DigestSettings:
    """Validate ``[digest]``; :class:`ConfigError` lists every problem."""
    table = config.section("digest")
    problems: list[str] = unknown_keys("digest", table, DIGEST_KEYS)
    to = table.get("to", config.me[:1])
    if not isinstance(to, list) or not all(isinstance(a, str) and is_valid(a.lower()) for a in to):
        problems.append('digest.to: must be a list of email addresses such as ["me@example.com"]')
        to = []
    preview = table.get("preview")  # where: preview_path
    if preview is not None and (not isinstance(preview, str) or not preview.strip()):
        problems.append("digest.preview: must be the path of an .html file")
    sender = table.get("from", to[0] if to else "")
    if not isinstance(sender, str) or (sender and not is_valid(parseaddr(sender)[1].lower())):
        problems.append("digest.from: must be an email address")
        sender = ""
    via = table.get("via", "smtp")
    if not isinstance(via, str) or not (via == "smtp" or via.startswith("account:")):
        problems.append("digest.via: must be 'smtp' or 'account:NAME'")
        via = "smtp"
    if problems:
        raise ConfigError(problems)
    return DigestSettings(tuple(a.lower() for a in to), sender, via)


def preview_path(config: Config, home: Home) -> Path | None:
    """Where the weekly digest's copy goes (``[digest] preview``, relative to the home),
    or None (also when the value is not a path: :func:`parse_digest` reports that)."""
    value = config.section("digest").get("preview")
    if not isinstance(value, str) or not value.strip():
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else home.root / path


# -- the figures --------------------------------------------------------------------------


def timezone_of(config: Config) -> ZoneInfo:
    """The zone the digest speaks in: ``[planner] timezone``, else the config's."""
    return ZoneInfo(config.section("planner").get("timezone") or config.timezone)


def _rules(home: Home | None) -> RulesConfig:
    """The rule settings (tiers, half-life); the defaults when the user's are invalid
    (``syncd rules`` and ``syncd doctor`` report that, the digest still goes out)."""
    try:
        return load_rules_config(home.config_path if home else None)
    except ConfigError:
        return build_config({})


def gather(
    db: sqlite_utils.Database, config: Config, now: int, home: Home | None = None
) -> dict[str, Any]:
    """Everything the templates show, as plain data."""
    tz = timezone_of(config)
    rules = _rules(home)
    todo = actions(db, now, tz)
    shown = frozenset(r["id"] for key in ("followups", "waiting", "dormant") for r in todo[key])
    figures = compute_people(db, now, half_life_days=rules.half_life_days, sizes=rules.sizes)
    return {
        "needs_auth": needing_auth(db),
        "own_addresses": kind_summary(db)["inferred_self"],
        "title": "Your network this week",
        "period": f"{local(now - WEEK, tz, '%-d %b')} – {local(now, tz, '%-d %b %Y')}",
        "week": week_of(now, tz),
        "generated": local(now, tz, "%a %-d %b %Y %H:%M %Z"),
        **todo,
        **maintenance(db, now, tz, rules, figures, shown),
        **new_connections(db, now, tz),
        **health(db, now, tz),
        **give_and_take(db, now),
        **tiers_and_organisations(db, home),
        **monthly_audit(db, now, rules, figures),
    }


def write_preview(
    db: sqlite_utils.Database, config: Config, now: int, path: Path, home: Home | None = None
) -> list[Path]:
    """Write the digest to ``path``: HTML, or text for ``.txt``, or the message for ``.eml``.

    For an ``.html`` path the text version is written beside it (``.txt``).
    """
    data = gather(db, config, now, home)
    html, text = render(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    if path.suffix == ".txt":
        replace_file(path, text)
        written.append(path)
    elif path.suffix == ".eml":
        settings = DigestSettings(("you@example.invalid",), "syncd@example.invalid", "smtp")
        with contextlib.suppress(ConfigError):
            settings = parse_digest(config) if config.me or config.section("digest") else settings
        key = f"digest:{data['week']}"
        msg = build_message(data, html, text, settings.to, settings.sender, key, now)
        replace_file(path, msg.as_string())
        written.append(path)
    else:
        replace_file(path, html)
        written.append(path)
        if path.suffix in (".html", ".htm"):
            replace_file(path.with_suffix(".txt"), text)
            written.append(path.with_suffix(".txt"))
    return written


# -- sending --------------------------------------------------------------------------------


def week_end(now: int, tz: ZoneInfo) -> int:
    """The end of the ISO week of ``now`` in ``tz`` (the next Monday, 00:00 local)."""
    today = datetime.fromtimestamp(now, tz).date()
    monday = today + timedelta(days=7 - today.weekday())
    return int(datetime.combine(monday, time(0), tz).timestamp())


def sent_this_week(db: sqlite_utils.Database, key: str) -> outbox.OutboxRow | None:
    """The week's digest action if it is done (also one stored as ``KEY#n`` by older versions)."""
    for row in outbox.rows(db, ("done",)):
        if row.kind == "mail.send" and (row.key == key or row.key.startswith(f"{key}#")):
            return row
    return None


def queue_digest(
    db: sqlite_utils.Database, home: Home | None, config: Config, now: int, force: bool = False
) -> str:
    """Make this week's digest due now in the outbox; returns its action id (``send:KEY``).

    One action per ISO week (see the module docstring): a digest done, or
    being sent by another process, is left alone; a waiting retry is made due
    now with today's figures; a dead letter is revived only with ``force``.
    """
    settings = parse_digest(config)
    if not settings.to:
        raise UserError("no recipient for the digest: set `me` or [digest] to in config.toml")
    tz = timezone_of(config)
    key = f"digest:{week_of(now, tz)}"
    action_id = f"send:{key}"
    sent = sent_this_week(db, key)
    if sent is not None:
        return sent.id
    row = outbox.get(db, action_id)
    if row is not None and (row.state == "running" or (row.state == "dead" and not force)):
        return action_id
    data = gather(db, config, now, home)
    html, text = render(data)
    msg = build_message(data, html, text, settings.to, settings.sender, key, now)
    payload = {
        "message": msg.as_string(),
        "from": parseaddr(settings.sender)[1],
        "to": list(settings.to),
        "expires": week_end(now, tz),
    }
    with write_transaction(db):
        if not outbox.enqueue(db, "send", key, "mail.send", settings.via, payload, now):
            outbox.requeue(db, action_id, payload, now)
    return action_id


def send_weekly_digest(db: sqlite_utils.Database, home: Home, config: Config, now: int) -> str:
    """The daemon's weekly ``digest`` job: queue this week's digest and send it.

    Does nothing (and says so) when no sender is configured.
    """
    settings = parse_digest(config)
    preview = preview_path(config, home)
    if preview is not None:  # a copy that cannot be written never stops the mail
        try:
            write_preview(db, config, now, preview, home)
        except OSError as exc:
            log.warning("digest preview %s not written: %s", preview, exc.strerror)
    if settings.via == "smtp" and not config.section("smtp"):
        return "not sent: no [smtp] table in config.toml"
    if not settings.to:
        return "not sent: no recipient (set `me` or [digest] to)"
    action_id = queue_digest(db, home, config, now)
    stats = outbox.drain_outbox(db, home, config, now)
    row = outbox.get(db, action_id)
    state = row.state if row else "missing"
    return f"digest {state}; outbox: {stats.summary()}"


send_weekly = send_weekly_digest  # the name the daemon's plugin table uses


def digest_json(data: dict[str, Any]) -> str:
    """The gathered figures as JSON (``syncd digest --json``)."""

    def default(o: Any) -> Any:
        if hasattr(o, "__dataclass_fields__"):
            return {k: getattr(o, k) for k in o.__dataclass_fields__}
        if isinstance(o, timedelta):
            return o.total_seconds()
        raise TypeError(type(o).__name__)

    return json.dumps(data, default=default, ensure_ascii=False, indent=2)
