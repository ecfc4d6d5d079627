"""An Outlook mailbox behind the Graph emulator gives the figures of its mbox import.

End to end through the CLI, as a user would: ``syncd account add outlook ...
--api-endpoint URL --token-file T`` then ``syncd sync --once``, against ``syncd
import mbox`` of the same folders, with 5 % of the calls failing with 503/504 +
Retry-After (half of the failed writes committed). No body is ever requested.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import tomlkit

from tests.support.graph_emulator import GraphEmulator
from tests.support.helpers import message, people_json, run_cli, shared_data, write_mbox

FIGURES = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")
ME = "me@example.com"


def figures(people: list[dict]) -> dict[str, tuple]:
    return {email: tuple(p[k] for k in FIGURES) for p in people for email in p["emails"]}


def set_options(home: Path, name: str, **options) -> None:
    """Add tuning keys to ``[accounts.NAME]`` (what a user would write in config.toml)."""
    path = home / "config.toml"
    doc = tomlkit.parse(path.read_text())
    for key, value in options.items():
        doc["accounts"][name][key] = value
    path.write_text(tomlkit.dumps(doc))


def mailbox_folders() -> dict[str, list[bytes]]:
    """Folders of a small mailbox: replies, a copy in two folders, bulk mail, a draft,
    junk, a deleted message, a broadcast and a message without a Date."""
    from datetime import UTC, datetime, timedelta

    t = datetime(2024, 2, 1, 9, tzinfo=UTC)
    inbox, sent, projects, deleted = [], [], [], []
    for i in range(40):
        who = f"p{i % 9}@example.org"
        when = t + timedelta(hours=5 * i)
        if i % 3 == 0:
            sent.append(
                message(sender=ME, to=[who], cc=["cc@example.net"], date=when, subject=f"re {i}")
            )
        else:
            inbox.append(message(sender=f"P {i} <{who}>", to=[ME], date=when, subject=f"q {i}"))
    copy = message(sender="ana@example.org", to=[ME], subject="filed twice", date=t)
    inbox.append(copy)
    projects.append(copy)
    inbox.append(message(sender="news@example.org", to=[ME], extra={"List-Id": "<n.example.org>"}))
    inbox.append(message(sender="noreply@example.org", to=[ME], subject="robot"))
    inbox.append(
        message(sender="bo@example.org", to=[f"x{i}@example.org" for i in range(25)] + [ME])
    )
    inbox.append(
        message(
            sender="nodate@example.org",
            to=[ME],
            date=None,
            subject="no date",
            extra={"Received": "from a by b; Tue, 5 Mar 2024 10:00:00 +0000"},
        )
    )
    deleted.append(message(sender="del@example.org", to=[ME], subject="deleted"))
    return {
        "inbox": inbox,
        "Sent Items": sent,
        "Projects/2024": projects,
        "Deleted Items": deleted,
        "Drafts": [message(sender=ME, to=["draft@example.org"], subject="draft")],
        "Junk Email": [message(sender="spam@example.org", to=[ME], subject="junk")],
    }


def sync_outlook(tmp_path: Path, emu: GraphEmulator, me: list[str], *extra: str) -> Path:
    """``account add outlook`` + ``sync --once`` through the CLI; the home."""
    token = emu.write_token_file(tmp_path / "token.json")
    home = tmp_path / "outlook"
    me_args = [a for m in me[1:] for a in ("--me", m)]
    run_cli("account", "add", "outlook", "o", "--address", me[0], *me_args,
            "--api-endpoint", emu.url, "--token-file", str(token), *extra, home=home)  # fmt: skip
    config = tomllib.loads((home / "config.toml").read_text())
    assert config["accounts"]["o"]["api_endpoint"] == emu.url
    set_options(home, "o", window=emu.window, backoff_base=0.01, page_size=50)
    proc = run_cli("sync", "--once", home=home)
    assert "o:" in proc.stdout
    return home


def assert_no_body_requested(emu: GraphEmulator) -> None:
    assert emu.body_requests == 0
    for rec in emu.records:
        select = rec.query.get("$select", "").lower()
        assert "body" not in select and "attachments" not in select, rec


def test_outlook_sync_matches_mbox_import_with_failing_calls(tmp_path):
    folders = mailbox_folders()
    for name, msgs in folders.items():
        write_mbox(tmp_path / "mail" / name, msgs)
    mbox_home = tmp_path / "mbox"
    run_cli("import", "mbox", str(tmp_path / "mail"), "--me", ME, home=mbox_home)
    expected = figures(people_json(mbox_home))
    assert expected and "draft@example.org" not in expected and "spam@example.org" not in expected

    with GraphEmulator(user=ME) as emu:
        assert emu.mail.load_mbox_dir(tmp_path / "mail") == sum(map(len, folders.values()))
        emu.flaky(0.05, statuses=(503, 504), seed=3)
        home = sync_outlook(tmp_path, emu, [ME], "--no-calendar")
        assert figures(people_json(home)) == expected
        assert emu.calls(status=503) or emu.calls(status=504), "faults were injected"
        assert_no_body_requested(emu)
        # Drafts and Junk Email are not read at all; nothing is read twice on a second sync.
        assert not emu.calls("/DRAFTS-ID/") and not emu.calls("/JUNKEMAIL-ID/")
        emu.flaky(0.0)
        before = len(emu.records)
        run_cli("sync", "--once", home=home)
        assert figures(people_json(home)) == expected
        deltas = [r for r in emu.records[before:] if r.path.endswith("/delta")]
        # Inbox, Sent Items, Deleted Items, Archive, Projects, Projects/2024: one page each.
        assert len(deltas) == 6
        assert all("$deltatoken" in r.query for r in deltas), "only the stored delta links"


def test_enron_mailbox_behind_graph_matches_its_mbox_import(tmp_path):
    """A real mailbox (allen-p: 3,034 messages in 10 folders, copies across folders,
    two owner addresses) behind Graph, throttled to 600 requests per (scaled) window."""
    mail = shared_data("enron", "allen-p")
    me = ["phillip.allen@enron.com", "k..allen@enron.com"]
    mbox_home = tmp_path / "mbox"
    run_cli("import", "mbox", str(mail), "--me", me[0], "--me", me[1], home=mbox_home)
    expected = figures(people_json(mbox_home))
    assert expected

    with GraphEmulator(user=me[0], requests_per_window=600, window=2.0) as emu:
        emu.mail.load_mbox_dir(mail)
        emu.flaky(0.05, statuses=(503, 504), seed=7)
        home = sync_outlook(tmp_path, emu, me, "--no-calendar")
        got = figures(people_json(home))
        assert got == expected
        assert_no_body_requested(emu)


def test_calendar_meetings_and_a_revoked_grant(tmp_path):
    """Meetings from calendarView/delta (rooms, declined and cancelled events make none);
    then a revoked grant marks only the outlook account as needing `syncd auth` while a
    local account keeps syncing."""
    from tests.support.graph_emulator.testing import fill_calendar

    write_mbox(tmp_path / "mail" / "INBOX", [message(sender="zed@example.org", to=[ME])])
    with GraphEmulator(user=ME) as emu:
        fill_calendar(emu)
        home = sync_outlook(tmp_path, emu, [ME])
        people = {e: p for p in people_json(home) for e in p["emails"]}
        assert people["ana@example.org"]["meetings"] == 1
        assert people["bo@example.org"]["meetings"] == 2  # two occurrences of a series
        assert "room-1@example.com" not in people or people["room-1@example.com"]["meetings"] == 0
        assert people["gus@example.org"]["meetings"] == 1  # July 2024: past by now
        for who in ("dee@example.org", "fay@example.org"):
            assert who not in people or people[who]["meetings"] == 0, who
        assert emu.calls("/calendarView/delta", status=200)
        assert_no_body_requested(emu)

        run_cli("account", "add", "mbox", "local", "--path", str(tmp_path / "mail"), home=home)
        emu.expire_access_tokens()
        proc = run_cli("sync", "--once", home=home, check=False)
        assert "syncd auth o" in proc.stdout + proc.stderr
        assert "zed@example.org" in {e for p in people_json(home) for e in p["emails"]}
        status = run_cli("status", home=home, check=False)
        assert "syncd auth o" in status.stdout + status.stderr
