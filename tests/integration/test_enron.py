"""Real Enron mailboxes: figures derived independently from the contract vs. `syncd people`.

The oracle below re-implements design.md §2 with different machinery (the
stdlib ``mailbox`` module and full ``email`` parsing, its own union-find), so
agreement means the product follows the contract, not that it agrees with
itself.
"""

from __future__ import annotations

import calendar
import mailbox
import re
from collections import defaultdict
from email.utils import getaddresses, parsedate_tz
from pathlib import Path

import pytest

from tests.support.helpers import people_json, run_cli, shared_data

ALLEN_ME = ["phillip.allen@enron.com", "k..allen@enron.com"]
AUTOMATED = {
    "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply", "do_not_reply",
    "mailer-daemon", "postmaster",
}  # fmt: skip


def _key(address: str) -> str:
    local, _, domain = address.partition("@")
    if domain in ("gmail.com", "googlemail.com"):
        return local.split("+")[0].replace(".", "") + "@gmail.com"
    return address


def _addresses(values: list[str]) -> list[str]:
    out = []
    for _, addr in getaddresses([str(v) for v in values]):
        addr = addr.strip().lower()
        local, _, domain = addr.partition("@")
        if addr.count("@") == 1 and local and domain and addr not in out:
            out.append(addr)
    return out


def _is_bulk(msg: mailbox.mboxMessage, sender: str | None) -> bool:
    if str(msg.get("Precedence", "")).strip().lower() in ("bulk", "list", "junk"):
        return True
    if msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None:
        return True
    auto = msg.get("Auto-Submitted")
    if auto is not None and str(auto).split(";")[0].strip().lower() != "no":
        return True
    if str(msg.get("Return-Path", "x")).replace(" ", "") == "<>":
        return True
    return bool(sender) and sender.split("@")[0].split("+")[0] in AUTOMATED


def oracle(mail_dir: Path, me: list[str]) -> dict[str, dict]:
    """Per match key: touches_in, touches_out, last_touch, computed from the contract."""
    mine = {_key(a) for a in me}
    copies = []
    for path in sorted(p for p in mail_dir.rglob("*") if p.is_file()):
        folder = path.name.lower()
        if re.split(r"[^a-z0-9]+", folder)[0] in ("draft", "drafts", "spam", "junk"):
            continue
        for msg in mailbox.mbox(str(path), create=False):
            date = parsedate_tz(str(msg.get("Date", "")))
            if date is None:
                continue
            when = calendar.timegm(date[:9]) - (date[9] or 0)
            senders = _addresses(msg.get_all("From", [])[:1])
            sender = senders[0] if senders else None
            to_cc = _addresses(msg.get_all("To", []) + msg.get_all("Cc", []))
            rcpts = _addresses(
                msg.get_all("To", []) + msg.get_all("Cc", []) + msg.get_all("Bcc", [])
            )
            subject = " ".join(str(msg.get("Subject", "")).split())
            mid = str(msg.get("Message-ID", "")).strip().strip("<>").strip()
            fp = (sender, when, subject, frozenset(rcpts))
            copies.append((mid, fp, sender, when, to_cc, rcpts, _is_bulk(msg, sender)))
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, (mid, fp, *_rest) in enumerate(copies):
        parent[find(("c", i))] = find(("f", fp))
        if mid:
            parent[find(("m", mid))] = find(("f", fp))
    groups: dict = defaultdict(list)
    for i, c in enumerate(copies):
        groups[find(("c", i))].append(c)
    figures: dict[str, dict] = defaultdict(lambda: {"in": 0, "out": 0, "last": 0})
    for group in groups.values():
        _, _, sender, when, _, _, _ = group[0]
        if any(c[6] for c in group) or sender is None:
            continue
        to_cc = {a for c in group for a in c[4]}
        rcpts = {a for c in group for a in c[5]}
        if len(rcpts) > 20:
            continue
        if _key(sender) in mine:
            for person in {_key(r) for r in rcpts} - mine:
                figures[person]["out"] += 1
                figures[person]["last"] = max(figures[person]["last"], when)
        elif any(_key(a) in mine for a in to_cc):
            person = _key(sender)
            figures[person]["in"] += 1
            figures[person]["last"] = max(figures[person]["last"], when)
    return dict(figures)


@pytest.fixture(scope="module")
def allen_people(tmp_path_factory):
    mail = shared_data("enron", "allen-p")
    home = tmp_path_factory.mktemp("allen")
    me_args = [x for a in ALLEN_ME for x in ("--me", a)]
    proc = run_cli("import", "mbox", str(mail), *me_args, home=home)
    assert "quarantined" in proc.stdout
    return mail, home, people_json(home)


def test_allen_figures_match_the_contract(allen_people):
    mail, _, people = allen_people
    expected = oracle(mail, ALLEN_ME)
    got: dict[str, dict] = {}
    for person in people:
        keys = {_key(e) for e in person["emails"]}
        assert len(keys) == 1, person  # no merges were made: one match key per person
        got[keys.pop()] = person
    assert set(got) == set(expected)
    mismatches = []
    for key, exp in expected.items():
        p = got[key]
        last = calendar.timegm(
            __import__("datetime").datetime.fromisoformat(p["last_touch"]).utctimetuple()
        )
        if (p["touches_in"], p["touches_out"], last) != (exp["in"], exp["out"], exp["last"]):
            mismatches.append((key, exp, p))
    assert not mismatches, mismatches[:5]
    # The mailbox is rich enough for this to mean something.
    assert len(expected) > 200
    assert sum(e["out"] for e in expected.values()) > 500


def test_allen_copies_across_folders_are_deduplicated(allen_people):
    _, home, _people = allen_people
    status = run_cli("status", "--json", home=home).stdout
    import json

    s = json.loads(status)
    assert s["observations"] == 3034
    # sent / _sent_mail / sent_items / all_documents hold the same mail several times
    assert s["logical_messages"] < s["observations"] * 0.6
    assert s["quarantined"] == 0


def test_allen_reimport_is_a_noop(allen_people):
    mail, home, before = allen_people
    proc = run_cli("import", "mbox", str(mail), home=home)
    assert proc.stdout.startswith("imported 0 messages")
    assert people_json(home) == before


def test_allen_timestamps_have_offsets(allen_people):
    _, _, people = allen_people
    for p in people:
        assert p["last_touch"].endswith("+00:00")
        assert p["first_touch"] <= p["last_touch"]


@pytest.mark.parametrize("owner", ["holst-k", "south-s"])
def test_other_enron_mailboxes_match_the_contract(tmp_path, owner):
    mail = shared_data("enron", owner)
    me_guess = run_cli("import", "mbox", str(mail), home=tmp_path / "probe").stdout
    # No --me given: syncd suggests the owner's address from the Sent folders.
    match = re.search(r"--me (\S+)", me_guess)
    assert match, me_guess
    me = [match.group(1)]
    run_cli("import", "mbox", str(mail), "--me", me[0], home=tmp_path / "h")
    people = people_json(tmp_path / "h")
    expected = oracle(mail, me)
    got = {_key(p["emails"][0]): p for p in people}
    assert set(got) == set(expected)
    for key, exp in expected.items():
        assert (got[key]["touches_in"], got[key]["touches_out"]) == (exp["in"], exp["out"]), key
