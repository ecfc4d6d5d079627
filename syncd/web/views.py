"""What each dashboard page shows, gathered through the functions the CLI commands call.

Today is ``syncd flags`` (value order, the digest's plain reasons), the digest's
follow-ups of the week and ``syncd status``'s accounts; People is ``syncd people``;
Person is ``syncd why`` with the timeline and the flags' history; the digest
preview is ``syncd digest --preview``. No SQL here: every figure comes from its
owner, so the page and the CLI cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from rules.flags import Flag, person_flags, shown_flags
from rules.tiers import ALL_TIERS
from syncd.config.schema import Config
from syncd.core.errors import ConfigError
from syncd.followup.texts import mail_subject, mailto, plain_reason
from syncd.mail.kinds import KINDS
from syncd.pipeline.contacts import contact_details
from syncd.pipeline.identity import people_info, person_addresses, suggest_merges
from syncd.pipeline.introductions import refresh as refresh_introductions
from syncd.pipeline.kinds import refresh as refresh_kinds
from syncd.pipeline.manual import KINDS as TOUCH_KINDS
from syncd.pipeline.merging import changes
from syncd.pipeline.tags import people_tagged, tag_counts, tags_for
from syncd.report.audit import compute as compute_audit
from syncd.report.audit import gather as gather_audit
from syncd.report.cooccurrence import cooccurrences
from syncd.report.digest import gather as digest_data
from syncd.report.digest import timezone_of
from syncd.report.digest_actions import actions
from syncd.report.digest_render import render
from syncd.report.people import PersonFigures, compute_people
from syncd.report.status import account_rows
from syncd.report.why import by_value, flag_json, last_touches, why_data
from syncd.web.context import WebContext

DAY = 86400
SNOOZES = (("1 week", 7), ("2 weeks", 14), ("1 month", 30), ("3 months", 91))
TIER_ORDER = ("core", "active", "network", "acquaintance")
RULE_NAMES = {
    "dormant": "gone quiet",
    "three_touches": "fewer than three touches a year",
    "meeting_follow_up": "meeting without a follow-up",
    "unanswered": "waiting for your reply",
    "reciprocity": "one-sided",
    "reactivate": "strong tie gone quiet",
    "nurture": "new connection",
}
TIMELINE_SHOWN = 30
TIMELINE_LIMIT = 500
FLAGS_SHOWN = 20
PAGE_SIZE = 50
SORTS = ("score", "name", "tier", "kind", "last_touch", "organisation")


@dataclass(frozen=True, slots=True)
class Choices:
    """The fixed choices the forms offer."""

    snoozes: tuple[tuple[str, int], ...] = SNOOZES
    touch_kinds: tuple[str, ...] = TOUCH_KINDS
    kinds: tuple[str, ...] = KINDS
    tiers: tuple[str, ...] = ALL_TIERS


CHOICES = Choices()


def config_of(wc: WebContext) -> tuple[Config, str | None]:
    """The configuration and the problem with it (None: valid). An invalid file still
    lets every page show what is stored."""
    try:
        return wc.config(), None
    except ConfigError as exc:
        return Config(), str(exc)


def day_text(epoch: int | None, tz: ZoneInfo = UTC) -> str:
    """``2026-11-28`` in ``tz`` ("" for None)."""
    return datetime.fromtimestamp(epoch, tz).strftime("%Y-%m-%d") if epoch else ""


def rule_name(rule: str) -> str:
    """A rule's id in plain words."""
    return RULE_NAMES.get(rule, rule.replace("_", " "))


def flag_row(flag: Flag, who: dict[str, Any], now: int, tz: ZoneInfo) -> dict[str, Any]:
    """One open flag as Today and Person show it."""
    data = flag_json(flag, now, who)
    email = data["email"] or ""
    return {
        "id": flag.id,
        "dom_id": "flag-" + flag.id.replace(":", "-"),
        "person": flag.person_id,
        "name": who.get("name") or email or f"person {flag.person_id}",
        "email": email,
        "tier": who.get("tier") or "acquaintance",
        "rule": flag.rule,
        "rule_name": rule_name(flag.rule),
        "reason": plain_reason(flag, now, tz),
        "explanation": data["explanation"],
        "due": day_text(flag.due, tz),
        "value": data["value"],
        "state": data["state"],
        "mailto": mailto(email, mail_subject(flag)) if email else "",
    }


def today(wc: WebContext, now: int, show_all: bool = False) -> dict[str, Any]:
    """The Today page: open flags by value (the first :data:`FLAGS_SHOWN` unless
    ``show_all``), this week's follow-ups, accounts."""
    db = wc.db
    config, problem = config_of(wc)
    tz = timezone_of(config)
    flags = shown_flags(db, now)
    info = people_info(db, {f.person_id for f in flags})
    flags = by_value(flags, info, now)
    accounts = account_rows(db, config.accounts)
    return {
        "flags": [
            flag_row(f, info[f.person_id], now, tz)
            for f in (flags if show_all else flags[:FLAGS_SHOWN])
        ],
        "flags_total": len(flags),
        "followups": actions(db, now, tz)["followups"],
        "accounts": accounts,
        "needs_auth": [a for a in accounts if a["needs_auth"]],
        "config_problem": problem,
        "day": day_text(now, tz),
    }


