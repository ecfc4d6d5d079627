"""A real Enron mailbox in the EWS emulator gives the figures of its mbox import.

End to end through the CLI, as a user would: ``syncd account add exchange ...
--ews-url ... --auth basic --password-file F`` then ``syncd sync --once``,
against ``syncd import mbox`` of the same mailbox. Each mbox file is one
Exchange folder (``inbox``, ``sent_items`` and ``deleted_items`` are the
distinguished Inbox, Sent Items and Deleted Items); the emulator keeps each
message's internet headers and its body, as Exchange does. The request log
shows that no body, attachment or MIME content was asked for, and a second
sync reads no item.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.loading import load_mbox
from tests.support.ews_emulator.testing import password_file
from tests.support.helpers import people_json, run_cli, shared_data

FIGURES = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")
MAILBOXES = {"holst-k": ("keith.holst@enron.com", 463), "south-s": ("steven.south@enron.com", 248)}


def figures(people: list[dict]) -> dict[str, tuple]:
    """Each address's figures."""
    return {email: tuple(p[k] for k in FIGURES) for p in people for email in p["emails"]}


@pytest.mark.parametrize("owner", sorted(MAILBOXES))
def test_exchange_sync_matches_mbox_import(tmp_path: Path, owner: str) -> None:
    me, count = MAILBOXES[owner]
    mail = shared_data("enron", owner)
    mbox_home = tmp_path / "mbox"
    run_cli("import", "mbox", str(mail), "--me", me, home=mbox_home)
    expected = figures(people_json(mbox_home))
    assert expected

    emu = EwsEmulator(address=me, username="ENRON\\" + owner).start()
    try:
        files = sorted(p for p in mail.iterdir() if p.is_file())
        assert sum(load_mbox(emu.mailbox, f) for f in files) == count
        home = tmp_path / "ews"
        run_cli(
            "account", "add", "exchange", "work", "--address", me, "--ews-url", emu.url,
            "--auth", "basic", "--username", emu.username, "--no-calendar",
            "--password-file", str(password_file(emu, tmp_path)),
            home=home,
        )  # fmt: skip
        first = run_cli("sync", "--once", home=home)
        assert f"work: {count} messages" in first.stdout, first.stdout
        assert figures(people_json(home)) == expected

        ops = emu.ops()
        assert {"SyncFolderHierarchy", "SyncFolderItems", "GetItem"} <= set(ops)
        assert not emu.content_requests(), "a body, attachment or MIME content was requested"
        asked = {f for r in emu.requests for f in r.get("fields", [])}
        assert not {f for f in asked if "Body" in f or "Attachment" in f or "Mime" in f}
        items = [r for r in emu.requests if r["op"] == "GetItem"]
        assert sum(r["items"] for r in items) == count

        emu.requests.clear()
        again = run_cli("sync", "--once", home=home)
        assert "work: 0 messages" in again.stdout, again.stdout
        assert "GetItem" not in emu.ops(), "the second sync read items again"
        assert figures(people_json(home)) == expected
    finally:
        emu.stop()
