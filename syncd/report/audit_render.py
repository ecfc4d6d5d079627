"""The network audit's renderings: plain text (``syncd audit``) and one HTML page with
inline SVG charts (``syncd audit --html FILE``). Every value from the store goes
through :func:`syncd.core.text.one_line` and, in HTML, is escaped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from syncd.core.files import replace_file
from syncd.core.text import one_line
from syncd.report.audit import Audit, audit_json
from syncd.report.digest_render import template_environment

BAR = 24  # characters of the longest text bar


def render_html(audit: Audit) -> str:
    """The audit as a self-contained HTML page (no scripts, no remote assets)."""
    env = template_environment()  # audit.html.j2: autoescaped
    tag_rows = [(t["tag"], t["people"]) for t in audit.tags]
    return env.get_template("audit.html.j2").render(a=audit_json(audit), tag_rows=tag_rows)


def _bars(rows: list[tuple[str, int]], indent: str = "  ") -> list[str]:
    top = max((n for _, n in rows), default=0)
    width = max((len(one_line(label)) for label, _ in rows), default=0)
    out = []
    for label, n in rows:
        size = round(BAR * n / top) if top else 0
        out.append(f"{indent}{one_line(label).ljust(width)}  {'█' * max(size, 1 if n else 0)} {n}")
    return out


def _rate(r: dict[str, Any]) -> str:
    pct = "-" if r["percent"] is None else f"{r['percent']}%"
    return f"{pct} ({r['answered']} of {r['of']})"


def render_text(audit: Audit) -> str:
    """The audit as plain text, one section after another."""
    a = audit
    lines = [
        f"network audit as of {a.as_of[:10]}: {a.humans} people",
        "",
        "tiers (people / room for):",
    ]
    for tier, n in a.tiers.items():
        lines.append(f"  {tier:<8} {n:>4} / {a.tier_targets[tier]}")
    lines.append(f"  {'all':<8} {sum(a.tiers.values()):>4} / {sum(a.tier_targets.values())}")
    lines += [
        "",
        f"ties (dormant: no touch for {a.dormant_days} days):",
        *_bars(list(a.ties.items())),
    ]
    lines += ["", "dormant strong ties worth reactivating:"]
    for s in a.reactivate:
        booked = f", meeting booked {s.next_meeting[:10]}" if s.next_meeting else ""
        lines.append(
            f"  {one_line(s.name)} <{one_line(s.email)}>: {s.exchanges} exchanges,"
            f" silent {s.days_silent} days{booked}"
        )
    if not a.reactivate:
        lines.append("  none")
    elif a.reactivate_total > len(a.reactivate):
        lines.append(f"  and {a.reactivate_total - len(a.reactivate)} more")
    lines += ["", "new people per month:", *_bars(a.growth)]
    g = a.give_take
    lines += [
        "",
        "replies and give vs take (12 months):",
        f"  emails to you that you answered   {_rate(a.response['yours'])}",
        f"  your emails they answered         {_rate(a.response['theirs'])}",
        f"  introductions you made            {g['introductions']}"
        f" ({g['introductions_connected']} connected)",
        f"  replies given / received          {g['replies_given']} / {g['replies_received']}",
        f"  conversations you / they started  {g['initiated']} / {g['received']}",
    ]
    lines += [
        "",
        f"organisations ({a.organisation_total}; {a.personal_only} personal addresses only):",
    ]
    lines += _bars(a.organisations)
    lines += [
        "",
        "industries (a rough guess from domains and organisations):",
        *_bars(a.industries),
    ]
    lines += ["", f"seniority (job titles known for {a.titles_known} of {a.humans}):"]
    lines += _bars(a.seniority) or ["  no titles: syncd import vcard|linkedin FILE adds them"]
    lines += [
        "",
        f"geography (UTC offsets of the mail they sent you, known for {a.time_zones_known}):",
        *_bars(a.time_zones),
    ]
    if a.locations:
        lines += ["", "locations on contact cards:", *_bars(a.locations)]
    lines += ["", "tags (people; of them dormant):"]
    lines += [
        line + f"; {t['dormant']} dormant"
        for line, t in zip(_bars([(t["tag"], t["people"]) for t in a.tags]), a.tags, strict=True)
    ] or ["  none: syncd tag PERSON TAG adds one"]
    return "\n".join(lines) + "\n"


def write_html(audit: Audit, path: Path) -> Path:
    """Write :func:`render_html` to ``path`` (atomically: a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, render_html(audit))
    return path
