"""Benchmark: first Gmail sync of a large mailbox against the emulator enforcing the quota.

Two strategies fetch the same mailbox, each against a fresh emulator (in its
own process, so it does not share the GIL with the client) that enforces
Gmail's per-user quota of 15,000 units per minute at the real unit costs:

- **syncd**: ``connectors.gmail.GmailReader`` (token-bucket + sliding-window
  pacing at the quota, slow-start batches of up to 50, learned limits, one
  ``threads.get`` per thread where cheaper than its ``messages.get`` calls);
  with ``--news N``, N new messages are then added and synced incrementally;
- **lieer** (baseline): batches of 50 ``messages.get`` sent back to back;
  on a rate-limit rejection the delay between batches grows (``2d + 1``)
  and shrinks again after a run of clean batches; rejected calls are retried.
  This follows lieer's ``remote.py`` approach, reduced to the metadata format
  (5 units per message).

The mailbox is made of conversations of :data:`THREAD_SIZES` messages (cycled),
threaded by In-Reply-To/References as Gmail does.

Time is scaled: a "minute" of quota lasts ``60 * scale`` seconds (the rate
limit becomes ``250 / scale`` units per second); all delays scale with it.
Reported per strategy: messages, quota units per message, wall time against
the quota floor (total units / quota rate), rejected calls (all, and after
the first quota window: the warm-up).

    .venv/bin/python bench/gmail_sync.py                    # 100,000 messages, scale 0.2
    .venv/bin/python bench/gmail_sync.py --messages 30000 --news 3000 --scale 0.25 --write-results
    .venv/bin/python bench/gmail_sync.py --messages 5000 --news 500 --scale 0.05 --only syncd \
        --summary-json /tmp/gmail.json       # make bench's size (bench/run_all.py)
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

QUOTA = 15_000  # units per user per minute
HEADING = "## Gmail first sync (bench/gmail_sync.py)"


# -- the emulator process ------------------------------------------------------------------------


# Conversation lengths, cycled: 27 messages in 7 threads (a third of threads are single
# messages, a few long ones). Replies follow within the hour, so a thread's messages sit
# close together in the newest-first listing, as in a real mailbox.
THREAD_SIZES = (1, 1, 2, 3, 4, 6, 10)


def _raw(i: int, t: int, k: int, me: str, when: datetime) -> bytes:
    """Message ``k`` of conversation ``t`` (global number ``i``), with a realistic header block."""
    other = f"person{t % 2311}@example{t % 37}.org"
    outbound = k % 2 == 1
    sender, rcpt = (me, other) if outbound else (other, me)
    date = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    received = "".join(
        f"Received: from mx{j}.example.net (mx{j}.example.net [10.0.{j}.{i % 250}])\r\n"
        f"\tby mail.example.com with ESMTPS id {i:08x}{j}; {date}\r\n"
        for j in range(3)
    )
    # References trimmed as clients do: the root and the two latest.
    refs = [f"<{t:08d}.{j:03d}.bench@example.com>" for j in sorted({0, k - 2, k - 1}) if 0 <= j < k]
    threading = f"In-Reply-To: {refs[-1]}\r\nReferences: {' '.join(refs)}\r\n" if refs else ""
    return (
        f"{received}From: Person {t % 2311} <{sender}>\r\nTo: {rcpt}\r\n"
        f"Subject: {'Re: ' if k else ''}about item {t}\r\nDate: {date}\r\n"
        f"Message-ID: <{t:08d}.{k:03d}.bench@example.com>\r\n{threading}MIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Body text {i} that nobody asks for.\r\n"
    ).encode()


def _mailbox(emu, count: int) -> None:
    """``count`` messages in conversations of :data:`THREAD_SIZES` (Inbox, Sent, a label,
    Trash), interleaved in time; the thread a message starts is its conversation."""
    start = datetime(2019, 1, 1, tzinfo=UTC)
    me = emu.user
    i = t = 0
    while i < count:
        size = THREAD_SIZES[t % len(THREAD_SIZES)]
        base = start + timedelta(minutes=7 * i)
        for k in range(min(size, count - i)):
            when = base + timedelta(minutes=11 * k)
            labels = ["SENT"] if k % 2 else [["INBOX"], ["Projects"], ["INBOX"], ["TRASH"]][t % 4]
            emu.gmail.add_message(_raw(i, t, k, me, when), labels)
            i += 1
        t += 1
    emu.bench_next = (i, t)


def _add_news(emu, count: int) -> None:
    """``count`` new messages: half replies to the newest conversations, half new ones."""
    i, t = emu.bench_next
    when = datetime(2019, 1, 1, tzinfo=UTC) + timedelta(minutes=7 * i + 60)
    for n in range(count):
        if n % 2:
            conv = t - 1 - (n // 2) % 20
            k = 50 + n  # replies after everything already in the thread
            emu.gmail.add_message(_raw(i, conv, k, emu.user, when), ["INBOX"])
        else:
            emu.gmail.add_message(_raw(i, t, 0, emu.user, when), ["INBOX"])
            t += 1
        i += 1
        when += timedelta(minutes=1)
    emu.bench_next = (i, t)


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
        if isinstance(cmd, tuple) and cmd[0] == "news":
            emu.reset_records()
            _add_news(emu, cmd[1])
            conn.send(None)
            continue
        if cmd == "stats":
            calls = emu.calls()
            conn.send(
                {
                    "units": emu.units(),
                    "rejected_at": [r.at for r in calls if r.status in (403, 429)],
                    "first_at": min((r.at for r in calls), default=0.0),
                    "last_at": max((r.at for r in calls), default=0.0),
                    "gets": sum(1 for r in calls if r.method == "gmail.users.messages.get"),
                    "thread_gets": sum(1 for r in calls if r.method == "gmail.users.threads.get"),
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

    def news(self, count: int) -> None:
        """Add ``count`` new messages and forget the record (quota state stays)."""
        self.conn.send(("news", count))
        self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.conn.recv()
        self.proc.join(10)


# -- strategies -----------------------------------------------------------------------------------


def run_syncd(url: str, scale: float, workdir: Path, cursors: dict | None = None) -> int:
    """syncd's reader, as the engine would run it (without storing); ``cursors`` (updated
    in place) makes a second run an incremental sync."""
    from connectors import gmail
    from syncd.config.schema import AccountConfig
    from syncd.core.home import Home

    cursors = {} if cursors is None else cursors
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
    fetched = 0
    for batch in reader.fetch(cursors):
        fetched += len(batch.mail)
        cursors.update(batch.cursors)
    return fetched


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


def _row(name: str, fetched: int, wall: float, stats: dict, scale: float) -> dict:
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
        "gets": stats["gets"],
        "thread_gets": stats["thread_gets"],
    }
    print(
        f"{name:>18}: {fetched} messages, {row['units_per_message']:.3f} units/message, "
        f"{wall:.1f} s vs floor {row['floor_s']:.1f} s ({row['over_floor']:+.1%}), "
        f"{row['rejected']} rejected ({row['rejected_after_warmup']} after warm-up), "
        f"{row['thread_gets']} threads.get + {row['gets']} messages.get",
        flush=True,
    )
    return row


def measure(name: str, strategy, count: int, scale: float, news: int = 0) -> list[dict]:
    """The first sync (and for syncd, with ``news`` > 0, an incremental one after it)."""
    server = Server(count, 60 * scale)
    rows = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cursors: dict = {}
            started = time.monotonic()
            fetched = (
                strategy(server.url, scale, Path(tmp), cursors)
                if strategy is run_syncd
                else strategy(server.url, scale, Path(tmp))
            )
            rows.append(_row(name, fetched, time.monotonic() - started, server.stats(), scale))
            if news and strategy is run_syncd:
                server.news(news)
                started = time.monotonic()
                fetched = strategy(server.url, scale, Path(tmp), cursors)
                wall = time.monotonic() - started
                rows.append(_row(f"{name} incremental", fetched, wall, server.stats(), scale))
    finally:
        server.stop()
    return rows


def markdown(rows: list[dict], count: int, scale: float) -> str:
    lines = [
        HEADING,
        "",
        f"First sync of a {count:,}-message mailbox (conversations of {THREAD_SIZES} messages,",
        "cycled, threaded by In-Reply-To/References) against the emulator (in its own process)",
        f"enforcing 15,000 units per user per minute at Gmail's unit costs, time scaled by {scale}",
        f"(a quota minute lasts {60 * scale:g} s: the limit is "
        f"{QUOTA / (60 * scale):,.0f} units/s).",
        "Floor = total units / quota rate. Rejected calls are not charged by the emulator.",
        f"Run {datetime.now(UTC):%Y-%m-%d} on {platform.python_implementation()} "
        f"{platform.python_version()}, {mp.cpu_count()} CPUs.",
        "",
        "| strategy | messages | units/message | wall time | quota floor | over floor "
        "| rejected calls | rejected after warm-up | threads.get + messages.get |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['strategy']} | {r['messages']:,} | {r['units_per_message']:.3f} "
            f"| {r['wall_s']:.1f} s | {r['floor_s']:.1f} s | {r['over_floor']:+.1%} "
            f"| {r['rejected']:,} | {r['rejected_after_warmup']:,} "
            f"| {r['thread_gets']:,} + {r['gets']:,} |"
        )
    lines += [
        "",
        "syncd: `connectors.gmail` as `syncd sync` runs it (storing excluded): per thread,",
        "one `threads.get(format=metadata)` (10 units) for 3+ waiting ids of a thread, else",
        "`messages.get(format=metadata)` (5 units) each. *incremental*: right after the first",
        "sync (quota bucket drained), new messages are added (half new conversations, half",
        "replies to recent ones) and the saved cursor syncs again through `history.list`.",
        "lieer: batches of 50 `messages.get` back to back, delay `2d+1` after a rejected",
        "batch, halved after 10 clean ones (5 units per message whatever the threads).",
        "Units per message: the fetches plus the listing (`messages.list`, 5 units per 500",
        "ids) and a few units of profile, labels and history. A thread split between the two",
        "listings (its Trash messages are listed apart) or between batches costs more.",
        "Warm-up: the first quota window. syncd's wall time can dip under the floor: its first",
        "window starts with a full quota (the incremental sync's bucket refills while the new",
        "messages are being added).",
        "",
        "Command: `.venv/bin/python " + " ".join(["bench/gmail_sync.py", *sys.argv[1:]]) + "`",
        "",
    ]
    return "\n".join(lines)


def summary_rows(rows: list[dict], count: int, scale: float) -> list[dict]:
    """syncd's rows in the shared bench summary format (``--summary-json``): units per
    message and wall time against the quota floor, first sync and incremental."""
    out = []
    for r in rows:
        if not r["strategy"].startswith("syncd"):
            continue
        what = "incremental" if "incremental" in r["strategy"] else "first sync"
        detail = (
            f"{r['messages']:,} of a {count:,}-message mailbox, quota minute {60 * scale:g} s; "
            f"{r['thread_gets']:,} threads.get + {r['gets']:,} messages.get"
        )
        out += [
            {
                "bench": "gmail_sync",
                "metric": f"{what}: quota units per message",
                "value": round(r["units_per_message"], 3),
                "unit": "units/msg",
                "target": "<= 3.1 (5 = a messages.get each)",
                "ok": r["units_per_message"] <= 3.1,
                "detail": detail,
            },
            {
                "bench": "gmail_sync",
                "metric": f"{what}: wall time vs quota floor",
                "value": round(100 * r["over_floor"], 1),
                "unit": "%",
                "target": "<= +10 %",
                "ok": r["over_floor"] <= 0.10,
                "detail": (
                    f"{r['wall_s']:.1f} s vs floor {r['floor_s']:.1f} s; "
                    f"{r['rejected']} rejected calls ({r['rejected_after_warmup']} after warm-up)"
                ),
            },
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=0.2, help="quota minute = 60*scale s")
    parser.add_argument("--only", choices=("syncd", "lieer"))
    parser.add_argument(
        "--news", type=int, default=0, help="then add this many messages and sync again"
    )
    parser.add_argument("--write-results", action="store_true", help="update bench/RESULTS.md")
    parser.add_argument("--summary-json", type=Path, help="write the shared summary rows here")
    args = parser.parse_args()
    rows = []
    for name, strategy in (("syncd", run_syncd), ("lieer", run_lieer)):
        if args.only in (None, name):
            rows += measure(name, strategy, args.messages, args.scale, args.news)
    text = markdown(rows, args.messages, args.scale)
    print()
    print(text)
    if args.write_results:
        replace_section(HEADING, text)
    if args.summary_json:
        summary = summary_rows(rows, args.messages, args.scale)
        args.summary_json.write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
