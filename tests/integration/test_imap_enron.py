"""A real Enron mailbox in a real Dovecot gives the figures of its mbox import.

End to end through the CLI, as a user would: ``syncd account add imap ...``
then ``syncd sync --once``, against ``syncd import mbox`` of the same folders.
Each mbox file is APPENDed as one IMAP folder; all three Enron mailboxes (allen-p's
3,034 messages, two addresses of the owner) give exactly the mbox import's figures.
Between syncd and Dovecot a recording proxy shows what was asked: only
``BODY.PEEK[HEADER.FIELDS (...)]``, ``INTERNALDATE`` and ``FLAGS`` (no body),
folders opened read-only; every message's flags are the same afterwards; a
second sync fetches nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.dovecot import USER, Dovecot, seed_mbox
from tests.support.helpers import people_json, run_cli, shared_data
from tests.support.imap_testing import password_file
from tests.support.tcp_proxy import TcpProxy

FIGURES = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")
OWNERS = {  # owner: (messages, the owner's addresses)
    "south-s": (248, ["steven.south@enron.com"]),
    "holst-k": (463, ["keith.holst@enron.com"]),
    "allen-p": (3034, ["phillip.allen@enron.com", "k..allen@enron.com"]),
}


def figures(people: list[dict]) -> dict[str, tuple]:
    return {email: tuple(p[k] for k in FIGURES) for p in people for email in p["emails"]}


def all_flags(server: Dovecot) -> dict[tuple[str, int], tuple]:
    """Every message's flags, read without changing anything (EXAMINE, FLAGS only)."""
    client = server.client()
    try:
        out = {}
        for _, _, folder in client.list_folders():
            client.select_folder(folder, readonly=True)
            for uid, item in client.fetch(client.search("ALL"), ["FLAGS"]).items():
                out[(folder, uid)] = tuple(sorted(item[b"FLAGS"]))
        return out
    finally:
        client.logout()


def fetches(lines: list[str]) -> list[str]:
    return [line for line in lines if re.search(r"\bFETCH\b", line, re.I)]


@pytest.mark.parametrize("owner", sorted(OWNERS))
def test_imap_sync_matches_mbox_import(tmp_path: Path, owner: str) -> None:
    count, me = OWNERS[owner]
    me_args = [a for m in me for a in ("--me", m)]
    mail = shared_data("enron", owner)
    mbox_home = tmp_path / "mbox"
    run_cli("import", "mbox", str(mail), *me_args, home=mbox_home)
    expected = figures(people_json(mbox_home))
    assert expected

    server = Dovecot(tmp_path / "dovecot").start()
    proxy = TcpProxy(server.port)
    try:
        files = sorted(p for p in mail.iterdir() if p.is_file())
        assert seed_mbox(server, files) == count
        before = all_flags(server)
        assert before and all(b"\\Seen" not in flags for flags in before.values())

        home = tmp_path / "imap"
        run_cli(
            "account", "add", "imap", "work", "--address", me[0], *me_args[2:],
            "--host", "127.0.0.1", "--port", str(proxy.port), "--plaintext", "--username", USER,
            "--password-file", str(password_file(tmp_path)),
            home=home,
        )  # fmt: skip
        first = run_cli("sync", "--once", home=home)
        assert f"work: {count} messages" in first.stdout, first.stdout
        assert figures(people_json(home)) == expected

        sent = proxy.commands()
        fetched = fetches(sent)
        assert fetched, "headers were fetched"
        for line in fetched:
            assert "BODY.PEEK[HEADER.FIELDS (" in line, line
            assert not re.search(r"BODY\[|RFC822(?!\.SIZE)|BINARY", line, re.I), line
        assert not [c for c in sent if re.search(r"\b(SELECT|STORE|EXPUNGE)\b", c, re.I)]
        assert all_flags(server) == before, "a message changed flags"

        proxy.sent.clear()
        again = run_cli("sync", "--once", home=home)
        assert "work: 0 messages" in again.stdout, again.stdout
        assert fetches(proxy.commands()) == [], "the second sync fetched messages"
        assert figures(people_json(home)) == expected
    finally:
        proxy.close()
        server.close()
