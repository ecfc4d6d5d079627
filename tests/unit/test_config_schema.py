"""The whole config.toml against one schema: every table, every problem, in one run."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import connectors
from connectors.options import ACCOUNT_KINDS, OPTIONS
from syncd.commands.context import Context
from syncd.config.schema import parse_config
from syncd.core.errors import ConfigError
from syncd.core.home import Home
from syncd.daemon.validate import load_everything, validate
from syncd.report.digest import send_weekly_digest
from tests.support.helpers import REPO


def home_with(tmp_path: Path, text: str) -> Home:
    root = tmp_path / "home"
    root.mkdir(exist_ok=True)
    (root / "config.toml").write_text(text, encoding="utf-8")
    return Home(root)


def problems_of(tmp_path: Path, text: str) -> list[str]:
    return validate(home_with(tmp_path, text))[1]


def plain(problems: list[str]) -> None:
    """Plain words: no Python exception or type names, one line each."""
    for p in problems:
        assert "\n" not in p
        assert not re.search(r"\b\w+(Error|Exception)\b|Traceback|<class|NoneType|dict\[", p), p


def test_unknown_keys_in_every_table_come_with_a_did_you_mean(tmp_path):
    mbox = tmp_path / "a.mbox"
    mbox.write_bytes(b"")
    problems = problems_of(
        tmp_path,
        f"""
tmezone = "UTC"
[accounts.archive]
kind = "mbox"
path = ["{mbox}"]
[accounts.work]
kind = "gmail"
filter_categorie = true
[sync]
interval_minute = 5
[daemon]
jiter_seconds = 3
[planner]
calender = "followups.ics"
[digest]
too = ["me@example.com"]
[smtp]
host = "smtp.example.com"
prot = 587
[tiers]
cor = 10
[rules.dormant]
core_day = 3
[rules.dormnat]
enabled = false
""",
    )
    expected = {
        "tmezone": "timezone",
        "accounts.archive.path": "paths",
        "accounts.work.filter_categorie": "filter_categories",
        "sync.interval_minute": "interval_minutes",
        "daemon.jiter_seconds": "jitter_seconds",
        "planner.calender": "calendar",
        "digest.too": "to",
        "smtp.prot": "port",
        "tiers.cor": "core",
        "rules.dormant.core_day": "core_days",
        "rules.dormnat": "dormant",
    }
    for where, meant in expected.items():
        hits = [p for p in problems if p.startswith(f"{where}:")]
        assert hits, f"{where} not reported in {problems}"
        assert f'did you mean "{meant}"?' in hits[0]
    # the account without its paths: that is said too
    assert any(p.startswith("accounts.archive.paths: needed") for p in problems)
    plain(problems)


def test_types_are_strict_a_string_is_not_a_list_of_paths(tmp_path):
    mbox = tmp_path / "x.mbox"
    mbox.write_bytes(b"")
    problems = problems_of(
        tmp_path,
        f"""
me = "me@example.com"
[accounts.a]
kind = "mbox"
paths = "{mbox}"
workers = "two"
enabled = "yes"
[accounts.g]
kind = "gmail"
filter_categories = "yes"
batch_size = 1000
api_endpoint = "ftp://x"
[sync]
interval_minutes = "5"
[digest]
to = "me@example.com"
""",
    )
    for needle in (
        "me: must be a list of email addresses",
        "accounts.a.paths: must be a list of paths",
        "not a single string",
        "accounts.a.workers: must be a whole number (got a string)",
        "accounts.a.enabled: must be true or false",
        "accounts.g.filter_categories: must be true or false",
        "accounts.g.batch_size: must be from 1 to 100",
        "accounts.g.api_endpoint: must be an http:// or https:// URL",
        "sync.interval_minutes: must be a positive number",
        "digest.to: must be a list of email addresses",
    ):
        assert any(needle in p for p in problems), f"{needle!r} not in {problems}"
    plain(problems)


def test_time_zones_paths_kinds_and_references(tmp_path):
    missing = tmp_path / "nowhere"
    loop = tmp_path / "loop.mbox"
    loop.symlink_to(loop)
    problems = problems_of(
        tmp_path,
        f"""
timezone = "Mars/Olympus_Mons"
[accounts.a]
kind = "maildir"
paths = ["{missing}/Maildir", "{loop}"]
[accounts.g]
kind = "gcal"
token_file = "{missing}/token.json"
[accounts.old]
kind = "outlookcal"
[accounts.later]
kind = "caldav"
enabled = false
[accounts.b]
kind = "pst"
[planner]
calendar = "{missing}/cal/followups.ics"
timezone = "Europe/Atlantis"
[digest]
via = "account:nobody"
preview = "{missing}/digest.html"
[smtp]
host = "smtp.example.com"
password_file = "{missing}/pw"
""",
    )
    for needle in (
        "timezone: unknown time zone 'Mars/Olympus_Mons'",
        "planner.timezone: unknown time zone 'Europe/Atlantis'",
        f"accounts.a.paths: {missing}/Maildir does not exist",
        f"accounts.a.paths: {loop} is a symbolic link loop",
        f"accounts.g.token_file: {missing}/token.json does not exist",
        "accounts.old.kind: 'outlookcal' is not an account kind; did you mean \"outlook\"",
        "accounts.b.kind: 'pst' is not an account kind",
        f"planner.calendar: {missing}/cal does not exist",
        "digest.via: no account named 'nobody'",
        f"digest.preview: {missing} does not exist",
        f"smtp.password_file: {missing}/pw does not exist",
    ):
        assert any(needle in p for p in problems), f"{needle!r} not in {problems}"
    assert not any("accounts.later" in p for p in problems)  # disabled: kept, never opened
    plain(problems)


def test_every_problem_at_once_and_a_valid_file_loads(tmp_path):
    mbox = tmp_path / "a.mbox"
    mbox.write_bytes(b"")
    good = f"""