def one_flag(wc: WebContext, flag: Flag, now: int) -> dict[str, Any]:
    """The row of one flag (after an action on it)."""
    config, _ = config_of(wc)
    info = people_info(wc.db, {flag.person_id})
    return flag_row(flag, info[flag.person_id], now, timezone_of(config))


def _organisation(p: PersonFigures, orgs: dict[int, str]) -> str:
    if p.id in orgs:
        return orgs[p.id]
    return p.emails[0].rsplit("@", 1)[-1] if p.emails else ""


@dataclass(frozen=True, slots=True)
class PeopleQuery:
    """The People page's search, filters and order."""

    q: str = ""
    tier: str = ""
    kind: str = ""
    org: str = ""
    tag: str = ""
    sort: str = "score"
    desc: bool = True
    page: int = 1

    @classmethod
    def from_params(cls, params: Any) -> PeopleQuery:
        """From the query string (unknown values fall back to the defaults)."""
        sort = params.get("sort", "score")
        page = params.get("page", "1")
        return cls(
            q=(params.get("q") or "").strip()[:200],
            tier=params.get("tier", "") if params.get("tier") in ALL_TIERS else "",
            kind=params.get("kind", "") if params.get("kind") in KINDS else "",
            org=(params.get("org") or "").strip()[:200],
            tag=(params.get("tag") or "").strip().lower()[:100],
            sort=sort if sort in SORTS else "score",
            desc=params.get("dir", "desc" if sort in ("score", "last_touch") else "asc") == "desc",
            page=int(page) if page.isdigit() and 0 < int(page) < 100000 else 1,
        )

    def link(self, **changes: Any) -> str:
        """The People URL of this query with ``changes``."""
        values = {
            "q": self.q,
            "tier": self.tier,
            "kind": self.kind,
            "org": self.org,
            "tag": self.tag,
            "sort": self.sort,
            "dir": "desc" if self.desc else "asc",
            "page": self.page,
            **changes,
        }
        return "/people?" + urlencode({k: v for k, v in values.items() if v not in ("", None)})


def _row(p: PersonFigures, org: str, tags: tuple[str, ...], tz: ZoneInfo) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name or (p.emails[0] if p.emails else f"person {p.id}"),
        "email": p.emails[0] if p.emails else "",
        "tier": p.tier,
        "kind": p.kind,
        "organisation": org,
        "tags": tags,
        "last_touch": day_text(p.last_touch, tz),
        "last_epoch": p.last_touch or 0,
        "score": round(p.score.total, 1),
        "touches": p.touches_in + p.touches_out + p.meetings,
    }


