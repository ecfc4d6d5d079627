"""``syncd import``: one-shot import of local mbox, maildir, ics and Gmail API JSON exports,
and of contacts (vCard files, LinkedIn's Connections.csv).

The import itself is :mod:`syncd.pipeline.local_import` (:mod:`syncd.pipeline.contacts`
for contacts); this command parses the arguments, draws the progress bar and prints
the summary.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from syncd.commands.context import Context, pass_ctx
from syncd.commands.output import echo
from syncd.core.errors import UserError
from syncd.pipeline.contacts import CONTACT_KINDS, ContactImport, import_contact_files
from syncd.pipeline.identity import my_keys, suggest_me
from syncd.pipeline.ingest import IngestStats
from syncd.pipeline.local_import import IMPORT_KINDS, LocalImport, prepare_import
from syncd.store.db import get_setting


def run_with_progress(job: LocalImport, show_progress: bool) -> IngestStats:
    """Run a prepared import under a transient rich progress bar (when ``show_progress``)."""
    if not show_progress:
        return job.run(None)
    # Loaded only for a terminal: rich.progress costs ~30 ms of start-up, a tenth of a
    # piped or scripted import's fixed cost.
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn(f"importing {job.kind}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[done]} items"),
        TimeRemainingColumn(),
        transient=True,
        console=Console(stderr=True),  # the terminal it was drawn for; stdout may be piped
    ) as progress:
        task = progress.add_task("import", total=job.total or None, done=0)

        def advance(amount: int, stats: IngestStats) -> None:
            progress.update(task, advance=amount, done=stats.observations + stats.events)

        return job.run(advance)


def summary_line(stats: IngestStats) -> str:
    """What an import did, in one line (what was new, what was known, what was set aside)."""
    line = (
        f"imported {stats.observations} messages and {stats.events} events; "
        f"{stats.duplicates} already known, {stats.skipped} in skipped folders, "
        f"{stats.quarantined} quarantined"
    )
    notes = []
    if stats.flawed:
        notes.append(f"{stats.flawed} imported without an unusable address or date")
    if stats.unchanged:
        files = "file" if stats.unchanged == 1 else "files"
        notes.append(f"{stats.unchanged} {files} unchanged since the last import")
    if stats.quarantined or stats.flawed:
        notes.append("`syncd quarantine list` shows what was set aside")
    return line + (f" ({'; '.join(notes)})" if notes else "")


def contacts_summary(result: ContactImport) -> list[str]:
    """What a contacts import did: the counts, then the merges it suggests."""
    new = result.by_address + result.by_name + result.candidates
    parts = [
        f"{result.by_address} matched by address",
        f"{result.by_name} by name",
        f"{result.candidates} new network candidate{'' if result.candidates == 1 else 's'}"
        " (no touches yet)",
    ]
    line = f"imported {new} cards ({', '.join(parts)}); {result.updated} updated, "
    line += f"{result.known} already known, {result.addresses} addresses added"
    if result.tags:
        line += f", {result.tags} tags from categories"
    line += f", {result.quarantined} quarantined"
    if result.quarantined:
        line += " (`syncd quarantine list` shows why)"
    lines = [line]
    if result.suggestions:
        n = len(result.suggestions)
        lines.append(f"{n} card{'s' if n != 1 else ''} may be people you know:")
        for s in result.suggestions:
            for other in s.people:
                lines.append(f"  syncd merge {other} {s.person}    # {s.name}: {s.reason}")
    return lines


@click.command("import")
@click.argument("kind", type=click.Choice([*IMPORT_KINDS, *CONTACT_KINDS]))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--me", multiple=True, metavar="ADDR", help="One of your addresses (repeatable).")
@pass_ctx
def import_command(ctx: Context, kind: str, paths: tuple[Path, ...], me: tuple[str, ...]) -> None:
    """Import local exports: mbox files, maildirs / .eml trees, .ics calendars, or saved
    Gmail API responses (gmail-json: messages.get format=metadata resources, as a
    JSON array or JSON Lines); contacts: vcard (.vcf exports of Google, Apple or
    Outlook contacts) and linkedin (Connections.csv of LinkedIn's data export).

    Directories are walked. Re-importing an unchanged file does no work; an
    appended mbox is read from where the last import stopped. Items that
    cannot be parsed are quarantined and counted, never dropped. Contacts join
    the people they share an address with (else the one person of that name);
    the others are kept as network candidates and likely merges are suggested.
    """
    if kind in CONTACT_KINDS:
        if me:
            raise UserError(f"syncd import {kind} takes no --me (contacts are other people)")
        for line in contacts_summary(import_contact_files(ctx.db, kind, list(paths))):
            echo(line)
        return
    job = prepare_import(ctx.db, ctx.home, kind, list(paths), list(me), ctx.now)
    stats = run_with_progress(job, sys.stderr.isatty())
    job.check(stats)
    if get_setting(ctx.db, "demo") is not None:
        click.echo(
            "warning: this home holds the `syncd demo` network; use another --home for your mail",
            err=True,
        )
    click.echo(summary_line(stats))
    if not my_keys(ctx.db):
        hints = suggest_me(ctx.db)
        if hints:
            listed = " ".join(f"--me {a}" for a, _ in hints)
            click.echo(f"hint: no addresses of yours are known; the Sent folders suggest: {listed}")
        else:
            click.echo("hint: no addresses of yours are known; pass --me ADDR to count touchpoints")


COMMANDS = [import_command]
