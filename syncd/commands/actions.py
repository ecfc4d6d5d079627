"""``syncd plan``, ``syncd outbox`` and ``syncd digest``: the actions side (design.md §4)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.flags import refresh
from syncd.commands.output import echo
from syncd.config.schema import load_config
from syncd.core.errors import UserError
from syncd.core.text import neutralise
from syncd.core.timeutil import iso
from syncd.followup import outbox
from syncd.followup.mailer import parse_smtp, store_password
from syncd.followup.outbox import drain_outbox, retry
from syncd.followup.planner import PlannerSettings, plan_followups
from syncd.report import digest


def _config(ctx: Context):
    return load_config(ctx.home.config_path)


def _refresh(ctx: Context) -> None:
    """Bring the flags up to date as of ``--now`` (as ``syncd flags`` does)."""
    refresh(ctx)


@click.command("plan")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-send", is_flag=True, help="Plan only; leave the writes in the outbox.")
@pass_ctx
def plan_command(ctx: Context, as_json: bool, no_send: bool) -> None:
    """Put follow-ups for open flags on your calendar (at most [planner] per_week a week).

    Needs a [planner] table in config.toml naming the calendar, e.g.
    calendar = "followups.ics". Follow-ups whose person you got in touch with
    are removed; ones you deleted or moved stay as you left them.

    Exits 1 when calendar writes failed (they wait in `syncd outbox`) or the
    calendar could not be read.
    """

    config = _config(ctx)
    settings = PlannerSettings.from_config(config, ctx.home)
    if not settings.enabled:
        raise UserError(
            'no calendar for follow-ups: add [planner] calendar = "followups.ics" (a local .ics'
            " file under the home, or any path) to config.toml"
        )
    _refresh(ctx)
    report = plan_followups(ctx.db, ctx.home, config, ctx.now, settings=settings)
    stats = None if no_send else drain_outbox(ctx.db, ctx.home, config, ctx.now)
    retrying, dead = outbox.failing(ctx.db, CALENDAR_WRITES)
    tz = settings.hours.tz
    if as_json:
        echo_json(
            {
                "placed": [
                    {"key": f.key, "start": iso(f.start), "end": iso(f.end), "title": f.title}
                    for f in report.placed
                ],
                "withdrawn": report.withdrawn,
                "deleted_by_user": report.user_deleted,
                "moved_by_user": report.user_moved,
                "waiting": len(report.waiting),
                "errors": report.errors,
                "outbox": None if stats is None else stats.summary(),
                "failed_writes": {"retrying": retrying, "dead": dead},
            }
        )
        _fail_if_untrue(report.errors, retrying, dead)
        return
    for f in report.placed:
        when = datetime.fromtimestamp(f.start, tz).strftime("%a %d %b %H:%M")
        echo(f"planned {when}  {f.title}")
    for key in report.withdrawn:
        echo(f"removing {key} (no longer needed)")
    for key in report.user_deleted:
        echo(f"you deleted {key}: it stays deleted")
    for key in report.user_moved:
        echo(f"you moved {key}: the new time stands")
    for error in report.errors:
        echo(f"warning: {error}", err=True)
    echo(report.summary())
    if stats is not None:
        echo(f"outbox: {stats.summary()}")
        for error in stats.errors:
            echo(f"  error: {error}", err=True)
    _fail_if_untrue(report.errors, retrying, dead)


CALENDAR_WRITES = ("event.create", "event.remove")


def _fail_if_untrue(errors: list[str], retrying: int, dead: int) -> None:
    """Exit 1 (a UserError) when the calendar is not as planned: failed writes, or a
    calendar that could not be read."""
    problems = []
    if retrying or dead:
        n = retrying + dead
        parts = []
        if retrying:
            parts.append(f"{retrying} will be retried")
        if dead:
            parts.append(f"{dead} gave up (fix the cause, then syncd outbox retry)")
        problems.append(
            f"{n} calendar write{'s' if n != 1 else ''} failed: {', '.join(parts)};"
            " see syncd outbox"
        )
    if errors:
        problems.append(f"the calendar could not be read ({len(errors)} problem(s) above)")
    if problems:
        raise UserError("; ".join(problems))


@click.group("outbox", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Also done and cancelled actions.")
@click.pass_context
def outbox_group(click_ctx: click.Context, as_json: bool, show_all: bool) -> None:
    """Show the outbox: writes waiting, retrying, and dead letters with their errors."""
    if click_ctx.invoked_subcommand is not None:
        return

    ctx: Context = click_ctx.obj
    states = None if show_all else ("pending", "running", "dead")
    items = outbox.rows(ctx.db, states)
    if as_json:
        echo_json([r.as_json() for r in items])
        return
    done = outbox.count(ctx.db, "done")
    echo(f"outbox: {outbox.backlog(ctx.db)} waiting, {done} done")
    for r in items:
        line = f"  {r.state:9} {r.id}  ({r.attempts} attempt{'s' if r.attempts != 1 else ''})"
        if r.state == "pending" and r.attempts:
            line += f", next {iso(r.not_before)}"
        echo(line)
        if r.last_error and r.state != "done":
            echo(f"            error: {r.last_error}")
    if any(r.state == "dead" for r in items):
        echo("dead letters wait for you: fix the cause, then syncd outbox retry")


@outbox_group.command("drain")
@pass_ctx
def outbox_drain(ctx: Context) -> None:
    """Run the writes that are due now."""
    stats = drain_outbox(ctx.db, ctx.home, _config(ctx), ctx.now)
    echo(f"outbox: {stats.summary()}")
    for error in stats.errors:
        echo(f"  error: {error}", err=True)


@outbox_group.command("retry")
@click.argument("ids", nargs=-1)
@pass_ctx
def outbox_retry(ctx: Context, ids: tuple[str, ...]) -> None:
    """Put dead letters (IDS, or all of them) back in the queue."""
    n = retry(ctx.db, list(ids) or None, ctx.now)
    echo(f"{n} action{'s' if n != 1 else ''} queued again; syncd outbox drain runs them")


@click.command("digest")
@click.option(
    "--preview",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Write the digest: HTML (plus FILE.txt beside it), or text for .txt, or .eml.",
)
@click.option("--send", is_flag=True, help="Send it now ([digest] and [smtp] in config.toml).")
@click.option(
    "--force",
    is_flag=True,
    help="With --send: also retry this week's digest after it gave up (never a second one).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option(
    "--set-password", is_flag=True, help="Store the SMTP password in the OS keyring (prompted)."
)
@pass_ctx
def digest_command(
    ctx: Context,
    preview: Path | None,
    send: bool,
    force: bool,
    as_json: bool,
    set_password: bool,
) -> None:
    """The weekly summary: network health, tiers, follow-ups, dormant ties, new people.

    Without options the plain-text version is printed.
    """

    config = _config(ctx)
    if set_password:
        settings = parse_smtp(config.section("smtp"), ctx.home.root)
        password = click.prompt(f"SMTP password for {settings.user}", hide_input=True)
        store_password(settings, password)
        echo("stored in the OS keyring")
        return
    _refresh(ctx)
    if preview is not None:
        for path in digest.write_preview(ctx.db, config, ctx.now, preview, ctx.home):
            echo(f"wrote {path}")
    if send:
        _send_digest(ctx, config, force)
    if as_json:
        echo(digest.digest_json(digest.gather(ctx.db, config, ctx.now, ctx.home)))
    elif preview is None and not send:
        _, text = digest.render(digest.gather(ctx.db, config, ctx.now, ctx.home))
        click.echo(neutralise(text), nl=False)


def _send_digest(ctx: Context, config, force: bool) -> None:
    """Send this week's digest unless it went out already: one a week, whatever happens."""
    action_id = digest.queue_digest(ctx.db, ctx.home, config, ctx.now, force=force)
    row = outbox.get(ctx.db, action_id)
    if row is not None and row.state == "done":
        echo(f"this week's digest went out already ({iso(row.finished)}); syncd sends one a week")
        return
    if row is not None and row.state == "running":
        echo("this week's digest is being sent right now by another syncd (the daemon?)")
        return
    if row is not None and row.state == "dead":
        raise UserError(
            f"this week's digest gave up: {row.last_error}; fix the cause, then"
            " syncd digest --send --force"
        )
    outbox.drain_outbox(ctx.db, ctx.home, config, ctx.now)
    row = outbox.get(ctx.db, action_id)
    if row is None or row.state != "done":
        error = row.last_error if row else "lost"
        state = row.state if row else "missing"
        raise UserError(f"the digest was not sent ({state}): {error}")
    to = ", ".join(row.payload["to"])
    echo(f"sent the digest to {to} ({row.remote_ref})")


COMMANDS = [plan_command, outbox_group, digest_command]
