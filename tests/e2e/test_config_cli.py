"""Strict configuration from the command line (issue 12, items 2 and 9): ``sync``, ``run``
and ``doctor`` refuse an invalid config.toml with exit 2 and every problem listed; the
configuration lives in the platform's config directory unless ``--home`` keeps
everything in one place."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.helpers import REPO, message, run_cli, write_mbox

ME = "me@corp.example"
CLI = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]


def configured(tmp_path: Path, account_table: str) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'me = ["{ME}"]\n[accounts.archive]\nkind = "mbox"\n{account_table}\n', encoding="utf-8"
    )
    return home


def mailbox(tmp_path: Path) -> Path:
    return write_mbox(tmp_path / "archive.mbox", [message(sender="ana@x.example", to=ME)])


def test_a_misspelled_paths_key_is_refused_not_synced_as_nothing(tmp_path):
    mbox = mailbox(tmp_path)
    home = configured(tmp_path, f'path = ["{mbox}"]\nwokers = 2\n')
    proc = run_cli("sync", home=home, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert 'accounts.archive.path: unknown setting for a mbox account; did you mean "paths"?' in (
        proc.stderr
    )
    assert (
        'accounts.archive.wokers: unknown setting for a mbox account; did you mean "workers"?'
        in (proc.stderr)
    )
    assert "accounts.archive.paths: needed" in proc.stderr
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    (account,) = [a for a in status["accounts"] if a["name"] == "archive"]
    assert account["last_result"] != "ok"  # nothing pretends to have worked


def test_a_string_where_a_list_of_paths_belongs_is_a_config_error(tmp_path):
    home = configured(tmp_path, f'paths = "{mailbox(tmp_path)}"\n')
    proc = run_cli("sync", home=home, check=False)
    assert proc.returncode == 2
    assert "accounts.archive.paths: must be a list of paths" in proc.stderr
    assert "not a single string" in proc.stderr


def test_invalid_utf8_is_one_clear_problem(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_bytes(b'me = ["me@corp.example"]\ntimezone = "Europe/Z\xfcrich"\n')
    for command in (["sync"], ["people"], ["doctor", "--no-service"]):
        proc = run_cli(*command, home=home, check=False)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        out = proc.stdout + proc.stderr
        assert "line 2 is not UTF-8 text" in out and "UnicodeDecodeError" not in out


def test_run_refuses_an_invalid_config_and_lists_every_problem(tmp_path):
    home = configured(
        tmp_path, f'paths = ["{tmp_path}/gone.mbox"]\n[daemon]\ndigest_dya = "friday"\n'
    )
    proc = subprocess.run(
        [*CLI, "--home", str(home), "run"], capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert f"accounts.archive.paths: {tmp_path}/gone.mbox does not exist" in proc.stderr
    assert 'daemon.digest_dya: unknown setting; did you mean "digest_day"?' in proc.stderr
    assert "Traceback" not in proc.stderr


def test_doctor_lists_every_config_problem_and_still_checks_the_rest(tmp_path):
    home = configured(
        tmp_path,
        'kind_ = "x"\n[planner]\ncalendar = "f.ics"\nper_weak = 3\n'
        '[accounts.o]\nkind = "carddav"\n',
    )
    proc = run_cli("doctor", "--no-service", "--json", home=home, check=False)
    assert proc.returncode == 2
    checks = json.loads(proc.stdout)
    config = [c["message"] for c in checks if c["name"] == "config"]
    assert any("accounts.archive.kind_" in m for m in config)
    assert any("accounts.archive.paths: needed" in m for m in config)
    assert any('planner.per_weak: unknown setting; did you mean "per_week"?' in m for m in config)
    assert any("accounts.o.kind: 'carddav' is not an account kind" in m for m in config)
    assert {"home", "database"} <= {c["name"] for c in checks}  # the other checks still ran


def test_account_add_offers_only_kinds_with_a_connector(tmp_path):
    proc = run_cli("account", "add", "carddav", "work", home=tmp_path / "h", check=False)
    assert proc.returncode == 2 and "carddav" in proc.stderr


# -- where the configuration lives --------------------------------------------------------


def platform_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNCD_", "XDG_"))}
    env.update(
        HOME=str(tmp_path / "user"),
        XDG_CONFIG_HOME=str(tmp_path / "user" / "cfg"),
        XDG_DATA_HOME=str(tmp_path / "user" / "data"),
    )
    return env


def syncd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_config_in_the_user_config_dir_data_in_the_user_data_dir(tmp_path):
    env = platform_env(tmp_path)
    config = tmp_path / "user" / "cfg" / "syncd" / "config.toml"
    data = tmp_path / "user" / "data" / "syncd"
    assert f"wrote {config}" in syncd(env, "init", "--me", ME).stdout
    syncd(env, "account", "add", "mbox", "archive", "--path", str(mailbox(tmp_path)))
    assert "[accounts.archive]" in config.read_text(encoding="utf-8")
    syncd(env, "sync")
    assert (data / "syncd.db").exists() and not (data / "config.toml").exists()
    assert not (config.parent / "syncd.db").exists()
    # --home keeps everything in one directory, as before
    home = tmp_path / "one"
    syncd(env, "--home", str(home), "init", "--me", ME)
    assert (home / "config.toml").exists()
    # --config names the file
    other = tmp_path / "other.toml"
    other.write_text('[digest]\nto = "me@corp.example"\n', encoding="utf-8")
    proc = subprocess.run([*CLI, "--config", str(other), "sync"], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "digest.to: must be a list" in proc.stderr


def test_a_home_made_before_the_split_keeps_working(tmp_path):
    env = platform_env(tmp_path)
    data = tmp_path / "user" / "data" / "syncd"
    data.mkdir(parents=True)
    (data / "config.toml").write_text(f'me = ["{ME}"]\n[sync]\ninterval_minutes = 7\n')
    listed = syncd(env, "doctor", "--no-service").stdout
    assert f"{data / 'config.toml'} is valid" in listed
    assert not (tmp_path / "user" / "cfg" / "syncd").exists()
