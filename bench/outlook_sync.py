"""Benchmark: first Outlook sync of a large mailbox through Graph against the emulator.

The emulator (in its own process, so it does not share the GIL with the client)
enforces Outlook's documented limits per mailbox: 10,000 requests per 10 minutes
and 4 concurrent requests, answering 429 with ``Retry-After``. Time is scaled: the
10-minute window lasts ``600 * scale`` seconds. Strategies:

- **syncd**: ``connectors.outlook`` as ``syncd sync`` runs it (storing excluded),
  paced at the documented limit (token bucket + sliding window), at page size
  100 and at Graph's default page size of 10 (where the limit binds);
- **unpaced**: the same reader told it may send a million requests per window:
  it only learns from 429s and their ``Retry-After``.

Reported: messages, requests per 1,000 messages, wall time against the throttling
floor (requests / the limit's rate, when the limit binds), 429s (all, and after the
first window: the warm-up), bodies requested.

    .venv/bin/python bench/outlook_sync.py                  # 100,000 messages, scale 0.2
    .venv/bin/python bench/outlook_sync.py --messages 100000 --write-results
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

from bench.sections import replace_section  # noqa: E402

LIMIT = 10_000  # requests per mailbox per 10 minutes
WINDOW = 600.0
HEADING = "## Outlook first sync through Graph (bench/outlook_sync.py)"


def _mailbox(emu, count: int) -> None:
    """``count`` messages with realistic header blocks in Inbox, Sent Items, a user folder
    and Deleted Items."""
    mail = emu.mail
    projects = mail.add_folder("Projects")
    folders = ["inbox", projects, "inbox", "deleteditems"]
    start = datetime(2019, 1, 1, tzinfo=UTC)
    me = emu.user
    for i in range(count):
        when = start + timedelta(minutes=7 * i)
        other = f"person{i % 2311}@example{i % 37}.org"
        outbound = i % 4 == 1
        sender, rcpt = (me, other) if outbound else (other, me)
        date = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
        received = "".join(
            f"Received: from mx{k}.example.net (mx{k}.example.net [10.0.{k}.{i % 250}])\r\n"
            f"\tby mail.example.com with ESMTPS id {i:08x}{k}; {date}\r\n"
            for k in range(3)
        )
        raw = (
            f"{received}From: Person {i % 2311} <{sender}>\r\nTo: {rcpt}\r\n"
            f"Subject: about item {i}\r\nDate: {date}\r\n"
            f"Message-ID: <{i:010d}.bench@example.com>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"Body text {i} that nobody asks for.\r\n"
        ).encode()
        mail.add_message(raw, "sentitems" if outbound else folders[i % 4])


def _serve(conn, count: int, window: float) -> None:
    from tests.support.graph_emulator import GraphEmulator

    emu = GraphEmulator(requests_per_window=LIMIT, window=window)
    _mailbox(emu, count)
    emu.start()
    conn.send(emu.url)
    while True:
        cmd = conn.recv()
        if cmd == "stop":
            emu.stop()
            conn.send(None)
            return
        if cmd == "stats":
            recs = emu.records
            conn.send(
                {
                    "requests": len(recs),
                    "throttled_at": [r.at for r in recs if r.status == 429],
                    "first_at": min((r.at for r in recs), default=0.0),
                    "bodies": emu.body_requests,
                    "max_in_flight": emu.max_in_flight,
                    "messages": len(emu.mail.messages),
                }
            )


class Server:
    """An emulator in a child process."""

    def __init__(self, count: int, window: float):
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, count, window), daemon=True)
        self.proc.start()
        self.url = self.conn.recv()

    def stats(self) -> dict:
        self.conn.send("stats")
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.recv()
        self.proc.join(10)


def run_reader(url: str, scale: float, workdir: Path, page_size: int, paced: bool) -> int:
    """syncd's outlook reader, as the engine would run it (without storing)."""
    from connectors import outlook
    from connectors.google_pacing import forget_pacers
    from syncd.config.schema import AccountConfig
    from syncd.core.home import Home

    forget_pacers()
    token = workdir / "token.json"
    token.write_text(json.dumps({"token": "graph-test-token"}))
    options = {
        "api_endpoint": url,
        "token_file": str(token),
        "window": WINDOW * scale,
        "requests_per_window": LIMIT if paced else 1_000_000,
        "backoff_base": scale,
        "page_size": page_size,
        "read_calendar": False,
        "max_attempts": 50,
    }
    account = AccountConfig("bench", "outlook", "me@example.com", options=options)
    reader = outlook.open_reader(account, Home(workdir / "home"))
    return sum(len(batch.mail) for batch in reader.fetch({}))


