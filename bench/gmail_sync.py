"""Benchmark: first Gmail sync of a large mailbox against the emulator enforcing the quota.

Two strategies fetch the same mailbox, each against a fresh emulator (in its
own process, so it does not share the GIL with the client) that enforces
Gmail's per-user quota of 15,000 units per minute at the real unit costs:

- **syncd**: ``connectors.gmail.GmailReader`` (token-bucket + sliding-window
  pacing at the quota, slow-start batches of up to 50, learned limits);
- **lieer** (baseline): batches of 50 ``messages.get`` sent back to back;
  on a rate-limit rejection the delay between batches grows (``2d + 1``)
  and shrinks again after a run of clean batches; rejected calls are retried.
  This follows lieer's ``remote.py`` approach, reduced to the metadata format
  so both strategies spend the same 5 units per message.

Time is scaled: a "minute" of quota lasts ``60 * scale`` seconds (the rate
limit becomes ``250 / scale`` units per second); all delays scale with it.
Reported per strategy: messages, quota units per message, wall time against
the quota floor (total units / quota rate), rejected calls (all, and after
the first quota window: the warm-up).

    .venv/bin/python bench/gmail_sync.py                    # 100,000 messages, scale 0.2
    .venv/bin/python bench/gmail_sync.py --messages 20000 --write-results
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import re
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

QUOTA = 15_000  # units per user per minute
HEADING = "## Gmail first sync (bench/gmail_sync.py)"


# -- the emulator process ------------------------------------------------------------------------


def _mailbox(emu, count: int) -> None:
    """``count`` messages with realistic header blocks (three Received lines)."""
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
        labels = ["SENT"] if outbound else [["INBOX"], ["Projects"], ["INBOX"], ["TRASH"]][i % 4]
        emu.gmail.add_message(raw, labels)


def _serve(conn, count: int, window: float) -> None:
    from tests.support.google_emulator import GoogleEmulator

    emu = GoogleEmulator(quota_per_minute=QUOTA, window=window, rate_limit_status=403)
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
            calls = emu.calls()
            conn.send(
                {
                    "units": emu.units(),
                    "rejected_at": [r.at for r in calls if r.status in (403, 429)],
                    "first_at": min((r.at for r in calls), default=0.0),
                    "last_at": max((r.at for r in calls), default=0.0),
                    "gets": sum(1 for r in calls if r.method == "gmail.users.messages.get"),
                    "bodies": sum(1 for r in calls if r.params.get("format") in ("full", "raw")),
                    "messages": len(emu.gmail.messages),
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


# -- strategies -----------------------------------------------------------------------------------


def run_syncd(url: str, scale: float, workdir: Path) -> int:
    """syncd's reader, as the engine would run it (without storing)."""
    from connectors import gmail
    from syncd.config.schema import AccountConfig
    from syncd.core.home import Home

    token = workdir / "token.json"
    token.write_text(json.dumps({"token": "test-token"}))
    account = AccountConfig(
        "bench",
        "gmail",
        "me@example.com",
        options={
            "api_endpoint": url,
            "token_file": str(token),
            "quota_window": 60 * scale,
            "backoff_base": scale,
        },
    )
    reader = gmail.open_reader(account, Home(workdir / "home"))
    return sum(len(batch.mail) for batch in reader.fetch({}))


def run_lieer(url: str, scale: float, workdir: Path) -> int:
    """lieer's approach: batches of 50, no pacing, back off on rate-limit errors."""
    from google.oauth2.credentials import Credentials
    from googleapiclient.errors import HttpError
    from googleapiclient.http import BatchHttpRequest

    from connectors.gmail import METADATA_HEADERS
    from connectors.google_api import build_service

    service = build_service("gmail", "v1", Credentials(token="test-token"), url)
    messages = service.users().messages()
    ids: list[str] = []
    page = None
    while True:
        resp = messages.list(userId="me", maxResults=500, includeSpamTrash=True,
                             **({"pageToken": page} if page else {})).execute()  # fmt: skip
        ids += [m["id"] for m in resp.get("messages", [])]
        page = resp.get("nextPageToken")
        if not page:
            break
    got = 0
    delay = 0.0
    clean = 0
    todo = list(ids)
    while todo:
        chunk, todo = todo[:50], todo[50:]
        failed: list[str] = []

        def done(rid, resp, exc, failed=failed):
            nonlocal got
            if exc is None:
                got += 1
            elif isinstance(exc, HttpError) and exc.resp.status in (403, 429):
                failed.append(rid)
            else:
                raise exc

        batch = BatchHttpRequest(callback=done, batch_uri=url + "batch/gmail/v1")
        for mid in chunk:
            batch.add(messages.get(userId="me", id=mid, format="metadata",
                                   metadataHeaders=METADATA_HEADERS), request_id=mid)  # fmt: skip
        batch.execute()
        if failed:
            todo = failed + todo
            delay = delay * 2 + 1
            clean = 0
            time.sleep(delay * scale)
        else:
            clean += 1
            if delay and clean >= 10:
                delay = max(0.0, delay / 2 - 0.5)
                clean = 0
            if delay:
                time.sleep(delay * scale)
    return got


