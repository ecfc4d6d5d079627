"""The transactional outbox: every remote write (calendar event, email) goes through here.

An action is stored (``enqueue``) in the same transaction as the decision that
made it (the planner's follow-up row, the digest of a week). :func:`drain_outbox`
then, one action at a time:

1. **claims** it (``BEGIN IMMEDIATE``: state ``running``, a lease and the
   claimer ``host:pid``) and commits;
2. **executes** it through a writer (:mod:`connectors.base` ``Writer``) outside
   any transaction, passing the action's idempotency key, which the writer
   stores inside the remote object (iCal UID / X-SYNCD-KEY, event id,
   extended property, Message-ID);
3. **marks it done** (with the remote reference, and the follow-up's new state
   in :mod:`syncd.followup.ledger`) in one transaction.

A crash between 2 and 3 leaves the action ``running``; the next drain reclaims
it as soon as its claimer is gone (dead pid on this host, or lease expired) and
executes it again, and the writer finds the object by its key instead of
creating a second one. Actions on one key run in order (``seq``).

Failures: a :class:`~syncd.core.errors.TransientError` is retried after its
``retry_after`` (else exponential backoff: 1 min, 2, 4 ... capped at 6 h);
:class:`~syncd.core.errors.AuthRequired` waits an hour without using up attempts;
any other :class:`~syncd.core.errors.UserError` (configuration, an unreadable
target) goes straight to the dead letters, anything else after
:data:`MAX_ATTEMPTS` tries. Dead actions keep their last error (``syncd outbox``,
``syncd status``) and are retried only on request (``syncd outbox retry``).

An action whose payload carries ``expires`` (epoch seconds) is dropped, not
performed, when it comes up at or after that instant (state ``cancelled``,
``last_error`` saying why): a week's digest retried after its week is over
would only arrive beside the next one.

Retry times are in the evaluation clock (``now``, so ``--now`` is
deterministic); leases are wall-clock.

Test hook: with ``SYNCD_TEST_CRASH_AFTER_REMOTE_WRITE=1`` in the environment
the process exits (status 137, no cleanup) right after a writer returned and
before the outbox commits, as a crash would.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

import connectors
from connectors.base import Action, Writer
from syncd.config.schema import AccountConfig, Config
from syncd.core.errors import AuthRequired, TransientError, UserError
from syncd.core.faults import CRASH_ENV
from syncd.core.home import Home
from syncd.core.timeutil import iso
from syncd.followup import ledger
from syncd.followup.mailer import SmtpSender

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_BASE = 60
BACKOFF_CAP = 6 * 3600
AUTH_WAIT = 3600
LEASE_SECONDS = 600
KINDS = ("event.create", "event.remove", "mail.send")
_COLUMNS = (
    "seq, id, key, kind, target, payload, state, attempts, not_before, claimed_by,"
    " lease_until, remote_ref, last_error, created, updated, finished"
)


@dataclass(slots=True)
class OutboxRow:
    """One stored action."""

    seq: int
    id: str
    key: str
    kind: str
    target: str
    payload: dict[str, Any]
    state: str
    attempts: int
    not_before: int
    claimed_by: str | None
    lease_until: int | None
    remote_ref: str | None
    last_error: str | None
    created: int
    updated: int
    finished: int | None

    @classmethod
    def from_row(cls, row: tuple) -> OutboxRow:
        values = list(row)
        values[5] = json.loads(values[5])
        return cls(*values)

    def as_json(self) -> dict[str, Any]:
        """A JSON-able summary (without the payload, which may hold a whole message)."""
        return {
            "id": self.id,
            "key": self.key,
            "kind": self.kind,
            "target": self.target,
            "state": self.state,
            "attempts": self.attempts,
            "next_attempt": iso(self.not_before) if self.state == "pending" else None,
            "remote_ref": self.remote_ref,
            "last_error": self.last_error,
            "created": iso(self.created),
            "finished": iso(self.finished),
        }


@dataclass(slots=True)
class DrainStats:
    """What one drain did."""

    done: int = 0
    retrying: int = 0
    dead: int = 0
    waiting: int = 0
    expired: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, without personal data."""
        expired = f", {self.expired} expired" if self.expired else ""
        return (
            f"{self.done} done, {self.retrying} to retry, {self.dead} dead,"
            f" {self.waiting} waiting{expired}"
        )


