"""The systemd unit and launchd plist: hardened, valid, installed with the right commands.

``systemd-analyze`` (Debian package ``systemd``) must be installed: its absence is a
failure that names the install command, never a skip.
"""

from __future__ import annotations

import os
import plistlib
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

from syncd.core.home import Home
from syncd.daemon.validate import load_everything
from syncd.ops import service
from syncd.ops.doctor import service_checks
from syncd.ops.service import (
    LABEL,
    plist_bytes,
    render_unit,
    repo_defaults,
    unit_writable_paths,
    writable_paths,
)
from tests.support.helpers import REPO

UNIT = REPO / "systemd" / "syncd.service"
PLIST = REPO / "systemd" / f"{LABEL}.plist"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
ANALYZE = shutil.which("systemd-analyze")


def syncd(home: Path, *args: str, env: dict[str, str] | None = None, path: str | None = None):
    environ = {**os.environ, **(env or {})}
    environ.pop("XDG_CONFIG_HOME", None)
    if path is not None:
        environ["PATH"] = path
    proc = subprocess.run(
        [*CLI, "--home", str(home), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environ,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_the_files_in_the_tree_are_what_the_code_renders():
    unit, plist = repo_defaults()
    assert UNIT.read_text(encoding="utf-8") == unit
    assert PLIST.read_bytes() == plist


def test_the_unit_is_a_notify_service_restarting_on_failure_with_a_limit():
    text = UNIT.read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and line[0] != "#"
    )
    assert settings["Type"] == "notify"
    assert settings["Restart"] == "on-failure"
    assert int(settings["StartLimitBurst"]) <= 10 and int(settings["StartLimitIntervalSec"]) > 0
    assert int(settings["WatchdogSec"]) > 0
    assert "kill -HUP $MAINPID" in settings["ExecReload"]
    assert " run" in settings["ExecStart"] and "--home" in settings["ExecStart"]
    assert "WantedBy=default.target" in text


def test_the_plist_parses_with_run_at_load_keep_alive_and_logs():
    for data in (
        plistlib.loads(PLIST.read_bytes()),
        plistlib.loads(plist_bytes(["/x/syncd", "--home", "/h", "run"], "/l.log")),
    ):
        assert data["Label"] == LABEL
        assert data["RunAtLoad"] is True
        assert data["KeepAlive"] == {"SuccessfulExit": False}  # restart on failure only
        assert data["StandardErrorPath"].endswith(".log")
        assert data["StandardOutPath"].endswith(".log")
        assert data["ProgramArguments"][-1] == "run"
        assert "--home" in data["ProgramArguments"]


def _analyze() -> str:
    assert ANALYZE, "systemd-analyze is missing: apt-get install systemd (.ci/run installs it)"
    return ANALYZE


def _exposure(path: Path) -> float:
    proc = subprocess.run(
        [_analyze(), "security", "--offline=yes", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return float(match.group(1))


def _verify(path: Path) -> None:
    proc = subprocess.run(
        [_analyze(), "verify", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def test_exposure_is_at_most_2_and_verify_is_clean():
    exposure = _exposure(UNIT)
    assert exposure <= 2.0, f"systemd-analyze security: exposure {exposure}"
    _verify(UNIT)


def test_an_installed_unit_for_an_awkward_home_is_valid_too(tmp_path):
    home = Home(tmp_path / "my syncd 100%")
    unit = tmp_path / "syncd.service"
    unit.write_text(render_unit(home), encoding="utf-8")
    _verify(unit)
    assert _exposure(unit) <= 2.0
    text = unit.read_text(encoding="utf-8")
    assert "100%%" in text  # systemd specifiers escaped
    assert f'ReadWritePaths="-{tmp_path}/my syncd 100%%"' in text


def test_install_dry_run_systemd_prints_the_unit_and_commands(tmp_path):
    fake_home = tmp_path / "user"
    home = tmp_path / "h"
    proc = syncd(
        home,
        "service",
        "install",
        "--platform",
        "systemd",
        "--dry-run",
        env={"HOME": str(fake_home)},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    unit_path = fake_home / ".config" / "systemd" / "user" / "syncd.service"
    assert f"# would write {unit_path}" in out
    script = Path(sys.executable).parent / "syncd"
    program = str(script) if script.exists() else sys.executable
    exec_line = next(line for line in out.splitlines() if line.startswith("ExecStart="))
    assert exec_line.startswith(f"ExecStart={program}")
    assert exec_line.endswith(f"--home {home} run")
    assert f"ReadWritePaths=-{home}" in out
    for command in (
        "systemctl --user daemon-reload",
        "systemctl --user enable syncd.service",
        "systemctl --user restart syncd.service",
    ):
        assert command in out
    assert not unit_path.exists() and not home.exists()  # a dry run touches nothing


def test_install_dry_run_launchd_prints_a_valid_plist_and_bootstrap(tmp_path):
    fake_home = tmp_path / "user"
    home = tmp_path / "h"
    proc = syncd(
        home,
        "service",
        "install",
        "--platform",
        "launchd",
        "--dry-run",
        env={"HOME": str(fake_home)},
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    path = fake_home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert f"# would write {path}" in out
    xml = out[out.index("<?xml") : out.index("</plist>") + len("</plist>")]
    data = plistlib.loads(xml.encode())
    assert data["ProgramArguments"][-3:] == ["--home", str(home), "run"]
    assert data["StandardErrorPath"] == str(fake_home / "Library" / "Logs" / "syncd.log")
    assert f"launchctl bootstrap gui/{os.getuid()} {path}" in out
    assert not path.exists()


def test_uninstall_and_status_dry_run(tmp_path):
    proc = syncd(
        tmp_path / "h",
        "service",
        "uninstall",
        "--platform",
        "systemd",
        "--dry-run",
        env={"HOME": str(tmp_path)},
    )
    assert "systemctl --user disable --now syncd.service" in proc.stdout
    assert "# would remove" in proc.stdout
    proc = syncd(tmp_path / "h", "service", "status", "--platform", "launchd", "--dry-run")
    assert f"launchctl print gui/{os.getuid()}/{LABEL}" in proc.stdout


def test_install_without_systemctl_is_a_clean_error(tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    proc = syncd(
        tmp_path / "h",
        "service",
        "install",
        "--platform",
        "systemd",
        env={"HOME": str(tmp_path / "user")},
        path=str(empty),
    )
    assert proc.returncode == 1
    assert "systemctl not found" in proc.stderr and "--dry-run" in proc.stderr
    assert not (tmp_path / "user" / ".config").exists()


def _fake_tool(folder: Path, name: str, code: int, message: str = "") -> Path:
    """A stand-in for systemctl / launchctl that logs its arguments."""
    folder.mkdir(exist_ok=True)
    tool = folder / name
    log = folder / f"{name}.log"
    tool.write_text(
        f"#!/bin/sh\necho \"$@\" >> '{log}'\n"
        + (f"echo '{message}' >&2\n" if message else "")
        + f"exit {code}\n",
        encoding="utf-8",
    )
    tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    return log


def test_install_without_a_user_session_is_a_clean_error(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_tool(bin_dir, "systemctl", 1, "Failed to connect to bus: No medium found")
    proc = syncd(
        tmp_path / "h",
        "service",
        "install",
        "--platform",
        "systemd",
        env={"HOME": str(tmp_path / "user")},
        path=f"{bin_dir}:/usr/bin:/bin",
    )
    assert proc.returncode == 1
    assert "no systemd user session" in proc.stderr and "Failed to connect" in proc.stderr
    assert not (tmp_path / "user" / ".config" / "systemd" / "user" / "syncd.service").exists()


def test_install_and_uninstall_with_systemd_run_the_commands_in_order(tmp_path):
    bin_dir = tmp_path / "bin"
    log = _fake_tool(bin_dir, "systemctl", 0)
    env = {"HOME": str(tmp_path / "user")}
    path = f"{bin_dir}:/usr/bin:/bin"
    home = tmp_path / "h"
    proc = syncd(home, "service", "install", "--platform", "systemd", env=env, path=path)
    assert proc.returncode == 0, proc.stderr
    unit = tmp_path / "user" / ".config" / "systemd" / "user" / "syncd.service"
    assert unit.read_text(encoding="utf-8") == render_unit(Home(home))
    assert home.is_dir()  # ReadWritePaths= needs it
    assert log.read_text().splitlines() == [
        "--user show-environment",
        "--user daemon-reload",
        "--user enable syncd.service",
        "--user restart syncd.service",
    ]
    log.unlink()
    proc = syncd(home, "service", "uninstall", "--platform", "systemd", env=env, path=path)
    assert proc.returncode == 0, proc.stderr
    assert not unit.exists()
    assert log.read_text().splitlines() == [
        "--user show-environment",
        "--user disable --now syncd.service",
        "--user daemon-reload",
    ]


def test_install_with_launchd_bootstraps_the_agent(tmp_path):
    bin_dir = tmp_path / "bin"
    log = _fake_tool(bin_dir, "launchctl", 0)
    env = {"HOME": str(tmp_path / "user")}
    proc = syncd(
        tmp_path / "h",
        "service",
        "install",
        "--platform",
        "launchd",
        env=env,
        path=f"{bin_dir}:/usr/bin:/bin",
    )
    assert proc.returncode == 0, proc.stderr
    plist = tmp_path / "user" / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert plistlib.loads(plist.read_bytes())["RunAtLoad"] is True
    uid = os.getuid()
    assert log.read_text().splitlines() == [
        f"print gui/{uid}",
        f"bootout gui/{uid}/{LABEL}",
        f"enable gui/{uid}/{LABEL}",
        f"bootstrap gui/{uid} {plist}",
    ]


# -- where the service may write (issue 12, item 8) -------------------------------------


def _home_writing_outside(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A home whose planner calendar and digest preview live outside it."""
    home = tmp_path / "h"
    calendars = tmp_path / "Calendars"
    public = tmp_path / "public html"
    for folder in (home, calendars, public):
        folder.mkdir()
    (home / "config.toml").write_text(
        f'[planner]\ncalendar = "{calendars}/followups.ics"\n'
        f'[digest]\nto = ["me@example.com"]\npreview = "{public}/digest.html"\n',
        encoding="utf-8",
    )
    return home, calendars, public


def test_install_lets_the_service_write_where_the_config_points(tmp_path):
    home, calendars, public = _home_writing_outside(tmp_path)
    proc = syncd(
        home, "service", "install", "--platform", "systemd", "--dry-run",
        env={"HOME": str(tmp_path / "user")},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("ReadWritePaths="))
    assert line == f'ReadWritePaths=-{home} -{calendars} "-{public}"'
    # the unit is valid and as hardened as the one in the tree
    loaded = load_everything(Home(home))
    unit = tmp_path / "syncd.service"
    unit.write_text(render_unit(Home(home), writable_paths(Home(home), loaded.config)))
    _verify(unit)
    assert _exposure(unit) <= 2.0
    assert unit_writable_paths(unit.read_text()) == [home, calendars, public]


def test_a_calendar_inside_the_home_adds_nothing(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text('[planner]\ncalendar = "followups.ics"\n')
    assert writable_paths(Home(home), load_everything(Home(home)).config) == [home]


def test_install_refuses_an_invalid_config(tmp_path):
    home = tmp_path / "h"
    home.mkdir()
    (home / "config.toml").write_text('[planner]\ncalendar = "/nowhere/at/all/f.ics"\n')
    proc = syncd(
        home, "service", "install", "--platform", "systemd", "--dry-run",
        env={"HOME": str(tmp_path / "user")},
    )  # fmt: skip
    assert proc.returncode == 2 and "planner.calendar: /nowhere/at/all does not exist" in (
        proc.stderr
    )


def test_doctor_warns_when_the_installed_unit_may_not_write_a_configured_path(
    tmp_path, monkeypatch
):
    home, calendars, public = _home_writing_outside(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("PATH", "/nonexistent")  # no systemctl: the file alone is checked
    installed = service.unit_path()
    installed.parent.mkdir(parents=True)
    installed.write_text(render_unit(Home(home)), encoding="utf-8")  # the home alone
    loaded = load_everything(Home(home))
    warnings = [
        c.message
        for c in service_checks(Home(home), "systemd", loaded)
        if c.level == "warn" and "does not let the service write" in c.message
    ]
    assert len(warnings) == 2
    assert any(str(calendars) in w for w in warnings) and any(str(public) in w for w in warnings)
    writable = writable_paths(Home(home), loaded.config)
    installed.write_text(render_unit(Home(home), writable), encoding="utf-8")
    assert not [c for c in service_checks(Home(home), "systemd", loaded) if c.level != "ok"]