me = ["me@example.com"]
timezone = "Europe/Berlin"
[accounts.a]
kind = "mbox"
paths = ["{mbox}"]
workers = 0
[planner]
calendar = "followups.ics"
[digest]
preview = "digest.html"
"""
    loaded = load_everything(home_with(tmp_path, good))
    assert loaded.config.accounts["a"].options["paths"] == [str(mbox)]
    with pytest.raises(ConfigError) as err:
        load_everything(home_with(tmp_path, good + "[daemon]\nbogus = 1\n[rules.nope]\n"))
    assert len(err.value.problems) == 2


def test_invalid_utf8_and_broken_toml_are_plain_config_errors(tmp_path):
    home = home_with(tmp_path, "")
    home.config_path.write_bytes(b'me = ["me@example.com"]\n# caf\xe9\n')
    with pytest.raises(ConfigError) as err:
        validate(home)
    (problem,) = err.value.problems
    assert "line 2 is not UTF-8 text" in problem and "save the file as UTF-8" in problem
    home.config_path.write_text("[daemon]\nx = 1\n[daemon]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        validate(home)
    assert "not valid TOML" in err.value.problems[0]


def test_account_kinds_offered_are_the_connectors_that_exist():
    assert set(ACCOUNT_KINDS) <= set(connectors.KNOWN)
    assert set(ACCOUNT_KINDS) == set(OPTIONS)
    assert {"graph", "ews", "outlookcal"}.isdisjoint(ACCOUNT_KINDS)


def _option_reads(path: Path) -> set[str]:
    """Option keys a connector module reads: ``.options.get("k")``, ``.options["k"]``,
    ``int_option(account, "k")`` and the names ``Settings.from_options`` checks."""
    keys: set[str] = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for func in ast.walk(tree):  # Settings.from_options: ("name", type, low, high) rows
        if isinstance(func, ast.FunctionDef) and func.name == "from_options":
            for node in ast.walk(func):
                if isinstance(node, ast.Tuple) and len(node.elts) == 4:
                    head = node.elts[0]
                    if isinstance(head, ast.Constant) and isinstance(head.value, str):
                        keys.add(head.value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value if isinstance(func, ast.Attribute) else None
            on_options = isinstance(owner, ast.Attribute) and owner.attr == "options"
            first = node.args[-1] if name == "int_option" else node.args[0]
            reads = (name == "get" and on_options) or name == "int_option"
            if reads and isinstance(first, ast.Constant) and isinstance(first.value, str):
                keys.add(first.value)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Attribute)
            and node.value.attr == "options"
            and isinstance(node.slice, ast.Constant)
        ):
            keys.add(node.slice.value)
    return keys


MODULES = {
    "mbox": ["mbox", "localfiles"],
    "maildir": ["maildir", "localfiles"],
    "ics": ["ics", "localfiles"],
    "gmail": ["gmail", "google_api", "google_auth"],
    "gcal": ["gcal", "google_api", "google_auth"],
    "exchange": ["exchange", "ews_session", "ews_mail", "ews_calendar", "ews_writer", "passwords"],
    "outlook": ["outlook", "outlook_mail", "outlook_calendar", "graph_api", "graph_auth"],
    "imap": ["imap", "imap_session", "imap_send", "passwords"],
    "caldav": ["caldav", "dav", "passwords"],
}


@pytest.mark.parametrize("kind", sorted(OPTIONS))
def test_every_option_a_connector_reads_is_declared(kind):
    read: set[str] = set()
    for module in MODULES[kind]:
        read |= _option_reads(REPO / "connectors" / f"{module}.py")
    shared = {"send_digest"}  # google_auth reads it for gmail accounts only
    undeclared = {k for k in read if k not in OPTIONS[kind] and k not in shared}
    assert not undeclared, f"{kind} reads options {undeclared} that connectors/options.py lacks"
    assert read, "the scan found nothing: the test no longer sees the connector's reads"


def test_the_weekly_digest_also_writes_the_configured_preview(tmp_path):
    out = tmp_path / "public"
    out.mkdir()
    ctx = Context(Home(tmp_path / "home"), 1_717_200_000)
    config = parse_config({"me": ["me@example.com"], "digest": {"preview": f"{out}/d.html"}})
    result = send_weekly_digest(ctx.db, ctx.home, config, ctx.now)
    assert result.startswith("not sent")  # no [smtp]: the copy is written all the same
    assert (out / "d.html").read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype")
    assert (out / "d.txt").exists()
