"""``syncd demo``: one full cycle on a generated example network.

The network (:mod:`syncd.demo.network`) is generated into ``HOME/demo`` and
imported through the same path as ``syncd import``. Its anchor (the end of
its two years: the evaluation day, ``--now`` rounded down to midnight UTC) is
fixed on the first run and kept in the store (setting ``demo``), so running
the demo again in the same home, on any day, regenerates byte-identical files
and the import cursors make the second import a no-op.

With ``--out DIR`` the demo also runs the actions: it evaluates the rules,
plans this week's follow-ups into ``HOME/demo/followups.ics`` through the
outbox (Europe/London working hours, at most 5 a week) and writes
``DIR/followups.ics`` (a copy of that calendar), ``DIR/digest.html`` and
``DIR/digest.txt`` (the weekly summary email). The calendar lives in the home,
so a second run finds its events there and changes nothing.

The demo refuses to run in a home that holds other data: mixing an example
network into someone's real one would spoil both.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlite_utils

from rules.engine import evaluate
from rules.flags import shown_flags
from rules.settings import load_config as load_rules_config
from syncd.config.schema import Config
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.core.timeutil import iso
from syncd.demo.network import generate
from syncd.demo.tables import PERSONA, PERSONA_ADDRESSES, SEED
from syncd.followup.outbox import drain_outbox
from syncd.followup.planner import ACTIVE, PlannerSettings, followups, plan_followups
from syncd.mail.addresses import match_key
from syncd.pipeline.identity import my_keys
from syncd.pipeline.kinds import excluded
from syncd.pipeline.local_import import import_paths
from syncd.report.digest import write_preview
from syncd.report.people import PersonFigures, compute_people
from syncd.store.db import get_setting, put_setting

DAY = 86400
TOP = 15
DEMO_TIMEZONE = "Europe/London"  # the persona's (syncd.demo.network.LONDON)
FOLLOWUPS = "followups.ics"
TIER_ORDER = ("core", "active", "network", "acquaintance")


@dataclass
class Session:
    """What the demo needs from its caller: the home, the instant, the store and a printer."""

    home: Home
    now: int
    db: sqlite_utils.Database
    echo: Callable[[str], None]
    program: str = "syncd"  # how the user runs syncd again, for the closing hints


def run_demo(ctx: Session, out: Path | None) -> None:
    """Generate the example network, import it into ``ctx``'s home and summarise it."""
    started = time.monotonic()
    demo_dir = ctx.home.root / "demo"
    _refuse_foreign_data(ctx, demo_dir)
    anchor, reused = _anchor(ctx)
    manifest = generate(demo_dir, anchor)
    day = iso(anchor)[:10]
    ctx.echo(
        f"syncd demo: {PERSONA}, independent consultant; two years of mail and calendar to {day}"
    )
    ctx.echo(f"  her addresses: {', '.join(PERSONA_ADDRESSES)}")
    if reused and anchor != _day(ctx.now):
        ctx.echo(f"  (the network of {day} from an earlier run; a fresh --home makes a new one)")
    ctx.echo(
        f"  generated {manifest.copies:,} message copies in {len(manifest.folders)} mbox folders "
        f"and {manifest.events} calendar events under {demo_dir}"
    )

    me = list(PERSONA_ADDRESSES)
    mail = import_paths(ctx.db, ctx.home, "mbox", [manifest.mail_dir], me, ctx.now)
    cal = import_paths(ctx.db, ctx.home, "ics", [manifest.calendar_path], me, ctx.now)
    new = mail.observations + cal.events
    if new:
        ctx.echo(
            f"  imported {mail.observations:,} message copies and {cal.events:,} event instances"
            f" ({mail.quarantined + cal.quarantined} quarantined)"
        )
    else:
        ctx.echo("  already imported: nothing new (the import cursors made this run a no-op)")

    ctx.echo("")
    _mail_summary(ctx)
    _calendar_summary(ctx)
    people = compute_people(ctx.db, ctx.now)
    ctx.echo("")
    _people_summary(ctx, people)
    if out is not None:
        # The actions (rules, follow-ups, digest) run with --out only: a plain `syncd demo`
        # stays a read-only summary that leaves the stored flags as they were.
        ctx.echo("")
        config = _actions(ctx, demo_dir)
        _write_outputs(ctx, out, people, demo_dir)
        _write_actions(ctx, out, demo_dir, config)
    ctx.echo("")
    ctx.echo(f"done in {time.monotonic() - started:.1f}s. Explore:")
    home = shlex.quote(str(ctx.home.root))
    for command in ("people", "flags", f"why {shlex.quote('Fatima Haddad')}", "status"):
        ctx.echo(f"  {ctx.program} --home {home} {command}")


def _day(epoch: int) -> int:
    return epoch - epoch % DAY


