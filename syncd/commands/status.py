"""``syncd status``: what is stored, per account, and what needs attention.

Besides the store's figures: whether the daemon (``syncd run``) runs for this
home and what it is doing, per account the last sync, its result, the next run,
errors and the need for ``syncd auth``, the open flags and the outbox backlog.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import click

from rules.flags import shown_flags
from syncd.commands.context import Context, echo_json, pass_ctx
from syncd.commands.flags import refresh
from syncd.commands.output import echo
from syncd.config.schema import load_config
from syncd.core.errors import ConfigError, UserError
from syncd.daemon.state import read_state, running_pid
from syncd.followup.outbox import backlog, dead_letters
from syncd.pipeline.identity import my_keys
from syncd.pipeline.kinds import kind_summary
from syncd.report.status import account_rows, store_figures
from syncd.web.address import served_address


def _daemon_status(ctx: Context) -> dict:
    pid = running_pid(ctx.home)
    state = read_state(ctx.home) or {}
    if pid is None:
        return {
            "running": False,
            "last_state": state.get("state"),
            "last_seen": state.get("updated"),
        }
    jobs = state.get("jobs") or {}
    return {
        "running": True,
        "pid": pid if pid > 0 else state.get("pid"),
        "started": state.get("started"),
        "current_job": state.get("current_job"),
        "idle": not state.get("accounts"),
        "idle_reason": state.get("idle_reason"),
        "config_error": state.get("config_error"),
        "jobs": {n: j for n, j in jobs.items() if not n.startswith("sync:")},
        "failing_jobs": sorted(n for n, j in jobs.items() if j.get("last_result") == "error"),
        "unavailable": state.get("unavailable") or {},
        "sync_jobs": {n[5:]: j for n, j in jobs.items() if n.startswith("sync:")},
    }


def _later(a: str | None, b: str | None) -> str | None:
    def key(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    try:
        return max((v for v in (a, b) if v), key=key, default=None)
    except ValueError:
        return a or b


def _flags(ctx: Context) -> dict:
    by_rule: dict[str, int] = {}
    for flag in shown_flags(ctx.db, ctx.now):
        by_rule[flag.rule] = by_rule.get(flag.rule, 0) + 1
    return {"open": sum(by_rule.values()), "by_rule": dict(sorted(by_rule.items()))}


def _outbox(ctx: Context) -> dict:
    # dead letters: [{id, kind, target, attempts, last_error, ...}]
    return {"available": True, "backlog": backlog(ctx.db), "dead": dead_letters(ctx.db)}


def gather_status(ctx: Context) -> dict:
    """Counts and per-account state as a JSON-able dict."""
    db = ctx.db
    config_error = None
    try:
        configured = load_config(ctx.home.config_path).accounts
    except UserError as exc:
        configured, config_error = {}, str(exc)
    daemon = _daemon_status(ctx)
    sync_jobs = daemon.pop("sync_jobs", {})
    accounts = account_rows(db, configured)
    for a in accounts:
        job = sync_jobs.get(a["name"]) or {}
        a["next_run"] = None
        if daemon["running"] and a["enabled"]:
            a["next_run"] = (
                "after syncd auth"
                if a["needs_auth"]
                else _later(job.get("next_run"), a["retry_after"])
            )
    return {
        "home": str(ctx.home.root),
        "daemon": daemon,
        "config_error": config_error,
        "accounts": accounts,
        "my_addresses": sorted(my_keys(db)),
        **store_figures(db),
        "flags": _flags(ctx),
        "kinds": kind_summary(db),
        "outbox": _outbox(ctx),
        "dashboard": served_address(ctx.home),
    }


def _daemon_lines(d: dict) -> list[str]:
    if not d["running"]:
        seen = f" (last seen {d['last_seen']})" if d.get("last_seen") else ""
        return [f"daemon: not running{seen}; start it with syncd service install (or syncd run)"]
    head = f"daemon: running (pid {d['pid']}) since {d['started']}"
    if d["idle"]:
        head += f", idle: {d['idle_reason'] or 'no account configured'}"
    elif d.get("current_job"):
        head += f", now: {d['current_job']}"
    lines = [head]
    if d.get("config_error"):
        lines.append(
            f"  config reload failed, running with the previous config: {d['config_error']}"
        )
    if d.get("failing_jobs"):
        lines.append(f"  failing jobs: {', '.join(d['failing_jobs'])}")
    for name, job in sorted(d.get("jobs", {}).items()):
        lines.append(
            f"  job {name}: last {job.get('last_result') or 'not run yet'}"
            f", next {job.get('next_run') or '-'}"
        )
    for name, reason in sorted(d.get("unavailable", {}).items()):
        lines.append(f"  job {name}: not available ({reason})")
    return lines


def account_lines(a: dict) -> list[str]:
    """The lines ``syncd status`` and ``syncd account list`` print for one account."""
    state = "" if a["enabled"] or not a["configured"] else " (disabled)"
    result = a["last_result"] or ("never" if a["configured"] else "n/a")
    line = (
        f"account {a['name']} ({a['kind']}){state}: {a['observations']} observations, "
        f"{a['quarantined']} quarantined, last sync {a['last_sync'] or 'never'}"
    )
    if a["configured"]:
        line += f", result {result}"
        if a.get("next_run"):
            line += f", next {a['next_run']}"
    lines = [line]
    if a["needs_auth"]:
        lines.append(f"  needs authorisation: run `syncd auth {a['name']}`")
    elif a["last_result"] == "error":
        retry = f"; retry after {a['retry_after']}" if a["retry_after"] else ""
        lines.append(f"  error ({a['failures']} in a row): {a['last_error']}{retry}")
    return lines


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def status_command(ctx: Context, as_json: bool) -> None:
    """Show accounts, what is stored and what was quarantined.

    Flags are brought up to date first (as ``syncd flags`` does), so the open
    flags counted here are the ones ``syncd flags`` lists for the same ``--now``
    (with an invalid config.toml, the last evaluation's: the problem is shown below).
    """
    with contextlib.suppress(ConfigError):
        refresh(ctx)
    s = gather_status(ctx)
    if as_json:
        echo_json(s)
        return
    echo(f"home: {s['home']}")
    for line in _daemon_lines(s["daemon"]):
        echo(line)
    if s["config_error"]:
        echo(f"config.toml is invalid (syncd doctor): {s['config_error']}")
    if not s["accounts"]:
        echo("accounts: none (syncd import ..., or syncd account add ...)")
    for a in s["accounts"]:
        for line in account_lines(a):
            echo(line)
    echo(f"my addresses: {', '.join(s['my_addresses']) or 'none (use --me)'}")
    echo(
        f"{s['logical_messages']} logical messages from {s['observations']} copies "
        f"({s['skipped_copies']} in skipped folders); {s['bulk_messages']} bulk/automated, "
        f"{s['source_signal_messages']} filtered by source signals"
    )
    echo(
        f"{s['events']} event instances; {s['touchpoints']} touchpoints with {s['people']} people; "
        f"{s['quarantined']} items quarantined"
    )
    k = s["kinds"]
    kinds = ", ".join(f"{n} {kind}" for kind, n in k["by_kind"].items())
    echo(
        f"not people (never tiered or flagged): {kinds}; {k['ignored']} ignored,"
        f" {k['corrected']} kinds set by you (syncd ignore --list)"
    )
    if k["inferred_self"]:
        echo(
            f"treated as your own addresses: {', '.join(k['inferred_self'])}"
            " (syncd me suggest shows why; syncd kind ADDR human undoes one)"
        )
    flags = s["flags"]
    rules = ", ".join(f"{n} {r}" for r, n in flags["by_rule"].items())
    echo(f"open flags: {flags['open']}" + (f" ({rules}; syncd flags)" if rules else ""))
    outbox = s["outbox"]
    if outbox["available"]:
        dead = outbox.get("dead") or []
        echo(f"outbox: {outbox['backlog']} waiting, {len(dead)} dead")
        for d in dead:
            echo(f"  dead: {d['id']} after {d['attempts']} attempt(s): {d['last_error']}")
        if dead:
            echo("  fix the cause, then: syncd outbox retry (syncd outbox lists them all)")
    else:
        echo(f"outbox: not available ({outbox['reason']})")
    if s["dashboard"]:
        echo(f"dashboard: {s['dashboard']} (the URL with its token is in serve-url in the home)")


COMMANDS = [status_command]