# -- storing actions -------------------------------------------------------------------


def enqueue(
    db: sqlite_utils.Database,
    op: str,
    key: str,
    kind: str,
    target: str,
    payload: dict[str, Any],
    now: int,
) -> bool:
    """Store action ``op:key`` unless it exists (the caller owns the transaction).

    Returns whether a new action was stored.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown action kind {kind!r}")
    cur = db.execute(
        "INSERT OR IGNORE INTO outbox(id, key, kind, target, payload, not_before, created, updated)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [f"{op}:{key}", key, kind, target, json.dumps(payload, sort_keys=True), now, now, now],
    )
    return cur.rowcount > 0


def cancel(db: sqlite_utils.Database, action_id: str, now: int) -> bool:
    """Cancel a pending (not yet claimed) action; True when it was cancelled."""
    cur = db.execute(
        "UPDATE outbox SET state = 'cancelled', updated = ?, finished = ?"
        " WHERE id = ? AND state = 'pending'",
        [now, now, action_id],
    )
    return cur.rowcount > 0


def requeue(db: sqlite_utils.Database, action_id: str, payload: dict[str, Any], now: int) -> bool:
    """Make a waiting or dead action due now with a new ``payload`` (a dead one with fresh
    attempts); True when it was. For actions without a ledger row (mail); the caller owns
    the transaction. A running or finished action is left alone."""
    cur = db.execute(
        "UPDATE outbox SET payload = ?, state = 'pending', not_before = ?, updated = ?,"
        " attempts = CASE state WHEN 'dead' THEN 0 ELSE attempts END, finished = NULL,"
        " claimed_by = NULL, lease_until = NULL WHERE id = ? AND state IN ('pending', 'dead')",
        [json.dumps(payload, sort_keys=True), now, now, action_id],
    )
    return cur.rowcount > 0


def get(db: sqlite_utils.Database, action_id: str) -> OutboxRow | None:
    """The action with id ``action_id``."""
    row = db.execute(f"SELECT {_COLUMNS} FROM outbox WHERE id = ?", [action_id]).fetchone()
    return OutboxRow.from_row(row) if row else None


def rows(db: sqlite_utils.Database, states: tuple[str, ...] | None = None) -> list[OutboxRow]:
    """Stored actions (optionally in ``states``), oldest first."""
    sql = f"SELECT {_COLUMNS} FROM outbox"
    params: list[Any] = []
    if states:
        sql += f" WHERE state IN ({','.join('?' * len(states))})"
        params = list(states)
    return [OutboxRow.from_row(r) for r in db.execute(sql + " ORDER BY seq", params)]


def backlog(db: sqlite_utils.Database) -> int:
    """Actions waiting to run (pending or running): the figure ``syncd status`` shows."""
    return db.execute(
        "SELECT count(*) FROM outbox WHERE state IN ('pending', 'running')"
    ).fetchone()[0]


def count(
    db: sqlite_utils.Database, state: str | None = None, key_prefix: str | None = None
) -> int:
    """Stored actions (in ``state``; with a key starting ``key_prefix``): ``syncd outbox``
    shows how many are done, the digest numbers a forced resend."""
    sql, params = "SELECT count(*) FROM outbox WHERE 1", []
    if state is not None:
        sql += " AND state = ?"
        params.append(state)
    if key_prefix is not None:
        sql += " AND key LIKE ?"
        params.append(key_prefix + "%")
    return db.execute(sql, params).fetchone()[0]


def failing(db: sqlite_utils.Database, kinds: tuple[str, ...] = KINDS) -> tuple[int, int]:
    """``(retrying, dead)``: actions of ``kinds`` that failed and are not done yet -- waiting
    for a retry after a failed attempt, or dead letters."""
    marks = ",".join("?" * len(kinds))
    retrying, dead = db.execute(
        "SELECT count(*) FILTER (WHERE state = 'pending' AND last_error IS NOT NULL),"
        f" count(*) FILTER (WHERE state = 'dead') FROM outbox WHERE kind IN ({marks})",
        list(kinds),
    ).fetchone()
    return retrying, dead


def dead_letters(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Dead actions with their last error, for ``syncd status``."""
    return [r.as_json() for r in rows(db, ("dead",))]


