"""``syncd audit [--json] [--html FILE]``: the network audit."""

from __future__ import annotations

from pathlib import Path

import click

from rules.settings import load_config
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.output import echo
from syncd.pipeline.introductions import refresh as refresh_introductions
from syncd.pipeline.kinds import refresh as refresh_kinds
from syncd.report.audit import audit_json, compute, gather
from syncd.report.audit_render import render_text, write_html


@click.command("audit")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object).")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    metavar="FILE",
    help="Also write the audit as an HTML page with small charts.",
)
@pass_ctx
def audit_command(ctx: Context, as_json: bool, html_path: Path | None) -> None:
    """Audit your network: tier sizes against 15 / 50 / 150, strong / medium / weak /
    dormant ties, organisations and industries, seniority, geography, new people per
    month, replies both ways, give vs take, and the dormant strong ties worth
    reactivating. The people are those of `syncd people --json`.
    """
    config = load_config(ctx.home.config_path)
    refresh_kinds(ctx.db, config.kinds)
    refresh_introductions(ctx.db)
    audit = compute(gather(ctx.db, ctx.now, config))
    if html_path is not None:
        write_html(audit, html_path)
    if as_json:
        echo_json(audit_json(audit))
        return
    echo(render_text(audit).rstrip("\n"))
    if html_path is not None:
        echo(f"\nwrote {html_path}")


COMMANDS = [audit_command]
