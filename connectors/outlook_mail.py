"""Outlook mail through Microsoft Graph: per-folder ``messages/delta``, metadata only.

Every mail folder (child folders included) is read with its own delta query,
``$select`` naming just the properties the touchpoint contract needs plus
``internetMessageHeaders`` (List-Id, Precedence, Auto-Submitted ... for the bulk
rules); never a body property (``Mail.ReadBasic`` would refuse one anyway).
``Prefer: odata.maxpagesize`` sets the page size. After each page the
``@odata.nextLink`` (or, at the end of a round, the ``@odata.deltaLink``) is the
folder's cursor, committed with that page: an interrupted first sync resumes at
the next page, later syncs read only what changed. ``@removed`` entries are
counted and left alone (a deleted message was still an interaction). A 410 /
``syncStateNotFound`` restarts that folder's delta from the beginning.

Well-known folders are found by name in one ``$batch``: Drafts and Junk Email
are skipped (not even read), Deleted Items is kept, whatever their display
names in the user's language. Their ids never change, so they are kept in a
cursor of their own (:data:`FOLDERS_SCOPE`), as is the fact that the owner's
address (``GET /me``) was taken: a sync with no news costs the folder listing
and one delta request per folder. With the account option ``filter_other``,
messages Focused Inbox files under *Other* (``inferenceClassification``) carry
the source signal ``OUTLOOK_OTHER`` and make no touchpoint (audited apart, like
Gmail's categories).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from connectors.base import Batch, Cursor, MailObservation, Quarantined
from connectors.graph_api import Gone, GraphClient, GraphError, NotFound, interleave
from syncd.core.errors import CursorExpired, UserError
from syncd.core.timeutil import parse_instant
from syncd.mail.metadata import KEPT_HEADERS

log = logging.getLogger(__name__)

CURSOR_VERSION = 1
SCOPE_PREFIX = "outlook:mail:"
FOLDERS_SCOPE = "outlook:folders"  # {"v": 1, "well_known": {id: name}, "owner": [...]}
SELECT = (
    "internetMessageId",
    "from",
    "sender",
    "toRecipients",
    "ccRecipients",
    "bccRecipients",
    "sentDateTime",
    "receivedDateTime",
    "subject",
    "isDraft",
    "parentFolderId",
    "conversationId",
    "internetMessageHeaders",
)
OTHER_SIGNAL = "OUTLOOK_OTHER"
# Well-known folder names -> the contract's folder names (Drafts and Junk are skipped).
WELL_KNOWN = {
    "inbox": "Inbox",
    "sentitems": "Sent Items",
    "deleteditems": "Deleted Items",
    "archive": "Archive",
    "drafts": "Drafts",
    "junkemail": "Junk Email",
}
NOT_READ = frozenset({"drafts", "junkemail"})
_KEPT = frozenset(KEPT_HEADERS)
_STRUCTURED = ("from", "to", "cc", "bcc")


def scope_of(folder_id: str) -> str:
    """The cursor scope of one mail folder."""
    return SCOPE_PREFIX + folder_id


def _address_list(items: Any) -> str:
    out = []
    for item in items or []:
        email = (item or {}).get("emailAddress") or {}
        address = str(email.get("address") or "").strip()
        if not address:
            continue
        name = str(email.get("name") or "").replace('"', "").strip()
        out.append(f'"{name}" <{address}>' if name and name != address else address)
    return ", ".join(out)


def _flat(value: Any) -> str:
    return str(value or "").replace("\r", "").replace("\n", "").strip()


def message_headers(message: dict[str, Any]) -> dict[str, list[str]]:
    """The kept headers of a Graph message.

    When ``internetMessageHeaders`` holds the message's header block (it has a From),
    those values are used as they are, exactly what an mbox export of the message
    holds (a missing Date then falls back to Received there and here alike). Messages
    composed in the mailbox (Sent Items) have no header block: their headers are
    rebuilt from the structured properties."""
    headers: dict[str, list[str]] = {}
    for h in message.get("internetMessageHeaders") or []:
        name = str((h or {}).get("name", "")).strip().lower()
        if name not in _KEPT or (name == "received" and name in headers):
            continue
        headers.setdefault(name, []).append(_flat(h.get("value")))
    if "from" in headers:
        return headers
    structured = {
        "from": _address_list([message.get("from") or message.get("sender")]),
        "to": _address_list(message.get("toRecipients")),
        "cc": _address_list(message.get("ccRecipients")),
        "bcc": _address_list(message.get("bccRecipients")),
    }
    for name in _STRUCTURED:
        if name not in headers and structured[name]:
            headers[name] = [structured[name]]
    if "message-id" not in headers and message.get("internetMessageId"):
        headers["message-id"] = [_flat(message["internetMessageId"])]
    if "subject" not in headers and message.get("subject") is not None:
        headers["subject"] = [_flat(message.get("subject"))]
    if "date" not in headers and message.get("sentDateTime"):
        try:
            when = datetime.fromtimestamp(parse_instant(str(message["sentDateTime"])), UTC)
            headers["date"] = [format_datetime(when)]
        except UserError:
            pass
    return headers


def observation(
    message: dict[str, Any], folder: str, filter_other: bool = False
) -> MailObservation | Quarantined:
    """A Graph message (``$select`` of :data:`SELECT`) as an observation, or quarantined."""
    mid = str(message.get("id", ""))
    locator = f"outlook:{mid}"
    headers = message_headers(message)
    if not headers:
        scope = scope_of(str(message.get("parentFolderId", "")))
        return Quarantined(scope, locator, "message without any header or address")
    received = None
    if message.get("receivedDateTime"):
        try:
            received = parse_instant(str(message["receivedDateTime"]))
        except UserError:
            received = None
    signals: tuple[str, ...] = ()
    if filter_other and str(message.get("inferenceClassification", "")).lower() == "other":
        signals = (OTHER_SIGNAL,)
    obs = MailObservation(
        folder="Drafts" if message.get("isDraft") is True else folder,
        locator=locator,
        headers=headers,
        signals=signals,
        received_at=received,
    )
    obs.summarized()
    return obs


class OutlookMailReader:
    """Reads one mailbox's message metadata, folder by folder (see the module docstring)."""

    def __init__(self, client: GraphClient, page_size: int = 100, filter_other: bool = False):
        self.client = client
        self.page_size = page_size
        self.filter_other = filter_other
        self.select = SELECT + (("inferenceClassification",) if filter_other else ())
        self.known: dict[str, str] | None = None  # well_known(), once per mailbox

    # -- folders ---------------------------------------------------------------------

    def well_known(self) -> dict[str, str]:
        """Folder id -> well-known name, found in one ``$batch`` (or from the cursor)."""
        if self.known is not None:
            return self.known
        names = list(WELL_KNOWN)
        calls = [{"method": "GET", "url": f"/me/mailFolders/{n}?$select=id"} for n in names]
        try:
            answers = self.client.batch(calls, "mailFolders (well-known)")
        except GraphError as exc:  # a server without $batch: one request each
            log.info("outlook %s: no $batch (HTTP %s)", self.client.account, exc.status)
            answers = [self._single(call["url"]) for call in calls]
        out = {}
        for name, answer in zip(names, answers, strict=True):
            if answer.get("status") == 200 and isinstance(answer.get("body"), dict):
                out[str(answer["body"]["id"])] = name
            elif answer.get("status") == 401:
                raise self.client._auth_required("HTTP 401 in a $batch")
        self.known = out
        return out

    def _single(self, url: str) -> dict[str, Any]:
        try:
            return {"status": 200, "body": self.client.get(url.lstrip("/"), "mailFolders")}
        except GraphError as exc:
            return {"status": exc.status, "body": None}

    def _folder_pages(self, path: str, top: bool) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client.pages(path, params={"$top": "100"}, what="mailFolders")
        except NotFound:
            if top:
                raise
            log.info("outlook %s: a folder's children cannot be listed", self.client.account)

    def folders(self) -> list[tuple[str, str]]:
        """``(folder id, folder name)`` of every folder to read, parents first; Drafts and
        Junk Email left out. Well-known folders carry their English names."""
        known = self.well_known()
        out: list[tuple[str, str]] = []
        todo: list[tuple[str, str]] = [("me/mailFolders", "")]
        while todo:
            path, prefix = todo.pop(0)
            for page in self._folder_pages(path, top=not prefix):
                for f in page.get("value", []):
                    fid = str(f.get("id", ""))
                    wk = known.get(fid)
                    name = WELL_KNOWN[wk] if wk else prefix + str(f.get("displayName") or fid)
                    if wk in NOT_READ:
                        continue
                    out.append((fid, name))
                    children = f.get("childFolderCount")
                    if children is None or int(children) > 0:  # unknown: look
                        todo.append(
                            (f"me/mailFolders/{quote(fid, safe='')}/childFolders", name + "/")
                        )
        return out

    # -- the protocol ------------------------------------------------------------------

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Unknown before the folders are read: 0."""
        return 0

    def owner(self) -> tuple[str, ...]:
        """The mailbox's own address(es), from ``GET /me``."""
        try:
            me = self.client.get("me", "GET /me", params={"$select": "mail,userPrincipalName"})
        except GraphError as exc:  # the account's configured addresses still count
            log.info("outlook %s: GET /me failed (HTTP %s)", self.client.account, exc.status)
            me = {}
        me = me or {}
        found = {str(me.get(k) or "").strip().lower() for k in ("mail", "userPrincipalName")}
        return tuple(sorted(a for a in found if "@" in a))

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """One batch per delta page of each folder, its cursor the page's next link.
        Folders are read side by side, as many at once as the mailbox's concurrency
        allows (each folder's pages in order). The first batch also carries the owner's
        address and the well-known folders' cursor when they were fetched this time."""
        saved = cursors.get(FOLDERS_SCOPE) or {}
        fresh = saved.get("v") != CURSOR_VERSION or not isinstance(saved.get("well_known"), dict)
        if not fresh:
            self.known = {str(k): str(v) for k, v in saved["well_known"].items()}
        owner = self.owner() if fresh else ()
        producers = [
            (lambda fid=fid, name=name: self._folder(fid, name, cursors.get(scope_of(fid))))
            for fid, name in self.folders()
        ]
        extra = {FOLDERS_SCOPE: {"v": CURSOR_VERSION, "well_known": self.known}} if fresh else {}
        workers = self.client.settings.concurrency
        for batch in interleave(producers, self.client.stop, workers):
            if owner:
                batch.owner_addresses, owner = owner, ()
            if extra:
                batch.cursors.update(extra)
                extra = {}
            yield batch

    def _first_link(self, fid: str) -> str:
        select = ",".join(self.select)
        return f"me/mailFolders/{quote(fid, safe='')}/messages/delta?$select={select}"

    def _folder(self, fid: str, name: str, cursor: Cursor | None) -> Iterator[Batch]:
        scope = scope_of(fid)
        valid = bool(cursor and cursor.get("v") == CURSOR_VERSION and cursor.get("link"))
        link = str(cursor["link"]) if valid and cursor else self._first_link(fid)
        restarted = False
        prefer = {"Prefer": f"odata.maxpagesize={self.page_size}"}
        while link:
            try:
                page = self.client.get(link, f"messages/delta of {name}", headers=prefer) or {}
            except Gone:
                if restarted:
                    raise CursorExpired(f"Outlook folder {name}: delta state lost twice") from None
                log.info(
                    "outlook %s: delta state of a folder expired; reading it again",
                    self.client.account,
                )
                link, restarted = self._first_link(fid), True
                continue
            except NotFound:
                log.info("outlook %s: a folder disappeared during the sync", self.client.account)
                return
            mail: list[MailObservation] = []
            bad: list[Quarantined] = []
            removed = 0
            for item in page.get("value", []):
                if "@removed" in item:
                    removed += 1
                    continue
                obs = observation(item, name, self.filter_other)
                (mail if isinstance(obs, MailObservation) else bad).append(obs)  # type: ignore[arg-type]
            following = page.get("@odata.nextLink")
            final = page.get("@odata.deltaLink")
            if not following and not final:
                raise GraphError(500, "noLink", "a delta page without nextLink or deltaLink")
            new = {"v": CURSOR_VERSION, "link": following or final, "round_done": bool(final)}
            yield Batch(
                mail=mail, quarantined=bad, cursors={scope: new}, progress=len(mail) + removed
            )
            link = following or ""
