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
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlite_utils

import connectors
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.daemon.settings import load_everything
from syncd.daemon.state import read_state, running_pid
from syncd.ops import service
from syncd.pipeline.accounts import account_states
from syncd.store.migrations import migrations

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(slots=True)
class Check:
    """One finding of ``syncd doctor``."""

    name: str
    level: str
    message: str
    hint: str | None = None

    def as_dict(self) -> dict:
        """JSON form."""
        return asdict(self)


def _private(mode: int) -> bool:
    return not mode & 0o077


def check_home(home: Home) -> list[Check]:
    """The home exists, is a directory and is private to the user."""
    root = home.root
    if not root.exists():
        return [Check("home", FAIL, f"{root} does not exist", "syncd init")]
    if not root.is_dir():
        return [Check("home", FAIL, f"{root} is not a directory")]
    mode = stat.S_IMODE(root.stat().st_mode)
    if not _private(mode):
        return [
            Check(
                "home",
                WARN,
                f"{root} is accessible to other users ({mode:04o})",
                f"chmod 700 {root}",
            )
        ]
    return [Check("home", OK, f"{root} (private, {mode:04o})")]


def check_config(home: Home) -> tuple[list[Check], object | None]:
    """The config file parses and validates (syncd, rules and daemon settings)."""

    path = home.config_path
    checks: list[Check] = []
    if not path.exists():
        checks.append(Check("config", WARN, f"no {path.name}: defaults apply", "syncd init"))
        return checks, load_everything(home)
    try:
        loaded = load_everything(home)
    except UserError as exc:
        checks.append(Check("config", FAIL, str(exc), f"edit {path}"))
        return checks, None
    accounts = loaded.config.accounts
    enabled = sum(a.enabled for a in accounts.values())
    checks.append(Check("config", OK, f"{path} is valid ({enabled} enabled account(s))"))
    mode = stat.S_IMODE(path.stat().st_mode)
    if not _private(mode) and not _private(stat.S_IMODE(home.root.stat().st_mode)):
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
        for text in account.options.get("paths", []) or []:
            if not Path(text).exists():
                problems.append(
                    Check(where, FAIL, f"path {text} does not exist", "fix the path in config.toml")
                )
        token = account.options.get("token_file")
        if token:
            problems += _check_secret(Path(token), where)
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


def _check_secret(path: Path, where: str) -> list[Check]:
    if not path.exists():
        return [Check(where, FAIL, f"token file {path} does not exist", "syncd auth ...")]
    mode = stat.S_IMODE(path.stat().st_mode)
    if not _private(mode):
        return [
            Check(
                where,
                FAIL,
                f"token file {path} is readable by others ({mode:04o})",
                f"chmod 600 {path}",
            )
        ]
    return []


def check_tokens(home: Home) -> list[Check]:
    """The tokens directory and its files are private."""
    tokens = home.tokens_dir
    if not tokens.exists():
        return []
    checks: list[Check] = []
    mode = stat.S_IMODE(tokens.stat().st_mode)
    if not _private(mode):
        checks.append(
            Check(
                "tokens",
                FAIL,
                f"{tokens} is accessible to others ({mode:04o})",
                f"chmod 700 {tokens}",
            )
        )
    for path in sorted(tokens.iterdir()):
        checks += _check_secret(path, "tokens")
    if not checks:
        checks.append(Check("tokens", OK, f"{tokens}: private"))
    return checks


def check_database(home: Home, db=None) -> list[Check]:
    """The store opens, passes ``quick_check`` and foreign keys, and has every migration."""

    path = home.db_path
    if db is None and not path.exists():
        return [
            Check("database", WARN, f"no {path.name} yet (created by the first sync or import)")
        ]
    conn = None
    try:
        if db is None:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)

            db = sqlite_utils.Database(conn)
        quick = [r[0] for r in db.execute("PRAGMA quick_check").fetchall()]
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        pending = [m.name for m in migrations.pending(db)]
    except sqlite3.Error as exc:
        return [
            Check(
                "database",
                FAIL,
                f"{path}: {exc}",
                "restore from a backup, or move it aside and resync",
            )
        ]
    finally:
        if conn is not None:
            conn.close()
    checks: list[Check] = []
    if quick != ["ok"]:
        checks.append(
            Check(
                "database",
                FAIL,
                f"integrity: {'; '.join(quick[:3])}",
                "restore from a backup, or move it aside and resync",
            )
        )
    if fk:
        checks.append(Check("database", FAIL, f"{len(fk)} foreign key violation(s)"))
    if pending:
        checks.append(
            Check(
                "database",
                WARN,
                f"{len(pending)} migration(s) pending ({', '.join(pending)})",
                "any syncd command applies them",
            )
        )
    home_private = _private(stat.S_IMODE(home.root.stat().st_mode))
    for suffix in ("", "-wal", "-shm"):
        file = Path(f"{path}{suffix}")
        if file.exists() and not home_private:
            mode = stat.S_IMODE(file.stat().st_mode)
            if not _private(mode):
                checks.append(
                    Check(
                        "database",
                        WARN,
                        f"{file} is readable by others ({mode:04o})",
                        f"chmod 600 {file}",
                    )
                )
    if not checks:
        size = path.stat().st_size if path.exists() else 0
        checks.append(Check("database", OK, f"{path} ({size // 1024} KiB): integrity ok"))
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
    checks = check_home(home)
    if not home.root.is_dir():
        return checks
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
        checks += service_checks(home)
    return checks


def service_checks(home: Home, platform: str | None = None) -> list[Check]:
    """``syncd doctor``'s service part: installed, for this home, enabled and running."""
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
