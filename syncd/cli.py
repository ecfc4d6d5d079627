"""The ``syncd`` command line (design.md §5).

Errors a user can act on print as one line and exit 1 (2 for an invalid
configuration or bad usage); a failure of the machine (a full disk, a read-only
file system, a missing permission, a locked or damaged database, a file where the
home should be) prints one sentence saying what to do and exits with its
``sysexits.h`` status (:mod:`syncd.core.environment`); anything unexpected prints
one line too (the traceback only with ``-v``) and exits 70.
"""

from __future__ import annotations

import gc
import importlib
import logging
import sys
from pathlib import Path

import click

from syncd.commands.context import Context
from syncd.core.environment import explain
from syncd.core.errors import SyncdError, UserError
from syncd.core.home import Home
from syncd.core.timeutil import now_epoch

log = logging.getLogger(__name__)

# Each command's module, imported only when the command runs (or --help lists it), so
# `syncd status` does not pay for the Google client libraries or the rules engine.
COMMAND_MODULES = {
    "import": "importing",
    "people": "people",
    "status": "status",
    "demo": "demo",
    "account": "accounts",
    "sync": "accounts",
    "flags": "flags",
    "why": "flags",
    "snooze": "flags",
    "done": "flags",
    "dismiss": "flags",
    "rules": "flags",
    "run": "daemon",
    "service": "daemon",
    "init": "daemon",
    "doctor": "daemon",
    "auth": "auth",
    "plan": "actions",
    "outbox": "actions",
    "digest": "actions",
    "quarantine": "quarantine",
    "me": "kinds",
    "ignore": "kinds",
    "unignore": "kinds",
    "kind": "kinds",
    "log": "manual",
    "merge": "contacts",
    "split": "contacts",
    "intro": "intro",
    "serve": "serve",
    "tag": "tags",
    "untag": "tags",
    "export": "export",
    "audit": "audit",
}


class LazyGroup(click.Group):
    """A group whose commands are loaded from :data:`COMMAND_MODULES` on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, sorted (as click lists them)."""
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import the command's module and return the command named ``cmd_name``."""
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        module = importlib.import_module(f"syncd.commands.{module_name}")
        return next(c for c in module.COMMANDS if c.name == cmd_name)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--home",
    metavar="DIR",
    help="Directory for config, state and tokens (default: $SYNCD_HOME, else the user data dir).",
)
@click.option(
    "--config",
    metavar="FILE",
    help="The configuration file (default: $SYNCD_CONFIG, else config.toml in the home "
    "given by --home, else in the user config dir).",
)
@click.option(
    "--now",
    metavar="ISO8601",
    help="Evaluate as of this instant (default: $SYNCD_NOW, else the clock).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="syncd")
@click.pass_context
def cli(
    click_ctx: click.Context, home: str | None, config: str | None, now: str | None, verbose: int
) -> None:
    """syncd keeps your professional network warm.

    It reads email and calendar metadata (headers and attendees, never
    bodies), works out who you are in touch with, and flags who needs
    attention. Everything stays in one SQLite file under --home.

    \b
    Start with:
      syncd demo                      a full cycle on a generated example network
      syncd import mbox PATH --me ADDR
      syncd people
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    click_ctx.obj = Context(Home.resolve(home, config), now_epoch(now), verbose)
    click_ctx.call_on_close(click_ctx.obj.close)
    _resolved.append(click_ctx.obj.home)


_resolved: list[Home] = []  # the home of this run, for error messages that name its files


def _db_path() -> Path | None:
    return _resolved[-1].db_path if _resolved else None


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``syncd`` console script."""
    verbose = any(a in ("-v", "-vv", "--verbose") for a in (argv or sys.argv[1:]))
    try:
        cli.main(args=argv, prog_name="syncd", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("syncd: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except UserError as exc:
        click.echo(f"syncd: error: {exc}", err=True)
        return exc.exit_code
    except SyncdError as exc:
        click.echo(f"syncd: error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("syncd: interrupted", err=True)
        return 130
    except Exception as exc:  # the machine in the way, else a bug
        problem = explain(exc, _db_path())
        if problem is not None:
            click.echo(f"syncd: error: {problem}", err=True)
            return problem.exit_code
        if verbose:  # a bug: one line, the traceback only when asked for
            raise
        click.echo(
            f"syncd: internal error: {type(exc).__name__}: {exc} (run with -v for details)",
            err=True,
        )
        return 70
    return 0


def run() -> None:
    """The ``syncd`` console script (and ``python -m syncd``): :func:`main`, then exit.

    By then the command is done and its store closed. What is left is the interpreter's
    teardown, whose garbage collections walk every object of the loaded modules once more:
    30-100 ms of a command's time (measured: ``syncd --help`` 61-83 ms from its last
    output to its exit, 7 ms frozen). Frozen objects are left to the exit instead; the
    exit itself (atexit handlers, flushing stdout and stderr) runs as always.
    """
    code = main()
    gc.freeze()
    sys.exit(code)