def measure(name: str, count: int, scale: float, page_size: int, paced: bool) -> dict:
    server = Server(count, WINDOW * scale)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            fetched = run_reader(server.url, scale, Path(tmp), page_size, paced)
            wall = time.monotonic() - started
        stats = server.stats()
    finally:
        server.stop()
    window = WINDOW * scale
    accepted = stats["requests"] - len(stats["throttled_at"])
    # A sliding window lets LIMIT requests through per window: n requests need at least
    # floor((n - 1) / LIMIT) windows, however they are spread; spread evenly at the
    # limit's rate (what pacing does), n / rate once n is above LIMIT.
    floor = ((accepted - 1) // LIMIT) * window if accepted else 0.0
    even = accepted / (LIMIT / window) if accepted > LIMIT else 0.0
    warm = stats["first_at"] + window
    row = {
        "strategy": name,
        "page_size": page_size,
        "messages": fetched,
        "mailbox": stats["messages"],
        "requests": stats["requests"],
        "per_1000": 1000 * stats["requests"] / max(fetched, 1),
        "wall_s": wall,
        "floor_s": floor,
        "even_s": even,
        "throttled": len(stats["throttled_at"]),
        "throttled_after_warmup": sum(1 for t in stats["throttled_at"] if t > warm),
        "bodies": stats["bodies"],
        "max_in_flight": stats["max_in_flight"],
    }
    print(
        f"{name:>8} page {page_size:>3}: {fetched} messages, {row['per_1000']:.1f} requests/1000, "
        f"{wall:.1f} s vs floor {floor:.1f} s (even pace {even:.1f} s), {row['throttled']} 429s "
        f"({row['throttled_after_warmup']} after warm-up), bodies {row['bodies']}",
        flush=True,
    )
    return row


def markdown(rows: list[dict], count: int, scale: float, command: str) -> str:
    window = WINDOW * scale
    lines = [
        HEADING,
        "",
        f"Command: `{command}` (from the repository root, `.venv/bin/python`).",
        f"First sync of a {count:,}-message mailbox (4 folders) against the Graph emulator in its",
        "own process, enforcing Outlook's 10,000 requests per 10 minutes and 4 concurrent",
        f"requests per mailbox (429 + Retry-After), time scaled by {scale} (the window lasts",
        f"{window:g} s).",
        "Floor: a sliding window lets 10,000 requests through per window, so n requests need",
        "at least floor((n - 1) / 10,000) windows; even pace: n / (10,000 per window), the time",
        "the limit allows requests spread evenly (as syncd paces them), once n is above 10,000.",
        f"Run {datetime.now(UTC):%Y-%m-%d} on {platform.python_implementation()} "
        f"{platform.python_version()}, {mp.cpu_count()} CPUs.",
        "",
        "| strategy | page size | messages | requests / 1,000 messages | wall time "
        "| throttling floor | even pace | 429s | 429s after warm-up | bodies requested |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['strategy']} | {r['page_size']} | {r['messages']:,} | {r['per_1000']:.1f} "
            f"| {r['wall_s']:.1f} s | {r['floor_s']:.1f} s | {r['even_s']:.1f} s "
            f"| {r['throttled']:,} | {r['throttled_after_warmup']:,} | {r['bodies']} |"
        )
    lines += [
        "",
        "syncd: `connectors.outlook` (per-folder `messages/delta`, `$select` of the contract's",
        "fields, one well-known-folder `$batch`) paced at the documented limit. unpaced: the",
        "same reader allowed a million requests per window, so it meets the limit and waits out",
        "each 429's Retry-After. Warm-up: the first window.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--write-results", action="store_true")
    args = parser.parse_args()
    rows = [
        measure("syncd", args.messages, args.scale, 100, paced=True),
        measure("syncd", args.messages, args.scale, 10, paced=True),
        measure("unpaced", args.messages, args.scale, 10, paced=False),
    ]
    command = "python bench/outlook_sync.py " + " ".join(sys.argv[1:])
    text = markdown(rows, args.messages, args.scale, command.strip())
    print(text)
    if args.write_results:
        replace_section(HEADING, text)


if __name__ == "__main__":
    main()
