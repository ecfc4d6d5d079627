"""``syncd import gmail-json``: saved Gmail API responses replayed through the Gmail connector.

A mailbox recorded from the emulator (as a user would save it for a bug
report) yields the same people and touch counts as syncing that mailbox;
JSON arrays, JSON Lines and ``{"messages", "labels"}`` all work; re-imports
are no-ops; bad records are quarantined and files that are not such JSON are
clean errors.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors import gmail_json
from connectors.google_pacing import forget_pacers
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.pipeline.account_sync import sync_account
from syncd.store.db import open_db
from tests.support.gmail_records import record_mailbox, resource, write_json_lines
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import (
    ME,
    account,
    fill_mailbox,
    home,
    raw_message,
)
from tests.support.helpers import people_json, run_cli

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)
FIELDS = ("emails", "touches_in", "touches_out", "meetings", "first_touch", "last_touch")


@pytest.fixture(autouse=True)
def _fresh_pacers():
    forget_pacers()
    yield
    forget_pacers()


def figures(people: list[dict]) -> list[tuple]:
    """What the two routes must agree on, person by person."""
    return sorted(tuple(json.dumps(p[f]) for f in FIELDS) for p in people)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A mailbox synced through the emulator, and the same mailbox recorded as API JSON."""
    tmp = tmp_path_factory.mktemp("gmail-json")
    forget_pacers()
    with GoogleEmulator(window=0.5) as emu:
        fill_mailbox(emu, 60)
        extra = [
            (raw_message("news@example.org", [ME], "weekly", WHEN, extra={"List-Id": "<l>"}),
             ["INBOX"]),
            (raw_message("spammer@example.net", [ME], "win", WHEN), ["SPAM"]),
            (raw_message(ME, ["draft@example.org"], "draft", WHEN), ["DRAFT"]),
            (raw_message(ME, ["ana@example.org", "bo@example.org"], "plan", WHEN), ["SENT"]),
        ]  # fmt: skip
        for raw, labels in extra:
            emu.gmail.add_message(raw, labels)
        synced = Home(tmp / "synced")
        synced.ensure()
        result = sync_account(open_db(synced.db_path), synced, account(emu, tmp))
        assert result.ok, result.error
        messages, labels = record_mailbox(emu)
    forget_pacers()
    assert len(messages) == 64 and any(m["labelIds"] == ["SPAM"] for m in messages)
    return tmp, synced.root, messages, labels


def test_replay_yields_what_a_sync_yields(recorded, tmp_path):
    _, synced, messages, labels = recorded
    expected = figures(people_json(synced))
    assert expected and any('"bo@example.org"' in row[0] for row in expected)
    saved = tmp_path / "messages.json"
    saved.write_text(json.dumps(messages))
    out = run_cli("import", "gmail-json", str(saved), "--me", ME, home=tmp_path / "a").stdout
    assert out.startswith("imported 64 messages and 0 events;"), out
    assert figures(people_json(tmp_path / "a")) == expected
    # JSON Lines with the labels.list response on a line, and the wrapped form: the same.
    lines = write_json_lines(tmp_path / "messages.jsonl", [{"labels": labels}, *messages])
    run_cli("import", "gmail-json", str(lines), "--me", ME, home=tmp_path / "b")
    assert figures(people_json(tmp_path / "b")) == expected
    wrapped = tmp_path / "export" / "mailbox.json"
    wrapped.parent.mkdir()
    wrapped.write_text(json.dumps({"labels": labels, "messages": messages}, indent=2))
    run_cli("import", "gmail-json", str(wrapped.parent), "--me", ME, home=tmp_path / "c")
    assert figures(people_json(tmp_path / "c")) == expected


def test_labels_name_the_folders(recorded, tmp_path):
    _, _, messages, labels = recorded
    path = write_json_lines(tmp_path / "m.jsonl", [{"labels": labels}, *messages])
    run_cli("import", "gmail-json", str(path), "--me", ME, home=tmp_path / "h")
    db = open_db(tmp_path / "h" / "syncd.db")
    folders = {r[0] for r in db.execute("SELECT DISTINCT folder FROM observations")}
    assert "Projects/alpha" in folders and "INBOX" in folders
    # Without labels a user label goes by its id, as when labels.list fails in a sync.
    bare = write_json_lines(tmp_path / "bare.jsonl", messages)
    run_cli("import", "gmail-json", str(bare), "--me", ME, home=tmp_path / "g")
    db = open_db(tmp_path / "g" / "syncd.db")
    folders = {r[0] for r in db.execute("SELECT DISTINCT folder FROM observations")}
    assert "Projects/alpha" not in folders and any(f.startswith("Label_") for f in folders)


