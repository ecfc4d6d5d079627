"""``syncd log``: record a touch that never reached email or a calendar, or undo one."""

from __future__ import annotations

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import echo
from syncd.core.errors import UserError
from syncd.core.timeutil import iso, parse_instant
from syncd.pipeline.identity import resolve_person
from syncd.pipeline.manual import KINDS, log_touch, undo_touch


@click.command("log")
@click.argument("person_ref", metavar="PERSON", required=False)
@click.option("--kind", type=click.Choice(KINDS), help="What it was.")
@click.option("--at", "at", metavar="WHEN", help="ISO 8601 date or time (default: now).")
@click.option("--note", metavar="TEXT", help="A short note (shown by syncd why).")
@click.option("--undo", "undo_id", type=int, metavar="ID", help="Delete the logged touch ID.")
@click.option("--json", "as_json", is_flag=True, help="Print the touch as JSON.")
@pass_ctx
def log_command(
    ctx: Context,
    person_ref: str | None,
    kind: str | None,
    at: str | None,
    note: str | None,
    undo_id: int | None,
    as_json: bool,
) -> None:
    """Record a call, coffee, meeting, message, intro or note with PERSON (an id, an
    address or an unambiguous name). It restarts cadences like any touch and shows in
    syncd why; `syncd log --undo ID` deletes it again.
    """
    if undo_id is not None:
        if person_ref or kind or at or note:
            raise UserError("syncd log --undo ID takes no PERSON, --kind, --at or --note")
        touch = undo_touch(ctx.db, undo_id)
        verb = "undone"
    else:
        if not person_ref or not kind:
            raise UserError("usage: syncd log PERSON --kind KIND [--at WHEN] [--note TEXT]")
        when = parse_instant(at) if at else ctx.now
        if when > ctx.now:
            raise UserError(f"--at {at} is in the future; log a touch once it happened")
        person = resolve_person(ctx.db, person_ref)
        touch = log_touch(ctx.db, person, kind, when, note)
        verb = "logged"
    if as_json:
        echo_json(
            {
                "id": touch.id,
                "person": touch.person_id,
                "kind": touch.kind,
                "at": iso(touch.at),
                "note": touch.note,
                "status": verb,
            }
        )
        return
    what = f"{verb}: {touch.id} ({touch.kind} with person {touch.person_id} at {iso(touch.at)})"
    echo(what + (f"; undo with syncd log --undo {touch.id}" if verb == "logged" else ""))


COMMANDS = [log_command]
