"""Gmail: message metadata through the Gmail API, never bodies; the digest through messages.send.

Reading needs only the ``gmail.metadata`` scope: ``messages.list`` for ids
and ``messages.get(format=metadata, metadataHeaders=[...])`` for the headers
of :data:`syncd.mail.metadata.KEPT_HEADERS`, in multipart batches. Bodies are
never requested (no ``format=full``/``raw``, no ``q``).

First sync: the historyId of the profile is noted, then two listings run
(everything but Spam and Trash, then Trash: deleted messages still were
interactions); each listed page's ids are fetched in batches. The cursor
(:class:`connectors.gmail_cursor.GmailCursor`) holds the listing's page token
and the ids of the page still to fetch, so an interrupted first sync resumes
where it stopped. Afterwards ``history.list`` from the noted historyId picks up
what changed (new messages, messages out of Spam); a 404 there (history too
old) is :class:`~syncd.core.errors.CursorExpired`.

A Gmail message is one copy with several labels: its folder is the first of
Inbox, Sent, its user labels, Trash (then Drafts, Spam, All Mail), and its
label ids travel along so Drafts and Spam are skipped (design.md §2 rule 3).
Gmail's categories (Promotions, Social, Updates, Forums) become source
signals only when the account option ``filter_categories`` is true.

Quota: every call is paced by :class:`connectors.google_pacing.Pacer` at the
documented unit costs. Listings and history records carry each id's threadId:
the ids of one thread waiting together are fetched with one ``threads.get``
(``format=metadata``, 10 units) when that is cheaper than one ``messages.get``
(5 units) each, i.e. from three messages on (:func:`fetch_plan`); only the
waiting ids are kept from the thread. Ids whose thread is unknown (a first sync
resumed from a cursor of an older syncd) go singly.

The seam (:mod:`connectors.base`): :func:`open_reader` reads a ``gmail``
account (scope ``gmail.metadata``); :func:`open_writer` sends mail through it
(the digest, ``mail.send`` actions of the outbox; scope ``gmail.send``).
:func:`observation` is the pure conversion of one ``messages.get`` resource,
also used to replay saved API responses (:mod:`connectors.gmail_json`).
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from connectors.base import Action, Batch, Cursor, MailObservation, Quarantined, Reader, Writer
from connectors.gmail_cursor import GmailCursor
from connectors.google_api import Call, GoogleClient, background, open_client
from connectors.google_auth import GMAIL_METADATA, GMAIL_SEND
from connectors.google_errors import BadRequest, Gone, GoogleApiError, NotFound, status_of
from connectors.outgoing import outgoing_message
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, CursorExpired, SyncdError, UserError
from syncd.core.home import Home
from syncd.mail.metadata import KEPT_HEADERS
from syncd.mail.touchpoints import skipped_folder

log = logging.getLogger(__name__)

SCOPE = "gmail"
COSTS = {"profile": 1, "labels": 1, "list": 5, "get": 5, "thread": 10, "history": 2, "send": 100}
DEFAULT_QUOTA = 15_000  # units per user per minute
METADATA_HEADERS = [
    "Message-ID",
    "Date",
    "From",
    "To",
    "Cc",
    "Bcc",
    "Subject",
    "In-Reply-To",
    "References",
    "Precedence",
    "List-Id",
    "List-Unsubscribe",
    "Auto-Submitted",
    "Return-Path",
    "Received",
]
_KEPT = frozenset(KEPT_HEADERS)
assert {h.lower() for h in METADATA_HEADERS} == _KEPT
SYSTEM_FOLDERS = {
    "INBOX": "INBOX",
    "SENT": "[Gmail]/Sent Mail",
    "TRASH": "[Gmail]/Trash",
    "DRAFT": "[Gmail]/Drafts",
    "SPAM": "[Gmail]/Spam",
}
ALL_MAIL = "[Gmail]/All Mail"
CATEGORY_SIGNALS = frozenset(
    {"CATEGORY_PROMOTIONS", "CATEGORY_SOCIAL", "CATEGORY_UPDATES", "CATEGORY_FORUMS"}
)
NOT_FETCHED = frozenset({"SPAM", "DRAFT"})  # new messages with these labels are skipped anyway
# First sync: everything except Spam and Trash, then Trash (deleted mail still counts).
LIST_PASSES: tuple[dict[str, Any], ...] = (
    {},
    {"labelIds": ["TRASH"], "includeSpamTrash": True},
)


# -- pure conversion -------------------------------------------------------------------------


def folder_for(label_ids: tuple[str, ...] | list[str], labels: dict[str, tuple[str, str]]) -> str:
    """The folder name a message's labels stand for (``labels``: id -> (name, type)).

    Inbox, Sent, user labels (by name), Trash, Drafts, Spam, in that order;
    the first one that is not a skipped folder wins, so a message filed both
    under a user label "Drafts" and the Inbox counts like a copy in the Inbox.
    """
    ids = set(label_ids)
    order = [SYSTEM_FOLDERS[x] for x in ("INBOX", "SENT") if x in ids]
    user = sorted(
        labels.get(x, (x, "user"))[0]
        for x in ids
        if x not in SYSTEM_FOLDERS
        and labels.get(x, (x, "system" if x.isupper() else "user"))[1] == "user"
    )
    order += user
    order += [SYSTEM_FOLDERS[x] for x in ("TRASH", "DRAFT", "SPAM") if x in ids]
    for name in order:
        if not skipped_folder(name):
            return name
    return order[0] if order else ALL_MAIL


def observation(
    message: dict[str, Any], labels: dict[str, tuple[str, str]], filter_categories: bool = False
) -> MailObservation | Quarantined:
    """A ``messages.get(format=metadata)`` resource as an observation (or quarantine)."""
    mid = str(message.get("id", ""))
    locator = f"gmail:{mid}"
    headers: dict[str, list[str]] = {}
    for h in (message.get("payload") or {}).get("headers") or []:
        name = str(h.get("name", "")).strip().lower()
        if name not in _KEPT or (name == "received" and name in headers):
            continue
        value = str(h.get("value", "")).replace("\r\n", "").replace("\n", "").strip()
        headers.setdefault(name, []).append(value)
    if not headers:
        return Quarantined(SCOPE, locator, "no headers in the metadata response")
    label_ids = tuple(str(x) for x in message.get("labelIds") or ())
    internal = str(message.get("internalDate", ""))
    received = int(internal) // 1000 if internal.isdigit() else None
    signals = (
        tuple(sorted(x for x in label_ids if x in CATEGORY_SIGNALS)) if filter_categories else ()
    )
    obs = MailObservation(
        folder=folder_for(label_ids, labels),
        locator=locator,
        headers=headers,
        labels=label_ids,
        signals=signals,
        received_at=received,
    )
    obs.summarized()
    return obs


def fetch_plan(ids: list[str], thread_of: dict[str, str]) -> list[tuple[str | None, list[str]]]:
    """The cheapest calls for ``ids``: ``(thread id, its ids)`` for one ``threads.get``
    where a thread has more ids than a ``threads.get`` costs ``messages.get`` calls,
    ``(None, [id])`` for one ``messages.get`` otherwise; in the order of ``ids``."""
    groups: dict[str, list[str]] = {}
    for mid in ids:
        groups.setdefault(thread_of.get(mid, "\0" + mid), []).append(mid)
    plan: list[tuple[str | None, list[str]]] = []
    for tid, members in groups.items():
        if not tid.startswith("\0") and len(members) * COSTS["get"] > COSTS["thread"]:
            plan.append((tid, members))
        else:
            plan += [(None, [m]) for m in members]
    return plan


def plan_units(plan: list[tuple[str | None, list[str]]]) -> int:
    """Quota units of a :func:`fetch_plan`."""
    return sum(COSTS["get"] if tid is None else COSTS["thread"] for tid, _ in plan)


# -- the reader ------------------------------------------------------------------------------------


class GmailReader:
    """Reads one Gmail mailbox's message metadata (see the module docstring)."""

    def __init__(self, client: GoogleClient, filter_categories: bool = False):
        self.client = client
        self.filter_categories = filter_categories
        self.labels: dict[str, tuple[str, str]] | None = None  # labels.list, on first need
        self.seen: set[str] = set()  # ids fetched by this reader
        self.thread_of: dict[str, str] = {}  # id -> threadId, from listings and history
        self.owner: tuple[str, ...] = ()  # the profile address, until a batch carries it
        self.users = client.service.users()  # building resources is slow: once
        self.messages = self.users.messages()
        self.history = self.users.history()
        self.threads = self.users.threads()

    # -- requests --------------------------------------------------------------------------

    def _profile(self) -> dict[str, Any]:
        return self.client.execute(
            lambda: self.users.getProfile(userId="me"), COSTS["profile"], "users.getProfile"
        )

    def _load_labels(self) -> dict[str, tuple[str, str]]:
        """The mailbox's labels, listed once per reader and only when a message is fetched
        (an idle sync costs its ``history.list`` alone)."""
        if self.labels is not None:
            return self.labels
        try:
            resp = self.client.execute(
                lambda: self.users.labels().list(userId="me"), COSTS["labels"], "labels.list"
            )
        except GoogleApiError as exc:  # user labels then go by their ids; nothing else needs it
            log.warning("gmail %s: labels.list failed (HTTP %s)", self.client.account, exc.status)
            resp = {}
        self.labels = label_table(resp.get("labels", []))
        return self.labels

    def _get(self, mid: str) -> Any:
        return self.messages.get(
            userId="me", id=mid, format="metadata", metadataHeaders=METADATA_HEADERS
        )

    def _thread(self, tid: str) -> Any:
        return self.threads.get(
            userId="me", id=tid, format="metadata", metadataHeaders=METADATA_HEADERS
        )

    def _note_threads(self, messages: list[dict[str, Any]]) -> None:
        for m in messages:
            if m.get("threadId"):
                self.thread_of[str(m["id"])] = str(m["threadId"])

    # -- the protocol ------------------------------------------------------------------------

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Messages still to fetch in a first sync (0 once it is done, or unknown)."""
        cursor = GmailCursor.from_json(cursors.get(SCOPE))
        if cursor is not None and cursor.incremental:
            return 0
        try:
            total = int(self._profile().get("messagesTotal", 0))
        except SyncdError:
            return 0
        done = cursor.fetched if cursor is not None else 0
        return max(total - done, 0)

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Batches of observations, each with the cursor valid once it is stored."""
        self.client.stop = threading.Event()
        cursor = GmailCursor.from_json(cursors.get(SCOPE))
        yield from background(lambda: self._produce(cursor), self.client.stop)

    def _produce(self, cursor: GmailCursor | None) -> Iterator[Batch]:
        if cursor is None:
            profile = self._profile()
            cursor = GmailCursor(history_id=str(profile["historyId"]))
            if profile.get("emailAddress"):
                self.owner = (str(profile["emailAddress"]),)
        self.thread_of.update(cursor.threads)  # a resumed first sync keeps its threads
        first = not cursor.incremental
        if first:
            yield from self._full(cursor)
        yield from self._incremental(cursor, first)

    def _batch(self, state: GmailCursor, **extra: Any) -> Batch:
        # The profile's address (known on a first sync) travels with the next batch.
        owner, self.owner = self.owner, ()
        state.threads = {m: self.thread_of[m] for m in state.pending if m in self.thread_of}
        return Batch(cursors={SCOPE: state.to_json()}, owner_addresses=owner, **extra)

    def _drain(self, state: GmailCursor) -> Iterator[Batch]:
        """Fetch the pending ids, one API batch per :class:`Batch` (threads where cheaper)."""
        while state.pending:
            labels = self._load_labels()
            budget = self.client.next_batch_size(COSTS["get"]) * COSTS["get"]
            plan = fetch_plan(state.pending, self.thread_of)
            chunk: list[tuple[str | None, list[str]]] = []
            units = 0
            for step in plan:
                units += plan_units([step])
                if chunk and units > budget:
                    break
                chunk.append(step)
            mail: list[MailObservation] = []
            bad: list[Quarantined] = []
            calls = [
                Call(("thread", tid), (lambda t=tid: self._thread(t)), COSTS["thread"])
                if tid is not None
                else Call(members[0], (lambda m=members[0]: self._get(m)), COSTS["get"])
                for tid, members in chunk
            ]
            wanted = {("thread", tid): set(members) for tid, members in chunk if tid is not None}
            for key, response, exc in self.client.batch(calls, "messages.get/threads.get"):
                if exc is None:
                    messages = (
                        [m for m in response.get("messages") or [] if m.get("id") in wanted[key]]
                        if key in wanted
                        else [response]
                    )
                    for message in messages:
                        obs = observation(message, labels, self.filter_categories)
                        (mail if isinstance(obs, MailObservation) else bad).append(obs)
                elif isinstance(exc, NotFound | Gone):
                    continue  # deleted since it was listed
                else:
                    for mid in wanted.get(key, [key]):
                        bad.append(
                            Quarantined(
                                SCOPE,
                                f"gmail:{mid}",
                                f"{'threads' if key in wanted else 'messages'}.get failed:"
                                f" HTTP {status_of(exc)}",
                            )
                        )
            done = {mid for _, members in chunk for mid in members}
            self.seen |= done
            state.pending = [m for m in state.pending if m not in done]
            state.fetched += len(done)
            for mid in done:
                self.thread_of.pop(mid, None)
            yield self._batch(state, mail=mail, quarantined=bad, progress=len(done))

    def _full(self, state: GmailCursor) -> Iterator[Batch]:
        while True:
            if state.pending:
                yield from self._drain(state)
                continue
            if state.listed and not state.page_token:
                state.pass_index += 1
                state.listed = False
            if state.pass_index >= len(LIST_PASSES):
                break
            params = dict(LIST_PASSES[state.pass_index])
            if state.page_token:
                params["pageToken"] = state.page_token
            size = self.client.settings.page_size
            try:
                resp = self.client.execute(
                    lambda p=params, n=size: self.messages.list(userId="me", maxResults=n, **p),
                    COSTS["list"],
                    "messages.list",
                )
            except BadRequest:
                if state.page_token:
                    raise CursorExpired("Gmail no longer accepts the saved page token") from None
                raise
            self._note_threads(resp.get("messages", []))
            state.pending = [str(m["id"]) for m in resp.get("messages", [])]
            state.page_token = resp.get("nextPageToken")
            state.listed = True
            if not state.pending:
                yield self._batch(state)
        state.phase, state.pending, state.page_token, state.listed = "incremental", [], None, False
        log.info("gmail %s: first sync done (%d messages)", self.client.account, state.fetched)
        yield self._batch(state)

    def _catch_up(self, state: GmailCursor) -> None:
        """After a first sync whose start historyId the server no longer knows: continue
        from the current one, fetching the newest messages this reader has not seen."""
        state.history_id = str(self._profile()["historyId"])
        wanted: dict[str, None] = {}
        for params in LIST_PASSES:
            resp = self.client.execute(
                lambda p=params, n=self.client.settings.page_size: self.messages.list(
                    userId="me", maxResults=n, **p
                ),
                COSTS["list"],
                "messages.list",
            )
            self._note_threads(resp.get("messages", []))
            for m in resp.get("messages", []):
                if str(m["id"]) not in self.seen:
                    wanted[str(m["id"])] = None
        state.pending = list(wanted)
        log.warning(
            "gmail %s: history since the first sync is gone; caught up with %d new messages",
            self.client.account,
            len(wanted),
        )

    def _incremental(self, state: GmailCursor, first: bool = False) -> Iterator[Batch]:
        more = True
        while more or state.pending:
            if state.pending:
                yield from self._drain(state)
                continue
            start = state.history_id
            try:
                resp = self.client.execute(
                    lambda s=start, n=self.client.settings.page_size: self.history.list(
                        userId="me",
                        startHistoryId=s,
                        maxResults=n,
                        historyTypes=["messageAdded", "labelRemoved"],
                    ),
                    COSTS["history"],
                    "history.list",
                )
            except NotFound:
                if not first:
                    raise CursorExpired("Gmail history id is too old: full sync needed") from None
                # Right after a first sync a second full sync would cost as much again.
                first = False
                self._catch_up(state)
                yield self._batch(state)
                continue
            records = resp.get("history", [])
            more = bool(resp.get("nextPageToken")) and bool(records)
            wanted: dict[str, None] = {}
            for rec in records:
                for entry in rec.get("messagesAdded", []):
                    msg = entry.get("message", {})
                    if not NOT_FETCHED & set(msg.get("labelIds", [])):
                        wanted[str(msg["id"])] = None
                        self._note_threads([msg])
                for entry in rec.get("labelsRemoved", []):
                    msg = entry.get("message", {})
                    if "SPAM" in entry.get("labelIds", []) and "SPAM" not in msg.get(
                        "labelIds", []
                    ):
                        wanted[str(msg["id"])] = None
                        self._note_threads([msg])
            new_id = str(records[-1]["id"] if more else resp.get("historyId", start))
            changed = new_id != start
            state.history_id = new_id
            state.pending = list(wanted)
            if changed and not wanted:
                yield self._batch(state)


