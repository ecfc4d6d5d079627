"""The network audit (``syncd audit``; a monthly summary in the digest): read-only.

:func:`gather` reads the store once into plain inputs, :func:`compute` turns them into
an :class:`Audit` (pure), and :func:`render_text`, :func:`audit_json` and
:func:`render_html` show it. The people and their tiers are exactly those of
``syncd people --json`` (:func:`syncd.report.people.compute_people`), so every count
here agrees with it. Ties, among the humans:

- **dormant**: no touch for ``silent_days`` (the ``reactivate`` rule's setting, 180);
- else **strong** (core or active tier), **medium** (network) or **weak** (acquaintance).

Geography comes from the UTC offset of the Date header of the messages people sent
you (kept in the stored headers; the most common one per person) and from the
location on their contact cards; no body and no remote look-up is ever involved.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlite_utils

from rules.settings import RulesConfig
from syncd.core.timeutil import iso
from syncd.mail.addresses import match_key
from syncd.pipeline.contacts import contact_details
from syncd.pipeline.identity import my_keys
from syncd.report.digest_figures import FREE_MAIL, reply_rate
from syncd.report.give_take import GiveTake, answered_by_them, give_take
from syncd.report.people import PersonFigures, compute_people

DAY = 86400
YEAR = 365 * DAY
TIERS = ("core", "active", "network")
TIES = ("strong", "medium", "weak", "dormant")
TIE_OF_TIER = {"core": "strong", "active": "strong", "network": "medium"}
GROWTH_MONTHS = 12
REACTIVATE_SHOWN = 10
_OFFSET = re.compile(r"([+-])(\d\d)(\d\d)$")
INDUSTRY_WORDS = (
    ("education", ("university", "college", "school", "academy", ".edu", ".ac.")),
    ("government", (".gov", ".gouv.", ".gob.", "ministry", "council")),
    ("finance", ("bank", "capital", "ventures", "invest", "fund", "finance", "insur")),
    ("health", ("health", "clinic", "hospital", "pharma", "medic", "bio")),
    ("legal", ("law", "legal", "attorney", "notar")),
    ("consulting", ("consult", "advisory", "partners")),
    ("recruiting", ("recruit", "talent", "staffing")),
    ("design and media", ("design", "studio", "media", "press", "creative")),
    ("technology", ("tech", "labs", "software", "analytics", "data", "cloud", "systems", ".io")),
    ("non-profit", (".org", "foundation", "charity")),
)
_EXECUTIVE = (
    r"\b(chief|ceo|cto|cfo|coo|cmo|founder|owner|president|partner|managing director"
    r"|geschäftsführer|directeur général)\b"
)
SENIORITY = (
    ("executive", re.compile(_EXECUTIVE, re.I)),
    (
        "director / VP",
        re.compile(r"\b(vp|vice president|head of|director|directeur|leiter)\b", re.I),
    ),
    ("manager / lead", re.compile(r"\b(manager|lead|principal|supervisor)\b", re.I)),
)


@dataclass(frozen=True, slots=True)
class StrongTie:
    """A dormant strong tie worth reactivating."""

    id: int
    name: str
    email: str
    exchanges: int
    days_silent: int
    last_touch: str | None
    next_meeting: str | None


@dataclass(slots=True)
class Audit:
    """Everything the audit shows, as plain data (``--json`` prints it as it is)."""

    as_of: str
    people: int
    humans: int
    tiers: dict[str, int]
    tier_targets: dict[str, int]
    ties: dict[str, int]
    dormant_days: int
    organisations: list[tuple[str, int]]
    organisation_total: int
    personal_only: int
    industries: list[tuple[str, int]]
    seniority: list[tuple[str, int]]
    titles_known: int
    time_zones: list[tuple[str, int]]
    time_zones_known: int
    locations: list[tuple[str, int]]
    growth: list[tuple[str, int]]
    response: dict[str, Any]
    give_take: dict[str, int]
    reactivate: list[StrongTie] = field(default_factory=list)
    reactivate_total: int = 0
    tags: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Inputs:
    """What :func:`compute` needs from the store."""

    now: int
    people: list[PersonFigures]
    contacts: dict[int, Any]
    offsets: dict[int, Counter[str]]
    answered: tuple[int, int]
    answered_by_them: tuple[int, int]
    give_take: GiveTake
    sizes: dict[str, int]
    silent_days: int
    min_exchanges: int


def gather(
    db: sqlite_utils.Database,
    now: int,
    config: RulesConfig,
    geography: bool = True,
    people: list[PersonFigures] | None = None,
) -> Inputs:
    """Read the store (people as ``syncd people --json`` has them, cards, Date offsets
    unless not ``geography``, replies both ways and give vs take over the last year).
    ``people``: :func:`compute_people` at ``now`` with ``config``, when the caller has it."""
    if people is None:
        people = compute_people(db, now, half_life_days=config.half_life_days, sizes=config.sizes)
    humans = [p for p in people if p.kind == "human"]
    react = config.rules["reactivate"]
    yours = reply_rate(db, now - YEAR, now)
    theirs = answered_by_them(db, now - YEAR, now)
    return Inputs(
        now=now,
        people=people,
        contacts=contact_details(db, [p.id for p in humans]),
        offsets=sender_offsets(db, now) if geography else {},
        answered=yours,
        answered_by_them=theirs,
        give_take=give_take(db, now - YEAR, now, (yours, theirs)),
        sizes=dict(config.sizes),
        silent_days=int(react["silent_days"]),
        min_exchanges=int(react["min_exchanges"]),
    )


def sender_offsets(db: sqlite_utils.Database, now: int) -> dict[int, Counter[str]]:
    """Per person, how often each UTC offset (``+0100``) ended the Date of a message they
    sent (one stored copy per logical message, messages up to ``now``, mine aside)."""
    me = my_keys(db)
    out: dict[int, Counter[str]] = {}
    for person, sender, date in db.execute(
        "SELECT a.person_id, m.sender, (SELECT json_extract(o.headers, '$.date[0]')"
        "  FROM observations o WHERE o.message_id = m.id LIMIT 1)"
        " FROM messages m JOIN addresses a ON a.address = m.sender"
        " WHERE m.sent_at <= ? AND m.bulk IS NULL",
        [now],
    ):
        if match_key(sender) in me or not isinstance(date, str):
            continue
        found = _OFFSET.search(date.strip())
        if found:
            out.setdefault(person, Counter())[found.group(0)] += 1
    return out


def _domain(emails: list[str]) -> str | None:
    domains = sorted({e.rpartition("@")[2] for e in emails} - FREE_MAIL)
    return domains[0] if domains else None


def industry_of(domain: str | None, organisation: str | None) -> str:
    """A rough industry from the domain and the card's organisation (``other`` if unknown)."""
    text = f"{domain or ''} {organisation or ''}".lower()
    if not text.strip():
        return "personal addresses"
    for label, words in INDUSTRY_WORDS:
        if any(w in text for w in words):
            return label
    return "other"


