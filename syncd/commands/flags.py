"""``syncd flags``, ``why``, ``snooze``, ``done``, ``dismiss`` and ``rules``.

Every command first brings the flags up to date (an incremental evaluation as
of ``--now``), so what it shows or changes is current.
"""

from __future__ import annotations

import logging

import click

from rules.engine import Report, evaluate
from rules.flags import (
    Flag,
    all_flags,
    flags_by_id,
    get_flag,
    person_flags,
    set_status,
    shown_keys,
    snooze,
)
from rules.pack import RULES
from rules.settings import load_config
from rules.tiers import tier_rule_text
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import Column, echo, print_table
from syncd.core.errors import UserError
from syncd.core.timeutil import iso, parse_instant
from syncd.pipeline.identity import my_keys, people_info, people_tiers, resolve_person
from syncd.pipeline.kinds import excluded
from syncd.pipeline.tags import people_tagged, require_tag
from syncd.report.why import flag_json, keys_by_value, why_data

log = logging.getLogger(__name__)

KIND_SOURCES = {
    "default": "no evidence against it",
    "inferred human": "the evidence below is not enough to make it anything else",
    "inferred": "inferred from the evidence below; correct it with syncd kind PERSON KIND",
    "user": "set by you",
}


def refresh(ctx: Context, full: bool = False, rebuild: bool = False) -> Report:
    """Validate the settings and evaluate the rules as of ``ctx.now``."""
    config = load_config(ctx.home.config_path)
    return evaluate(
        ctx.db, ctx.now, config, full=full, rebuild=rebuild, my_keys=my_keys, excluded=excluded
    )


@click.command("flags")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (a list of objects).")
@click.option("--rule", type=click.Choice(list(RULES)), help="Only this rule's flags.")
@click.option("--person", "person_ref", metavar="PERSON", help="Only this person's flags.")
@click.option("--tag", metavar="TAG", help="Only the flags of people tagged TAG.")
@click.option(
    "--all", "show_all", is_flag=True, help="Also pending, snoozed, expired and closed flags."
)
@click.option("--full", is_flag=True, help="Re-evaluate everyone, not only what changed.")
@click.option("--rebuild", is_flag=True, help="Also recompute every aggregate from scratch.")
@click.option("--limit", type=int, default=50, show_default=True, help="Rows in the table view.")
@pass_ctx
def flags_command(
    ctx: Context,
    as_json: bool,
    rule: str | None,
    person_ref: str | None,
    tag: str | None,
    show_all: bool,
    full: bool,
    rebuild: bool,
    limit: int,
) -> None:
    """List open flags, most valuable first (tie strength × urgency): who needs attention,
    by which rule, since when and why.

    Flags are brought up to date first, incrementally: only people whose
    touchpoints changed, whose tier moved or whose dates came due are looked at.
    """
    report = refresh(ctx, full, rebuild)
    log.info("evaluation: %s", report)
    person = resolve_person(ctx.db, person_ref) if person_ref else None
    tagged = set(people_tagged(ctx.db, require_tag(ctx.db, tag))) if tag is not None else None
    if show_all:
        if person is not None:
            flags = person_flags(ctx.db, person)
        else:
            flags = sorted(all_flags(ctx.db), key=lambda f: (f.due, f.rule, f.person_id, f.id))
        flags = [f for f in flags if rule is None or f.rule == rule]
        if tagged is not None:
            flags = [f for f in flags if f.person_id in tagged]
        total = len(flags)
    else:
        # Rank every shown flag from its key and its person's tier; decode and describe
        # only the flags printed (thousands of flags on a large store).
        keys = shown_keys(ctx.db, ctx.now, person, rule)
        if tagged is not None:
            keys = [k for k in keys if k[2] in tagged]
        keys = keys_by_value(keys, people_tiers(ctx.db, {k[2] for k in keys}), ctx.now)
        total = len(keys)
        flags = flags_by_id(ctx.db, [k[0] for k in (keys if as_json else keys[:limit])])
    info = people_info(ctx.db, {f.person_id for f in (flags if as_json else flags[:limit])})
    if as_json:
        echo_json([flag_json(f, ctx.now, info[f.person_id]) for f in flags])
        return
    if not total:
        echo(f"no open flags as of {iso(ctx.now)[:10]}")
        return
    rows = []
    for f in flags[:limit]:
        who = info[f.person_id]
        reason = f.explain(ctx.now).reason
        if show_all:
            state = f.state(ctx.now) + (f": {f.resolution}" if f.resolution else "")
            reason = f"[{state}] {reason}"
        person = f"{who['name'] or ''} ({f.person_id}, {who['tier']})"
        rows.append((iso(f.due)[:10], f.rule, person, reason))
    columns = [Column("due"), Column("rule"), Column("person (id, tier)", wrap=True),
               Column("reason", wrap=True)]  # fmt: skip
    print_table(f"{total} flags as of {iso(ctx.now)[:10]}", columns, rows)
    if total > limit:
        echo(f"... {total - limit} more (--limit N, or --json for all)")
    echo("syncd why PERSON explains one; syncd snooze/done/dismiss PERSON acts on it")


