"""``syncd service install|uninstall|status``: run ``syncd run`` as a user service.

Linux: a systemd *user* unit (``~/.config/systemd/user/syncd.service``, managed
with ``systemctl --user``). macOS: a launchd agent
(``~/Library/LaunchAgents/local.syncd.plist``, ``launchctl bootstrap gui/UID``).
Both run the current interpreter's ``syncd`` with an explicit ``--home`` (and
``--config`` when the configuration lives elsewhere).

The systemd unit is sandboxed (``ProtectSystem=strict``, ``ProtectHome=read-only``):
it may write only its ``ReadWritePaths``, which :func:`writable_paths` computes from
the configuration: the home, the directory of the planner's ``.ics`` calendar and
the directory of the digest's weekly preview. ``syncd doctor`` warns when a
configured path is outside what the installed unit may write.

The files under ``systemd/`` in the source tree are :func:`unit_text` and
:func:`plist_bytes` rendered with :func:`repo_defaults` (a test keeps them equal).
"""

from __future__ import annotations

import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from syncd.config.schema import Config
from syncd.core.errors import UserError
from syncd.core.files import replace_file
from syncd.core.home import Home
from syncd.daemon.validate import load_everything
from syncd.followup.settings import calendar_file
from syncd.report.digest import preview_path

UNIT_NAME = "syncd.service"
LABEL = "local.syncd"
CLI_CODE = "import sys; from syncd.cli import main; sys.exit(main())"

UNIT_TEMPLATE = """\
# syncd as a systemd *user* service, written by `syncd service install` with the
# paths of the installation and the home (rerun it after moving either). The copy
# in the source tree (systemd/syncd.service) runs `syncd` from ~/.local/bin (pipx)
# with the default directories. Reload the config: `systemctl --user reload syncd`;
# logs: `journalctl --user -u syncd`; what it does: `syncd status`.
[Unit]
Description=syncd: keeps your professional network warm (email and calendar metadata)
StartLimitIntervalSec=600
StartLimitBurst=5

[Service]
Type=notify
NotifyAccess=main
ExecStart={exec_start}
ExecReload=/usr/bin/env kill -HUP $MAINPID
# at most 5 starts in 10 minutes, then systemd gives up (see `syncd doctor`)
Restart=on-failure
RestartSec=30
TimeoutStopSec=15
WatchdogSec=120
Environment={path}
Environment=PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
UMask=0077

# Sandbox: syncd reads local exports anywhere, writes only its home (and the
# directories of the calendar file and digest preview that config.toml names),
# and talks to mail/calendar servers (INET) and the session bus / keyring (UNIX).
NoNewPrivileges=yes
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
PrivateMounts=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={writable}
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=
AmbientCapabilities=
KeyringMode=private
RemoveIPC=yes
DevicePolicy=closed

[Install]
WantedBy=default.target
"""

PLIST_COMMENT = (
    "<!-- syncd as a launchd agent. `syncd service install` writes this file to\n"
    "     ~/Library/LaunchAgents/{label}.plist with the paths of your installation\n"
    '     (launchd expands no variables); this copy is an example for user "you". -->\n'
)


@dataclass(slots=True)
class Plan:
    """What an install / uninstall / status does: files to write or remove, commands to run."""

    platform: str
    writes: dict[Path, bytes] = field(default_factory=dict)
    removes: list[Path] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    tolerate: set[int] = field(default_factory=set)  # indexes of commands allowed to fail
    notes: list[str] = field(default_factory=list)


def detect_platform() -> str:
    """``launchd`` on macOS, else ``systemd``."""
    return "launchd" if sys.platform == "darwin" else "systemd"


def program(home: Home) -> list[str]:
    """The command line that runs the daemon: this installation's ``syncd``, then ``run``."""
    script = Path(sys.executable).parent / "syncd"
    if not (script.is_file() and os.access(script, os.X_OK)):
        found = shutil.which("syncd")
        script = Path(found) if found else None
    head = [str(script)] if script else [sys.executable, "-c", CLI_CODE]
    return [*head, *home.command_line(), "run"]


def _systemd_word(word: str) -> str:
    """One ExecStart= word: ``%`` and ``$`` escaped, quoted when it has blanks or quotes."""
    word = word.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", word) or not word:
        return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return word


def _unit_path_value(path: str) -> str:
    """A path in a unit setting other than ExecStart: specifiers escaped, quoted if blank."""
    path = path.replace("%", "%%")
    if re.search(r"[\s\"'\\]", path):
        return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return path


