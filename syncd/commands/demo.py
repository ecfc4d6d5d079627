"""``syncd demo``: one full cycle on a generated example network."""

from __future__ import annotations

from pathlib import Path

import click

from syncd.commands.context import Context, pass_ctx, program_name
from syncd.commands.output import echo
from syncd.demo.run import Session, run_demo


@click.command("demo")
@click.option("--out", type=click.Path(path_type=Path), help="Also write the demo's outputs here.")
@pass_ctx
def demo_command(ctx: Context, out: Path | None) -> None:
    """Generate an example network (mail + calendar), import it and summarise it."""
    run_demo(Session(ctx.home, ctx.now, ctx.db, echo, program_name()), out)


COMMANDS = [demo_command]
