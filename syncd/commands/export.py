"""``syncd export``: people as CSV, vCard or JSON, for a CRM or any other tool."""

from __future__ import annotations

from pathlib import Path

import click

from rules.settings import load_config
from syncd.commands.context import Context, pass_ctx
from syncd.commands.output import echo
from syncd.core.errors import UserError
from syncd.pipeline.kinds import refresh as refresh_kinds
from syncd.pipeline.tags import require_tag
from syncd.report.export import FORMATS, export_people, format_for, write_export


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(FORMATS)),
    help="csv, vcard or json (default: from the --out file's suffix).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (created 0600) instead of standard output.",
)
@click.option("--tag", metavar="TAG", help="Only the people tagged TAG.")
@click.option(
    "--all-kinds", is_flag=True, help="Also automated, list and self addresses, and the ignored."
)
@pass_ctx
def export_command(
    ctx: Context, fmt: str | None, out: Path | None, tag: str | None, all_kinds: bool
) -> None:
    """Export people with tier, kind, score, first and last touch, touch counts, tags,
    and from contact cards organisation, title, birthday, anniversary and location:
    CSV (a header row; lists joined with "; "), vCard 3.0 (tags as CATEGORIES;
    `syncd import vcard` reads it back) or JSON (a list of objects).

    Exported: the humans with a touch, a contact card or a tag, strongest ties first.
    A CSV cell starting with = + - or @ gets a leading ' so spreadsheets do not run it.
    """
    fmt = fmt or format_for(out)
    if fmt is None:
        raise UserError("which format? give --format csv|vcard|json (or --out FILE.csv/.vcf/.json)")
    config = load_config(ctx.home.config_path)
    wanted = require_tag(ctx.db, tag) if tag is not None else None
    refresh_kinds(ctx.db, config.kinds)
    people = export_people(
        ctx.db,
        ctx.now,
        half_life_days=config.half_life_days,
        sizes=config.sizes,
        tag=wanted,
        all_kinds=all_kinds,
    )
    text = FORMATS[fmt](people)
    if out is None:
        click.echo(text, nl=False)
        return
    write_export(out, text)
    echo(f"exported {len(people)} people to {out} ({fmt})", err=True)


COMMANDS = [export_command]