def unit_text(argv: list[str], writable: str, path: str) -> str:
    """The unit file; ``argv``, ``writable`` (the ReadWritePaths= value) and ``path`` are
    already in unit-file syntax."""
    return UNIT_TEMPLATE.format(exec_start=" ".join(argv), writable=writable, path=path)


def writable_paths(home: Home, config: Config) -> list[Path]:
    """What ``syncd run`` writes, as directories: the home, the directory of the planner's
    ``.ics`` calendar and that of the digest's weekly preview (each once; one inside
    another is covered by it)."""
    wanted = [home.root]
    for file in (calendar_file(config, home), preview_path(config, home)):
        if file is not None:
            wanted.append(file.parent)
    out: list[Path] = []
    for path in wanted:
        if not any(path.is_relative_to(p) for p in out):
            out = [p for p in out if not p.is_relative_to(path)] + [path]
    return out


def render_unit(home: Home, writable: list[Path] | None = None) -> str:
    """The unit ``syncd service install`` writes for ``home`` and this installation;
    ``writable``: its ReadWritePaths (default: the home alone)."""
    argv = program(home)
    bindir = str(Path(argv[0]).parent)
    search = ":".join(dict.fromkeys([bindir, "/usr/local/bin", "/usr/bin", "/bin"]))
    return unit_text(
        [_systemd_word(w) for w in argv],
        " ".join(_unit_path_value(f"-{p}") for p in (writable or [home.root])),
        _unit_path_value(f"PATH={search}"),
    )


def unit_writable_paths(text: str) -> list[Path]:
    """The ReadWritePaths= of a unit file's text (specifiers other than ``%%`` kept)."""
    out: list[Path] = []
    for line in text.splitlines():
        if line.startswith("ReadWritePaths="):
            for word in shlex.split(line.partition("=")[2]):
                out.append(Path(word.lstrip("-+").replace("%%", "%")))
    return out


def outside_unit(unit: str, paths: list[Path]) -> list[Path]:
    """The ``paths`` the unit file ``unit`` (its text) does not let the service write."""
    allowed = unit_writable_paths(unit)
    return [p for p in paths if not any(p.is_relative_to(a) for a in allowed)]


def plist_bytes(argv: list[str], log_path: str, comment: bool = False) -> bytes:
    """The launchd agent for ``argv``; restarted on failure, logs to ``log_path``."""
    data = {
        "Label": LABEL,
        "ProgramArguments": argv,
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 30,
        "ExitTimeOut": 15,
        "ProcessType": "Background",
        "LowPriorityIO": True,
        "Umask": 0o077,
        "EnvironmentVariables": {"PYTHONUNBUFFERED": "1"},
        "StandardOutPath": log_path,
        "StandardErrorPath": log_path,
    }
    text = plistlib.dumps(data, sort_keys=False)
    if comment:
        head, _, rest = text.partition(b"<plist")
        text = head + PLIST_COMMENT.format(label=LABEL).encode() + b"<plist" + rest
    return text


def repo_defaults() -> tuple[str, bytes]:
    """The unit and plist kept in the source tree's ``systemd/``."""
    home = "%h/.local/share/syncd"
    config = "%h/.config/syncd/config.toml"
    unit = unit_text(
        ["/usr/bin/env", "syncd", "--home", home, "--config", config, "run"],
        f"-{home}",
        "PATH=%h/.local/bin:/usr/local/bin:/usr/bin:/bin",
    )
    you = "/Users/you"
    plist = plist_bytes(
        ["/usr/local/bin/syncd", "--home", f"{you}/Library/Application Support/syncd", "run"],
        f"{you}/Library/Logs/syncd.log",
        comment=True,
    )
    return unit, plist


def user_home() -> Path:
    """The user's home directory (``$HOME``)."""
    return Path(os.path.expanduser("~"))


def unit_path() -> Path:
    """Where the user unit goes (``$XDG_CONFIG_HOME/systemd/user``)."""
    config = os.environ.get("XDG_CONFIG_HOME") or str(user_home() / ".config")
    return Path(config) / "systemd" / "user" / UNIT_NAME


def plist_path() -> Path:
    """Where the launchd agent goes."""
    return user_home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"


def _domain() -> str:
    return f"gui/{os.getuid()}"


