"""IMAP mail (any server: Fastmail, iCloud, Dovecot, Gmail over IMAP ...): headers only.

Folders come from LIST with their RFC 6154 special-use attributes:
``\\Drafts`` and ``\\Junk`` are never read (design.md §2.3), ``\\Trash`` is
(a deleted message was still an interaction), ``\\Noselect`` folders have no
messages. When the server has an ``\\All`` folder (Gmail's All Mail, which
holds every message once more), only it and ``\\Trash`` are read, so no
message is fetched twice; otherwise ``\\All`` would never be needed.

Each folder is opened read-only (EXAMINE) and only
``BODY.PEEK[HEADER.FIELDS (...)]`` (the kept headers), ``INTERNALDATE`` and
``FLAGS`` are fetched: never a body, and no flag changes (PEEK and EXAMINE
both keep ``\\Seen`` as it was). A message flagged ``\\Draft`` counts as a
draft.

Cursor per folder (scope ``imap:FOLDER``): ``uidvalidity``, ``last_uid``
(the highest UID stored), ``modseq`` (HIGHESTMODSEQ with CONDSTORE) and
``messages`` (how many it held). New mail is ``UID last_uid+1:*``, fetched in
UID batches, each batch's cursor committed with it (a kill -9 resumes after
the last committed batch). An unchanged folder (same UIDVALIDITY, UIDNEXT and
MESSAGES / HIGHESTMODSEQ) costs one EXAMINE. A changed UIDVALIDITY means the
server renumbered the folder: it is read again from UID 1 (copies already
stored are recognised by the ingest and not counted twice). Expunged and
moved messages: a moved message arrives as a new copy in its new folder and
is one logical message with the old copy; an expunged one stays an
interaction that happened (the contract counts deleted mail), the cursor's
``messages`` follows the folder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import imapclient

from connectors.base import Batch, Cursor, MailObservation, Quarantined, Reader, Writer
from connectors.imap_send import account_sender, smtp_server
from connectors.imap_session import ImapSettings, guarded, session
from syncd.config.schema import AccountConfig
from syncd.core.home import Home
from syncd.mail.metadata import KEPT_HEADERS, content_hash, scan_headers, summarize

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
BATCH_SIZE = 500
SKIPPED_USES = (b"\\drafts", b"\\junk")
NOT_SELECTABLE = (b"\\noselect", b"\\nonexistent")
HEADER_FIELDS = b"BODY.PEEK[HEADER.FIELDS (" + " ".join(KEPT_HEADERS).upper().encode() + b")]"
FETCH_ITEMS = [HEADER_FIELDS, b"INTERNALDATE", b"FLAGS"]


def scope_of(folder: str) -> str:
    """The cursor scope of a folder."""
    return f"imap:{folder}"


def choose_folders(listing: list[tuple[tuple[bytes, ...], Any, str]]) -> list[str]:
    """The folders to read from a LIST answer (see the module docstring)."""
    usable: list[tuple[set[bytes], str]] = []
    for flags, _delimiter, name in listing:
        lowered = {bytes(f).lower() for f in flags}
        if lowered & set(NOT_SELECTABLE) or lowered & set(SKIPPED_USES):
            continue
        usable.append((lowered, str(name)))
    if any(b"\\all" in flags for flags, _ in usable):
        return [name for flags, name in usable if flags & {b"\\all", b"\\trash"}]
    return [name for _, name in usable]


def _header_bytes(item: dict[bytes, Any]) -> bytes:
    for key, value in item.items():
        if key.startswith(b"BODY[") and isinstance(value, bytes | bytearray):
            return bytes(value)
    return b""


def _epoch(value: Any) -> int | None:
    if isinstance(value, datetime):
        return int(value.timestamp())
    return None


class ImapReader:
    """Reads the headers of every message of an IMAP account's folders."""

    def __init__(self, account: AccountConfig, home: Home, batch_size: int = BATCH_SIZE):
        self.account = account
        self.home = home
        self.batch_size = batch_size

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Messages not read yet (from STATUS; messages of a renumbered folder all count)."""
        total = 0
        with session(self.account, self.home) as (client, settings):
            for folder in choose_folders(guarded(settings, client.list_folders)):
                status = guarded(
                    settings,
                    lambda f=folder: client.folder_status(f, [b"UIDNEXT", b"UIDVALIDITY"]),
                )
                cursor = cursors.get(scope_of(folder)) or {}
                last = cursor.get("last_uid", 0)
                if cursor.get("uidvalidity") != status.get(b"UIDVALIDITY"):
                    last = 0
                total += max(0, int(status.get(b"UIDNEXT", 1)) - 1 - last)
        return total

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Yield batches of up to ``batch_size`` messages, folder by folder."""
        with session(self.account, self.home) as (client, settings):
            folders = choose_folders(guarded(settings, client.list_folders))
            log.debug("imap %s: %d folders to read", settings.name, len(folders))
            for folder in folders:
                yield from self._folder(client, settings, folder, cursors.get(scope_of(folder)))

    def _folder(
        self,
        client: imapclient.IMAPClient,
        settings: ImapSettings,
        folder: str,
        cursor: Cursor | None,
    ) -> Iterator[Batch]:
        scope = scope_of(folder)
        selected = guarded(settings, lambda: client.select_folder(folder, readonly=True))
        validity = int(selected.get(b"UIDVALIDITY", 0))
        uidnext = int(selected.get(b"UIDNEXT", 0))
        exists = int(selected.get(b"EXISTS", 0))
        modseq = selected.get(b"HIGHESTMODSEQ")
        modseq = int(modseq) if modseq is not None else None
        valid = bool(
            cursor and cursor.get("v") == CURSOR_VERSION and cursor.get("uidvalidity") == validity
        )
        if cursor and not valid:
            log.info("imap %s: folder renumbered (UIDVALIDITY changed): reading it again",
                     settings.name)  # fmt: skip
        last = int(cursor.get("last_uid", 0)) if valid and cursor else 0
        base = {"v": CURSOR_VERSION, "uidvalidity": validity, "modseq": modseq, "done": True}
        if valid and cursor and uidnext and uidnext - 1 <= last:
            if cursor.get("messages") != exists or cursor.get("modseq") != modseq:
                # Expunged or re-flagged: nothing to read, the cursor follows the folder.
                yield Batch(cursors={scope: {**base, "last_uid": last, "messages": exists}})
            return
        uids = [
            int(u)
            for u in guarded(settings, lambda: client.search(["UID", f"{last + 1}:*"]))
            if int(u) > last
        ]
        uids.sort()
        for start in range(0, len(uids), self.batch_size):
            chunk = uids[start : start + self.batch_size]
            answer = guarded(settings, lambda c=chunk: client.fetch(c, FETCH_ITEMS))
            batch = Batch(progress=len(chunk))
            for uid in chunk:
                item = answer.get(uid)
                locator = f"imap:{folder}:{validity}:{uid}"
                if item is None:
                    continue  # expunged between SEARCH and FETCH
                self._message(batch, folder, locator, item)
            done = start + self.batch_size >= len(uids)
            batch.cursors[scope] = {
                **base,
                "last_uid": chunk[-1],
                "messages": exists,
                "done": done,
                "modseq": modseq if done else None,
            }
            yield batch
        if not uids:
            top = max(last, uidnext - 1)
            yield Batch(cursors={scope: {**base, "last_uid": top, "messages": exists}})

    @staticmethod
    def _message(batch: Batch, folder: str, locator: str, item: dict[bytes, Any]) -> None:
        block = _header_bytes(item)
        headers = scan_headers(block) if block else {}
        if not headers:
            batch.quarantined.append(
                Quarantined(folder, locator, "no recognisable headers", block[:4096])
            )
            return
        flags = {bytes(f).lower() for f in item.get(b"FLAGS", ())}
        received = _epoch(item.get(b"INTERNALDATE"))
        obs = MailObservation(
            folder=folder,
            locator=locator,
            headers=headers,
            labels=("DRAFT",) if b"\\draft" in flags else (),
            received_at=received,
        )
        obs.summary = summarize(headers, received)
        obs.hash = content_hash(headers)
        batch.mail.append(obs)


def batch_size_option(account: AccountConfig) -> int:
    """The account's ``batch_size`` (messages per FETCH and per committed batch)."""
    return int(account.options.get("batch_size") or BATCH_SIZE)


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``imap`` account: the headers of its mail."""
    ImapSettings.of(account)  # refuse bad settings before anything connects
    return ImapReader(account, home, batch_size_option(account))


def open_writer(account: AccountConfig, home: Home) -> Writer:
    """The write side of an ``imap`` account: the digest by SMTP with its credentials
    (:mod:`connectors.imap_send`; ``[digest] via = "account:NAME"``)."""
    smtp_server(account)  # refuse bad settings before anything connects
    return account_sender(account, home)
