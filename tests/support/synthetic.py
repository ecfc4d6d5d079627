"""Write a synthetic network straight into a store: for tests and benchmarks of the rules.

This bypasses parsing and ingest (covered elsewhere) and writes the rows ingest
would write: people and addresses, logical messages with their touchpoints,
events with meeting touchpoints. Touchpoints go through
:func:`syncd.pipeline.ingest.insert_touchpoints`, as ingest's do, so incremental
evaluation sees them exactly as it sees real imports. :func:`evaluate` runs the
engine reading my addresses as syncd's callers do.
"""

from __future__ import annotations

import json

import sqlite_utils

from rules import engine
from rules.settings import RulesConfig
from syncd.core.keys import key64
from syncd.mail.addresses import match_key
from syncd.mail.metadata import message_id_key
from syncd.pipeline.identity import my_keys, pin_tier
from syncd.pipeline.ingest import insert_touchpoints

ME = "me@example.com"


def evaluate(
    db: sqlite_utils.Database,
    now: int,
    config: RulesConfig,
    full: bool = False,
    rebuild: bool = False,
) -> engine.Report:
    """:func:`rules.engine.evaluate` with my addresses read by ``identity.my_keys``."""
    return engine.evaluate(db, now, config, full, rebuild, my_keys=my_keys)


class World:
    """A tiny builder over one store; every method commits its own rows."""

    def __init__(self, db: sqlite_utils.Database, me: str = ME):
        self.db = db
        self.me = me
        with db.atomic():
            db.execute(
                "INSERT OR IGNORE INTO my_addresses(match_key, address, source) VALUES (?, ?, ?)",
                [match_key(me), me, "user"],
            )
        self._person: dict[str, int] = {}
        self._serial = 0

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def person(self, address: str, name: str | None = None) -> int:
        """The id of the person with ``address`` (created on first use)."""
        if address in self._person:
            return self._person[address]
        row = self.db.execute(
            "SELECT person_id FROM addresses WHERE address = ?", [address]
        ).fetchone()
        if row:
            self._person[address] = row[0]
            return row[0]
        with self.db.atomic():
            pid = self.db.execute("INSERT INTO people(name) VALUES (?)", [name]).lastrowid
            self.db.execute(
                "INSERT INTO addresses(address, match_key, person_id, name) VALUES (?, ?, ?, ?)",
                [address, match_key(address), pid, name],
            )
        self._person[address] = pid
        return pid

    def alias(self, person: int, address: str) -> None:
        """Give ``person`` another address."""
        with self.db.atomic():
            self.db.execute(
                "INSERT INTO addresses(address, match_key, person_id) VALUES (?, ?, ?)",
                [address, match_key(address), person],
            )
        self._person[address] = person

    def _message(
        self,
        sender: str,
        to: list[str],
        cc: list[str],
        at: int,
        subject: str,
        in_reply_to: str | None,
        thread_root: str | None,
        message_id: str | None,
        touch: list[tuple[str, str]],
    ) -> int:
        for address in {a for _, a in touch}:
            self.person(address)
        with self.db.atomic():
            mid = self.db.execute(
                "INSERT INTO messages(canonical_hash, sender, sent_at, subject, recipients,"
                " in_reply_to, thread_root) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    f"synthetic-{self._next()}",
                    sender,
                    at,
                    subject,
                    json.dumps({"to": to, "cc": cc, "bcc": []}),
                    in_reply_to,
                    thread_root,
                ],
            ).lastrowid
            if message_id:
                self.db.execute(
                    "INSERT INTO message_keys(key, message_id) VALUES (?, ?)",
                    [key64(message_id_key(message_id)), mid],
                )
            insert_touchpoints(self.db, [(kind, mid, address, at, None) for kind, address in touch])
        return mid

    def mail_in(
        self,
        sender: str,
        at: int,
        subject: str = "hello",
        cc_me: bool = False,
        in_reply_to: str | None = None,
        thread_root: str | None = None,
        message_id: str | None = None,
    ) -> int:
        """A message from ``sender`` to me (in To, or in Cc with ``cc_me``)."""
        to, cc = ([], [self.me]) if cc_me else ([self.me], [])
        return self._message(
            sender,
            to,
            cc,
            at,
            subject,
            in_reply_to,
            thread_root,
            message_id,
            [("email_in", sender)],
        )

    def mail_out(
        self,
        to: str | list[str],
        at: int,
        subject: str = "hello",
        in_reply_to: str | None = None,
        thread_root: str | None = None,
        message_id: str | None = None,
    ) -> int:
        """A message from me to ``to``."""
        to = [to] if isinstance(to, str) else list(to)
        return self._message(
            self.me,
            to,
            [],
            at,
            subject,
            in_reply_to,
            thread_root,
            message_id,
            [("email_out", a) for a in to],
        )

    def meeting(self, attendees: str | list[str], end: int, title: str = "meeting") -> int:
        """A meeting with ``attendees`` ending at ``end`` (future ends are upcoming)."""
        attendees = [attendees] if isinstance(attendees, str) else list(attendees)
        for address in attendees:
            self.person(address)
        with self.db.atomic():
            account = self.db.execute("SELECT id FROM accounts WHERE name = 'synthetic'").fetchone()
            if account is None:
                account_id = self.db.execute(
                    "INSERT INTO accounts(name, kind) VALUES ('synthetic', 'local')"
                ).lastrowid
            else:
                account_id = account[0]
            next_id = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM events").fetchone()[0]
            eid = self.db.execute(
                "INSERT INTO events(key, account_id, scope, content_hash, version, start, end,"
                " status, organizer, attendees, summary) VALUES (?, ?, 'cal', '', '[]', ?, ?,"
                " 'CONFIRMED', ?, ?, ?)",
                [
                    f"synthetic-{next_id}",
                    account_id,
                    end - 3600,
                    end,
                    self.me,
                    json.dumps([[a, "INDIVIDUAL", "ACCEPTED", ""] for a in attendees]),
                    title,
                ],
            ).lastrowid
            insert_touchpoints(self.db, [("meeting", eid, a, end, None) for a in attendees])
        return eid

    def delete_message(self, mid: int) -> None:
        """Remove a message's touchpoints (as a re-derivation that drops them would)."""
        with self.db.atomic():
            self.db.execute(
                "DELETE FROM touchpoints WHERE kind IN ('email_in', 'email_out') AND ref = ?",
                [mid],
            )

    def pin(self, person: int, tier: str | None) -> None:
        """Pin (or unpin, with ``None``) a person's tier."""
        pin_tier(self.db, person, tier)
