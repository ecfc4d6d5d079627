"""Exchange Online users are pointed to the outlook (Graph) connector by ``syncd doctor``."""

from __future__ import annotations

import tomlkit

from syncd.config.schema import AccountConfig
from syncd.ops.checks import WARN
from syncd.ops.exchange_online import exchange_online_check
from tests.support.helpers import run_cli


def exchange(**options) -> AccountConfig:
    return AccountConfig(name="ex", kind="exchange", address="me@contoso.com", options=options)


def test_exchange_online_hosts_are_told_to_use_outlook():
    for options in (
        {"ews_url": "https://outlook.office365.com/EWS/Exchange.asmx"},
        {"server": "Outlook.Office365.com"},
    ):
        check = exchange_online_check(exchange(**options))
        assert check is not None and check.level == WARN
        assert "1 October 2026" in check.message
        assert "syncd account add outlook" in (check.hint or "")
    assert exchange_online_check(exchange(server="mail.contoso.com")) is None
    gmail = AccountConfig(name="g", kind="gmail", options={"server": "outlook.office365.com"})
    assert exchange_online_check(gmail) is None


def test_doctor_says_so(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    doc = tomlkit.document()
    doc["accounts"] = {
        "ex": {
            "kind": "exchange",
            "address": "me@contoso.com",
            "ews_url": "https://outlook.office365.com/EWS/Exchange.asmx",
        }
    }
    (home / "config.toml").write_text(tomlkit.dumps(doc))
    proc = run_cli("doctor", home=home, check=False)
    assert "Exchange Online" in proc.stdout + proc.stderr
    assert "syncd account add outlook" in proc.stdout + proc.stderr
