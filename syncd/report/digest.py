"""The weekly summary email: HTML (inline CSS, no scripts) plus a plain-text alternative.

Sections (design.md §3 "network audit", §4): network health (touches in the
last 7 days against the average of the 4 weeks before, reply rate, touches
given vs received), tier sizes against 15/50/150, this week's follow-ups with
their reasons and the flags waiting beyond them, dormant ties worth
reactivating, new connections, organisations (domains) represented, and a
chart of touches per week. All figures are as of ``now`` in the configured
time zone; a touch is one touchpoint with one person (a meeting with three
people is three touches).

``syncd digest --preview FILE`` writes it; ``--send`` (and the daemon's weekly
``digest`` job, :func:`send_weekly_digest`) sends it through the outbox, once
per ISO week (key ``digest:YYYY-Www``).

Configuration (``[digest]``)::

    [digest]
    to = ["me@example.com"]        # default: the first of `me`
    from = "me@example.com"        # default: the first recipient
    via = "smtp"                   # the [smtp] server, or "account:NAME" (a Gmail account)
    preview = "digest.html"        # the daemon also writes each week's digest here (+ .txt)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import sqlite_utils

from rules.flags import shown_flags
from rules.settings import load_config as load_rules_config
from syncd.config.schema import Config
from syncd.config.spec import unknown_keys
from syncd.core.errors import ConfigError, UserError
from syncd.core.home import Home
from syncd.followup import outbox
from syncd.followup.decide import priority
from syncd.followup.ledger import ACTIVE, followups
from syncd.followup.slots import week_of
from syncd.followup.texts import explain
from syncd.mail.addresses import is_valid
from syncd.pipeline.accounts import needing_auth
from syncd.pipeline.identity import people_info
from syncd.report.chart import bars, text_chart

log = logging.getLogger(__name__)

DAY = 86400
WEEK = 7 * DAY
CHART_WEEKS = 12
TEMPLATES = Path(__file__).with_name("templates")
FREE_MAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "yandex.ru",
        "fastmail.com",
        "hey.com",
        "zoho.com",
    ]
)
TIER_LABEL = {"core": "Core", "active": "Active", "network": "Network"}
SECTIONS = (
    "Network health",
    "Touches per week",
    "Tiers",
    "This week's follow-ups",
    "Dormant ties worth reactivating",
    "New connections",
    "Organisations",
)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """The validated ``[digest]`` table."""

    to: tuple[str, ...]
    sender: str
    via: str
    preview: Path | None = None  # the weekly digest also written here (relative: the home)


DIGEST_KEYS = ("to", "from", "via", "preview")


def parse_digest(config: Config) -> DigestSettings:
    """Validate ``[digest]``; :class:`ConfigError` lists every problem."""
    table = config.section("digest")
    problems: list[str] = unknown_keys("digest", table, DIGEST_KEYS)
    to = table.get("to", config.me[:1])
    if not isinstance(to, list) or not all(isinstance(a, str) and is_valid(a.lower()) for a in to):
        problems.append('digest.to: must be a list of email addresses such as ["me@example.com"]')
        to = []
    preview = table.get("preview")
    if preview is not None and (not isinstance(preview, str) or not preview.strip()):
        problems.append("digest.preview: must be the path of an .html file")
        preview = None
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
    path = Path(preview).expanduser() if preview else None
    return DigestSettings(tuple(a.lower() for a in to), sender, via, path)


def preview_path(settings: DigestSettings, home: Home) -> Path | None:
    """Where the weekly digest's copy goes (``[digest] preview``), absolute, or None."""
    if settings.preview is None:
        return None
    return settings.preview if settings.preview.is_absolute() else home.root / settings.preview


# -- the figures --------------------------------------------------------------------------


def _touches(db: sqlite_utils.Database, start: int, end: int) -> list[tuple[str, int, int, int]]:
    """Distinct ``(kind, ref, person, at)`` touches in ``(start, end]``."""
    seen: dict[tuple[str, int, int], int] = {}
    for kind, ref, person, at in db.execute(
        "SELECT t.kind, t.ref, a.person_id, t.at FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address WHERE t.at > ? AND t.at <= ?",
        [start, end],
    ):
        seen.setdefault((kind, ref, person), at)
    return [(k, r, p, at) for (k, r, p), at in seen.items()]


_PREFIX = re.compile(r"^\s*((re|aw|sv|antw|fw|fwd|wg)\s*:\s*)+", re.I)