def _anchor(ctx: Session) -> tuple[int, bool]:
    """The network's end: kept from an earlier run in this home, else ``--now``'s day.

    Returns ``(anchor, reused)``. A new anchor is stored before anything is
    imported, so an interrupted first run resumes with the same network.
    """
    saved = get_setting(ctx.db, "demo")
    if (
        isinstance(saved, dict)
        and saved.get("seed") == SEED
        and isinstance(saved.get("anchor"), int)
    ):
        return saved["anchor"], True
    anchor = _day(ctx.now)
    with ctx.db.atomic():
        put_setting(ctx.db, "demo", {"persona": PERSONA, "seed": SEED, "anchor": anchor})
    return anchor, False


def _refuse_foreign_data(ctx: Session, demo_dir: Path) -> None:
    """Raise :class:`UserError` when the home holds anything but an earlier demo."""
    db = ctx.db
    root = str(demo_dir.resolve()) + os.sep
    mine = {match_key(a) for a in PERSONA_ADDRESSES}
    foreign = [name for (name,) in db.execute("SELECT name FROM accounts") if name != "local"]
    foreign += [s for (s,) in db.execute("SELECT scope FROM cursors") if root not in s]
    foreign += sorted(my_keys(db) - mine)
    if not foreign and not db.execute("SELECT 1 FROM cursors LIMIT 1").fetchone():
        foreign += ["messages"] if db.execute("SELECT 1 FROM messages LIMIT 1").fetchone() else []
        foreign += ["events"] if db.execute("SELECT 1 FROM events LIMIT 1").fetchone() else []
    if foreign:
        raise UserError(
            f"{ctx.home.root} already holds other data; the demo would mix its example network "
            "into it. Run it in a home of its own, e.g.: syncd --home /tmp/syncd-demo demo"
        )


def _count(ctx: Session, sql: str) -> int:
    return ctx.db.execute(sql).fetchone()[0]


def _mail_summary(ctx: Session) -> None:
    db = ctx.db
    copies = _count(ctx, "SELECT count(*) FROM observations")
    skipped = Counter(
        folder
        for (folder,) in db.execute("SELECT folder FROM observations WHERE skipped IS NOT NULL")
    )
    logical = _count(ctx, "SELECT count(*) FROM messages")
    threshold = get_setting(db, "broadcast_threshold", 20)
    bulk = broadcast = 0
    for flags, signals, recipients in db.execute("SELECT bulk, signals, recipients FROM messages"):
        if flags or signals:
            bulk += 1
        else:
            r = json.loads(recipients)
            if len(set(r["to"]) | set(r["cc"]) | set(r["bcc"])) > threshold:
                broadcast += 1
    counted = _count(
        ctx, "SELECT count(DISTINCT ref) FROM touchpoints WHERE kind IN ('email_in', 'email_out')"
    )
    merged = copies - sum(skipped.values()) - logical
    other = logical - bulk - broadcast - counted
    where = ", ".join(f"{n} {f}" for f, n in sorted(skipped.items()))
    ctx.echo(f"mail: {copies:,} copies -> {logical:,} logical messages")
    ctx.echo(f"  {merged:,} duplicate copies merged (same Message-ID or same fingerprint)")
    ctx.echo(f"  {sum(skipped.values()):,} copies in skipped folders ({where or 'none'})")
    ctx.echo(f"  {bulk:,} bulk or automated (newsletters, lists, no-reply, bounces, auto-replies)")
    ctx.echo(f"  {broadcast:,} broadcasts (more than {threshold} recipients)")
    ctx.echo(
        f"  {counted:,} messages with touchpoints; {other:,} others (notes to myself, Bcc'd to me)"
    )


def _calendar_summary(ctx: Session) -> None:
    events = _count(ctx, "SELECT count(*) FROM events")
    meetings = "SELECT count(DISTINCT ref) FROM touchpoints WHERE kind = 'meeting' AND at"
    held = _count(ctx, f"{meetings} <= {int(ctx.now)}")
    upcoming = _count(ctx, f"{meetings} > {int(ctx.now)}")
    ctx.echo(
        f"calendar: {events:,} event instances -> {held:,} meetings held, {upcoming:,} upcoming, "
        f"{events - held - upcoming:,} without touchpoints (cancelled, declined, too large, alone)"
    )


