"""``syncd run``, ``syncd service install|uninstall|status``, ``syncd init``, ``syncd doctor``."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.config.schema import parse_config
from syncd.core.errors import UserError
from syncd.core.files import replace_file
from syncd.daemon.loop import run_daemon
from syncd.daemon.state import running_pid
from syncd.daemon.validate import load_everything, validate
from syncd.jobs import JOBS
from syncd.ops import service
from syncd.ops.doctor import FAIL, run_checks

if TYPE_CHECKING:
    from syncd.web.server import Served

# The dashboard's server (uvicorn, Starlette, its views: about 6 MB of RSS), loaded by
# name only when ``[serve] enabled = true``, so a daemon without it never carries it.
DASHBOARD_SERVER = "syncd.web.server"

INIT_TEMPLATE = """\
# syncd configuration. Every problem is reported at once before anything runs
# (`syncd doctor` checks this file); the daemon re-reads it when it changes.
# State lives in syncd.db (beside this file under --home, else in the user data
# directory), secrets in tokens/ (0600) or the OS keyring -- never here.

# Your own addresses, besides each account's own (touchpoints are counted
# between you and everyone else).
me = [{me}]

# Your time zone: working hours, the weekly digest time. Default: UTC.
{timezone_line}

# Accounts are easiest to add with `syncd account add`, e.g.
#   syncd account add mbox archive --path ~/Mail/archive.mbox --address you@example.com
#   syncd account add gmail work --address you@example.com   (then: syncd auth work)
#   syncd account add outlook office --address you@contoso.com --client-id ID   (syncd auth office)
# which writes tables like this one:
#
# [accounts.archive]
# kind = "mbox"                     # mbox maildir ics gmail gcal outlook ...
# address = "you@example.com"       # the account's own address (one of yours)
# paths = ["/home/you/Mail/archive.mbox"]
# enabled = true

[sync]
# How often the daemon (`syncd run`) syncs each account.
interval_minutes = 5

[daemon]
# jitter_seconds = 30               # random extra delay before each sync
# digest_day = "monday"             # weekly digest; "off" turns it off
# digest_time = "08:00"             # local time (the time zone above)
# rules_interval_minutes = 60       # the rules also run after every sync
# selfcheck_hours = 24              # the daily self-check (`syncd doctor` without the service)
# job_timeout_minutes = 60          # a job running longer counts as hung (systemd watchdog)
# stop_grace_seconds = 2            # how long a stop waits for a running sync batch

# The dashboard (`syncd serve` shows it on demand; this makes `syncd run` serve it too).
# [serve]
# enabled = true
# port = 8750                       # on 127.0.0.1 only

# The relationship playbook: tiers and rules. Shipped defaults (with
# explanations) are in rules/defaults.toml; override any of them here, e.g.
#
# [tiers]
# core = 15
# active = 50
# network = 85
#
# [rules.dormant]
# active_days = 60
#
# [rules.reciprocity]
# enabled = false
#
# A tag's own cadence (`syncd tag PERSON investor`): dormant after 30 days, any tier
# [rules.tags.investor]
# cadence_days = 30
"""


def _local_timezone() -> str | None:
    """The system's IANA time zone name, when it can be told."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    with contextlib.suppress(OSError):
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    for name in candidates:
        if (name and "/" in name) or name == "UTC":
            try:
                ZoneInfo(name)
                return name
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return None


def init_text(me: list[str], timezone: str | None) -> str:
    """The commented configuration ``syncd init`` writes."""
    tz = f'timezone = "{timezone}"' if timezone else '# timezone = "Europe/Berlin"'
    return INIT_TEMPLATE.format(me=", ".join(json.dumps(m.lower()) for m in me), timezone_line=tz)


@click.command("init")
@click.option("--me", multiple=True, metavar="ADDR", help="One of your addresses (repeatable).")
@click.option("--timezone", metavar="ZONE", help="IANA time zone (default: the system's).")
@click.option("--force", is_flag=True, help="Overwrite an existing config.toml.")
@pass_ctx
def init_command(ctx: Context, me: tuple[str, ...], timezone: str | None, force: bool) -> None:
    """Write a commented config.toml into the home."""

    path = ctx.home.config_path
    if path.exists() and not force:
        raise UserError(f"{path} exists already (--force overwrites it)")
    text = init_text(list(me), timezone or _local_timezone())
    parse_config(tomllib.loads(text))  # bad --me / --timezone: one clean error, nothing written
    ctx.home.ensure()
    ctx.home.ensure_config_dir()
    replace_file(path, text, mode=0o600)
    load_everything(ctx.home)
    click.echo(f"wrote {path}")
    click.echo("next: syncd account add KIND NAME ..., then syncd sync, or syncd service install")


