"""``syncd me``, ``syncd ignore`` / ``unignore`` and ``syncd kind``: who counts as a person.

Every person is ``human``, ``self`` (another address of yours), ``automated`` or
``list`` (a group or shared role mailbox), inferred from evidence (``syncd why``
shows it); only humans are tiered and flagged. Your corrections win and persist.
"""

from __future__ import annotations

import click

from rules.settings import load_config
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import echo
from syncd.core.errors import UserError
from syncd.mail.kinds import KINDS
from syncd.pipeline.identity import people_info, resolve_person
from syncd.pipeline.kinds import (
    accept_me,
    corrections,
    ignore,
    ignores,
    refresh,
    self_candidates,
    set_kind,
    unignore,
)


@click.group("me")
def me_command() -> None:
    """Your own addresses: suggestions from the evidence, and accepting one."""


@me_command.command("suggest")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of objects).")
@pass_ctx
def me_suggest_command(ctx: Context, as_json: bool) -> None:
    """List addresses that look like yours, strongest first, with their evidence."""
    config = load_config(ctx.home.config_path)
    refresh(ctx.db, config.kinds)
    found = self_candidates(ctx.db, config.kinds)
    if as_json:
        echo_json(
            [
                {
                    "address": c.address,
                    "confidence": c.confidence,
                    "applied": c.applied,
                    "evidence": [e.as_json() for e in c.evidence],
                }
                for c in found
            ]
        )
        return
    if not found:
        echo("no candidates: syncd sees no other address of yours")
        return
    for c in found:
        state = "treated as yours (self)" if c.applied else "suggested"
        echo(f"{c.address}  [{state}, evidence {c.confidence:g}]  syncd me add {c.address}")
        for e in c.evidence:
            echo(f"    {e.signal}: {e.detail}")
    echo(
        "'syncd me add ADDR' counts an address as yours (its mail becomes your own);"
        " 'syncd kind ADDR human' undoes an inferred 'self'"
    )


@me_command.command("add")
@click.argument("address")
@pass_ctx
def me_add_command(ctx: Context, address: str) -> None:
    """Count ADDRESS as yours, as --me does (touchpoints are rederived)."""
    if accept_me(ctx.db, address):
        echo(f"{address.strip().lower()} is now one of your addresses")
    else:
        echo(f"{address.strip().lower()} already was one of your addresses")


@click.command("ignore")
@click.argument("pattern", metavar="ADDR|@DOMAIN", required=False)
@click.option("--list", "show", is_flag=True, help="List ignores and kind corrections.")
@pass_ctx
def ignore_command(ctx: Context, pattern: str | None, show: bool) -> None:
    """Never tier or flag ADDR (or anyone at @DOMAIN); their touches are still counted."""
    if show or pattern is None:
        if pattern is not None:
            raise UserError("give either ADDR|@DOMAIN or --list")
        patterns = ignores(ctx.db)
        fixed = corrections(ctx.db)
        info = people_info(ctx.db, {p for p, _ in fixed})
        echo("ignored:" if patterns else "ignored: nothing")
        for p in patterns:
            echo(f"  {p}")
        echo("kinds you set:" if fixed else "kinds you set: none")
        for person, kind in fixed:
            who = info[person]
            emails = ", ".join(who["emails"])
            echo(f"  {who['name']} <{emails}> (person {person}): {kind}")
        return
    echo(f"ignoring {ignore(ctx.db, pattern)} (syncd unignore to undo)")


@click.command("unignore")
@click.argument("pattern", metavar="ADDR|@DOMAIN")
@pass_ctx
def unignore_command(ctx: Context, pattern: str) -> None:
    """Stop ignoring ADDR or @DOMAIN."""
    if not unignore(ctx.db, pattern):
        raise UserError(f"{pattern.strip().lower()} is not ignored (see syncd ignore --list)")
    echo(f"no longer ignoring {pattern.strip().lower()}")


@click.command("kind")
@click.argument("person_ref", metavar="PERSON")
@click.argument("kind", type=click.Choice([*KINDS, "auto"]))
@pass_ctx
def kind_command(ctx: Context, person_ref: str, kind: str) -> None:
    """Correct what PERSON is (human, self, automated, list); ``auto`` goes back to inference.

    Only humans are tiered and flagged; your choice wins over the evidence and persists.
    """
    person = resolve_person(ctx.db, person_ref)
    set_kind(ctx.db, person, None if kind == "auto" else kind)
    echo(f"person {person} is {kind if kind != 'auto' else 'inferred from the evidence again'}")


COMMANDS = [me_command, ignore_command, unignore_command, kind_command]
