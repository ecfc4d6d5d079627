"""Imports that cannot be misread (issue 12, items 4 and 9).

An empty directory, a file of another kind, binary data or a file with no
message in it is an error naming what to do, never "imported 0" with exit 0;
a re-import says what it knew already; symlinked files are read; what was set
aside is listed and shown by ``syncd quarantine list|show``; an address with
control characters or an implausible date is counted where it is dropped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.support.helpers import message, people_json, run_cli, write_mbox

ME = "me@example.com"
CALENDAR = (
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:u1\r\n"
    "DTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)


def failed(proc, *words: str) -> str:
    """The one-line error of a failed command, checked for ``words``."""
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert "imported 0" not in proc.stdout
    assert proc.stderr.startswith("syncd: error: "), proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    return proc.stderr


def quarantine(home: Path) -> list[dict]:
    return json.loads(run_cli("quarantine", "list", "--json", home=home).stdout)


def test_an_empty_directory_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    for kind in ("mbox", "maildir", "ics"):
        proc = run_cli("import", kind, str(tmp_path / "empty"), home=tmp_path / "h", check=False)
        failed(proc, "nothing to import", "holds no files")


def test_a_calendar_given_as_mbox_names_the_import_that_reads_it(tmp_path):
    cal = tmp_path / "work.ics"
    cal.write_text(CALENDAR)
    home = tmp_path / "h"
    failed(run_cli("import", "mbox", str(cal), home=home, check=False), "syncd import ics")
    failed(run_cli("import", "maildir", str(cal), home=home, check=False), "syncd import ics")
    mbox = write_mbox(tmp_path / "inbox.mbox", [message(sender=f"p{i}@x.example", to=ME)
                                                for i in range(3)])  # fmt: skip
    failed(run_cli("import", "ics", str(mbox), home=home, check=False), "syncd import mbox")
    failed(run_cli("import", "maildir", str(mbox), home=home, check=False), "syncd import mbox")
    assert quarantine(home) == []  # refused before anything was read
    # and the import it names works
    assert (
        "imported 0 messages and 1 events" in run_cli("import", "ics", str(cal), home=home).stdout
    )


def test_binary_garbage_is_an_error_for_every_kind(tmp_path):
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(20000))
    for kind in ("mbox", "maildir", "ics"):
        proc = run_cli("import", kind, str(garbage), home=tmp_path / "h", check=False)
        failed(proc, "garbage.bin", "binary")
    archive = tmp_path / "mail.mbox.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(100))
    failed(run_cli("import", "mbox", str(archive), home=tmp_path / "h", check=False), "unpack")


def test_garbage_in_a_directory_is_quarantined_and_the_import_fails(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "notes").write_bytes(b"just some text\nwith no headers at all\n")
    home = tmp_path / "h"
    failed(run_cli("import", "mbox", str(folder), home=home, check=False), "1 item quarantined")
    (item,) = quarantine(home)
    assert item["reason"] == "no recognisable headers"
    assert item["locator"] == f"{(folder / 'notes').resolve()}:0"


def test_one_endless_from_line_is_no_message_and_says_so(tmp_path):
    """A 50 MB file that is one line starting "From ": quarantined, and an error."""
    path = tmp_path / "huge.mbox"
    with open(path, "wb") as fh:
        fh.write(b"From ")
        block = b"x" * (1 << 20)
        for _ in range(50):
            fh.write(block)
    home = tmp_path / "h"
    failed(run_cli("import", "mbox", str(path), home=home, check=False), "1 item quarantined")
    (item,) = quarantine(home)
    assert "no message after" in item["reason"]
    assert item["locator"] == f"{path.resolve()}:0"
    shown = run_cli("quarantine", "show", str(item["id"]), home=home).stdout
    assert "no message after" in shown and str(path.resolve()) in shown
    assert len(shown) < 10_000  # an excerpt, not 50 MB


def test_a_reimport_says_how_many_messages_were_known(tmp_path):
    mbox = write_mbox(tmp_path / "mail" / "inbox", [message(sender=f"p{i}@x.example", to=ME)
                                                    for i in range(30)])  # fmt: skip
    home = tmp_path / "h"
    first = run_cli("import", "mbox", str(tmp_path / "mail"), "--me", ME, home=home).stdout
    assert first.startswith("imported 30 messages and 0 events; 0 already known"), first
    again = run_cli("import", "mbox", str(tmp_path / "mail"), home=home).stdout
    assert again.startswith("imported 0 messages and 0 events; 30 already known"), again
    assert "1 file unchanged" in again
    with open(mbox, "ab") as fh:  # appended: the first 30 are still known
        fh.write(write_mbox(tmp_path / "more", [message(sender="q@x.example", to=ME)]).read_bytes())
    later = run_cli("import", "mbox", str(tmp_path / "mail"), home=home).stdout
    assert later.startswith("imported 1 messages and 0 events; 30 already known"), later


def test_symlinked_mbox_files_in_a_directory_are_read(tmp_path):
    real = write_mbox(tmp_path / "elsewhere" / "archive", [message(sender="ann@x.example", to=ME)])
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "archive").symlink_to(real)
    (folder / "gone").symlink_to(tmp_path / "missing")
    proc = run_cli("import", "mbox", str(folder), "--me", ME, home=tmp_path / "h")
    assert proc.stdout.startswith("imported 1 messages"), proc.stdout
    assert "gone" in proc.stderr  # the broken link is reported as skipped
    assert [p["emails"] for p in people_json(tmp_path / "h")] == [["ann@x.example"]]


def test_quarantine_show_and_unknown_ids(tmp_path):
    folder = tmp_path / "export"
    write_mbox(folder / "inbox", [message(sender="ann@x.example", to=ME)])
    (folder / "junk").write_bytes(b"\n\nnot a header line\n")
    home = tmp_path / "h"
    run_cli("import", "mbox", str(folder), "--me", ME, home=home)
    (item,) = quarantine(home)
    assert item["account"] == "local" and item["scope"] == "junk"
    shown = json.loads(run_cli("quarantine", "show", str(item["id"]), "--json", home=home).stdout)
    assert shown["reason"] == item["reason"] and "not a header line" in shown["excerpt"]
    text = run_cli("quarantine", "show", str(item["id"]), home=home).stdout
    assert "reason:" in text and "not a header line" in text
    listed = run_cli("quarantine", "list", home=home).stdout
    assert "no recognisable headers" in listed
    failed(run_cli("quarantine", "show", "999", home=home, check=False), "no quarantined item")


def test_an_address_with_control_characters_is_no_person_and_is_counted(tmp_path):
    mail = [
        message(sender="ann@x.example", to=ME, cc="Eve <e\x00ve@x.example>, \x1b]0;x@y.example"),
        message(sender="bob@x.example", to=ME),
    ]
    home = tmp_path / "h"
    out = run_cli("import", "mbox", str(write_mbox(tmp_path / "inbox", mail)), "--me", ME,
                  home=home).stdout  # fmt: skip
    assert out.startswith("imported 2 messages"), out
    assert "1 imported without an unusable address or date" in out
    emails = sorted(e for p in people_json(home) for e in p["emails"])
    assert emails == ["ann@x.example", "bob@x.example"]
    (item,) = quarantine(home)
    assert "address" in item["reason"] and "control characters" in item["reason"]


def test_an_implausible_date_falls_back_to_the_received_time_or_is_quarantined(tmp_path):
    received = "from a by b; Tue, 5 Mar 2024 09:00:00 +0000"
    mail = [
        message(sender="ann@x.example", to=ME, date="Mon, 1 Jan 1900 10:00:00 +0000",
                extra={"Received": received}),
        message(sender="bob@x.example", to=ME, date="Sat, 1 Jan 0000 00:00:00 +0000"),
        message(sender="cy@x.example", to=ME, date="Tue, 5 Mar 2024 09:00:00 +2300"),
    ]  # fmt: skip
    home = tmp_path / "h"
    out = run_cli("import", "mbox", str(write_mbox(tmp_path / "inbox", mail)), "--me", ME,
                  home=home).stdout  # fmt: skip
    assert out.startswith("imported 1 messages") and "2 quarantined" in out, out
    (ann,) = people_json(home, "--now", "2024-03-10")
    assert ann["emails"] == ["ann@x.example"]
    assert ann["last_touch"].startswith("2024-03-05T09:00:00")
    reasons = sorted(i["reason"] for i in quarantine(home))
    assert reasons[0].startswith("imported without an implausible Date")
    assert all("no usable Date" in r for r in reasons[1:])
    flags = run_cli("--now", "2024-03-10", "flags", "--json", home=home).stdout
    assert "37285" not in flags and "1900" not in flags
