"""``syncd tag`` / ``untag``: put words on people, to filter by and to give a cadence."""

from __future__ import annotations

import click

from rules.settings import load_config
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import Column, echo, print_table
from syncd.core.errors import UserError
from syncd.pipeline.identity import resolve_person
from syncd.pipeline.tags import TagChange, add_tags, remove_tags, tag_counts, tags_for


def _change_json(change: TagChange, verb: str) -> dict:
    return {
        "person": change.person_id,
        verb: list(change.changed),
        "unchanged": list(change.unchanged),
        "tags": list(change.tags),
    }


def _show_change(change: TagChange, verb: str) -> None:
    parts = []
    if change.changed:
        parts.append(f"{verb} {', '.join(change.changed)}")
    if change.unchanged:
        parts.append(f"already tagged {', '.join(change.unchanged)}")
    now = ", ".join(change.tags) or "none"
    echo(f"person {change.person_id}: {'; '.join(parts)} (tags now: {now})")


def _list_tags(ctx: Context, as_json: bool) -> None:
    counts = tag_counts(ctx.db)
    cadences = load_config(ctx.home.config_path).rules["dormant"]["tag_days"]
    names = sorted(set(counts) | set(cadences))
    if as_json:
        echo_json(
            [{"tag": t, "people": counts.get(t, 0), "cadence_days": cadences.get(t)} for t in names]
        )
        return
    if not names:
        echo("no tags yet; syncd tag PERSON TAG puts one on a person")
        return
    rows = [(t, counts.get(t, 0), cadences.get(t, "")) for t in names]
    columns = [Column("tag"), Column("people", right=True), Column("cadence days", right=True)]
    print_table(f"{len(names)} tags", columns, rows)


@click.command("tag")
@click.argument("person_ref", metavar="PERSON", required=False)
@click.argument("tags", metavar="TAG...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def tag_command(ctx: Context, person_ref: str | None, tags: tuple[str, ...], as_json: bool) -> None:
    """Tag PERSON (an id, an address or an unambiguous name) with one or more TAGs.

    A tag is one word (lower case; no spaces, commas or semicolons): syncd people
    --tag, syncd flags --tag and syncd export --tag filter by it, and a tag may have
    its own cadence in config.toml ([rules.tags.investor] cadence_days = 30: that
    person is flagged dormant after 30 days without a touch, whatever the tier).
    Without TAG, lists PERSON's tags; without PERSON, lists every tag in use.
    """
    if person_ref is None:
        _list_tags(ctx, as_json)
        return
    person = resolve_person(ctx.db, person_ref)
    if not tags:
        current = list(tags_for(ctx.db, [person]).get(person, ()))
        if as_json:
            echo_json({"person": person, "tags": current})
        else:
            echo(f"person {person}: {', '.join(current) or 'no tags'}")
        return
    change = add_tags(ctx.db, person, tags)
    if as_json:
        echo_json(_change_json(change, "added"))
    else:
        _show_change(change, "tagged")


@click.command("untag")
@click.argument("person_ref", metavar="PERSON")
@click.argument("tags", metavar="TAG...", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def untag_command(ctx: Context, person_ref: str, tags: tuple[str, ...], as_json: bool) -> None:
    """Take TAGs off PERSON (an id, an address or an unambiguous name).

    A tag PERSON does not carry is an error, and then nothing changes.
    """
    if not tags:
        raise UserError("usage: syncd untag PERSON TAG... (syncd tag PERSON lists its tags)")
    person = resolve_person(ctx.db, person_ref)
    change = remove_tags(ctx.db, person, tags)
    if as_json:
        echo_json(_change_json(change, "removed"))
    else:
        _show_change(change, "untagged")


COMMANDS = [tag_command, untag_command]
