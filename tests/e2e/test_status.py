"""``syncd status`` (daemon, accounts, flags, outbox), ``syncd init`` and ``syncd doctor``."""

from __future__ import annotations

import json
import sqlite3
import stat
from pathlib import Path

from tests.support.helpers import message, run_cli, write_mbox

ME = "me@example.com"


def status_json(home: Path, *extra: str) -> dict:
    return json.loads(run_cli(*extra, "status", "--json", home=home).stdout)


def synced_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    mbox = write_mbox(
        tmp_path / "inbox.mbox",
        [message(sender="ana@x.example", to=ME, subject=str(i)) for i in range(3)],
    )
    run_cli("account", "add", "mbox", "inbox", "--path", str(mbox), "--address", ME, home=home)
    run_cli("sync", home=home)
    return home


def set_state(home: Path, account: str, **fields) -> None:
    conn = sqlite3.connect(home / "syncd.db")
    sets = ", ".join(f"{k} = ?" for k in fields)
    with conn:
        conn.execute(
            f"UPDATE account_state SET {sets} WHERE account_id ="
            " (SELECT id FROM accounts WHERE name = ?)",
            [*fields.values(), account],
        )
    conn.close()


def test_status_per_account_last_sync_result_and_no_daemon(tmp_path):
    home = synced_home(tmp_path)
    run_cli("account", "add", "mbox", "later", "--path", str(tmp_path / "x.mbox"), home=home)
    s = status_json(home)
    assert s["daemon"] == {"running": False, "last_state": None, "last_seen": None}
    inbox, later = s["accounts"]
    assert inbox["name"] == "inbox" and inbox["configured"] and inbox["last_result"] == "ok"
    assert inbox["last_sync_finished"] and inbox["observations"] == 3
    assert inbox["next_run"] is None  # no daemon, no next run
    assert later["name"] == "later" and later["last_result"] is None and later["observations"] == 0
    text = run_cli("status", home=home).stdout
    assert "daemon: not running" in text and "syncd service install" in text
    assert "account inbox (mbox): 3 observations" in text and "result ok" in text
    assert "account later (mbox): 0 observations" in text and "result never" in text
    if s["outbox"]["available"]:
        assert s["outbox"]["backlog"] == 0 and "outbox: 0 waiting" in text
    else:
        assert "outbox: not available" in text


def test_status_shows_errors_retry_and_the_need_for_auth(tmp_path):
    home = synced_home(tmp_path)
    set_state(
        home,
        "inbox",
        last_result="error",
        last_error="server said no",
        failures=2,
        retry_after="2099-01-01T00:00:00Z",
    )
    text = run_cli("status", home=home).stdout
    assert "error (2 in a row): server said no; retry after 2099-01-01T00:00:00Z" in text
    set_state(home, "inbox", last_result="needs-auth", needs_auth=1)
    s = status_json(home)
    assert s["accounts"][0]["needs_auth"] is True
    assert "run `syncd auth inbox`" in run_cli("status", home=home).stdout


def test_status_counts_open_flags(tmp_path):
    home = synced_home(tmp_path)
    now = ("--now", "2031-01-01")
    flags = json.loads(run_cli(*now, "flags", "--json", home=home).stdout)
    assert flags  # three old messages from one person: she is due for attention
    s = status_json(home, *now)
    assert s["flags"]["open"] == len(flags)
    assert sum(s["flags"]["by_rule"].values()) == len(flags)
    assert f"open flags: {len(flags)}" in run_cli(*now, "status", home=home).stdout
    assert status_json(home, "--now", "2000-01-01")["flags"]["open"] == 0  # not due yet


def test_status_with_a_broken_config_still_reports(tmp_path):
    home = synced_home(tmp_path)
    (home / "config.toml").write_text("me = 3\n", encoding="utf-8")
    s = status_json(home)
    assert "me: must be a list" in s["config_error"]
    assert s["accounts"][0]["configured"] is False