def install_plan(home: Home, platform: str) -> Plan:
    """Write the unit / plist, then enable and (re)start it. The configuration must be
    valid (:class:`ConfigError`): it says where the service writes."""
    plan = Plan(platform)
    config = load_everything(home).config
    if platform == "systemd":
        plan.writes[unit_path()] = render_unit(home, writable_paths(home, config)).encode()
        ctl = ["systemctl", "--user"]
        plan.commands = [
            [*ctl, "daemon-reload"],
            [*ctl, "enable", UNIT_NAME],
            [*ctl, "restart", UNIT_NAME],
        ]
        user = os.environ.get("USER") or "$USER"
        plan.notes.append(
            f"to keep syncd running while you are logged out: loginctl enable-linger {user}"
        )
        plan.notes.append("logs: journalctl --user -u syncd; state: syncd status")
    else:
        log = str(user_home() / "Library" / "Logs" / "syncd.log")
        plan.writes[plist_path()] = plist_bytes(program(home), log)
        target = f"{_domain()}/{LABEL}"
        plan.commands = [
            ["launchctl", "bootout", target],
            ["launchctl", "enable", target],
            ["launchctl", "bootstrap", _domain(), str(plist_path())],
        ]
        plan.tolerate = {0}  # not loaded yet: fine
        plan.notes.append(f"logs: {log}; state: syncd status")
    return plan


def uninstall_plan(platform: str) -> Plan:
    """Stop and disable the service, then remove its file."""
    plan = Plan(platform)
    if platform == "systemd":
        plan.commands = [["systemctl", "--user", "disable", "--now", UNIT_NAME]]
        plan.removes = [unit_path()]
        plan.commands.append(["systemctl", "--user", "daemon-reload"])
        plan.tolerate = {0}
    else:
        plan.commands = [["launchctl", "bootout", f"{_domain()}/{LABEL}"]]
        plan.removes = [plist_path()]
        plan.tolerate = {0}
    return plan


def status_plan(platform: str) -> Plan:
    """Ask the service manager about the service."""
    plan = Plan(platform)
    if platform == "systemd":
        plan.commands = [["systemctl", "--user", "status", "--no-pager", UNIT_NAME]]
    else:
        plan.commands = [["launchctl", "print", f"{_domain()}/{LABEL}"]]
    plan.tolerate = {0}
    return plan


def describe(plan: Plan) -> str:
    """The plan as text (``--dry-run``)."""
    out: list[str] = []
    for path, content in plan.writes.items():
        out.append(f"# would write {path} (mode 0644):")
        out.append(content.decode().rstrip("\n"))
        out.append("")
    for path in plan.removes:
        out.append(f"# would remove {path}")
    if plan.commands:
        out.append("# would run:")
        out += [shlex.join(c) for c in plan.commands]
    for note in plan.notes:
        out.append(f"# {note}")
    return "\n".join(out)


def _probe(platform: str) -> None:
    """UserError unless this user's service manager answers."""
    tool = "systemctl" if platform == "systemd" else "launchctl"
    if shutil.which(tool) is None:
        raise UserError(
            f"{tool} not found: no {platform} here. Run `syncd run` another way "
            "(syncd service install --dry-run shows what would be installed)"
        )
    probe = (
        ["systemctl", "--user", "show-environment"]
        if platform == "systemd"
        else ["launchctl", "print", _domain()]
    )
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"{shlex.join(probe)} failed: {exc}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(
            f"no {'systemd user session' if platform == 'systemd' else 'launchd GUI session'} "
            f"for this user ({shlex.join(probe)}: {detail[0] if detail else proc.returncode}); "
            "run `syncd run` another way, or see `syncd service install --dry-run`"
        )


def apply_plan(plan: Plan, echo) -> None:
    """Apply ``plan``; ``echo`` prints progress. Files to remove go after the first command
    (which stops the service)."""
    _probe(plan.platform)
    for path, content in plan.writes.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        replace_file(path, content, mode=0o644)
        echo(f"wrote {path}")
    for i, command in enumerate(plan.commands):
        echo(f"$ {shlex.join(command)}")
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise UserError(f"{shlex.join(command)} failed: {exc}") from None
        output = (proc.stdout + proc.stderr).rstrip()
        if output:
            echo(output)
        if proc.returncode != 0 and i not in plan.tolerate:
            raise UserError(f"{shlex.join(command)} exited {proc.returncode}")
        if i == 0:
            for path in plan.removes:
                if path.exists():
                    path.unlink()
                    echo(f"removed {path}")
    for note in plan.notes:
        echo(note)