def test_reimport_is_a_no_op(recorded, tmp_path):
    _, _, messages, _ = recorded
    path = write_json_lines(tmp_path / "m.jsonl", messages)
    home_dir = tmp_path / "h"
    run_cli("import", "gmail-json", str(path), "--me", ME, home=home_dir)
    known = f"{len(messages)} already known"  # a re-import says what it knew already
    again = run_cli("import", "gmail-json", str(path), home=home_dir).stdout
    assert again.startswith(f"imported 0 messages and 0 events; {known}"), again
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched, not changed
    again = run_cli("import", "gmail-json", str(path), home=home_dir).stdout
    assert again.startswith(f"imported 0 messages and 0 events; {known}"), again
    more = resource("f00d", "new@example.org", ME, "later", WHEN + timedelta(days=1))
    write_json_lines(path, [more], append=True)
    later = run_cli("import", "gmail-json", str(path), home=home_dir).stdout
    assert later.startswith(f"imported 1 messages and 0 events; {known}"), later  # appended
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[-1], *lines[:-1]]) + "\n")  # changed: read again
    again = run_cli("import", "gmail-json", str(path), home=home_dir).stdout
    assert again.startswith("imported 0 messages and 0 events; 65 already known"), again


def test_a_bad_record_is_quarantined(tmp_path):
    good = [
        resource(f"m{n}", f"p{n}@example.org", ME, f"s{n}", WHEN + timedelta(hours=n))
        for n in range(3)
    ]
    headless = {"id": "h1", "labelIds": ["INBOX"], "payload": {"headers": []}}
    path = write_json_lines(tmp_path / "m.jsonl", [good[0], headless, good[1]])
    with open(path, "a") as fh:
        fh.write('{"id": "broken", "payload": {\n')
    write_json_lines(path, [good[2], ["not", "a", "resource"]], append=True)
    out = run_cli("import", "gmail-json", str(path), "--me", ME, home=tmp_path / "h").stdout
    assert out.startswith("imported 3 messages and 0 events;") and "3 quarantined" in out, out
    db = open_db(tmp_path / "h" / "syncd.db")
    reasons = sorted(r[0] for r in db.execute("SELECT reason FROM quarantine"))
    assert len(reasons) == 3, reasons
    assert reasons[0].startswith("line 4 is not JSON"), reasons
    assert reasons[1] == "no headers in the metadata response"
    assert reasons[2] == "record 6 is not a message resource"
    assert {p["emails"][0] for p in people_json(tmp_path / "h")} == {
        "p0@example.org",
        "p1@example.org",
        "p2@example.org",
    }


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"From someone Mon Jan  1 00:00:00 2024\nSubject: hi\n\nbody\n", "line 1"),
        (b'{"name": "package", "version": "1.0"}', "no message resources"),
        (b"[1, 2, 3]", "no message resources"),
        (b'{"not": "a message"}\n{"id": "1"}\n', "line 1 is not a message resource"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
    ],
)
def test_a_file_that_is_not_gmail_json_is_a_clean_error(tmp_path, content, why):
    path = tmp_path / "export.json"
    path.write_bytes(content)
    proc = run_cli("import", "gmail-json", str(path), home=tmp_path / "h", check=False)
    assert proc.returncode == 1, proc.stdout
    assert "not Gmail API JSON" in proc.stderr and why in proc.stderr, proc.stderr
    assert "imported" not in proc.stdout
    with pytest.raises(UserError, match="not Gmail API JSON"):
        gmail_json.parse(path, content)


def test_empty_files_and_arrays_import_nothing(tmp_path):
    (tmp_path / "empty.json").write_text("[]")
    (tmp_path / "blank.jsonl").write_text("\n")
    reader = gmail_json.open_reader(
        AccountConfig("local", "gmail-json", options={"paths": [str(tmp_path)]}), home(tmp_path)
    )
    batches = list(reader.fetch({}))
    assert len(batches) == 2 and not any(b.mail or b.quarantined for b in batches)
    assert all(c["done"] for b in batches for c in b.cursors.values())


def test_open_reader_needs_paths(tmp_path):
    with pytest.raises(UserError, match="paths"):
        gmail_json.open_reader(AccountConfig("x", "gmail-json"), home(tmp_path))
    acc = AccountConfig(
        "x", "gmail-json", options={"paths": [str(tmp_path)], "filter_categories": 1}
    )
    with pytest.raises(UserError, match="filter_categories"):
        gmail_json.open_reader(acc, home(tmp_path))


def test_the_import_command_lists_gmail_json():
    assert "gmail-json" in run_cli("import", "--help").stdout
    assert Path(gmail_json.__file__).name == "gmail_json.py"