def retry(db: sqlite_utils.Database, ids: list[str] | None, now: int) -> int:
    """Put dead actions (``ids``, or all of them) back in the queue with fresh attempts."""
    sql = (
        "UPDATE outbox SET state = 'pending', attempts = 0, not_before = ?, updated = ?,"
        " claimed_by = NULL, lease_until = NULL WHERE state = 'dead'"
    )
    params: list[Any] = [now, now]
    if ids is not None:
        sql += f" AND id IN ({','.join('?' * len(ids))})"
        params += ids
    with db.atomic():
        n = db.execute(sql, params).rowcount
        queued: dict[str, list[str]] = {"event.create": [], "event.remove": []}
        for key, kind in db.execute(
            "SELECT key, kind FROM outbox WHERE state = 'pending'"
            " AND kind IN ('event.create', 'event.remove') ORDER BY seq"
        ):
            queued[kind].append(key)
        ledger.mark_retrying(db, queued["event.create"], queued["event.remove"], now)
    return n


# -- running actions ---------------------------------------------------------------------


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _claimer_gone(claimed_by: str | None, lease_until: int | None, wall: int) -> bool:
    """Whether a running action's claimer has stopped (so the action may be reclaimed)."""
    if lease_until is None or lease_until < wall or not claimed_by:
        return True
    host, _, pid = claimed_by.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another machine: wait for the lease
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _claim_next(db: sqlite_utils.Database, now: int, skip: set[int]) -> OutboxRow | None:
    wall = int(time.time())
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        candidates = conn.execute(
            f"SELECT {_COLUMNS} FROM outbox o WHERE"
            " ((state = 'pending' AND not_before <= ?) OR state = 'running')"
            " AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.key = o.key AND p.seq < o.seq"
            " AND p.state IN ('pending', 'running'))"
            " ORDER BY seq",
            [now],
        ).fetchall()
        chosen = None
        for raw in candidates:
            row = OutboxRow.from_row(raw)
            if row.seq in skip:
                continue
            if row.state == "running":
                if not _claimer_gone(row.claimed_by, row.lease_until, wall):
                    continue
                log.warning("reclaiming outbox action %s (its claimer stopped)", row.id)
            chosen = row
            break
        if chosen is not None:
            conn.execute(
                "UPDATE outbox SET state = 'running', attempts = attempts + 1, claimed_by = ?,"
                " lease_until = ?, updated = ? WHERE seq = ?",
                [_owner(), wall + LEASE_SECONDS, now, chosen.seq],
            )
            chosen.attempts += 1
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return chosen


def _finish(db: sqlite_utils.Database, row: OutboxRow, ref: str | None, now: int) -> None:
    with db.atomic():
        db.execute(
            "UPDATE outbox SET state = 'done', remote_ref = ?, last_error = NULL, updated = ?,"
            " finished = ?, claimed_by = NULL, lease_until = NULL WHERE seq = ?",
            [ref, now, now, row.seq],
        )
        if row.kind == "event.create":
            ledger.mark_placed(db, row.key, ref, now)
        elif row.kind == "event.remove":
            ledger.mark_removed(db, row.key, now)


def _expired(row: OutboxRow, now: int) -> bool:
    expires = row.payload.get("expires")
    return isinstance(expires, int) and now >= expires


def _drop_expired(db: sqlite_utils.Database, row: OutboxRow, now: int) -> None:
    """Cancel a claimed action whose ``expires`` has passed, saying so in ``last_error``."""
    with db.atomic():
        db.execute(
            "UPDATE outbox SET state = 'cancelled', last_error = ?, updated = ?, finished = ?,"
            " claimed_by = NULL, lease_until = NULL WHERE seq = ?",
            [f"expired {iso(row.payload['expires'])} before it could run", now, now, row.seq],
        )


