"""``syncd account add exchange`` and ``syncd auth`` for it, as a user runs them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from click.testing import CliRunner, Result

from syncd.cli import cli
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.testing import ME, fill_mailbox
from tests.support.helpers import REPO, run_cli


def said(result: Result) -> str:
    """What a failed command says: click's usage error, or syncd's one-line error."""
    return result.output + (str(result.exception) if result.exception else "")


def test_account_add_exchange_writes_the_options_and_refuses_wrong_ones(tmp_path: Path):
    h = tmp_path / "home"
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="utf-8")
    run_cli(
        "account", "add", "exchange", "work", "--address", "Ana@Corp.example",
        "--server", "mail.corp.example", "--username", "CORP\\ana", "--auth", "ntlm",
        "--ca-bundle", str(ca), "--no-calendar", home=h,
    )  # fmt: skip
    table = tomllib.loads((h / "config.toml").read_text())["accounts"]["work"]
    assert table == {
        "kind": "exchange",
        "address": "ana@corp.example",
        "server": "mail.corp.example",
        "username": "CORP\\ana",
        "auth": "ntlm",
        "ca_bundle": str(ca.resolve()),
        "calendar": False,
    }
    add = ["--home", str(h), "account", "add"]
    for args, message in [
        (("--ews-url", "https://a/EWS/Exchange.asmx", "--server", "a"), "not both"),
        (("--server", "a", "--host", "b"), "--host: not an option of an exchange account"),
        (("--server", "a", "--autodiscover"), "--autodiscover finds the server itself"),
        (("--server", "a", "--auth", "kerberos"), "'kerberos' is not one of"),
    ]:
        bad = CliRunner().invoke(cli, [*add, "exchange", "x", "--address", ME, *args])
        assert bad.exit_code != 0 and message in said(bad), said(bad)
    bad = CliRunner().invoke(cli, [*add, "exchange", "x"])
    assert bad.exit_code != 0 and "needs --address" in said(bad)
    bad = CliRunner().invoke(cli, [*add, "mbox", "m", "--path", str(ca), "--server", "a"])
    assert bad.exit_code != 0 and "only for exchange accounts" in said(bad)
    kinds = CliRunner().invoke(cli, [*add, "--help"]).output
    assert "exchange" in kinds and "ews|" not in kinds and "|ews" not in kinds


def test_syncd_auth_asks_once_and_sync_uses_the_stored_password(tmp_path: Path):
    emu = EwsEmulator(address=ME).start()
    try:
        fill_mailbox(emu, 6)
        h = tmp_path / "home"
        run_cli(
            "account", "add", "exchange", "work", "--address", ME, "--ews-url", emu.url,
            "--auth", "basic", "--username", emu.username, "--no-calendar", home=h,
        )  # fmt: skip
        cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
        env = {**os.environ, "SYNCD_KEYRING": "0"}  # the 0600 file store (no keyring here)
        first = subprocess.run(
            [*cmd, "--home", str(h), "sync", "--once"],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
        )  # fmt: skip
        assert first.returncode == 1 and "syncd auth work" in first.stderr, first.stderr
        proc = subprocess.run(
            [*cmd, "--home", str(h), "auth", "work"],
            input=emu.password + "\n", capture_output=True, text=True, cwd=REPO, env=env,
            timeout=60,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert "stored the password of work" in proc.stdout
        assert emu.password not in (h / "config.toml").read_text()
        stored = list((h / "tokens").iterdir())
        assert len(stored) == 1 and stat.S_IMODE(stored[0].stat().st_mode) == 0o600
        synced = subprocess.run(
            [*cmd, "--home", str(h), "sync", "--once"],
            capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
        )  # fmt: skip
        assert synced.returncode == 0, synced.stderr
        assert "work: 7 messages" in synced.stdout
    finally:
        emu.stop()
