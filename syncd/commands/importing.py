"""``syncd import``: one-shot import of local mbox, maildir and ics exports."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

import connectors
from syncd.commands.context import Context, pass_ctx
from syncd.pipeline.identity import add_my_addresses, my_keys, suggest_me
from syncd.pipeline.ingest import IngestStats, rederive_all
from syncd.pipeline.runner import load_cursors, run_reader
from syncd.store.db import ensure_account, get_setting

LOCAL_ACCOUNT = "local"

IMPORT_GROUP_SECONDS = 2.0  # commit an import every ~2 s (see run_reader)


def import_paths(
    ctx: Context, kind: str, paths: list[Path], me: list[str], show_progress: bool
) -> IngestStats:
    """Import ``paths`` with the ``kind`` connector into the local account."""
    db = ctx.db
    account = ensure_account(db, LOCAL_ACCOUNT, "local")
    if me and add_my_addresses(db, me, source="user"):
        rederive_all(db)
    options = {}
    if kind == "ics":
        # expand recurrences two years past the later of --now and the clock
        options["horizon_end"] = max(ctx.now, int(time.time())) + 2 * 365 * 86400
    reader = connectors.load(kind).reader(paths, **options)
    cursors = load_cursors(db, account)
    total = reader.estimate(cursors)
    with Progress(
        TextColumn(f"importing {kind}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[done]} items"),
        TimeRemainingColumn(),
        transient=True,
        disable=not show_progress,
        console=None,
    ) as progress:
        task = progress.add_task("import", total=total or None, done=0)

        def advance(amount: int, stats: IngestStats) -> None:
            progress.update(task, advance=amount, done=stats.observations + stats.events)

        return run_reader(db, account, reader, advance, group_seconds=IMPORT_GROUP_SECONDS)


@click.command("import")
@click.argument("kind", type=click.Choice(["mbox", "maildir", "ics"]))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--me", multiple=True, metavar="ADDR", help="One of your addresses (repeatable).")
@pass_ctx
def import_command(ctx: Context, kind: str, paths: tuple[Path, ...], me: tuple[str, ...]) -> None:
    """Import local exports: mbox files, maildirs / .eml trees, or .ics calendars.

    Directories are walked. Re-importing an unchanged file does no work; an
    appended mbox is read from where the last import stopped. Items that
    cannot be parsed are quarantined and counted, never dropped.
    """
    stats = import_paths(ctx, kind, list(paths), list(me), sys.stderr.isatty())
    if get_setting(ctx.db, "demo") is not None:
        click.echo(
            "warning: this home holds the `syncd demo` network; use another --home for your mail",
            err=True,
        )
    click.echo(
        f"imported {stats.observations} messages and {stats.events} events; "
        f"{stats.duplicates} already known, {stats.skipped} in skipped folders, "
        f"{stats.quarantined} quarantined"
    )
    if not my_keys(ctx.db):
        hints = suggest_me(ctx.db)
        if hints:
            listed = " ".join(f"--me {a}" for a, _ in hints)
            click.echo(f"hint: no addresses of yours are known; the Sent folders suggest: {listed}")
        else:
            click.echo("hint: no addresses of yours are known; pass --me ADDR to count touchpoints")


COMMANDS = [import_command]
