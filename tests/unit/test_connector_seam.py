"""One connector seam: every connector opens as ``open_reader`` / ``open_writer(account, home)``,
callers go through :func:`connectors.open_reader` / :func:`connectors.open_writer`, and
googleapiclient's HttpError stays inside connectors/google_api.py."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

import connectors
from connectors.base import CalendarWriter, Reader
from connectors.gmail_cursor import GmailCursor
from connectors.icsfile import IcsFileWriter
from syncd.config.schema import AccountConfig, Config
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.followup.outbox import ics_target_account, resolve_writer

READS = {
    "mbox",
    "maildir",
    "ics",
    "gmail-json",
    "gmail",
    "gcal",
    "imap",
    "caldav",
    "outlook",
    "exchange",
}
WRITES = {"gmail", "gcal", "icsfile", "caldav", "imap", "outlook", "exchange"}
OLD_NAMES = ("open_account", "reader", "writer", "open_sender", "send_message")
CONNECTORS = Path(connectors.__file__).parent


@pytest.mark.parametrize("name", connectors.KNOWN)
def test_every_connector_opens_through_the_seam(name):
    module = connectors.load(name)
    for side, kinds in (("open_reader", READS), ("open_writer", WRITES)):
        opener = getattr(module, side, None)
        assert (opener is not None) == (name in kinds), (name, side)
        if opener is not None:
            assert list(inspect.signature(opener).parameters) == ["account", "home"]
            assert opener.__doc__
    for old in OLD_NAMES:
        assert not hasattr(module, old), f"connectors.{name}.{old} is gone: use the seam"


def test_a_connector_without_a_side_is_a_clear_error(tmp_path):
    home = Home(tmp_path)
    with pytest.raises(UserError, match="connector 'icsfile' cannot read"):
        connectors.open_reader(AccountConfig("cal", "icsfile", options={"path": "x.ics"}), home)
    with pytest.raises(UserError, match="connector 'mbox' cannot take writes"):
        connectors.open_writer(AccountConfig("m", "mbox", options={"paths": ["x"]}), home)
    with pytest.raises(UserError, match="unknown connector 'carddav'"):
        connectors.open_reader(AccountConfig("i", "carddav"), home)


@pytest.mark.parametrize("kind", ["mbox", "maildir", "ics", "gmail-json"])
def test_local_readers_read_the_paths_option(tmp_path, kind):
    home = Home(tmp_path / "home")
    reader = connectors.open_reader(
        AccountConfig("l", kind, options={"paths": [str(tmp_path)]}), home
    )
    assert isinstance(reader, Reader)
    assert reader.paths == [tmp_path.resolve()]
    for bad in ({}, {"paths": []}, {"paths": [1]}):
        with pytest.raises(UserError, match="paths must list"):
            connectors.open_reader(AccountConfig("l", kind, options=bad), home)


def test_local_reader_options_are_checked(tmp_path):
    home = Home(tmp_path)
    acc = AccountConfig("l", "mbox", options={"paths": [str(tmp_path)], "workers": "two"})
    with pytest.raises(UserError, match="workers must be a whole number"):
        connectors.open_reader(acc, home)
    acc = AccountConfig(
        "l", "ics", options={"paths": [str(tmp_path)], "horizon_end": 1_900_000_000}
    )
    assert connectors.open_reader(acc, home).horizon_end == 1_900_000_000


def test_outbox_ics_targets_open_through_the_icsfile_seam(tmp_path):
    config = Config(timezone="Europe/Berlin")
    target = f"ics:{tmp_path / 'f.ics'}"
    account = ics_target_account(target, config)
    assert (account.kind, account.options) == (
        "icsfile",
        {"path": str(tmp_path / "f.ics"), "timezone": "Europe/Berlin"},
    )
    writer = resolve_writer(target, Home(tmp_path), config)
    assert isinstance(writer, IcsFileWriter) and isinstance(writer, CalendarWriter)
    assert writer.path == tmp_path / "f.ics" and str(writer.tz) == "Europe/Berlin"
    config.raw = {"planner": {"timezone": "Asia/Tokyo"}}
    assert str(resolve_writer(target, Home(tmp_path), config).tz) == "Asia/Tokyo"
    relative = connectors.open_writer(
        AccountConfig("c", "icsfile", options={"path": "cal/f.ics"}), Home(tmp_path)
    )
    assert relative.path == tmp_path / "cal" / "f.ics" and str(relative.tz) == "UTC"
    with pytest.raises(UserError, match="unknown time zone"):
        connectors.open_writer(
            AccountConfig("c", "icsfile", options={"path": "f.ics", "timezone": "Mars/Base"}),
            Home(tmp_path),
        )


def test_outbox_account_targets_need_a_writing_connector(tmp_path):
    config = Config(accounts={"m": AccountConfig("m", "mbox", options={"paths": ["x"]})})
    with pytest.raises(UserError, match="cannot take writes"):
        resolve_writer("account:m", Home(tmp_path), config)
    with pytest.raises(UserError, match="no account named 'nope'"):
        resolve_writer("account:nope", Home(tmp_path), config)


def test_http_error_never_leaves_google_api():
    allowed = {"google_api.py"}
    for path in sorted(CONNECTORS.glob("*.py")):
        text = path.read_text()
        if path.name not in allowed:
            assert not re.search(r"googleapiclient\.errors|\bHttpError\b(?!`)", _code(text)), path


def _code(text: str) -> str:
    """``text`` without docstrings and comments (they may name HttpError)."""
    text = re.sub(r'"""[\s\S]*?"""', "", text)
    return re.sub(r"#.*", "", text)


# -- the Gmail cursor ------------------------------------------------------------------------


OLD_CURSOR = {  # as syncd stored it before GmailCursor (a first sync interrupted)
    "v": 1,
    "phase": "full",
    "history_id": "100231",
    "pass": 1,
    "page_token": "CAoQAA",
    "listed": True,
    "pending": ["18c2000000000007", "18c200000000000e"],
    "fetched": 50,
}


def test_gmail_cursor_reads_the_stored_form():
    cursor = GmailCursor.from_json(OLD_CURSOR)
    assert cursor == GmailCursor(
        history_id="100231",
        phase="full",
        pass_index=1,
        page_token="CAoQAA",
        listed=True,
        pending=["18c2000000000007", "18c200000000000e"],
        fetched=50,
    )
    assert cursor.to_json() == OLD_CURSOR
    done = {**OLD_CURSOR, "phase": "incremental", "pending": [], "page_token": None}
    assert GmailCursor.from_json(done).incremental
    assert GmailCursor.from_json(done).to_json() == done


def test_gmail_cursor_to_json_is_a_copy():
    cursor = GmailCursor(history_id="7")
    stored = cursor.to_json()
    cursor.pending.append("x")
    assert stored["pending"] == [] and stored == {
        "v": 1,
        "phase": "full",
        "history_id": "7",
        "pass": 0,
        "page_token": None,
        "listed": False,
        "pending": [],
        "fetched": 0,
    }


@pytest.mark.parametrize(
    "stored",
    [
        None,
        [],
        {},
        {**OLD_CURSOR, "v": 2},
        {**OLD_CURSOR, "phase": "partial"},
        {**OLD_CURSOR, "history_id": "abc"},
    ],
)
def test_gmail_cursor_anything_else_is_no_cursor(stored):
    assert GmailCursor.from_json(stored) is None
