"""``syncd doctor``: check the configuration, tokens, permissions, database and service.

Each check yields a :class:`Check` (``ok``, ``warn`` or ``fail``, a message and a
hint). The daemon's daily self-check runs the same checks without the service
manager part (``service=False``) on its own open database.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import connectors
from syncd.core.errors import ConfigError, UserError
from syncd.core.home import Home
from syncd.daemon.state import read_state, running_pid
from syncd.daemon.validate import Loaded, validate
from syncd.ops import service
from syncd.ops.checks import FAIL, OK, WARN, Check, private
from syncd.ops.exchange_online import exchange_online_check
from syncd.ops.storage import check_database, check_home, check_secret, check_tokens
from syncd.pipeline.accounts import account_states

__all__ = ["FAIL", "OK", "WARN", "Check", "run_checks", "service_checks"]


def check_config(home: Home) -> tuple[list[Check], Loaded | None]:
    """The config file: every problem in it, one check each (syncd, connectors, rules,
    daemon, planner, digest, smtp), and what of it is valid for the other checks."""

    path = home.config_path
    try:
        loaded, problems = validate(home)
    except ConfigError as exc:  # not UTF-8 TOML: nothing else to check
        return [Check("config", FAIL, p, f"edit {path}") for p in exc.problems], None
    except UserError as exc:  # the file cannot be read (its directory a file, no permission)
        return [Check("config file", FAIL, str(exc))], None
    if problems:
        return [Check("config", FAIL, p, f"edit {path}") for p in problems], loaded
    if not path.exists():
        return [Check("config", WARN, f"no {path}: defaults apply", "syncd init")], loaded
    accounts = loaded.config.accounts
    enabled = sum(a.enabled for a in accounts.values())
    checks = [Check("config", OK, f"{path} is valid ({enabled} enabled account(s))")]
    mode = stat.S_IMODE(path.stat().st_mode)
    parent_private = path.parent.is_dir() and private(stat.S_IMODE(path.parent.stat().st_mode))
    if not private(mode) and not parent_private:
        checks.append(
            Check("config", WARN, f"{path} is readable by others ({mode:04o})", f"chmod 600 {path}")
        )
    return checks, loaded


def check_accounts(home: Home, loaded, db) -> list[Check]:
    """Each enabled account: its connector imports, its paths and token file exist, its state."""

    checks: list[Check] = []
    if loaded is None:
        return checks
    accounts = [a for a in loaded.config.accounts.values() if a.enabled]
    if not accounts:
        checks.append(
            Check(
                "accounts",
                WARN,
                "no account configured: the daemon runs idle",
                "syncd account add KIND NAME ...",
            )
        )
    states = {}
    if db is not None:
        with contextlib.suppress(sqlite3.Error):
            states = {
                s.name: (s.last_result, s.last_error, s.needs_auth, s.retry_after)
                for s in account_states(db)
            }
    for account in accounts:
        where = f"account {account.name}"
        problems: list[Check] = []
        try:
            if account.kind in connectors.KNOWN:  # else a config problem, reported there
                connectors.load(account.kind)
        except Exception as exc:
            problems.append(
                Check(
                    where,
                    FAIL,
                    f"connector {account.kind!r} unavailable: {exc}",
                    "install the optional dependencies for this source",
                )
            )
        online = exchange_online_check(account)
        problems += [online] if online is not None else []
        for secret in ("token_file", "password_file"):  # existence: a config problem
            token = account.options.get(secret)
            if isinstance(token, str) and Path(token).expanduser().exists():
                problems += check_secret(Path(token).expanduser(), where)
        result, error, needs_auth, retry = states.get(account.name, (None, None, 0, None))
        if needs_auth:
            problems.append(
                Check(where, FAIL, f"needs authorisation: {error}", f"syncd auth {account.name}")
            )
        elif result == "error":
            when = f"; retrying after {retry}" if retry else ""
            problems.append(Check(where, WARN, f"last sync failed: {error}{when}"))
        if not problems:
            last = result or "never synced"
            problems.append(Check(where, OK, f"{account.kind}, last sync: {last}"))
        checks += problems
    return checks


def check_daemon(home: Home) -> list[Check]:
    """Whether ``syncd run`` runs for this home, and what it last reported."""

    pid = running_pid(home)
    state = read_state(home) or {}
    if pid is None:
        return [Check("daemon", WARN, "not running", "syncd service install (or syncd run)")]
    checks = [Check("daemon", OK, f"running (pid {pid})" if pid > 0 else "running")]
    if state.get("config_error"):
        checks.append(
            Check(
                "daemon",
                WARN,
                "the last config reload failed (the daemon runs "
                f"with the previous config): {state['config_error']}",
            )
        )
    failing = sorted(
        n for n, j in (state.get("jobs") or {}).items() if j.get("last_result") == "error"
    )
    if failing:
        checks.append(
            Check("daemon", WARN, f"failing job(s): {', '.join(failing)}", "syncd status")
        )
    return checks


def run_checks(home: Home, service: bool = True, db=None) -> list[Check]:
    """Every check, in order. ``db``: an open store to use (else opened read-only)."""
    checks = check_home(home)  # then every other check, whatever it found
    config_checks, loaded = check_config(home)
    checks += config_checks
    own = None
    if db is None and home.db_path.exists():
        try:
            own = sqlite3.connect(f"file:{home.db_path}?mode=ro", uri=True, timeout=10)
        except sqlite3.Error:
            own = None
    try:
        checks += check_accounts(home, loaded, db if db is not None else own)
    finally:
        if own is not None:
            own.close()
    checks += check_tokens(home)
    checks += check_database(home, db)
    if service:
        checks += check_daemon(home)
        checks += service_checks(home, loaded=loaded)
    return checks


def _writable_checks(home: Home, unit: str, path: Path, loaded: Loaded | None) -> list[Check]:
    """The directories the configuration makes syncd write, outside the unit's sandbox."""
    if loaded is None:
        return []
    outside = service.outside_unit(unit, service.writable_paths(home, loaded.config))
    return [
        Check(
            "service",
            WARN,
            f"{path} does not let the service write {p} (config.toml puts files there)",
            "syncd service install (recomputes the unit's ReadWritePaths)",
        )
        for p in outside
    ]