def _fail(db: sqlite_utils.Database, row: OutboxRow, exc: Exception, now: int) -> str:
    """Record a failed attempt; returns the new state (``pending`` or ``dead``)."""
    message = f"{type(exc).__name__}: {exc}"[:500]
    attempts = row.attempts
    if isinstance(exc, AuthRequired):
        state, delay, attempts = "pending", AUTH_WAIT, max(0, attempts - 1)
    elif isinstance(exc, UserError):
        state, delay = "dead", 0
    else:
        retry_after = getattr(exc, "retry_after", None) if isinstance(exc, TransientError) else None
        backoff = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
        delay = max(1, int(retry_after)) if retry_after else backoff
        state = "dead" if attempts >= MAX_ATTEMPTS else "pending"
    with db.atomic():
        db.execute(
            "UPDATE outbox SET state = ?, attempts = ?, not_before = ?, last_error = ?,"
            " updated = ?, finished = ?, claimed_by = NULL, lease_until = NULL WHERE seq = ?",
            [
                state,
                attempts,
                now + delay,
                message,
                now,
                now if state == "dead" else None,
                row.seq,
            ],
        )
        if state == "dead" and row.kind in ("event.create", "event.remove"):
            ledger.mark_failed(db, row.key, message, now)
    return state


WriterFactory = Callable[[str], Any]


def ics_target_account(target: str, config: Config) -> AccountConfig:
    """The account an ``ics:PATH`` target is written through: kind ``icsfile``,
    options ``path`` and ``timezone`` (``[planner] timezone``, else the config's)."""
    tz = config.section("planner").get("timezone") or config.timezone
    return AccountConfig(name=target, kind="icsfile", options={"path": target[4:], "timezone": tz})


def resolve_writer(target: str, home: Home, config: Config) -> Writer:
    """The writer for an outbox ``target``.

    Every connector target goes through the connector seam,
    :func:`connectors.open_writer` (the module's ``open_writer(account, home)``):
    ``account:NAME`` is the configured account NAME; ``ics:PATH`` a local .ics
    calendar, opened as the account :func:`ics_target_account` describes (kind
    ``icsfile``, :mod:`connectors.icsfile`), so a file and a remote calendar
    are opened alike. ``smtp`` is the SMTP mailer (:mod:`syncd.followup.mailer`).
    """
    if target.startswith("ics:"):
        return connectors.open_writer(ics_target_account(target, config), home)
    if target == "smtp":
        return SmtpSender.from_config(config, home)
    if target.startswith("account:"):
        name = target[8:]
        account = config.accounts.get(name)
        if account is None:
            raise UserError(f"outbox target {target!r}: no account named {name!r} in config.toml")
        return connectors.open_writer(account, home)
    raise UserError(f"unknown outbox target {target!r}")


def drain_outbox(
    db: sqlite_utils.Database,
    home: Home,
    config: Config,
    now: int,
    writers: Mapping[str, Any] | None = None,
    limit: int = 500,
) -> DrainStats:
    """Run every due action once (at most ``limit``), in order; see the module docstring.

    ``writers`` maps targets to writer objects (tests inject fakes); other
    targets are resolved with :func:`resolve_writer`.
    """
    stats = DrainStats()
    cache: dict[str, Any] = dict(writers or {})
    skip: set[int] = set()
    for _ in range(limit):
        row = _claim_next(db, now, skip)
        if row is None:
            break
        skip.add(row.seq)
        if _expired(row, now):
            _drop_expired(db, row, now)
            log.info("outbox action %s expired before it could run: dropped", row.id)
            stats.expired += 1
            continue
        action = Action(row.key, row.kind, row.payload)
        try:
            writer = cache.get(row.target)
            if writer is None:
                writer = cache[row.target] = resolve_writer(row.target, home, config)
            if row.kind == "event.remove":
                writer.remove(action, row.payload.get("remote_ref"))
                ref = None
            else:
                ref = writer.apply(action)
        except Exception as exc:
            state = _fail(db, row, exc, now)
            log.warning("outbox action %s failed (%s): %s", row.id, state, exc)
            stats.errors.append(f"{row.id}: {exc}")
            if state == "dead":
                stats.dead += 1
            else:
                stats.retrying += 1
            continue
        if os.environ.get(CRASH_ENV) == "1":
            os._exit(137)  # test hook: a crash between the remote write and the commit
        _finish(db, row, ref, now)
        stats.done += 1
    stats.waiting = backlog(db)
    return stats