@click.command("why")
@click.argument("person_ref", metavar="PERSON")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def why_command(ctx: Context, person_ref: str, as_json: bool) -> None:
    """Explain a person: tier, score, last touches and each flag with its arithmetic.

    PERSON is a people id, an address or an unambiguous name.
    """
    refresh(ctx)
    person = resolve_person(ctx.db, person_ref)
    d = why_data(ctx.db, ctx.now, load_config(ctx.home.config_path), person)
    if as_json:
        echo_json(d)
        return
    emails = ", ".join(d["emails"]) or "no touched address"
    echo(f"{d['name'] or '(no name)'} <{emails}> — person {d['person']}")
    source = "inferred human" if d["kind_source"] == "inferred" and d["kind"] == "human" else ""
    echo(f"kind: {d['kind']} ({KIND_SOURCES[source or d['kind_source']]})")
    for e in d["kind_evidence"]:
        echo(f"  {e['signal']} → {e['kind']} (weight {e['weight']:g}): {e['detail']}")
    if d["ignored"]:
        echo(f"  ignored by you ({d['ignored']}): never tiered nor flagged (syncd unignore)")
    how = "pinned" if d["pinned"] else "automatic"
    if d["kind"] != "human" or d["ignored"]:
        how = "only humans are tiered"
    rank = f", rank {d['rank']} of {d['ranked_people']}" if d["rank"] else ""
    echo(f"tier: {d['tier']} ({how}{rank})")
    if d["tags"]:
        echo(f"tags: {', '.join(d['tags'])}")
    if d.get("card"):
        c = d["card"]
        job = " at ".join(v for v in (c["title"], c["organization"]) if v)
        dates = [f"{k} {c[k]}" for k in ("birthday", "anniversary") if c[k]]
        parts = [p for p in (job, c["location"], *dates) if p]
        echo(f"card: {'; '.join(parts) or c['full_name']} ({', '.join(c['sources'])})")
    if "score" in d:
        for line in d["score_arithmetic"]:
            echo(f"  {line}")
    echo(f"  {d['tier_rule']}")
    if d["tier_cutoffs"]:
        cuts = ", ".join(f"{t} >= {v}" for t, v in d["tier_cutoffs"].items())
        echo(f"  score needed now: {cuts}")
    if "score" in d:
        echo(
            f"touches: {d['touches_in']} in, {d['touches_out']} out, {d['meetings']} meetings;"
            f" first {(d['first_touch'] or 'never')[:10]},"
            f" last {(d['last_touch'] or 'never')[:10]};"
            f" next meeting {(d['next_meeting'] or 'none')[:16]}"
        )
    if d["last_touches"]:
        echo("last touches:")
        for t in d["last_touches"]:
            logged = f"  (logged, id {t['logged']})" if "logged" in t else ""
            echo(f"  {t['at'][:16]}  {t['kind']:<9}  {t['subject'] or ''}{logged}")
    if not d["flags"]:
        echo("open flags: none")
    else:
        echo("open flags:")
    for f in d["flags"]:
        echo(f"  {f['rule']} (due {f['due'][:10]}, id {f['id']}): {f['reason']}")
        for line in f["explanation"]:
            echo(f"      {line}")
    if d["other_flags"]:
        echo("other flags:")
        for f in d["other_flags"]:
            state = f["state"] + (f": {f['resolution']}" if f["resolution"] else "")
            echo(f"  [{state}] {f['rule']} due {f['due'][:10]}: {f['reason']}")


