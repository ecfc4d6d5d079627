"""``syncd account add exchange NAME --address ADDR --autodiscover`` then ``syncd sync --once``.

exchangelib's Autodiscover starts at fixed places: ``https://DOMAIN/`` and
``https://autodiscover.DOMAIN/`` (port 443), ``http://autodiscover.DOMAIN/``
(port 80) and the SRV record ``_autodiscover._tcp.DOMAIN`` (only port 443
targets count), each name checked in DNS first. Two ways reach the emulator
without touching the system:

- the whole walk, in a private user + network + mount namespace (``unshare
  -rnm``: root there, nothing changes outside) where a tiny DNS server on
  127.0.0.1:53 backs a private bind mount of ``/etc/resolv.conf`` and the
  emulator serves HTTPS on 127.0.0.1:443
  (:mod:`tests.support.ews_emulator.autodiscover_world`);
- exchangelib's persistent Autodiscover cache (a ``shelve`` file in the
  temporary directory, ``TMPDIR``), which maps an email domain to the
  endpoint that answered last time, exactly as after a real discovery.

Either way the real client sends the SOAP ``GetUserSettings`` request to the
emulator's ``/autodiscover/autodiscover.svc``, reads ``ExternalEwsUrl`` and
``EwsSupportedSchemas`` from the answer and syncs through the endpoint it
found. A domain with no Autodiscover gives one sentence naming ``--ews-url``
and ``--server``.
"""

from __future__ import annotations

import json
import shelve
import subprocess
import sys
from pathlib import Path

import pytest
from exchangelib import BASIC, FailFast
from exchangelib.autodiscover.cache import shelve_filename

from tests.support.certs import private_ca
from tests.support.ews_emulator import EwsEmulator
from tests.support.ews_emulator.testing import ME, fill_mailbox, password_file
from tests.support.helpers import REPO, run_cli


def seed_cache(tmp: Path, domain: str, endpoint: str) -> None:
    """What exchangelib's cache holds after discovering ``endpoint`` for ``domain``."""
    with shelve.open(str(tmp / shelve_filename())) as db:
        db[domain] = (endpoint, BASIC, FailFast())


def add_account(
    emu: EwsEmulator, tmp_path: Path, home: Path, address: str = ME, *extra: str
) -> None:
    """``syncd account add exchange work --address ADDRESS --autodiscover`` (Basic auth)."""
    run_cli(
        "account", "add", "exchange", "work", "--address", address, "--autodiscover",
        "--auth", "basic", "--username", emu.username, "--no-calendar",
        "--password-file", str(password_file(emu, tmp_path)), *extra,
        home=home,
    )  # fmt: skip


def test_autodiscover_finds_the_ews_url_and_the_sync_uses_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))  # syncd's exchangelib keeps its cache here
    emu = EwsEmulator(address=ME).start()
    try:
        fill_mailbox(emu, 12)
        seed_cache(tmp, ME.split("@")[1], emu.autodiscover_url)
        home = tmp_path / "home"
        add_account(emu, tmp_path, home)
        assert "ews_url" not in (home / "config.toml").read_text()

        first = run_cli("sync", "--once", home=home)
        assert "work: 13 messages" in first.stdout, first.stdout  # 12 and the draft
        ops = emu.ops()
        assert ops[0] == "(autodiscover) GetUserSettings", ops
        assert {"SyncFolderItems", "GetItem"} <= set(ops)
        # --auth basic holds for the endpoint found: no unauthenticated probe for the auth type
        assert "(unauthorized)" not in ops, ops
        assert not emu.content_requests()

        emu.requests.clear()
        again = run_cli("sync", "--once", home=home)
        assert "work: 0 messages" in again.stdout, again.stdout
        assert "GetItem" not in emu.ops()
    finally:
        emu.stop()


def test_autodiscover_over_https_trusts_the_private_ca_for_the_endpoint_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    ca, cert, key = private_ca(tmp_path / "pki")
    # Autodiscover answers at the address's domain (localhost); the EWS URL it gives is
    # another host (127.0.0.1): --ca-bundle must hold for both.
    emu = EwsEmulator(address="me@localhost").start(tls=(cert, key))
    try:
        fill_mailbox(emu, 4)
        port = emu.url.split(":")[2].split("/")[0]
        seed_cache(tmp, "localhost", f"https://localhost:{port}/autodiscover/autodiscover.svc")
        home = tmp_path / "home"
        add_account(emu, tmp_path, home, "me@localhost", "--ca-bundle", str(ca))
        first = run_cli("sync", "--once", home=home, check=False)
        assert first.returncode == 0, first.stderr
        assert "work: 5 messages" in first.stdout, first.stdout
        assert emu.ops()[0] == "(autodiscover) GetUserSettings"
        assert emu.url.startswith("https://127.0.0.1:")
    finally:
        emu.stop()


def world(tmp_path: Path, *args: str) -> dict:
    """What :mod:`tests.support.ews_emulator.autodiscover_world` reports."""
    cmd = ["unshare", "-rnm", sys.executable, "-m", "tests.support.ews_emulator.autodiscover_world"]
    try:
        proc = subprocess.run(
            [*cmd, str(tmp_path), *args], capture_output=True, text=True, cwd=REPO, timeout=180
        )
    except FileNotFoundError:
        raise AssertionError("needs unshare (apt-get install util-linux)") from None
    assert proc.returncode == 0, (
        "the namespace world failed (it needs user namespaces: `unshare -rnm true` must "
        f"work): {proc.stderr[-2000:]}"
    )
    return json.loads(proc.stdout)


def test_the_whole_autodiscover_walk_finds_the_server_by_its_srv_record(tmp_path: Path) -> None:
    found = world(tmp_path)
    assert found["add"][0] == 0, found["add"]
    code, out, err = found["sync"]
    assert code == 0 and "work: 5 messages" in out, err
    asked = [tuple(q) for q in found["dns"]]
    # steps 1 and 2 ask names that do not exist; step 4 finds the SRV record's host
    assert ("corp.example", "A") in asked and ("autodiscover.corp.example", "A") in asked
    assert asked.index(("_autodiscover._tcp.corp.example", "SRV")) < asked.index(
        ("mail.corp.example", "A")
    )
    ops = found["ops"]
    assert ops.count("(autodiscover) GetUserSettings") == 1, ops
    assert {"SyncFolderItems", "GetItem"} <= set(ops), ops


def test_autodiscover_that_finds_nothing_says_to_give_the_server(tmp_path: Path) -> None:
    lost = world(tmp_path, "nothing")
    assert lost["add"][0] == 0, lost["add"]
    code, _, err = lost["sync"]
    assert code != 0 and "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("work: failed")]
    assert len(lines) == 1, err
    assert lines[0].endswith(
        "Autodiscover found no Exchange server; give it with "
        "--ews-url https://HOST/EWS/Exchange.asmx or --server HOST"
    ), lines[0]
    assert ("_autodiscover._tcp.corp.example", "SRV") in [tuple(q) for q in lost["dns"]]
    assert lost["ops"] == []
