"""``syncd doctor`` lists every problem, not the first, and tells a permission problem
from a damaged database (issue 12, item 3)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.helpers import message, run_cli, write_mbox

ME = "me@corp.example"


def imported(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    mbox = write_mbox(tmp_path / "inbox.mbox", [message(sender="a@x.example", to=ME)])
    run_cli("import", "mbox", str(mbox), "--me", ME, home=home)
    return home


def checks(home: Path) -> tuple[int, list[dict]]:
    proc = run_cli("doctor", "--no-service", "--json", home=home, check=False)
    return proc.returncode, json.loads(proc.stdout)


def messages(found: list[dict], name: str, level: str = "fail") -> list[str]:
    return [c["message"] for c in found if c["name"] == name and c["level"] == level]


def test_a_database_you_cannot_read_is_a_permission_problem_not_damage(tmp_path):
    home = imported(tmp_path)
    db = home / "syncd.db"
    db.chmod(0o200)  # owner may write, not read (mode bits: holds for root too)
    code, found = checks(home)
    assert code == 1
    (problem,) = [m for m in messages(found, "database") if "permission" in m]
    assert "not damaged" in problem and "0200" in problem
    assert not any("is damaged" in m for m in messages(found, "database"))
    hint = next(c["hint"] for c in found if c["message"] == problem)
    assert f"chmod 600 {db}" in hint

    db.chmod(0o600)
    db.write_bytes(b"garbage, not SQLite" * 300)
    for suffix in ("-wal", "-shm"):
        (home / f"syncd.db{suffix}").unlink(missing_ok=True)
    code, found = checks(home)
    assert code == 1
    damaged = messages(found, "database")
    assert any("is damaged" in m for m in damaged)
    assert not any("permission" in m for m in damaged)


def test_every_problem_is_listed_not_the_first(tmp_path):
    home = imported(tmp_path)
    home.chmod(0o755)  # public home: a warning
    (home / "config.toml").write_text(
        "[daemon]\ndigest_day = 'someday'\nbogus = 1\n[planner]\nper_week = 'five'\n",
        encoding="utf-8",
    )
    tokens = home / "tokens"
    tokens.mkdir()
    (tokens / "work.json").write_text("{}", encoding="utf-8")
    (tokens / "work.json").chmod(0o644)
    (home / "syncd.db").chmod(0o400)
    code, found = checks(home)
    assert code == 2  # the config is invalid
    assert len(messages(found, "config")) == 3
    assert messages(found, "home", "warn")
    assert any("readable by others" in m for m in messages(found, "tokens"))
    assert any("permission problem" in m for m in messages(found, "database"))


def test_a_home_that_is_a_file_is_reported_and_the_rest_still_checked(tmp_path):
    home = tmp_path / "file"
    home.write_text("x", encoding="utf-8")
    proc = run_cli("doctor", "--no-service", home=home, check=False)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"FAIL  home: {home} is a file, not a directory" in proc.stdout
    assert "config file:" in proc.stdout and "database:" in proc.stdout
