"""``syncd merge`` / ``syncd split``: join two people into one, or split an address off.

The work is :mod:`syncd.pipeline.merging`; this module parses and prints.
"""

from __future__ import annotations

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import echo
from syncd.core.errors import UserError
from syncd.pipeline.identity import resolve_person
from syncd.pipeline.merging import Change, changes, merge, split, undo_merge


def _count(n: int, word: str) -> str:
    plural = word + ("es" if word.endswith(("s", "ch")) else "s")
    return f"{n} {word if n == 1 else plural}"


def merge_lines(change: Change) -> list[str]:
    """What a merge moved, and how to undo it."""
    d = change.detail
    who = f"person {change.other}" + (f" ({d['display_name']})" if d.get("display_name") else "")
    addresses = d["addresses"]
    listed = f" ({', '.join(addresses)})" if addresses else ""
    moved = [
        _count(len(addresses), "address") + listed,
        _count(len(d["manual_touches"]), "logged touch"),
        _count(len(d["contacts"]), "contact card"),
        _count(len(d["flags"]), "flag decision"),
    ]
    lines = [f"merged {who} into person {change.person}: {', '.join(moved)}"]
    if d.get("kind_moved"):
        lines.append(f"  your kind correction ({d['kind']}) moved too")
    lines.append(f"undo with: syncd merge --undo {change.id}")
    return lines


@click.command("merge")
@click.argument("keep", required=False)
@click.argument("other", required=False)
@click.option("--undo", "undo_id", type=int, metavar="ID", help="Undo the merge ID.")
@click.option("--log", "show_log", is_flag=True, help="List the latest merges and splits.")
@click.option("--json", "as_json", is_flag=True, help="Print the merge (or the log) as JSON.")
@pass_ctx
def merge_command(
    ctx: Context,
    keep: str | None,
    other: str | None,
    undo_id: int | None,
    show_log: bool,
    as_json: bool,
) -> None:
    """Merge person OTHER into KEEP (ids, addresses or unambiguous names): OTHER's
    addresses and their touchpoints, logged touches, contact cards, tags, your kind
    correction and your decisions on its flags become KEEP's; both are re-evaluated.
    `syncd merge --undo ID` puts OTHER back; `--log` lists merges and splits.
    """
    if (show_log or undo_id is not None) and (keep or other or (show_log and undo_id)):
        raise UserError("use syncd merge KEEP OTHER, syncd merge --undo ID or syncd merge --log")
    if show_log:
        log = changes(ctx.db)
        if as_json:
            echo_json([{"id": c.id, "action": c.action, "person": c.person,
                        "other": c.other, **c.detail} for c in log])  # fmt: skip
            return
        for c in log:
            verb = "merged into" if c.action == "merge" else "split from"
            listed = ", ".join(c.detail["addresses"])
            echo(f"{c.id}  person {c.other} {verb} person {c.person}: {listed}")
        if not log:
            echo("no merges or splits yet")
        return
    if undo_id is not None:
        change = undo_merge(ctx.db, undo_id)
        echo(
            f"undone merge {change.id}: person {change.other} is back with "
            f"{_count(len(change.detail['addresses']), 'address')}"
            " (flag decisions stay with person "
            f"{change.person})"
        )
        return
    if not keep or not other:
        raise UserError("usage: syncd merge KEEP OTHER (or --undo ID, --log)")
    a, b = resolve_person(ctx.db, keep), resolve_person(ctx.db, other)
    change = merge(ctx.db, a, b)
    if as_json:
        echo_json({"id": change.id, "person": a, "merged": b, **change.detail})
        return
    for line in merge_lines(change):
        echo(line)


@click.command("split")
@click.argument("person_ref", metavar="PERSON")
@click.argument("address")
@click.option("--json", "as_json", is_flag=True, help="Print the split as JSON.")
@pass_ctx
def split_command(ctx: Context, person_ref: str, address: str, as_json: bool) -> None:
    """Split ADDRESS (with its gmail dot/plus variants) off PERSON into a person of its
    own; its touchpoints and the contact cards that list it follow it.
    """
    person = resolve_person(ctx.db, person_ref)
    change = split(ctx.db, person, address)
    if as_json:
        echo_json({"id": change.id, "person": person, "new_person": change.other, **change.detail})
        return
    d = change.detail
    echo(
        f"split {', '.join(d['addresses'])} off person {person} into person {change.other}"
        f" (its touchpoints follow it; {_count(len(d['contacts']), 'contact card')} moved)"
    )
    echo(f"undo with: syncd merge {person} {change.other}")


COMMANDS = [merge_command, split_command]
