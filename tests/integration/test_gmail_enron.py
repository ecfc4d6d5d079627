"""A real Enron mailbox behind the Gmail emulator gives the figures of its mbox import.

End to end through the CLI, as a user would: ``syncd account add gmail ...
--api-endpoint URL --token-file T`` then ``syncd sync --once``, against
``syncd import mbox`` of the same folders. The emulator loads each mbox file
as a label (sent* -> SENT, inbox -> INBOX, deleted* -> TRASH, others -> user
labels); copies of one message in several folders are separate Gmail
messages, as in the real export, so the product's dedup must do the rest.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomlkit

from tests.support.google_emulator import GoogleEmulator
from tests.support.helpers import people_json, run_cli, shared_data

FIGURES = ("touches_in", "touches_out", "meetings", "first_touch", "last_touch")
OWNERS = {
    "allen-p": ["phillip.allen@enron.com", "k..allen@enron.com"],
    "holst-k": ["keith.holst@enron.com"],
    "south-s": ["steven.south@enron.com"],
}


def figures(people: list[dict]) -> dict[str, tuple]:
    return {email: tuple(p[k] for k in FIGURES) for p in people for email in p["emails"]}


def set_options(home: Path, name: str, **options) -> None:
    """Add tuning keys to ``[accounts.NAME]`` (what a user would write in config.toml)."""
    path = home / "config.toml"
    doc = tomlkit.parse(path.read_text())
    for key, value in options.items():
        doc["accounts"][name][key] = value
    path.write_text(tomlkit.dumps(doc))


# allen-p: 3,034 messages in 10 folders (inbox, sent*, deleted_items, user folders), copies of
# one message across folders with different Message-IDs, two addresses of the owner. The
# server's quota is cut to 1,000 units per (scaled) minute: pacing must learn it.
@pytest.mark.parametrize(("owner", "quota"), [("allen-p", 1_000)])
def test_gmail_sync_matches_mbox_import(tmp_path, owner, quota):
    mail = shared_data("enron", owner)
    me = OWNERS[owner]
    me_args = [a for m in me[1:] for a in ("--me", m)]
    mbox_home = tmp_path / "mbox"
    run_cli("import", "mbox", str(mail), "--me", me[0], *me_args, home=mbox_home)
    expected = figures(people_json(mbox_home))
    assert expected

    with GoogleEmulator(
        user=me[0], window=0.5, quota_per_minute=quota, rate_limit_status=403, charge_rejected=True
    ) as emu:
        loaded = emu.gmail.load_mbox_dir(mail)
        token = emu.write_token_file(tmp_path / "token.json")
        home = tmp_path / "gmail"
        run_cli(
            "account",
            "add",
            "gmail",
            "g",
            "--address",
            me[0],
            *me_args,
            "--api-endpoint",
            emu.url,
            "--token-file",
            str(token),
            home=home,
        )
        config = tomllib.loads((home / "config.toml").read_text())
        assert config["accounts"]["g"]["api_endpoint"] == emu.url
        set_options(home, "g", quota_window=emu.window, backoff_base=0.05)
        proc = run_cli("sync", "--once", home=home)
        assert "g:" in proc.stdout
        got = figures(people_json(home))

        assert got == expected
        gets = emu.calls("gmail.users.messages.get")
        assert all(r.params.get("format") == "metadata" for r in gets), "never a body"
        assert not any("q" in r.params for r in emu.calls())
        units = emu.units()
        assert units / loaded <= 5.5, f"{units / loaded:.2f} units per message"
        assert {r.params["id"] for r in gets if r.status == 200} == set(emu.gmail.messages)

        # A second sync costs a few units and changes nothing.
        emu.reset_records()
        run_cli("sync", "--once", home=home)
        assert emu.units() <= 10
        assert figures(people_json(home)) == expected
