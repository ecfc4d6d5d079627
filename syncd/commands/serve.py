"""``syncd serve``: the local dashboard in the browser."""

from __future__ import annotations

import os
import webbrowser

import click

from syncd.commands.context import Context, pass_ctx
from syncd.commands.output import echo
from syncd.config.schema import load_config
from syncd.config.serve import check_port, serve_settings
from syncd.core.errors import UserError
from syncd.web.server import prepare


@click.command("serve")
@click.option(
    "--port",
    type=int,
    metavar="N",
    help="Port on 127.0.0.1 ([serve] port, else 8750; 0: any free port).",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the browser.")
@pass_ctx
def serve_command(ctx: Context, port: int | None, open_browser: bool) -> None:
    """Serve the dashboard on 127.0.0.1 until Ctrl-C: today's flags with buttons that do
    what the CLI does, people, a person's timeline, the network, the digest preview.

    \b
    The address printed carries a secret token (as Jupyter's does); the browser
    trades it for a session cookie. It is also kept in HOME/serve-url (0600).
    With [serve] enabled = true in config.toml, `syncd run` serves it too.
    """
    if port is None:
        port = serve_settings(load_config(ctx.home.config_path)).port
    elif port != 0 and (problem := check_port(port)):
        raise UserError(f"--port {port}: {problem} (or 0 for any free port)")
    served = prepare(ctx.home, port, ctx.now if _now_fixed() else None)
    echo(f"syncd dashboard for {ctx.home.root}")
    echo(f"open: {served.url}")
    echo(f"(also in {served.url_file}, readable only by you; Ctrl-C stops)")
    if open_browser:
        webbrowser.open(served.url)
    served.run()
    echo("stopped")


def _now_fixed() -> bool:
    """Whether --now / SYNCD_NOW fixed the instant (else each page uses the clock)."""
    root = click.get_current_context().find_root()
    return bool(root.params.get("now") or os.environ.get("SYNCD_NOW"))


COMMANDS = [serve_command]
