"""``syncd account add/list/remove`` and ``syncd sync``: configured accounts."""

from __future__ import annotations

from pathlib import Path

import click

from connectors.options import ACCOUNT_KINDS
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.exchange_options import exchange_options, exchange_settings, split_exchange
from syncd.commands.outlook_options import outlook_options, outlook_settings, split_outlook
from syncd.commands.output import echo
from syncd.commands.server_options import server_options, server_settings
from syncd.commands.status import account_lines
from syncd.config.schema import AccountConfig, load_config, remove_account, save_account
from syncd.core.errors import UserError
from syncd.daemon.validate import load_everything
from syncd.pipeline.account_sync import sync_all
from syncd.report.status import account_rows


@click.group("account")
def account_group() -> None:
    """Add, list and remove the accounts that `syncd sync` reads."""


@account_group.command("add")
@click.argument("kind", type=click.Choice(ACCOUNT_KINDS))
@click.argument("name")
@click.option("--address", metavar="ADDR", help="The account's own address (one of yours).")
@click.option("--me", multiple=True, metavar="ADDR", help="Another address of yours (repeatable).")
@click.option(
    "--api-endpoint", metavar="URL", help="Base URL replacing the provider's (proxies, emulators)."
)
@click.option(
    "--token-file",
    type=click.Path(path_type=Path),
    help='JSON {"token": "..."}: a bare access token.',
)
@click.option(
    "--calendar",
    metavar="ID",
    help="Calendar to read and write (gcal: an id, default primary; caldav: a name or URL).",
)
@click.option(
    "--filter-categories",
    is_flag=True,
    help="Gmail: treat Promotions/Social/Updates/Forums as bulk (reported as source signals).",
)
@click.option(
    "--path",
    "paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Local exports (mbox, maildir, ics kinds).",
)
@server_options
@exchange_options
@outlook_options
@pass_ctx
def add_command(
    ctx: Context,
    kind: str,
    name: str,
    address: str | None,
    me: tuple[str, ...],
    api_endpoint: str | None,
    token_file: Path | None,
    calendar: str | None,
    paths: tuple[Path, ...],
    filter_categories: bool,
    **server: object,
) -> None:
    """Add account NAME of KIND to the configuration."""
    graph, rest = split_outlook(kind, dict(server))
    mine, server = split_exchange(rest)
    options: dict = exchange_settings(kind, mine, server)
    if kind != "exchange":
        options = server_settings(kind, server)
    elif not address:
        raise UserError("an exchange account needs --address (the mailbox's SMTP address)")
    options.update(outlook_settings(kind, graph, address))
    if api_endpoint:
        options["api_endpoint"] = api_endpoint
    if token_file:
        if not token_file.exists():
            raise UserError(f"token file not found: {token_file}")
        options["token_file"] = str(token_file.resolve())
    if calendar:
        options["calendar"] = calendar
    if filter_categories:
        options["filter_categories"] = True
    if paths:
        options["paths"] = [str(p.resolve()) for p in paths]
    if kind in ("mbox", "maildir", "ics") and not paths:
        raise UserError(f"a {kind} account needs --path")
    account = AccountConfig(name=name, kind=kind, address=address.lower() if address else None,
                            me=[m.lower() for m in me], options=options)  # fmt: skip
    ctx.home.ensure()
    ctx.home.ensure_config_dir()
    save_account(ctx.home.config_path, account)
    click.echo(f"added account {name} ({kind}); run `syncd sync` to read it")


@account_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def list_command(ctx: Context, as_json: bool) -> None:
    """List configured accounts with their last sync and its result (as `syncd status`)."""
    config = load_config(ctx.home.config_path)
    rows = [a for a in account_rows(ctx.db, config.accounts) if a["configured"]]
    if as_json:
        options = {a.name: a.options for a in config.accounts.values()}
        echo_json([{**a, **options[a["name"]]} for a in rows])
        return
    if not rows:
        echo("no accounts (syncd account add KIND NAME ...)")
    for a in rows:
        for line in account_lines(a):
            echo(line)


@account_group.command("remove")
@click.argument("name")
@pass_ctx
def remove_command(ctx: Context, name: str) -> None:
    """Remove account NAME from the configuration (its stored data stays)."""
    remove_account(ctx.home.config_path, name)
    click.echo(f"removed account {name}")


@click.command("sync")
@click.option("--once", is_flag=True, help="One pass over every account, then exit (the default).")
@pass_ctx
def sync_command(ctx: Context, once: bool) -> None:
    """Sync every configured account once (`syncd run` keeps syncing).

    Refuses an invalid config.toml (exit 2), listing every problem."""
    config = load_everything(ctx.home).config
    if not config.accounts:
        click.echo("no accounts configured (syncd account add KIND NAME ...)")
        return
    results = sync_all(ctx.db, ctx.home, config)
    failed = 0
    for r in results:
        if r.ok:
            click.echo(
                f"{r.name}: {r.stats.observations} messages, {r.stats.events} events, "
                f"{r.stats.quarantined} quarantined"
            )
        else:
            failed += 1
            already = "syncd auth" in (r.error or "")
            hint = f" (run `syncd auth {r.name}`)" if r.needs_auth and not already else ""
            click.echo(f"{r.name}: failed: {r.error}{hint}", err=True)
    if failed:
        raise SystemExit(1)


COMMANDS = [account_group, sync_command]
