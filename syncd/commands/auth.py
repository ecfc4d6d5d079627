"""``syncd auth ACCOUNT``: grant syncd access to a Google account (desktop OAuth flow)."""

from __future__ import annotations

from pathlib import Path

import click

from connectors.google_auth import GOOGLE_KINDS, authorize, client_secrets_path
from connectors.passwords import PASSWORD_KINDS
from connectors.secret_store import TokenStore
from syncd.commands.context import Context, pass_ctx
from syncd.commands.outlook_auth import authorize_outlook
from syncd.commands.server_options import ask_password
from syncd.config.schema import load_config
from syncd.core.errors import UserError
from syncd.daemon.state import nudge
from syncd.pipeline.accounts import account_id, clear_auth


@click.command("auth")
@click.argument("name")
@click.option(
    "--client-secrets",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Your OAuth client (Desktop app) JSON from the Google Cloud console "
    "(default: the account's client_secrets option, else HOME/client_secret.json).",
)
@click.option("--no-browser", is_flag=True, help="Print the URL instead of opening a browser.")
@click.option(
    "--port",
    type=int,
    default=0,
    show_default=True,
    help="Port of the local redirect server (0: any free port).",
)
@click.option(
    "--device-code",
    is_flag=True,
    help="Outlook: sign in on another device (a code to enter at microsoft.com/devicelogin).",
)
@click.option("--revoke", "forget", is_flag=True, help="Forget the stored grant instead.")
@pass_ctx
def auth_command(
    ctx: Context,
    name: str,
    client_secrets: Path | None,
    no_browser: bool,
    port: int,
    device_code: bool,
    forget: bool,
) -> None:
    """Authorize syncd to read account NAME (Gmail metadata or Google Calendar;
    for an imap, caldav or exchange account: ask its password once and keep it in the
    keyring).

    Opens Google's consent page in your browser and receives the grant on a
    local port. Scopes are the least syncd needs: gmail.metadata (headers
    and labels, never bodies), plus gmail.send when the digest goes through
    the account ([digest] via = "account:NAME"); calendar.events and calendar.freebusy for
    Google Calendar. The grant goes to the OS keyring, or to a private file
    under HOME/tokens when no keyring is available.

    An outlook account signs in to Microsoft with msal: in the browser, or with
    --device-code on a machine without one. Permissions: Mail.ReadBasic (never
    bodies), Calendars.Read (Calendars.ReadWrite when follow-ups go to it),
    Mail.Send only when the digest goes through it. The token cache is kept
    encrypted by the OS (msal-extensions), else in a 0600 file under HOME/tokens.
    Run again, it keeps that grant without a sign-in unless it lacks a permission
    (--revoke first to sign in as someone else).
    """
    config = load_config(ctx.home.config_path)
    account = config.accounts.get(name)
    if account is None:
        raise UserError(f"no account named {name!r} (syncd account list)")
    if account.kind in (*PASSWORD_KINDS, "exchange"):
        click.echo(ask_password(ctx.home, account, forget))
        stored = account_id(ctx.db, name)
        if stored is not None:
            clear_auth(ctx.db, stored)
        return
    if account.kind == "outlook":
        click.echo(authorize_outlook(ctx, account, config, device_code, forget))
        stored = account_id(ctx.db, name)
        if stored is not None:
            clear_auth(ctx.db, stored)
        return
    if account.kind not in GOOGLE_KINDS:
        raise UserError(
            f"account {name} is a {account.kind} account; `syncd auth` is for Google "
            "accounts (gmail, gcal)"
        )
    if forget:
        TokenStore(ctx.home).delete(name)
        click.echo(f"forgot the grant of {name}")
        return
    if account.options.get("token_file"):
        raise UserError(
            f"account {name} authenticates with the token file "
            f"{account.options['token_file']}; remove token_file to use OAuth"
        )
    secrets = client_secrets_path(account, ctx.home, client_secrets)
    _, where = authorize(
        account, ctx.home, secrets, open_browser=not no_browser, port=port, config=config
    )
    stored = account_id(ctx.db, name)
    if stored is not None:
        clear_auth(ctx.db, stored)
    click.echo(f"authorized {name}; the grant is stored in {where}")
    if nudge(ctx.home):
        click.echo("the running daemon retries the account now")


COMMANDS = [auth_command]
