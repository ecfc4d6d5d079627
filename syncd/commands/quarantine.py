"""``syncd quarantine list|show``: what an import or a sync set aside, why, and from where.

Reads :mod:`syncd.report.quarantine`; prints through :mod:`syncd.commands.output`,
so nothing from a message (an excerpt, a folder name) reaches the terminal raw.
"""

from __future__ import annotations

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import Column, echo, print_table
from syncd.core.errors import UserError
from syncd.report.quarantine import quarantined_item, quarantined_items


@click.group("quarantine", invoke_without_command=True)
@click.pass_context
def quarantine_group(click_ctx: click.Context) -> None:
    """Items that could not be understood (messages, events, whole files): kept with
    their reason and where they came from, never dropped. Without a subcommand: list."""
    if click_ctx.invoked_subcommand is None:
        click_ctx.invoke(quarantine_list)


@quarantine_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def quarantine_list(ctx: Context, as_json: bool = False) -> None:
    """List the quarantined items: id, account, where in the source, reason."""
    items = quarantined_items(ctx.db)
    if as_json:
        echo_json([item.as_json() for item in items])
        return
    if not items:
        echo("nothing is quarantined")
        return
    print_table(
        f"{len(items)} quarantined item{'s' if len(items) != 1 else ''}",
        [
            Column("id", right=True),
            Column("account"),
            Column("where", wrap=True),
            Column("reason", wrap=True),
        ],
        [(item.id, item.account or "", item.locator, item.reason) for item in items],
    )
    echo("`syncd quarantine show ID` shows one item with its excerpt")


@quarantine_group.command("show")
@click.argument("item_id", metavar="ID", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def quarantine_show(ctx: Context, item_id: int, as_json: bool) -> None:
    """Show one quarantined item: its reason, source location and excerpt."""
    item = quarantined_item(ctx.db, item_id)
    if item is None:
        raise UserError(f"no quarantined item {item_id} (`syncd quarantine list` lists them)")
    if as_json:
        echo_json(item.as_json())
        return
    echo(f"item:     {item.id}")
    echo(f"account:  {item.account or '-'}")
    echo(f"folder:   {item.scope}")
    echo(f"where:    {item.locator}")
    echo(f"reason:   {item.reason}")
    echo(f"since:    {item.created_at}")
    excerpt = (item.excerpt or b"").decode("utf-8", "replace")
    if excerpt.strip():
        echo("excerpt:")
        for line in excerpt.splitlines():
            echo(f"  {line}")
    else:
        echo("excerpt:  (none kept)")


COMMANDS = [quarantine_group]