def label_table(resources: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """``labels.list`` resources as ``{id: (name, type)}`` (type lower-case), for folder_for."""
    return {
        str(x["id"]): (str(x.get("name", x["id"])), str(x.get("type", "user")).lower())
        for x in resources
        if isinstance(x, dict) and x.get("id") is not None
    }


def filter_categories_option(account: AccountConfig) -> bool:
    """The account option ``filter_categories`` (default false), checked."""
    flag = account.options.get("filter_categories", False)
    if not isinstance(flag, bool):
        raise UserError(f"account {account.name}: filter_categories must be true or false")
    return flag


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``gmail`` account (its grant needs ``gmail.metadata``)."""
    flag = filter_categories_option(account)
    client = open_client(account, home, "gmail", "v1", DEFAULT_QUOTA, [GMAIL_METADATA])
    return GmailReader(client, filter_categories=flag)


# -- sending (the digest) ----------------------------------------------------------------------


class GmailSender:
    """Sends mail through ``users.messages.send`` (the ``gmail.send`` scope), idempotently.

    A message keeps its Message-ID (one derived from the key is added when it
    has none); before sending, the newest Sent messages are checked for it
    (metadata only), so a retry after a crash does not send twice.
    """

    def __init__(self, client: GoogleClient, check_recent: int = 10):
        self.client = client
        self.check_recent = check_recent
        self.users = client.service.users()
        self.messages = self.users.messages()

    def _already_sent(self, message_id: str) -> str | None:
        try:
            resp = self.client.execute(
                lambda: self.messages.list(
                    userId="me", labelIds=["SENT"], maxResults=self.check_recent
                ),
                COSTS["list"],
                "messages.list",
            )
            calls = [
                Call(
                    m["id"],
                    lambda m=m: self.messages.get(
                        userId="me", id=m["id"], format="metadata", metadataHeaders=["Message-ID"]
                    ),
                    COSTS["get"],
                )
                for m in resp.get("messages", [])
            ]
            for mid, response, exc in self.client.batch(calls, "messages.get"):
                if exc is not None:
                    continue
                for h in (response.get("payload") or {}).get("headers") or []:
                    name, value = h.get("name", "").lower(), h.get("value", "").strip()
                    if name == "message-id" and value == message_id:
                        return str(mid)
        except (GoogleApiError, AuthRequired):  # no metadata scope: send without the check
            return None
        return None

    def send(self, message: EmailMessage | bytes | str, key: str) -> str:
        """Send ``message`` once per ``key``; return the Gmail message id."""
        msg, wanted = outgoing_message(message, key)
        found = self._already_sent(wanted)
        if found:
            log.info("gmail %s: this message was sent already", self.client.account)
            return found
        raw = base64.urlsafe_b64encode(msg.as_bytes(policy=SMTP)).decode()
        try:
            resp = self.client.execute(
                lambda: self.messages.send(userId="me", body={"raw": raw}),
                COSTS["send"],
                "messages.send",
            )
        except GoogleApiError as exc:
            raise SyncdError(f"Gmail refused the message: HTTP {exc.status}") from None
        return str(resp["id"])

    # -- the outbox's Writer protocol

    def apply(self, action: Action) -> str:
        """Send the message of a ``mail.send`` action (payload ``message``: RFC 5322 text)."""
        if action.kind != "mail.send":
            raise UserError(f"the Gmail sender cannot perform {action.kind!r}")
        message = action.payload.get("message")
        if not isinstance(message, str | bytes):
            raise UserError("a mail.send action needs payload['message'] (the message as text)")
        return self.send(message, action.key)

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Sent mail cannot be recalled."""
        raise UserError("sent mail cannot be removed")


def open_writer(account: AccountConfig, home: Home) -> Writer:
    """The write side of a configured ``gmail`` account: a :class:`GmailSender` (the digest,
    outbox target ``account:NAME``); its grant needs ``gmail.send``."""
    return GmailSender(open_client(account, home, "gmail", "v1", DEFAULT_QUOTA, [GMAIL_SEND]))
