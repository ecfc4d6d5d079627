"""Benchmark: the IMAP reader against a real Dovecot holding an Enron mailbox.

Seeds a Dovecot on loopback (tests/support/dovecot.py) with every mbox file
of ``../shared/data/enron/OWNER`` (one folder per file, APPEND), then times
the reader's first fetch (headers of every message), a second fetch (nothing
new: one EXAMINE per folder) and the batches per batch size. Reported:
messages, folders, first-fetch wall time and messages per second, the second
fetch's time, and bytes the client sent and received (a counting proxy).

    .venv/bin/python bench/imap_sync.py                  # allen-p, batch 500
    .venv/bin/python bench/imap_sync.py --owner allen-p --batch 100 --batch 500
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from connectors import imap  # noqa: E402
from tests.support.dovecot import Dovecot, seed_mbox  # noqa: E402
from tests.support.imap_testing import home, imap_account  # noqa: E402
from tests.support.tcp_proxy import TcpProxy  # noqa: E402


def fetch_all(reader, cursors: dict) -> tuple[int, float]:
    """Messages fetched and seconds taken, committing cursors like the ingest."""
    start = time.perf_counter()
    count = 0
    for batch in reader.fetch(cursors):
        count += len(batch.mail)
        cursors.update(batch.cursors)
    return count, time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--owner", default="allen-p")
    parser.add_argument("--batch", type=int, action="append")
    args = parser.parse_args()
    mail = REPO.parent / "shared" / "data" / "enron" / args.owner
    if not mail.exists():
        sys.exit(f"real test data not present: {mail}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = Dovecot(root / "dovecot")
        server.start()
        try:
            files = sorted(p for p in mail.iterdir() if p.is_file())
            t0 = time.perf_counter()
            seeded = seed_mbox(server, files)
            seeding = time.perf_counter() - t0
            print(f"seeded {seeded} messages in {len(files)} folders in {seeding:.1f} s")
            print(f"(CPython {platform.python_version()}, {platform.machine()})\n")
            print("| batch size | messages | first fetch | messages/s | second fetch "
                  "| bytes sent | bytes received/message |")  # fmt: skip
            print("|---:|---:|---:|---:|---:|---:|---:|")
            for size in args.batch or [500]:
                proxy = TcpProxy(server.port)
                received = proxy_received(proxy)
                acc = imap_account(server, root, batch_size=size, port=proxy.port)
                reader = imap.open_reader(acc, home(root))
                cursors: dict = {}
                count, first = fetch_all(reader, cursors)
                _, second = fetch_all(imap.open_reader(acc, home(root)), cursors)
                print(
                    f"| {size} | {count:,} | {first:.2f} s | {count / first:,.0f} | "
                    f"{second * 1000:.0f} ms | {len(proxy.sent):,} | "
                    f"{received() / max(count, 1):,.0f} |"
                )
                proxy.close()
        finally:
            server.close()


def proxy_received(proxy: TcpProxy):
    """Count the bytes the server sends through ``proxy`` (wraps its pipe)."""
    total = [0]
    original = proxy._pipe

    def pipe(src, dst, upstream):
        if upstream:
            return original(src, dst, upstream)
        real_send = dst.sendall

        class Counting:
            def __getattr__(self, name):
                return getattr(dst, name)

            def sendall(self, data):
                total[0] += len(data)
                return real_send(data)

        return original(src, Counting(), upstream)

    proxy._pipe = pipe
    return lambda: total[0]


if __name__ == "__main__":
    main()