def _people_summary(ctx: Session, people: list[PersonFigures]) -> None:
    sizes = Counter(p.tier for p in people)
    tiers = ", ".join(f"{t} {sizes.get(t, 0)}" for t in TIER_ORDER)
    ctx.echo(f"people: {len(people)} as of {iso(ctx.now)[:10]} -- {tiers}")
    rows = [("#", "name", "tier", "in", "out", "meet", "last touch", "next meeting")]
    for i, p in enumerate(people[:TOP], 1):
        name = p.name or (p.emails[0] if p.emails else "?")
        rows.append(
            (
                str(i),
                name[:28],
                p.tier,
                str(p.touches_in),
                str(p.touches_out),
                str(p.meetings),
                (iso(p.last_touch) or "")[:10],
                (iso(p.upcoming) or "")[:10],
            )
        )
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    right = {0, 3, 4, 5}
    for r in rows:
        cells = [
            r[c].rjust(widths[c]) if c in right else r[c].ljust(widths[c]) for c in range(len(r))
        ]
        ctx.echo("  " + "  ".join(cells).rstrip())
    quiet = [
        p
        for p in people
        if p.last_touch is not None
        and ctx.now - p.last_touch > 180 * DAY
        and p.touches_in + p.touches_out + p.meetings >= 20
    ]
    if quiet:
        quiet.sort(key=lambda p: p.last_touch)
        names = ", ".join(
            f"{p.name} ({(ctx.now - p.last_touch) // DAY} days"
            + (", meeting booked)" if p.upcoming else ")")
            for p in quiet[:5]
        )
        ctx.echo(f"  gone quiet after a strong history: {names}")


def _write_outputs(ctx: Session, out: Path, people: list[PersonFigures], demo_dir: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps([p.as_json() for p in people], indent=2, ensure_ascii=False) + "\n"
    (out / "people.json").write_text(text, encoding="utf-8")
    target = out / "input"
    target.mkdir(exist_ok=True)
    shutil.copytree(demo_dir / "mail", target / "mail", dirs_exist_ok=True)
    shutil.copy2(demo_dir / "calendar.ics", target / "calendar.ics")
    ctx.echo("")
    ctx.echo(f"wrote {out / 'people.json'} ({len(people)} people, as `syncd people --json`)")
    ctx.echo(f"copied the generated inputs to {target} (mail/ mbox folders, calendar.ics)")


def _demo_config(demo_dir: Path):
    """The demo's configuration: follow-ups into ``HOME/demo/followups.ics``, London hours."""
    planner = {"calendar": str(demo_dir / FOLLOWUPS), "timezone": DEMO_TIMEZONE}
    return Config(me=list(PERSONA_ADDRESSES), timezone=DEMO_TIMEZONE, raw={"planner": planner})


def _actions(ctx: Session, demo_dir: Path):
    """Evaluate the rules, plan this week's follow-ups and write them (through the outbox).

    The target calendar lives in the demo home, so a second run finds its
    events there and changes nothing.
    """

    config = _demo_config(demo_dir)
    settings = PlannerSettings.from_config(config, ctx.home)
    evaluate(
        ctx.db, ctx.now, load_rules_config(ctx.home.config_path), my_keys=my_keys, excluded=excluded
    )
    flags = shown_flags(ctx.db, ctx.now)
    report = plan_followups(ctx.db, ctx.home, config, ctx.now, settings=settings)
    stats = drain_outbox(ctx.db, ctx.home, config, ctx.now)
    week = [
        f
        for f in followups(ctx.db, ACTIVE, settings.target)
        if ctx.now - 7 * DAY < f.start < ctx.now + 7 * DAY
    ]
    hours = settings.hours
    days = "-".join(
        datetime(2024, 1, 1 + d).strftime("%a") for d in (min(hours.days), max(hours.days))
    )
    ctx.echo(
        f"flags: {len(flags)} open; follow-ups on the calendar: {len(week)} this week"
        f" ({len(report.placed)} new; at most {settings.per_week} a week, {days}"
        f" {hours.start:%H:%M}-{hours.end:%H:%M} {hours.tz.key}, near {settings.preferred:%H:%M},"
        f" {settings.length // 60} min each)"
    )
    for f in week:
        when = datetime.fromtimestamp(f.start, hours.tz).strftime("%a %d %b %H:%M")
        ctx.echo(f"  {when}  {f.title}")
    if stats.dead or stats.retrying:
        ctx.echo(f"  outbox: {stats.summary()}")
    return config


def _write_actions(ctx: Session, out: Path, demo_dir: Path, config) -> None:
    """Copy the follow-up calendar to ``out`` and write the weekly digest there."""
    source = demo_dir / FOLLOWUPS
    target = out / FOLLOWUPS
    if source.exists():
        tmp = out / f".{FOLLOWUPS}.tmp"
        shutil.copyfile(source, tmp)
        tmp.replace(target)
    paths = write_preview(ctx.db, config, ctx.now, out / "digest.html", ctx.home)
    ctx.echo(f"wrote {target} (the planned follow-up events, as syncd writes them)")
    ctx.echo(
        f"wrote {' and '.join(str(p) for p in paths)} (the weekly summary email, HTML and text)"
    )