def people(wc: WebContext, now: int, query: PeopleQuery) -> dict[str, Any]:
    """The People page: everyone touched, searched, filtered and sorted."""
    db = wc.db
    config, _ = config_of(wc)
    rules = wc.rules()
    refresh_kinds(db, rules.kinds)
    everyone = compute_people(db, now, half_life_days=rules.half_life_days, sizes=rules.sizes)
    orgs = {
        pid: c.organization
        for pid, c in contact_details(db, [p.id for p in everyone]).items()
        if c.organization
    }
    tz = timezone_of(config)
    tags = tags_for(db, [p.id for p in everyone])
    rows = [_row(p, _organisation(p, orgs), tags.get(p.id, ()), tz) for p in everyone]
    organisations = Counter(r["organisation"] for r in rows if r["organisation"])
    needle = query.q.lower()
    if needle:
        rows = [r for r in rows if needle in r["name"].lower() or needle in r["email"]]
    if query.tier:
        rows = [r for r in rows if r["tier"] == query.tier]
    if query.kind:
        rows = [r for r in rows if r["kind"] == query.kind]
    if query.org:
        rows = [r for r in rows if r["organisation"].lower() == query.org.lower()]
    if query.tag:
        tagged = set(people_tagged(db, query.tag))
        rows = [r for r in rows if r["id"] in tagged]
    keys = {
        "score": lambda r: r["score"],
        "name": lambda r: r["name"].lower(),
        "tier": lambda r: TIER_ORDER.index(r["tier"]) if r["tier"] in TIER_ORDER else 9,
        "kind": lambda r: r["kind"],
        "last_touch": lambda r: r["last_epoch"],
        "organisation": lambda r: r["organisation"].lower(),
    }
    rows.sort(key=lambda r: r["id"])
    rows.sort(key=keys[query.sort], reverse=query.desc)
    pages = max(1, -(-len(rows) // PAGE_SIZE))
    page = min(query.page, pages)
    return {
        "rows": rows[(page - 1) * PAGE_SIZE : page * PAGE_SIZE],
        "matched": len(rows),
        "page_no": page,
        "pages": pages,
        "first": (page - 1) * PAGE_SIZE + 1,
        "total": len(everyone),
        "query": query,
        "organisations": [o for o, _ in organisations.most_common(40)],
        "tags": sorted(tag_counts(db)),
    }


def _flag_history(flags: list[Flag], info: dict[str, Any], now: int, tz: ZoneInfo) -> list[dict]:
    out = []
    for f in reversed(flags):
        state = f.state(now)
        out.append(
            {
                "rule_name": rule_name(f.rule),
                "due": day_text(f.due, tz),
                "state": state,
                "resolution": f.resolution,
                "resolved": day_text(f.resolved_at, tz),
                "snoozed_until": day_text(f.snoozed_until, tz) if state == "snoozed" else "",
                "reason": plain_reason(f, now, tz),
            }
        )
    return out


def person(wc: WebContext, now: int, pid: int, show_all: bool = False) -> dict[str, Any]:
    """The Person page: ``syncd why`` with the timeline (the latest :data:`TIMELINE_SHOWN`
    touches unless ``show_all``) and the flags' history."""
    db = wc.db
    config, _ = config_of(wc)
    tz = timezone_of(config)
    data = why_data(db, now, wc.rules(), pid)
    info = people_info(db, {pid})[pid]
    flags = person_flags(db, pid)
    shown = by_value([f for f in flags if f.state(now) == "shown"], {pid: info}, now)
    timeline = last_touches(db, pid, now, TIMELINE_LIMIT if show_all else TIMELINE_SHOWN + 1)
    for t in timeline:
        t["day"] = t["at"][:10]
        t["time"] = t["at"][11:16]
    email = data["emails"][0] if data["emails"] else ""
    merges = [
        {"keep": s.keep, "other": s.other, "reason": s.reason}
        for s in suggest_merges(db)
        if pid in (s.keep, s.other)
    ]
    details = contact_details(db, [pid]).get(pid)
    log = [
        {"id": c.id, "action": c.action, "person": c.person, "other": c.other}
        for c in changes(db, 200)
        if pid in (c.person, c.other)
    ][:10]
    return {
        **data,
        "display_name": data["name"] or email or f"person {pid}",
        "open_flags": [flag_row(f, info, now, tz) for f in shown],
        "history": _flag_history(flags, info, now, tz),
        "timeline": timeline if show_all else timeline[:TIMELINE_SHOWN],
        "timeline_more": not show_all and len(timeline) > TIMELINE_SHOWN,
        "mailto": mailto(email, "Catching up") if email else "",
        "merges": merges,
        "contact": details,
        "tags": tags_for(db, [pid]).get(pid, ()),
        "addresses": person_addresses(db, pid),
        "merge_log": log,
        "kind_text": _kind_text(data),
    }


def _kind_text(d: dict[str, Any]) -> str:
    if d["kind_source"] == "user":
        return "set by you"
    if d["kind_source"] == "default":
        return "no evidence against it"
    if d["kind"] == "human":
        return "the evidence is not enough to make it anything else"
    return "inferred from the evidence below"


def digest_html(wc: WebContext, now: int) -> str:
    """The weekly digest's HTML, exactly as the email carries it."""
    config, _ = config_of(wc)
    html, _ = render(digest_data(wc.db, config, now, wc.home))
    return html


def network(wc: WebContext, now: int) -> dict[str, Any]:
    """The Network page: ``syncd audit``'s figures (tier sizes against their targets, ties,
    growth, give and take, organisations) and who among the core and active people
    appears with whom."""
    db = wc.db
    rules = wc.rules()
    refresh_kinds(db, rules.kinds)
    refresh_introductions(db)
    audit = compute_audit(gather_audit(db, now, rules))
    gt = audit.give_take
    inner = [
        p
        for p in compute_people(db, now, half_life_days=rules.half_life_days, sizes=rules.sizes)
        if p.kind == "human" and p.tier in ("core", "active")
    ]
    return {
        "audit": audit,
        "tiers": [(t, n, audit.tier_targets.get(t), f"tier-{t}") for t, n in audit.tiers.items()],
        "ties": [(t, n, None, f"tie-{t}") for t, n in audit.ties.items()],
        "growth": audit.growth,
        "give": [
            ("replies by you", gt.get("replies_given", 0), None, "out"),
            ("replies by them", gt.get("replies_received", 0), None, "in"),
            ("conversations you started", gt.get("initiated", 0), None, "out"),
            ("conversations they started", gt.get("received", 0), None, "in"),
        ],
        "organisations": [(o, n, None, "") for o, n in audit.organisations[:12]],
        "inner": [
            {"id": p.id, "name": p.name or (p.emails[0] if p.emails else str(p.id)), "tier": p.tier}
            for p in inner
        ],
        "links": cooccurrences(db, [p.id for p in inner], now),
    }