def test_init_writes_a_commented_private_config_once(tmp_path):
    home = tmp_path / "home"
    out = run_cli("init", "--me", "Me@Example.com", "--timezone", "Europe/Berlin", home=home)
    config = home / "config.toml"
    assert f"wrote {config}" in out.stdout
    text = config.read_text(encoding="utf-8")
    assert 'me = ["me@example.com"]' in text and 'timezone = "Europe/Berlin"' in text
    assert text.count("\n#") > 20  # explained, not bare
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    again = run_cli("init", home=home, check=False)
    assert again.returncode == 1 and "exists already" in again.stderr
    # the file is a working config: accounts can be added, and comments stay
    run_cli("account", "add", "mbox", "a", "--path", str(tmp_path / "a.mbox"), home=home)
    assert "# digest_day" in config.read_text(encoding="utf-8")
    assert run_cli("init", "--force", home=home).returncode == 0


def test_init_rejects_bad_input_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    proc = run_cli("init", "--me", "not-an-address", home=home, check=False)
    assert proc.returncode == 2 and "not an email address" in proc.stderr
    proc = run_cli("init", "--timezone", "Mars/Olympus", home=home, check=False)
    assert proc.returncode == 2 and "unknown time zone" in proc.stderr
    assert not (home / "config.toml").exists()


def doctor(home: Path, text: bool = True):
    """``syncd doctor --no-service``: (the text run or None, the JSON checks)."""
    proc = run_cli("doctor", "--no-service", home=home, check=False) if text else None
    checks = run_cli("doctor", "--no-service", "--json", home=home, check=False)
    if proc is not None:
        assert checks.returncode == proc.returncode
    return proc or checks, json.loads(checks.stdout)


def test_doctor_on_a_healthy_home_passes(tmp_path):
    home = synced_home(tmp_path)
    proc, checks = doctor(home)
    assert proc.returncode == 0, proc.stdout
    by_name = {c["name"]: c for c in checks}
    assert by_name["config"]["level"] == "ok"
    assert by_name["database"]["level"] == "ok" and "integrity ok" in by_name["database"]["message"]
    assert by_name["account inbox"]["level"] == "ok"
    assert "0 problem(s)" in proc.stdout
    full = run_cli("doctor", home=home, check=False)  # with the service part: not installed
    assert "service" in full.stdout and "daemon: not running" in full.stdout


def test_doctor_finds_config_token_path_and_auth_problems(tmp_path):
    home = synced_home(tmp_path)
    token = tmp_path / "token.json"
    token.write_text('{"token": "x"}', encoding="utf-8")
    token.chmod(0o644)
    config = home / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f'\n[accounts.gone]\nkind = "mbox"\npaths = ["{tmp_path}/missing.mbox"]\n'
        + f'token_file = "{token}"\n',
        encoding="utf-8",
    )
    set_state(home, "inbox", needs_auth=1, last_error="grant revoked")
    proc, checks = doctor(home)
    assert proc.returncode == 2  # config.toml names a missing file: an invalid config
    fails = [c["message"] for c in checks if c["level"] == "fail"]
    assert any("missing.mbox does not exist" in m for m in fails)
    assert any("readable by others" in m for m in fails)
    assert any("needs authorisation" in m for m in fails)
    assert "syncd auth inbox" in proc.stdout and "chmod 600" in proc.stdout

    config.write_text("[daemon]\ndigest_day = 'someday'\nbogus = 1\n", encoding="utf-8")
    proc, checks = doctor(home, text=False)
    assert proc.returncode == 2
    bad = [c for c in checks if c["name"] == "config"]
    assert {c["level"] for c in bad} == {"fail"} and len(bad) == 2  # one check per problem
    assert "digest_day" in bad[0]["message"] + bad[1]["message"]
    assert "daemon.bogus" in bad[0]["message"] + bad[1]["message"]


def test_doctor_finds_a_public_home_and_a_corrupt_database(tmp_path):
    home = synced_home(tmp_path)
    home.chmod(0o755)
    (home / "syncd.db").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (home / f"syncd.db{suffix}").unlink(missing_ok=True)
    proc, checks = doctor(home)
    assert proc.returncode == 1
    levels = {c["name"]: c["level"] for c in checks}
    assert levels["home"] == "warn" and levels["database"] == "fail"
    assert "chmod 700" in proc.stdout