@click.command("run")
@pass_ctx
def run_command(ctx: Context) -> None:
    """Run the daemon in the foreground: sync, rules, outbox, digest, self-check.

    \b
    Stops cleanly on SIGTERM/SIGINT (exit 0); SIGHUP re-reads config.toml.
    Only one `syncd run` per home. Usually started by `syncd service install`.
    With [serve] enabled = true it also serves the dashboard (as `syncd serve`;
    the URL with its token is in HOME/serve-url).
    """
    served = _dashboard(ctx)
    try:
        code = run_daemon(ctx.home, JOBS, ctx.verbose)
    finally:
        if served is not None:
            served.stop()
    if code:
        raise SystemExit(code)


def _dashboard(ctx: Context) -> Served | None:
    """With ``[serve] enabled = true``, the dashboard served from a thread of this process:
    its address is logged without the token; the full URL goes to HOME/serve-url (0600)
    and to the terminal, never to a log."""
    if running_pid(ctx.home) is not None:
        return None  # the daemon refuses to start twice; it says so itself
    try:
        loaded, problems = validate(ctx.home)
    except UserError:
        return None  # an unreadable config.toml: the daemon reports it
    if problems or not loaded.serve.enabled:
        return None  # an invalid config.toml: the daemon refuses it and says why
    served = importlib.import_module(DASHBOARD_SERVER).prepare(ctx.home, loaded.serve.port)
    served.start_thread()
    if sys.stdout.isatty():
        click.echo(f"dashboard: {served.url}")
    return served


@click.group("service")
def service_group() -> None:
    """Install syncd as a user service (systemd --user, or launchd on macOS)."""


_platform_option = click.option(
    "--platform",
    type=click.Choice(["systemd", "launchd"]),
    help="Service manager (default: launchd on macOS, else systemd).",
)
_dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Print the files and commands instead of doing anything."
)


@service_group.command("install")
@_platform_option
@_dry_run_option
@pass_ctx
def service_install(ctx: Context, platform: str | None, dry_run: bool) -> None:
    """Install and start the service for the current user, running this home."""

    plan = service.install_plan(ctx.home, platform or service.detect_platform())
    if dry_run:
        click.echo(service.describe(plan))
        return
    ctx.home.ensure()  # the unit's ReadWritePaths= must exist
    service.apply_plan(plan, click.echo)
    click.echo("installed; syncd status shows what it does")


@service_group.command("uninstall")
@_platform_option
@_dry_run_option
@pass_ctx
def service_uninstall(ctx: Context, platform: str | None, dry_run: bool) -> None:
    """Stop the service and remove it (the home and its data stay)."""

    plan = service.uninstall_plan(platform or service.detect_platform())
    if dry_run:
        click.echo(service.describe(plan))
        return
    service.apply_plan(plan, click.echo)
    click.echo("uninstalled")


@service_group.command("status")
@_platform_option
@_dry_run_option
@pass_ctx
def service_status(ctx: Context, platform: str | None, dry_run: bool) -> None:
    """Is the service installed, enabled and running? (the service manager's view)"""

    platform = platform or service.detect_platform()
    plan = service.status_plan(platform)
    if dry_run:
        click.echo(service.describe(plan))
        return
    path = service.unit_path() if platform == "systemd" else service.plist_path()
    click.echo(f"{platform}: {path} {'installed' if path.exists() else 'not installed'}")
    pid = running_pid(ctx.home)
    click.echo(
        f"syncd run for {ctx.home.root}: "
        + ("not running" if pid is None else f"running (pid {pid})" if pid > 0 else "running")
    )
    try:
        service.apply_plan(plan, click.echo)
    except UserError as exc:
        click.echo(f"service manager: {exc}")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--no-service", is_flag=True, help="Skip the daemon and service checks.")
@pass_ctx
def doctor_command(ctx: Context, as_json: bool, no_service: bool) -> None:
    """Check config, tokens, file permissions, the database and the service.

    Lists every problem. Exits 2 when config.toml is invalid, else 1 when something
    must be fixed (FAIL); warnings alone exit 0.
    """

    checks = run_checks(ctx.home, service=not no_service)
    if as_json:
        echo_json([c.as_dict() for c in checks])
    else:
        for c in checks:
            label = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}[c.level]
            click.echo(f"{label}  {c.name}: {c.message}")
            if c.hint and c.level != "ok":
                click.echo(f"      -> {c.hint}")
        fails = sum(c.level == FAIL for c in checks)
        warns = sum(c.level == "warn" for c in checks)
        click.echo(f"{fails} problem(s), {warns} warning(s)")
    if any(c.level == FAIL and c.name == "config" for c in checks):
        raise SystemExit(2)
    if any(c.level == FAIL for c in checks):
        raise SystemExit(1)


COMMANDS = [run_command, service_group, init_command, doctor_command]