def seniority_of(title: str | None) -> str | None:
    """The seniority a job title suggests (None without a title)."""
    if not title or not title.strip():
        return None
    for label, pattern in SENIORITY:
        if pattern.search(title):
            return label
    return "individual contributor"


def tie_of(p: PersonFigures, now: int, dormant_days: int) -> str:
    """``strong``, ``medium``, ``weak`` or ``dormant`` (see the module docstring)."""
    if p.last_touch is None or now - p.last_touch >= dormant_days * DAY:
        return "dormant"
    return TIE_OF_TIER.get(p.tier, "weak")


def utc_label(offset: str) -> str:
    """``+0100`` -> ``UTC+01:00``."""
    return f"UTC{offset[0]}{offset[1:3]}:{offset[3:5]}"


def _month(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, ZoneInfo("UTC")).strftime("%Y-%m")


def _months_back(now: int, n: int) -> list[str]:
    d = datetime.fromtimestamp(now, ZoneInfo("UTC"))
    out = []
    y, m = d.year, d.month
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _rate(pair: tuple[int, int]) -> dict[str, Any]:
    done, total = pair
    return {"answered": done, "of": total, "percent": round(100 * done / total) if total else None}


def compute(inp: Inputs) -> Audit:
    """The audit of ``inp`` (pure)."""
    now = inp.now
    humans = [p for p in inp.people if p.kind == "human"]
    tiers = {t: sum(1 for p in humans if p.tier == t) for t in TIERS}
    ties = Counter(tie_of(p, now, inp.silent_days) for p in humans)
    orgs: Counter[str] = Counter()
    industries: Counter[str] = Counter()
    seniority: Counter[str] = Counter()
    locations: Counter[str] = Counter()
    zones: Counter[str] = Counter()
    personal = 0
    for p in humans:
        card = inp.contacts.get(p.id)
        domain = _domain(p.emails)
        organisation = card.organization if card and card.organization else None
        if organisation or domain:
            orgs[organisation or domain] += 1  # type: ignore[index]
        else:
            personal += 1
        industries[industry_of(domain, organisation)] += 1
        level = seniority_of(card.title if card else None)
        if level:
            seniority[level] += 1
        if card and card.location:
            locations[card.location.strip()] += 1
        counts = inp.offsets.get(p.id)
        if counts:
            offset = max(counts.items(), key=lambda kv: (kv[1], kv[0]))[0]
            zones[utc_label(offset)] += 1
    months = _months_back(now, GROWTH_MONTHS)
    firsts = Counter(_month(p.first_touch) for p in humans if p.first_touch is not None)
    strong = []
    for p in humans:
        exchanges = min(p.touches_in, p.touches_out) + p.meetings
        silent = (now - p.last_touch) // DAY if p.last_touch is not None else None
        if exchanges >= inp.min_exchanges and silent is not None and silent >= inp.silent_days:
            strong.append(
                StrongTie(
                    p.id,
                    p.name or (p.emails[0] if p.emails else f"person {p.id}"),
                    p.emails[0] if p.emails else "",
                    exchanges,
                    int(silent),
                    iso(p.last_touch),
                    iso(p.upcoming),
                )
            )
    strong.sort(key=lambda s: (-s.exchanges, s.days_silent, s.id))
    by_tag: dict[str, Counter[str]] = {}
    for p in humans:
        for tag in p.tags:
            by_tag.setdefault(tag, Counter())[tie_of(p, now, inp.silent_days)] += 1
    return Audit(
        as_of=iso(now) or "",
        people=len(inp.people),
        humans=len(humans),
        tiers=tiers,
        tier_targets={t: inp.sizes.get(t, 0) for t in TIERS},
        ties={t: ties.get(t, 0) for t in TIES},
        dormant_days=inp.silent_days,
        organisations=_top(orgs, 15),
        organisation_total=len(orgs),
        personal_only=personal,
        industries=_top(industries, 12),
        seniority=_top(seniority, 6),
        titles_known=sum(seniority.values()),
        time_zones=_top(zones, 12),
        time_zones_known=sum(zones.values()),
        locations=_top(locations, 10),
        growth=[(m, firsts.get(m, 0)) for m in months],
        response={
            "yours": _rate(inp.answered),
            "theirs": _rate(inp.answered_by_them),
        },
        give_take=asdict(inp.give_take),
        reactivate=strong[:REACTIVATE_SHOWN],
        reactivate_total=len(strong),
        tags=[
            {"tag": tag, "people": sum(c.values()), **{t: c.get(t, 0) for t in TIES}}
            for tag, c in sorted(by_tag.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        ],
    )


def _top(counter: Counter[str], n: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:n]


def audit_json(audit: Audit) -> dict[str, Any]:
    """The audit as JSON-ready data."""
    return asdict(audit)
