"""Real-world odd mail: everything imports, nothing crashes, nothing silently vanishes."""

from __future__ import annotations

import json
import re

from syncd.store.db import open_db
from tests.support.helpers import run_cli, shared_data

SUMMARY = re.compile(
    r"imported (\d+) messages and (\d+) events; (\d+) already known, "
    r"(\d+) in skipped folders, (\d+) quarantined"
)


def test_every_mailquirks_file_is_imported_or_quarantined(tmp_path):
    root = shared_data("mailquirks")
    proc = run_cli("import", "maildir", str(root), "--me", "x@example.invalid", home=tmp_path)
    match = SUMMARY.search(proc.stdout)
    assert match, proc.stdout
    imported, events, known, skipped, quarantined = map(int, match.groups())
    files = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")]
    # every file is accounted for: stored, recognised as a duplicate, or quarantined
    assert imported + known + quarantined == len(files)
    assert imported > 900 and events == 0
    assert 0 < skipped < imported  # Drafts/Spam folders exist in the corpora
    db = open_db(tmp_path / "syncd.db")
    assert db.execute("SELECT count(*) FROM quarantine").fetchone()[0] == quarantined
    assert db.execute("SELECT count(*) FROM observations").fetchone()[0] == imported
    # a quarantined item keeps its reason and where it came from
    for locator, reason in db.execute("SELECT locator, reason FROM quarantine"):
        assert reason and locator.startswith(str(root.resolve()))
    status = json.loads(run_cli("status", "--json", home=tmp_path).stdout)
    assert status["quarantined"] == quarantined


def test_line_ending_variants_give_the_same_headers():
    """Real bounces re-encoded with LF, CRLF and bare-CR endings parse identically."""
    from syncd.mail.metadata import scan_headers

    root = shared_data("mailquirks", "sisimai-set-of-emails", "maildir")
    compared = 0
    for path in sorted(root.rglob("*.eml")):
        lf = path.read_bytes().replace(b"\r\n", b"\n")
        variants = [lf, lf.replace(b"\n", b"\r\n"), lf.replace(b"\n", b"\r")]
        parsed = [scan_headers(v) for v in variants]
        assert parsed[0] == parsed[1] == parsed[2], path.name
        compared += bool(parsed[0])
    assert compared > 500


def test_bounces_and_auto_replies_yield_no_touchpoints(tmp_path):
    root = shared_data("mailquirks", "sisimai-set-of-emails", "maildir", "bsd")
    run_cli("import", "maildir", str(root), "--me", "kijitora@example.jp", home=tmp_path)
    people = json.loads(run_cli("people", "--json", home=tmp_path).stdout)
    for person in people:
        for email in person["emails"]:
            local = email.split("@")[0]
            assert local not in ("mailer-daemon", "postmaster"), person


def test_mailing_list_mail_is_bulk(tmp_path):
    root = shared_data("mailquirks", "notmuch")
    run_cli("import", "maildir", str(root), "--me", "cworth@cworth.org", home=tmp_path)
    db = open_db(tmp_path / "syncd.db")
    bulk = db.execute("SELECT count(*) FROM messages WHERE bulk LIKE '%list-id%'").fetchone()[0]
    assert bulk > 10
    # no touchpoint comes from a message that carries a List-Id
    leaked = db.execute(
        "SELECT count(*) FROM touchpoints t JOIN messages m ON m.id = t.ref"
        " WHERE t.kind LIKE 'email%' AND m.bulk IS NOT NULL"
    ).fetchone()[0]
    assert leaked == 0