def _targets(ctx: Context, ref: str, rule: str | None, states: tuple[str, ...]) -> list[Flag]:
    """The flags a user action applies to: a flag id, or a person's flags in ``states``."""
    flag = get_flag(ctx.db, ref) if ref.count(":") >= 2 else None
    if flag is not None:
        if flag.state(ctx.now) not in states:
            raise UserError(f"flag {ref} is {flag.state(ctx.now)}")
        return [flag]
    person = resolve_person(ctx.db, ref)
    flags = [
        f
        for f in person_flags(ctx.db, person)
        if f.state(ctx.now) in states and (rule is None or f.rule == rule)
    ]
    if not flags:
        which = f" {rule}" if rule else ""
        raise UserError(f"no open{which} flags for {ref!r} as of {iso(ctx.now)[:10]}")
    return flags


@click.command("snooze")
@click.argument("ref", metavar="PERSON")
@click.option("--until", "until", required=True, metavar="DATE", help="ISO 8601 date or time.")
@click.option("--rule", type=click.Choice(list(RULES)), help="Only this rule's flag.")
@pass_ctx
def snooze_command(ctx: Context, ref: str, until: str, rule: str | None) -> None:
    """Hide a person's open flags until DATE (a touch before then still closes them).

    PERSON is a people id, an address, a name or a flag id.
    """
    refresh(ctx)
    when = parse_instant(until)
    if when <= ctx.now:
        raise UserError(f"--until {until} is not after now ({iso(ctx.now)})")
    flags = _targets(ctx, ref, rule, ("shown", "snoozed"))
    snooze(ctx.db, flags, when, ctx.now)
    for f in flags:
        echo(f"snoozed {f.id} until {iso(when)}")


def _close(ctx: Context, ref: str, rule: str | None, action: str) -> None:
    refresh(ctx)
    flags = _targets(ctx, ref, rule, ("shown", "snoozed"))
    set_status(ctx.db, flags, action, ctx.now)
    verb = "done" if action == "done" else "dismissed"
    for f in flags:
        echo(f"{verb}: {f.id}")


@click.command("done")
@click.argument("ref", metavar="PERSON")
@click.option("--rule", type=click.Choice(list(RULES)), help="Only this rule's flag.")
@pass_ctx
def done_command(ctx: Context, ref: str, rule: str | None) -> None:
    """Mark a person's open flags done (for dormant / reactivate: "I was in touch today").

    PERSON is a people id, an address, a name or a flag id.
    """
    _close(ctx, ref, rule, "done")


@click.command("dismiss")
@click.argument("ref", metavar="PERSON")
@click.option("--rule", type=click.Choice(list(RULES)), help="Only this rule's flag.")
@pass_ctx
def dismiss_command(ctx: Context, ref: str, rule: str | None) -> None:
    """Dismiss a person's open flags for this cycle (a later cycle flags again).

    PERSON is a people id, an address, a name or a flag id.
    """
    _close(ctx, ref, rule, "dismiss")


@click.command("rules")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def rules_command(ctx: Context, as_json: bool) -> None:
    """Show the rule pack with the effective settings (defaults + config.toml), validated."""
    config = load_config(ctx.home.config_path)
    data = {
        "tiers": {**config.sizes, "half_life_days": config.half_life_days},
        "rules": {rid: {"summary": RULES[rid].summary, **config.rules[rid]} for rid in RULES},
    }
    if as_json:
        echo_json(data)
        return
    echo(tier_rule_text(config.sizes) + f"; half-life {config.half_life_days:g} days")
    for rid, table in data["rules"].items():
        state = "on " if table["enabled"] else "off"
        settings = ", ".join(
            f"{k}={v}" for k, v in table.items() if k not in ("summary", "enabled")
        )
        echo(f"[{state}] {rid}: {table['summary']} ({settings})")


COMMANDS = [
    flags_command,
    why_command,
    snooze_command,
    done_command,
    dismiss_command,
    rules_command,
]
