"""Benchmark: the Exchange (EWS) reader's first sync of an Enron mailbox against the emulator.

The EWS emulator (tests/support/ews_emulator) runs in its own process, so it
does not share the GIL with the client, holding every mbox file of
``../shared/data/enron/OWNER`` (one folder per file, as the integration test
loads it). ``connectors.exchange``'s reader (exchangelib, Basic auth, mail
only) does a first fetch of everything, cursors committed per batch as the
ingest does, then a second fetch with those cursors (nothing new). Storing is
excluded. Reported: messages, first-fetch wall time and messages per second,
EWS requests per 1,000 messages (by operation), bytes the server sent per
message (a counting loopback proxy, on a separate, untimed first fetch), and
the no-change fetch's time and requests. The emulator answers at once: the
figures are the client's cost and the protocol's round trips, not a real
server's latency.

    .venv/bin/python bench/exchange_sync.py                  # allen-p
    .venv/bin/python bench/exchange_sync.py --owner holst-k
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.imap_sync import fetch_all, proxy_received  # noqa: E402
from connectors import exchange  # noqa: E402
from tests.support.ews_emulator.testing import account, home  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402

OWNERS = {"allen-p": "phillip.allen@enron.com", "holst-k": "keith.holst@enron.com"}


def _serve(conn, owner: str, address: str) -> None:
    """The emulator process: load the mailbox, then answer ``stats`` / ``clear`` / ``stop``."""
    from tests.support.ews_emulator import EwsEmulator
    from tests.support.ews_emulator.loading import load_mbox

    mail = REPO.parent / "shared" / "data" / "enron" / owner
    emu = EwsEmulator(address=address, username="ENRON\\" + owner)
    loaded = sum(load_mbox(emu.mailbox, f) for f in sorted(mail.iterdir()) if f.is_file())
    emu.start()
    conn.send((emu.url, emu.username, emu.password, loaded))
    while True:
        cmd = conn.recv()
        if cmd == "stats":
            conn.send((emu.ops(), len(emu.content_requests())))
        elif cmd == "clear":
            with emu.lock:
                emu.requests.clear()
            conn.send(None)
        else:
            emu.stop()
            conn.send(None)
            return


class _Emulator:
    """The URL, credentials and controls of the emulator's process."""

    def __init__(self, owner: str, address: str) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, owner, address), daemon=True)
        self.proc.start()
        self.url, self.username, self.password, self.loaded = self.conn.recv()
        self.mailbox = _Box(address)

    def ask(self, cmd: str):
        """Send ``cmd``; its answer."""
        self.conn.send(cmd)
        return self.conn.recv()

    def stop(self) -> None:
        """Stop the emulator's process."""
        self.ask("stop")
        self.proc.join(10)


class _Box:
    """What :func:`tests.support.ews_emulator.testing.account` reads of a mailbox."""

    def __init__(self, address: str) -> None:
        self.address = address


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner", default="allen-p", choices=sorted(OWNERS))
    args = parser.parse_args()
    if not (REPO.parent / "shared" / "data" / "enron" / args.owner).exists():
        sys.exit(f"real test data not present: ../shared/data/enron/{args.owner}")
    emu = _Emulator(args.owner, OWNERS[args.owner])
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            # Timed directly (the proxy's extra hop and its Nagle delays would dominate)...
            acc = account(emu, root, name="bench")  # type: ignore[arg-type]
            cursors: dict = {}
            count, first = fetch_all(exchange.open_reader(acc, home(root)), cursors)
            ops, bodies = emu.ask("stats")
            emu.ask("clear")
            _, second = fetch_all(exchange.open_reader(acc, home(root)), cursors)
            again, _ = emu.ask("stats")
            # ... and bytes counted on a second first fetch through the proxy.
            port = int(emu.url.split(":")[2].split("/")[0])
            proxy = TcpProxy(port)
            received = proxy_received(proxy)
            url = emu.url.replace(f":{port}/", f":{proxy.port}/")
            proxied = account(emu, root, name="bench", ews_url=url)  # type: ignore[arg-type]
            fetch_all(exchange.open_reader(proxied, home(root)), {})
            first_bytes = received()
            proxy.close()
    finally:
        emu.stop()
    per_op = Counter(ops)
    print(f"{args.owner}: {emu.loaded:,} messages loaded; "
          f"CPython {platform.python_version()}, {platform.machine()}\n")  # fmt: skip
    print(
        "| messages | first fetch | messages/s | requests / 1,000 messages | bytes received "
        "/ message | no-change fetch | its requests | bodies asked |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {count:,} | {first:.2f} s | {count / first:,.0f} | "
        f"{len(ops) * 1000 / max(count, 1):.1f} | {first_bytes / max(count, 1):,.0f} | "
        f"{second * 1000:.0f} ms | {len(again)} | {bodies} |"
    )
    print("\nfirst fetch by operation: " + ", ".join(f"{k} {v}" for k, v in per_op.most_common()))
    print("no-change fetch: " + ", ".join(f"{k} {v}" for k, v in Counter(again).most_common()))


if __name__ == "__main__":
    main()