# -- the run --------------------------------------------------------------------------------------


def measure(name: str, strategy, count: int, scale: float) -> dict:
    server = Server(count, 60 * scale)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            started = time.monotonic()
            fetched = strategy(server.url, scale, Path(tmp))
            wall = time.monotonic() - started
        stats = server.stats()
    finally:
        server.stop()
    window = 60 * scale
    rate = QUOTA / window
    units = stats["units"]
    warm = stats["first_at"] + window
    row = {
        "strategy": name,
        "messages": fetched,
        "mailbox": stats["messages"],
        "units": units,
        "units_per_message": units / max(fetched, 1),
        "wall_s": wall,
        "floor_s": units / rate,
        "over_floor": wall / (units / rate) - 1,
        "rejected": len(stats["rejected_at"]),
        "rejected_after_warmup": sum(1 for t in stats["rejected_at"] if t > warm),
        "bodies_requested": stats["bodies"],
    }
    print(
        f"{name:>6}: {fetched} messages, {row['units_per_message']:.3f} units/message, "
        f"{wall:.1f} s vs floor {row['floor_s']:.1f} s ({row['over_floor']:+.1%}), "
        f"{row['rejected']} rejected ({row['rejected_after_warmup']} after warm-up)",
        flush=True,
    )
    return row


def markdown(rows: list[dict], count: int, scale: float) -> str:
    lines = [
        HEADING,
        "",
        f"First sync of a {count:,}-message mailbox against the emulator (in its own process)",
        f"enforcing 15,000 units per user per minute at Gmail's unit costs, time scaled by {scale}",
        f"(a quota minute lasts {60 * scale:g} s: the limit is "
        f"{QUOTA / (60 * scale):,.0f} units/s).",
        "Floor = total units / quota rate. Rejected calls are not charged by the emulator.",
        f"Run {datetime.now(UTC):%Y-%m-%d} on {platform.python_implementation()} "
        f"{platform.python_version()}, {mp.cpu_count()} CPUs.",
        "",
        "| strategy | messages | units/message | wall time | quota floor | over floor "
        "| rejected calls | rejected after warm-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['strategy']} | {r['messages']:,} | {r['units_per_message']:.3f} "
            f"| {r['wall_s']:.1f} s | {r['floor_s']:.1f} s | {r['over_floor']:+.1%} "
            f"| {r['rejected']:,} | {r['rejected_after_warmup']:,} |"
        )
    lines += [
        "",
        "syncd: `connectors.gmail` as `syncd sync` runs it (storing excluded). lieer: batches",
        "of 50 back to back, delay `2d+1` after a rejected batch, halved after 10 clean ones.",
        "Target: within 5 % of the floor, <= 5 units per message, no rejections after warm-up.",
        "Units per message: 5 for `messages.get(format=metadata)` plus the listing",
        "(`messages.list`, 5 units per 500 ids) and a few units of profile, labels and history.",
        "Warm-up: the first quota window. syncd's wall time can dip under the floor: its first",
        "window starts with a full quota.",
        "",
    ]
    return "\n".join(lines)


def write_results(text: str) -> None:
    """Replace (or append) this benchmark's section of bench/RESULTS.md; others stay."""
    path = REPO / "bench" / "RESULTS.md"
    current = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(current):
        updated = pattern.sub(lambda _: text + "\n", current)
    else:
        updated = current.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(updated, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.2, help="quota minute = 60*scale s")
    parser.add_argument("--only", choices=("syncd", "lieer"))
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    args = parser.parse_args()
    rows = []
    for name, strategy in (("syncd", run_syncd), ("lieer", run_lieer)):
        if args.only in (None, name):
            rows.append(measure(name, strategy, args.messages, args.scale))
    text = markdown(rows, args.messages, args.scale)
    print()
    print(text)
    if args.write_results:
        write_results(text)


if __name__ == "__main__":
    main()
