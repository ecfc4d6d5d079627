"""The command line: clean errors, --home / --now, merges and suggestions."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "me@corp.example"


def test_help_explains_every_command():
    out = run_cli("--help").stdout
    for command in ("import", "people", "status", "demo"):
        assert command in out
    assert "--home" in out and "--now" in out
    assert "Directories are walked" in run_cli("import", "--help").stdout


def test_missing_path_is_one_clean_line(tmp_path):
    proc = run_cli("import", "mbox", str(tmp_path / "nope"), home=tmp_path / "h", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "no such file or directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_me_address_and_bad_now_are_user_errors(tmp_path):
    mbox = write_mbox(tmp_path / "inbox", [message(sender="a@x.example", to=ME)])
    proc = run_cli(
        "import", "mbox", str(mbox), "--me", "not-an-address", home=tmp_path / "h", check=False
    )
    assert proc.returncode == 1 and "not an email address" in proc.stderr
    proc = run_cli("--now", "yesterday-ish", "people", home=tmp_path / "h", check=False)
    assert proc.returncode == 1 and "ISO 8601" in proc.stderr


def test_unknown_kind_is_rejected_by_the_parser(tmp_path):
    proc = run_cli("import", "pst", str(tmp_path), home=tmp_path / "h", check=False)
    assert proc.returncode == 2 and "pst" in proc.stderr


def test_home_from_environment(tmp_path, monkeypatch):
    mbox = write_mbox(tmp_path / "inbox", [message(sender="a@x.example", to=ME)])
    monkeypatch.setenv("SYNCD_HOME", str(tmp_path / "envhome"))
    run_cli("import", "mbox", str(mbox), "--me", ME)
    assert (tmp_path / "envhome" / "syncd.db").exists()


def test_now_option_and_environment_agree(tmp_path, monkeypatch):
    msgs = [
        message(sender="a@x.example", to=ME, date=datetime(2020, 1, 1, tzinfo=UTC), subject="1"),
        message(sender="a@x.example", to=ME, date=datetime(2022, 1, 1, tzinfo=UTC), subject="2"),
    ]
    home = tmp_path / "h"
    run_cli("import", "mbox", str(write_mbox(tmp_path / "inbox", msgs)), "--me", ME, home=home)
    by_option = people_json(home, "--now", "2021-01-01")
    monkeypatch.setenv("SYNCD_NOW", "2021-01-01T00:00:00+00:00")
    by_env = people_json(home)
    assert by_option == by_env
    assert by_option[0]["touches_in"] == 1
    assert by_option[0]["last_touch"] == "2020-01-01T00:00:00+00:00"


def test_people_json_fields(tmp_path):
    home = tmp_path / "h"
    mbox = write_mbox(tmp_path / "inbox", [message(sender="Ana Ruiz <ana@x.example>", to=ME)])
    run_cli("import", "mbox", str(mbox), "--me", ME, home=home)
    (ana,) = people_json(home)
    for field in ("id", "name", "emails", "tier", "first_touch", "last_touch", "touches_in",
                  "touches_out", "meetings"):  # fmt: skip
        assert field in ana
    assert ana["name"] == "Ana Ruiz"
    assert ana["emails"] == ["ana@x.example"]
    assert isinstance(ana["id"], int)


def test_merge_and_suggestions(tmp_path):
    home = tmp_path / "h"
    msgs = [
        message(sender="Ana Ruiz <ana@x.example>", to=ME, subject="work"),
        message(sender="Ana Ruiz <ana.ruiz@home.example>", to=ME, subject="home"),
        message(sender="bo+lists@y.example", to=ME, subject="plus"),
        message(sender="bo@y.example", to=ME, subject="plain"),
    ]
    run_cli("import", "mbox", str(write_mbox(tmp_path / "inbox", msgs)), "--me", ME, home=home)
    suggestions = run_cli("people", "suggest", home=home).stdout
    assert "same display name: ana ruiz" in suggestions
    assert "address variants: bo@y.example" in suggestions
    assert len(people_json(home)) == 4
    run_cli("people", "merge", "ana@x.example", "ana.ruiz@home.example", home=home)
    people = {p["emails"][0]: p for p in people_json(home)}
    assert len(people) == 3
    assert sorted(people["ana.ruiz@home.example"]["emails"]) == [
        "ana.ruiz@home.example",
        "ana@x.example",
    ]
    assert people["ana.ruiz@home.example"]["touches_in"] == 2
    # merges survive later imports that bring more mail from either address
    more = [message(sender="ana@x.example", to=ME, subject="later")]
    run_cli("import", "mbox", str(write_mbox(tmp_path / "later", more)), home=home)
    merged = [p for p in people_json(home) if "ana@x.example" in p["emails"]]
    assert len(merged) == 1 and merged[0]["touches_in"] == 3
    proc = run_cli("people", "merge", "ana@x.example", "nobody@x.example", home=home, check=False)
    assert proc.returncode == 1 and "no person matches" in proc.stderr


def test_status_counts(tmp_path):
    home = tmp_path / "h"
    msgs = [
        message(sender="a@x.example", to=ME, subject="1"),
        message(sender="news@x.example", to=ME, subject="2", extra={"List-Id": "<l.x>"}),
    ]
    write_mbox(tmp_path / "mail" / "inbox", msgs)
    write_mbox(tmp_path / "mail" / "Drafts", [message(sender=ME, to="a@x.example")])
    run_cli("import", "mbox", str(tmp_path / "mail"), "--me", ME, home=home)
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert status["observations"] == 3
    assert status["skipped_copies"] == 1
    assert status["logical_messages"] == 2
    assert status["bulk_messages"] == 1
    assert status["people"] == 1
    text = run_cli("status", home=home).stdout
    assert "2 logical messages from 3 copies" in text