def _norm(subject: str | None) -> str:
    return re.sub(r"\s+", " ", _PREFIX.sub("", subject or "")).strip().lower()


def reply_rate(db: sqlite_utils.Database, start: int, end: int) -> tuple[int, int]:
    """``(answered, received)``: direct inbound messages in ``(start, end]`` you replied to.

    Replied means a later outbound message to the sender in the same thread
    (same thread root, or the same subject once Re:/Fwd: prefixes are dropped).
    """
    inbound = db.execute(
        "SELECT DISTINCT t.ref, a.person_id, t.at, m.subject, m.thread_root FROM touchpoints t"
        " JOIN addresses a ON a.address = t.address JOIN messages m ON m.id = t.ref"
        " WHERE t.kind = 'email_in' AND t.at > ? AND t.at <= ?",
        [start, end],
    ).fetchall()
    if not inbound:
        return 0, 0
    people = sorted({p for _, p, _, _, _ in inbound})
    out: dict[int, list[tuple[int, str, str | None, str | None]]] = defaultdict(list)
    for i in range(0, len(people), 500):
        chunk = people[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for person, at, subject, root, irt in db.execute(
            "SELECT DISTINCT a.person_id, t.at, m.subject, m.thread_root, m.in_reply_to"
            " FROM touchpoints t JOIN addresses a ON a.address = t.address"
            " JOIN messages m ON m.id = t.ref WHERE t.kind = 'email_out' AND t.at > ?"
            f" AND a.person_id IN ({marks})",
            [start, *chunk],
        ):
            out[person].append((at, _norm(subject), root, irt))
    answered = 0
    for _, person, at, subject, root in inbound:
        s = _norm(subject)
        for o_at, o_subject, o_root, _ in out.get(person, ()):
            if o_at > at and ((root and o_root == root) or (s and o_subject == s)):
                answered += 1
                break
    return answered, len(inbound)


def _local(epoch: int, tz: ZoneInfo, fmt: str = "%a %-d %b %H:%M") -> str:
    return datetime.fromtimestamp(epoch, tz).strftime(fmt)


def _domain(address: str) -> str:
    return address.rpartition("@")[2].lower()


def _tier_sizes(home: Home | None) -> dict[str, int]:
    try:
        return dict(load_rules_config(home.config_path if home else None).sizes)
    except Exception:  # the rules package validates its own config; show the defaults here
        return {"core": 15, "active": 50, "network": 85}


def gather(
    db: sqlite_utils.Database, config: Config, now: int, home: Home | None = None
) -> dict[str, Any]:
    """Everything the templates show, as plain data."""
    tz = ZoneInfo(config.section("planner").get("timezone") or config.timezone)
    weeks = _touches(db, now - CHART_WEEKS * WEEK, now)
    this_week = [t for t in weeks if t[3] > now - WEEK]
    before = [t for t in weeks if now - 5 * WEEK < t[3] <= now - WEEK]
    given = sum(1 for t in this_week if t[0] == "email_out")
    received = sum(1 for t in this_week if t[0] == "email_in")
    meetings = sum(1 for t in this_week if t[0] == "meeting")
    answered, inbound = reply_rate(db, now - 4 * WEEK, now)
    avg = len(before) / 4
    change = None if not avg else round(100 * (len(this_week) - avg) / avg)
    health = {
        "touches": len(this_week),
        "average": round(avg, 1),
        "change": change,
        "people": len({t[2] for t in this_week}),
        "given": given,
        "received": received,
        "meetings": meetings,
        "given_avg": round(sum(1 for t in before if t[0] == "email_out") / 4, 1),
        "received_avg": round(sum(1 for t in before if t[0] == "email_in") / 4, 1),
        "answered": answered,
        "inbound": inbound,
        "reply_rate": None if not inbound else round(100 * answered / inbound),
    }
    series = []
    for i in range(CHART_WEEKS - 1, -1, -1):
        lo, hi = now - (i + 1) * WEEK, now - i * WEEK
        label = _local(hi - 1, tz, "%-d %b")
        series.append((label, sum(1 for t in weeks if lo < t[3] <= hi)))

    # people: tiers, organisations, new connections
    tiers = Counter(
        tier
        for (tier,) in db.execute(
            "SELECT coalesce(p.tier_pin, r.tier) FROM rules_people r"
            " JOIN people p ON p.id = r.person_id"
        )
    )
    sizes = _tier_sizes(home)
    tier_rows = [
        {"tier": TIER_LABEL[t], "count": tiers.get(t, 0), "target": sizes.get(t, 0)}
        for t in ("core", "active", "network")
    ]
    tiered = sum(r["count"] for r in tier_rows)
    tier_total = {"count": tiered, "target": sum(r["target"] for r in tier_rows)}
    network = {
        p
        for (p,) in db.execute(
            "SELECT r.person_id FROM rules_people r JOIN people p ON p.id = r.person_id"
            " WHERE coalesce(p.tier_pin, r.tier) != 'acquaintance'"
        )
    }
    domains: Counter[str] = Counter()
    personal = 0
    if network:
        info_all = people_info(db, network, unnamed="someone")
        for pid in network:
            emails = info_all[pid]["emails"]
            ds = {_domain(e) for e in emails} - FREE_MAIL
            if ds:
                domains[min(ds)] += 1
            elif emails:
                personal += 1
    new_rows = db.execute(
        "SELECT a.person_id, min(t.at) AS first FROM touchpoints t JOIN addresses a"
        " ON a.address = t.address WHERE t.at <= ? GROUP BY a.person_id"
        " HAVING first > ? ORDER BY first DESC",
        [now, now - 30 * DAY],
    ).fetchall()
    new_kinds: dict[int, set[str]] = defaultdict(set)
    new_ids = [p for p, _ in new_rows]
    for i in range(0, len(new_ids), 500):
        chunk = new_ids[i : i + 500]
        marks = ",".join("?" * len(chunk))
        for pid, kind in db.execute(
            "SELECT DISTINCT a.person_id, t.kind FROM touchpoints t JOIN addresses a"
            f" ON a.address = t.address WHERE t.at <= ? AND a.person_id IN ({marks})",
            [now, *chunk],
        ):
            new_kinds[pid].add(kind)

    # flags and follow-ups
    flags = shown_flags(db, now)
    planned = [
        fu
        for fu in followups(db, ACTIVE)
        if fu.start >= now - (now % DAY) - DAY and fu.start < now + WEEK
    ]
    covered = {fid for fu in followups(db) for fid in fu.covers}
    ids = {f.person_id for f in flags} | {fu.person_id for fu in planned}
    ids |= {p for p, _ in new_rows[:10]}
    info = people_info(db, ids, unnamed="someone")
    by_id = {f.id: f for f in flags}

    def who(pid: int) -> dict[str, Any]:
        p = info[pid]
        return {
            "name": p["name"],
            "email": p["emails"][0] if p["emails"] else "",
            "tier": p["tier"],
        }

    follow_rows = []
    for fu in planned:
        flag = by_id.get(fu.flag_id)
        reason = explain(flag, now).reason if flag else fu.title
        follow_rows.append(
            {
                **who(fu.person_id),
                "when": _local(fu.start, tz),
                "title": fu.title,
                "reason": reason,
                "moved": fu.state == "moved",
            }
        )
    waiting_by_person: dict[int, list] = defaultdict(list)
    for f in flags:
        if f.id not in covered:
            waiting_by_person[f.person_id].append(f)
    waiting = []
    for pid, fl in waiting_by_person.items():
        fl.sort(key=lambda f: -priority(f, info[pid]["tier"], now))
        waiting.append((priority(fl[0], info[pid]["tier"], now), pid, fl))
    waiting.sort(key=lambda w: (-w[0], w[1]))
    waiting_rows = [
        {
            **who(pid),
            "rule": fl[0].rule.replace("_", " "),
            "reason": explain(fl[0], now).reason,
            "more": len(fl) - 1,
        }
        for _, pid, fl in waiting[:10]
    ]
    dormant: dict[int, dict[str, Any]] = {}
    for f in sorted(flags, key=lambda f: (f.rule != "reactivate", f.due)):
        if f.rule not in ("reactivate", "dormant") or f.person_id in dormant:
            continue
        last = f.facts.get("last_touch")
        dormant[f.person_id] = {
            **who(f.person_id),
            "days": (now - last) // DAY if isinstance(last, int) else None,
            "exchanges": f.facts.get("exchanges"),
            "strong": f.rule == "reactivate",
            "reason": explain(f, now).reason,
        }
    dormant_rows = sorted(
        dormant.values(), key=lambda d: (not d["strong"], -(d["exchanges"] or 0), d["name"])
    )[:8]
    how = {"meeting": "met", "email_in": "wrote to you", "email_out": "you wrote"}
    new_people = [
        {
            **who(pid),
            "first": _local(first, tz, "%-d %b"),
            "how": ", ".join(
                how[k] for k in ("meeting", "email_in", "email_out") if k in new_kinds[pid]
            ),
        }
        for pid, first in new_rows[:10]
    ]
    period = f"{_local(now - WEEK, tz, '%-d %b')} – {_local(now, tz, '%-d %b %Y')}"
    needs_auth = needing_auth(db)
    return {
        "needs_auth": needs_auth,
        "title": "Your network this week",
        "period": period,
        "week": week_of(now, tz),
        "generated": _local(now, tz, "%a %-d %b %Y %H:%M %Z"),
        "health": health,
        "chart": bars(series),
        "chart_text": text_chart(series),
        "tiers": tier_rows,
        "tier_total": tier_total,
        "followups": follow_rows,
        "waiting": waiting_rows,
        "waiting_total": len(waiting),
        "dormant": dormant_rows,
        "dormant_total": len(dormant),
        "new_people": new_people,
        "new_total": len(new_rows),
        "domains": domains.most_common(10),
        "domain_total": len(domains),
        "personal": personal,
        "network_size": len(network),
        "sections": SECTIONS,
    }


# -- rendering ------------------------------------------------------------------------------


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def render(data: dict[str, Any]) -> tuple[str, str]:
    """``(html, text)`` of the digest."""
    env = _env()
    html = env.get_template("digest.html.j2").render(**data)
    text = env.get_template("digest.txt.j2").render(**data)
    return html, text


def subject_for(data: dict[str, Any]) -> str:
    """The email subject: the week and its two headline numbers."""
    n = len(data["followups"])
    return (
        f"syncd weekly, {data['period']}: {data['health']['touches']} touches,"
        f" {n} follow-up{'s' if n != 1 else ''}"
    )


def build_message(
    data: dict[str, Any], html: str, text: str, settings: DigestSettings, key: str, now: int
) -> EmailMessage:
    """The multipart/alternative message (text first, HTML preferred)."""
    msg = EmailMessage()
    msg["Subject"] = subject_for(data)
    name, address = parseaddr(settings.sender)
    msg["From"] = formataddr((name or "syncd", address))
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = format_datetime(datetime.fromtimestamp(now).astimezone())
    digest = hashlib.sha256(f"{key}|{','.join(settings.to)}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{key.replace(':', '.')}.{digest}@syncd.local>"
    msg["Auto-Submitted"] = "auto-generated"  # syncd never counts its own digest as a touch
    msg["X-Syncd-Key"] = key
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


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
        _atomic_write(path, text)
        written.append(path)
    elif path.suffix == ".eml":
        settings = DigestSettings(("you@example.invalid",), "syncd@example.invalid", "smtp")
        with contextlib.suppress(ConfigError):
            settings = parse_digest(config) if config.me or config.section("digest") else settings
        msg = build_message(data, html, text, settings, f"digest:{data['week']}", now)
        _atomic_write(path, msg.as_string())
        written.append(path)
    else:
        _atomic_write(path, html)
        written.append(path)
        if path.suffix in (".html", ".htm"):
            _atomic_write(path.with_suffix(".txt"), text)
            written.append(path.with_suffix(".txt"))
    return written


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# -- sending --------------------------------------------------------------------------------


def queue_digest(
    db: sqlite_utils.Database, home: Home | None, config: Config, now: int, force: bool = False
) -> str:
    """Store this week's digest in the outbox (once per ISO week); returns its action id."""
    settings = parse_digest(config)
    if not settings.to:
        raise UserError("no recipient for the digest: set `me` or [digest] to in config.toml")
    data = gather(db, config, now, home)
    key = f"digest:{data['week']}"
    if force:
        n = outbox.count(db, key_prefix=key)
        key = f"{key}#{n + 1}" if n else key
    html, text = render(data)
    msg = build_message(data, html, text, settings, key, now)
    payload = {"message": msg.as_string(), "from": parseaddr(settings.sender)[1], "to": settings.to}
    target = settings.via
    with db.atomic():
        outbox.enqueue(db, "send", key, "mail.send", target, payload, now)
    return f"send:{key}"


def send_weekly_digest(db: sqlite_utils.Database, home: Home, config: Config, now: int) -> str:
    """The daemon's weekly ``digest`` job: queue this week's digest and send it.

    Does nothing (and says so) when no sender is configured.
    """
    settings = parse_digest(config)
    preview = preview_path(settings, home)
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
