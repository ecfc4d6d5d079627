"""A whole Autodiscover world in a private network namespace: DNS, HTTPS on 443, syncd.

Run as ``unshare -rnm python -m tests.support.ews_emulator.autodiscover_world DIR``
(a user, network and mount namespace: root there, nothing changes outside). It
brings up loopback, points a private bind mount of ``/etc/resolv.conf`` at
:class:`DnsServer` on 127.0.0.1:53, starts the EWS emulator over HTTPS (a
private CA) on 127.0.0.1:443 and runs ``syncd account add exchange work
--address me@corp.example --autodiscover ...`` and ``syncd sync --once`` with
an empty exchangelib cache, as a user would. DNS knows only the SRV record
``_autodiscover._tcp.corp.example`` → ``mail.corp.example:443`` and that host's
address, so exchangelib's walk fails steps 1–3 (``corp.example`` and
``autodiscover.corp.example`` do not exist) and finds the server at step 4.
With ``DIR nothing`` DNS knows no name at all. Prints one JSON object: the
commands' exit codes and output, the emulator's operations and the DNS
questions asked.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

from tests.support.certs import private_ca
from tests.support.ews_emulator.dns_server import DnsServer
from tests.support.ews_emulator.server import EwsEmulator
from tests.support.ews_emulator.testing import fill_mailbox, password_file

ADDRESS = "me@corp.example"
HOST = "mail.corp.example"
RECORDS = {
    ("_autodiscover._tcp.corp.example", "SRV"): [f"0 0 443 {HOST}."],
    (HOST, "A"): ["127.0.0.1"],
}


def _loopback_up() -> None:
    """``ip link set lo up`` without iproute2 (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        got = fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))
        flags = struct.unpack("16sH", got[:18])[1]
        fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # IFF_UP


def _syncd(home: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-c", "import sys; from syncd.cli import main; sys.exit(main())"]
    return subprocess.run(
        [*cmd, "--home", str(home), *args], capture_output=True, text=True, env=env, timeout=120
    )


def main(work: Path, records: dict[tuple[str, str], list[str]]) -> dict:
    """Set the world up in ``work`` with DNS ``records``, run syncd in it; what happened."""
    _loopback_up()
    resolv = work / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", encoding="utf-8")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)
    dns_server = DnsServer(records)
    ca, cert, key = private_ca(work / "pki", names=(HOST,))
    emu = EwsEmulator(address=ADDRESS).start(tls=(cert, key), port=443)
    emu.external_ews_url = f"https://{HOST}/EWS/Exchange.asmx"
    fill_mailbox(emu, 4)
    tmp = work / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp), "SYNCD_KEYRING": "0"}
    home = work / "home"
    try:
        add = _syncd(
            home, "account", "add", "exchange", "work", "--address", ADDRESS, "--autodiscover",
            "--auth", "basic", "--username", emu.username, "--no-calendar",
            "--password-file", str(password_file(emu, work)), "--ca-bundle", str(ca),
            env=env,
        )  # fmt: skip
        sync = _syncd(home, "sync", "--once", env=env)
    finally:
        emu.stop()
        dns_server.close()
    return {
        "add": [add.returncode, add.stderr],
        "sync": [sync.returncode, sync.stdout, sync.stderr],
        "ops": emu.ops(),
        "dns": dns_server.questions,
    }


if __name__ == "__main__":
    # ``DIR nothing``: DNS knows no name at all (Autodiscover must fail, clearly)
    print(json.dumps(main(Path(sys.argv[1]), {} if sys.argv[2:] == ["nothing"] else RECORDS)))
