"""``syncd auth NAME`` for an ``outlook`` account: msal's browser or device code flow."""

from __future__ import annotations

import click

from connectors.graph_auth import authorize, cache_path, cached_sign_in, forget, scopes_for
from syncd.commands.context import Context
from syncd.config.schema import AccountConfig, Config
from syncd.core.errors import UserError


def authorize_outlook(
    ctx: Context, account: AccountConfig, config: Config, device_code: bool, drop: bool
) -> str:
    """Sign in to Microsoft for ``account`` (or forget its grant); the line to print.

    A cached grant that already covers the scopes is used silently (no browser); to
    sign in as someone else, ``--revoke`` first. Scopes:
    :func:`connectors.graph_auth.scopes_for` (Mail.ReadBasic, Calendars.Read or
    Calendars.ReadWrite, Mail.Send when the digest goes through the account).
    """
    if drop:
        forget(account, ctx.home)
        return f"forgot the grant of {account.name}"
    if account.options.get("token_file"):
        raise UserError(
            f"account {account.name} authenticates with the token file "
            f"{account.options['token_file']}; remove token_file to sign in with msal"
        )
    scopes = scopes_for(account, config)
    where = cache_path(ctx.home, account.name)
    user = cached_sign_in(account, ctx.home, scopes)
    if user is not None:
        return (
            f"{account.name} is already authorized as {user} ({', '.join(scopes)}); "
            f"token cache: {where} (to sign in again: syncd auth {account.name} --revoke first)"
        )
    user = authorize(account, ctx.home, scopes, device_code=device_code, echo=click.echo)
    return f"authorized {account.name} as {user} ({', '.join(scopes)}); token cache: {where}"
