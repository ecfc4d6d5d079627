"""``syncd people``: per-person figures, merges, merge suggestions and tier pins."""

from __future__ import annotations

import click

from rules.settings import load_config
from rules.tiers import ALL_TIERS
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.flags import refresh
from syncd.commands.output import Column, echo, print_table
from syncd.core.timeutil import iso
from syncd.pipeline.contacts import pending_suggestions
from syncd.pipeline.identity import pin_tier, resolve_person, suggest_merges
from syncd.pipeline.kinds import refresh as refresh_kinds
from syncd.pipeline.merging import merge
from syncd.pipeline.tags import require_tag
from syncd.report.people import compute_people, top_people


@click.group("people", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of objects).")
@click.option("--all", "include_all", is_flag=True, help="Include people with no touchpoint yet.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows in the table view.")
@click.option("--tag", metavar="TAG", help="Only the people tagged TAG (with or without touches).")
@click.pass_context
def people_command(
    click_ctx: click.Context, as_json: bool, include_all: bool, limit: int, tag: str | None
) -> None:
    """List people with their touches, tier, last touch and tags (strongest first)."""
    if click_ctx.invoked_subcommand is not None:
        return
    ctx: Context = click_ctx.obj

    config = load_config(ctx.home.config_path)
    wanted = require_tag(ctx.db, tag) if tag is not None else None
    head = None
    if not (as_json or include_all or wanted is not None):
        # The table: the rules' cache brought to --now (as syncd flags does), then only
        # the rows shown are read from it.
        refresh(ctx)
        head = top_people(ctx.db, ctx.now, config, limit)
    if head is not None:
        total, people = head
    else:
        refresh_kinds(ctx.db, config.kinds)
        people = compute_people(
            ctx.db,
            ctx.now,
            include_untouched=include_all,
            half_life_days=config.half_life_days,
            sizes=config.sizes,
            tag=wanted,
        )
        total = len(people)
    if as_json:
        echo_json([p.as_json() for p in people])
        return
    columns = [
        Column("id", right=True),
        Column("name", wrap=True),
        Column("email", wrap=True),
        Column("tier"),
        Column("kind"),
        Column("in", right=True),
        Column("out", right=True),
        Column("meetings", right=True),
        Column("last touch"),
        Column("tags", wrap=True),
    ]
    rows = [
        (
            p.id,
            p.name or (p.emails[0] if p.emails else ""),
            p.emails[0] if p.emails else "",
            p.tier,
            p.kind,
            p.touches_in,
            p.touches_out,
            p.meetings,
            (iso(p.last_touch) or "")[:10],
            ", ".join(p.tags),
        )
        for p in people[:limit]
    ]
    print_table(f"{total} people as of {iso(ctx.now)[:10]}", columns, rows)
    if total > limit:
        echo(f"... {total - limit} more (--limit N, or --json for all)")


@people_command.command("merge")
@click.argument("keep")
@click.argument("other")
@pass_ctx
def merge_command(ctx: Context, keep: str, other: str) -> None:
    """Merge person OTHER into KEEP (ids, addresses or unique names)."""
    a, b = resolve_person(ctx.db, keep), resolve_person(ctx.db, other)
    change = merge(ctx.db, a, b)
    echo(f"merged person {b} into {a} (undo with: syncd merge --undo {change.id})")


@people_command.command("suggest")
@pass_ctx
def suggest_command(ctx: Context) -> None:
    """Suggest merges: same display name, dot/plus variants of an address, or an
    imported contact card bearing the name of several people."""
    suggestions = suggest_merges(ctx.db)
    cards = pending_suggestions(ctx.db)
    if not suggestions and not cards:
        echo("no merge suggestions")
    for s in suggestions:
        echo(f"syncd people merge {s.keep} {s.other}    # {s.reason}")
    for c in cards:
        for other in c.people:
            echo(f"syncd people merge {other} {c.person}    # {c.reason}: {c.name}")


@people_command.command("tier")
@click.argument("person_ref", metavar="PERSON")
@click.argument("tier", type=click.Choice([*ALL_TIERS, "auto"]))
@pass_ctx
def tier_command(ctx: Context, person_ref: str, tier: str) -> None:
    """Pin PERSON to TIER (pins win over scores); ``auto`` removes the pin."""
    person = resolve_person(ctx.db, person_ref)
    pin_tier(ctx.db, person, None if tier == "auto" else tier)
    echo(f"person {person}: tier {'automatic' if tier == 'auto' else 'pinned to ' + tier}")


COMMANDS = [people_command]
