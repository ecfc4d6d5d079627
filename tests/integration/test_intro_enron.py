"""``syncd intro`` on a real mailbox (Enron allen-p): the introducers it names for someone
the owner never wrote to really shared messages with them (checked on the raw mbox)."""

from __future__ import annotations

import json
import mailbox
from email.utils import getaddresses

import pytest

from tests.support.helpers import people_json, run_cli, shared_data

NOW = "2002-02-01"
ME = ("phillip.allen@enron.com", "k..allen@enron.com")
TARGET = "jane.m.tholt@enron.com"


def raw_messages() -> list[tuple[str, set[str], set[str]]]:
    """(subject, senders, recipients) of every raw message, headers parsed independently."""
    out = []
    for path in sorted(shared_data("enron", "allen-p").iterdir()):
        for m in mailbox.mbox(str(path)):
            sender = {a.lower() for _, a in getaddresses(m.get_all("From", []))}
            fields = m.get_all("To", []) + m.get_all("Cc", []) + m.get_all("Bcc", [])
            out.append((" ".join((m["Subject"] or "").split()), sender,
                        {a.lower() for _, a in getaddresses(fields)}))  # fmt: skip
    return out


@pytest.fixture(scope="module")
def allen(tmp_path_factory):
    mailbox_dir = shared_data("enron", "allen-p")
    home = tmp_path_factory.mktemp("allen-intro") / "home"
    me = [arg for a in ME for arg in ("--me", a)]
    run_cli("import", "mbox", str(mailbox_dir), *me, home=home)
    return home


def test_introducers_for_someone_never_written_to_really_shared_messages(allen):
    raw = raw_messages()
    assert not any(s & set(ME) and TARGET in r for _, s, r in raw), "the owner wrote to her"
    paths = json.loads(run_cli("--now", NOW, "intro", TARGET, "--json", home=allen).stdout)
    assert paths, "allen-p has colleagues who shared messages with her"
    known = {e: p["id"] for p in people_json(allen, "--now", NOW) for e in p["emails"]}
    for p in paths:
        (address,) = p["emails"]
        assert known[address] == p["person"]
        assert p["messages"] or p["meetings"]
        for m in p["messages"]:
            assert any(
                subject == m["subject"] and {address, TARGET} <= s | r for subject, s, r in raw
            ), (address, m)
        shared = sum({address, TARGET} <= s | r for _, s, r in raw)
        assert p["messages_between"] + p["messages_together"] <= shared
    assert paths[0]["emails"] == ["mike.grigsby@enron.com"]  # the core colleague on her mail
    assert [p["score"] for p in paths] == sorted((p["score"] for p in paths), reverse=True)