def service_checks(
    home: Home, platform: str | None = None, loaded: Loaded | None = None
) -> list[Check]:
    """``syncd doctor``'s service part: installed, for this home and configuration, allowed
    to write where the configuration says, enabled and running."""
    platform = platform or service.detect_platform()
    path = service.unit_path() if platform == "systemd" else service.plist_path()
    if not path.exists():
        return [Check("service", WARN, f"not installed ({path} missing)", "syncd service install")]
    text = path.read_text(encoding="utf-8", errors="replace")
    checks = []
    if str(home.root) not in text:
        checks.append(
            Check("service", WARN, f"{path} runs another home", "syncd --home ... service install")
        )
    elif home.config_file is not None and str(home.config_file) not in text:
        checks.append(
            Check("service", WARN, f"{path} reads another config.toml", "syncd service install")
        )
    if platform == "systemd":
        checks += _writable_checks(home, text, path, loaded)
    argv = service.program(home)
    if argv[0] not in text:
        checks.append(
            Check(
                "service",
                WARN,
                f"{path} runs another syncd than {argv[0]}",
                "syncd service install (rewrites it)",
            )
        )
    if platform == "systemd" and shutil.which("systemctl"):
        states = []
        for verb in ("is-enabled", "is-active"):
            try:
                proc = subprocess.run(
                    ["systemctl", "--user", verb, service.UNIT_NAME],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
                states.append((proc.stdout.strip() or proc.stderr.strip()).splitlines()[0:1])
            except (OSError, subprocess.TimeoutExpired, IndexError):
                states.append([])
        enabled, active = (s[0] if s else "unknown" for s in states)
        level = OK if active == "active" else FAIL if active == "failed" else WARN
        checks.append(
            Check(
                "service",
                level,
                f"{path}: {enabled}, {active}",
                None if level == OK else "systemctl --user status syncd",
            )
        )
    else:
        checks.append(Check("service", OK, f"installed: {path}"))
    return checks
