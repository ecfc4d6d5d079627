"""``syncd intro TARGET``: who could introduce me, and a draft request to the best of them."""

from __future__ import annotations

import click

from rules.settings import load_config
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.flags import refresh
from syncd.commands.output import Column, echo, print_table
from syncd.report.intro import draft_request, intro_paths, resolve_target


@click.command("intro")
@click.argument("target_ref", metavar="TARGET")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of introducers).")
@click.option("--draft", is_flag=True, help="Print an introduction request to the best one.")
@click.option("--limit", default=10, show_default=True, help="How many introducers.")
@pass_ctx
def intro_command(ctx: Context, target_ref: str, as_json: bool, draft: bool, limit: int) -> None:
    """Rank the people who could introduce you to TARGET (an address, a domain, an id or
    a name): those who share messages or meetings with them, by your tie with them ×
    their evidence of a tie with the target, each path explained.
    """
    refresh(ctx)
    target = resolve_target(ctx.db, target_ref)
    k = load_config(ctx.home.config_path).k
    paths = intro_paths(ctx.db, ctx.now, k, target, limit)
    if as_json:
        echo_json(paths)
        return
    if not paths:
        echo(f"nobody you are in touch with shares messages or meetings with {target.label}")
        return
    if draft:
        echo(draft_request(paths[0], target))
        return
    rows = [
        (str(i), f"{p['name'] or p['emails'][0]} ({p['person']})", f"{p['score']:.3g}", p["why"])
        for i, p in enumerate(paths, 1)
    ]
    columns = [Column("#"), Column("introducer (id)", wrap=True), Column("score"),
               Column("why", wrap=True)]  # fmt: skip
    print_table(f"warm paths to {target.label}", columns, rows)
    echo("syncd intro TARGET --draft writes a request to the first one")


COMMANDS = [intro_command]
