"""A Microsoft Graph v1.0 emulator for one mailbox, on a local port.

The subset syncd uses (see :mod:`.mail`, :mod:`.calendar`), answering as
Microsoft documents it: bearer tokens (401 ``InvalidAuthenticationToken``),
Outlook's throttling (10,000 requests per 10 minutes and 4 concurrent
requests per mailbox, 429 with ``Retry-After``; ``window`` scales the 10
minutes), JSON ``$batch`` (at most 20 requests, relative URLs, each inner
request throttled and answered on its own), ``sendMail`` (JSON or base64
MIME) and fault injection: :meth:`GraphEmulator.fail_next` and
:meth:`GraphEmulator.flaky` (503/504 with ``Retry-After``, for writes before
or after the write commits), expired and revoked tokens.
"""

from __future__ import annotations

import base64
import json
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .calendar import CalendarState
from .errors import ApiError
from .mail import MailState

DEFAULT_SCOPES = frozenset({"Mail.ReadBasic", "Calendars.ReadWrite", "Mail.Send", "offline_access"})
CALENDAR_ID = "CAL-1"
_PAGE = re.compile(r"odata\.maxpagesize=(\d+)")
_MID_FILTER = re.compile(r"internetMessageId eq '((?:[^']|'')*)'", re.I)


@dataclass
class Record:
    """One request as served."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    headers: dict[str, str]
    at: float


@dataclass
class Fault:
    """An injected error for the next ``count`` requests matching ``route``."""

    route: str
    status: int
    count: int = 1
    after_commit: bool = False
    retry_after: float | None = 0.05
    code: str = ""
    method: str = ""  # only requests of this method ("" any)


@dataclass
class GraphEmulator:
    """One mailbox (mail and calendar) behind Graph v1.0."""

    user: str = "me@example.com"
    access_token: str = "graph-test-token"
    scopes: frozenset[str] = DEFAULT_SCOPES
    requests_per_window: int | None = 10_000
    window: float = 600.0
    concurrency: int = 4
    throttle_retry_after: float = 0.05
    max_page_size: int = 1000
    latency: float = 0.0  # seconds each request takes (to see concurrency)
    # A less complete Graph: no JSON batching, transactionId ignored, no calendar.
    batching: bool = True
    transaction_ids: bool = True
    calendar_enabled: bool = True
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mail = MailState()
        self.calendar = CalendarState(self.user)  # the default calendar
        self.calendars: dict[str, tuple[str, CalendarState]] = {
            CALENDAR_ID: ("Calendar", self.calendar)
        }
        self.tokens: dict[str, frozenset[str]] = {self.access_token: frozenset(self.scopes)}
        self.faults: list[Fault] = []
        self.flaky_rate = 0.0
        self.flaky_statuses: tuple[int, ...] = (503, 504)
        self.commit_share = 0.5
        self.rng = random.Random(0)
        self.spent: deque[float] = deque()
        self.in_flight = 0
        self.max_in_flight = 0
        self.throttled = 0
        self.committed_failures = 0
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> GraphEmulator:
        """Serve on 127.0.0.1, a random port, in a daemon thread."""
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The ``--api-endpoint``: ``http://127.0.0.1:PORT/v1.0``."""
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1.0"

    def add_calendar(self, name: str) -> CalendarState:
        """Another calendar of the mailbox (``POST /me/calendars``): its events are in
        ``/me/calendars/{id}/...`` only; free/busy (``getSchedule``) stays the default
        calendar's. Its id is the returned state's ``calendar_id``."""
        cid = f"CAL-{len(self.calendars) + 1}"
        state = CalendarState(self.user, calendar_id=cid)
        self.calendars[cid] = (name, state)
        return state

    def write_token_file(self, path: Path, token: str | None = None) -> Path:
        """``{"token": ...}`` for ``--token-file``."""
        path.write_text(json.dumps({"token": token or self.access_token}), encoding="utf-8")
        return path

    # -- faults -----------------------------------------------------------------------------

    def fail_next(self, route: str = "", status: int = 503, count: int = 1, **kw: Any) -> None:
        """The next ``count`` requests whose path contains ``route`` fail with ``status``."""
        self.faults.append(Fault(route, status, count, **kw))

    def flaky(
        self,
        rate: float,
        statuses: tuple[int, ...] = (503, 504),
        seed: int = 0,
        commit_share: float = 0.5,
    ) -> None:
        """``rate`` of all requests fail (with ``Retry-After``); of failed writes,
        ``commit_share`` fail after the write committed."""
        self.flaky_rate, self.flaky_statuses, self.commit_share = rate, statuses, commit_share
        self.rng = random.Random(seed)

    def expire_access_tokens(self) -> None:
        """Every access token is refused from now on (401)."""
        self.tokens.clear()

    def calls(self, path: str = "", status: int | None = None) -> list[Record]:
        """Requests served whose path contains ``path`` (and with ``status``)."""
        return [
            r for r in self.records if path in r.path and (status is None or r.status == status)
        ]

    @property
    def body_requests(self) -> int:
        """How often a message body was asked for (syncd: never)."""
        return self.mail.body_requests

    # -- dispatch ---------------------------------------------------------------------------

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.route in path and fault.method in ("", method):
                    fault.count -= 1
                    return fault
            if self.flaky_rate and self.rng.random() < self.flaky_rate:
                status = self.rng.choice(self.flaky_statuses)
                return Fault("", status, after_commit=self.rng.random() < self.commit_share)
        return None

    def _throttle(self) -> None:
        with self.lock:
            now = time.monotonic()
            while self.spent and self.spent[0] <= now - self.window:
                self.spent.popleft()
            if self.in_flight > self.concurrency:
                self.throttled += 1
                raise ApiError(
                    429,
                    "ApplicationThrottled",
                    "MailboxConcurrency limit hit.",
                    self.throttle_retry_after,
                )
            if self.requests_per_window is not None and len(self.spent) >= self.requests_per_window:
                self.throttled += 1
                wait = self.spent[0] + self.window - now
                raise ApiError(
                    429,
                    "ApplicationThrottled",
                    "Application is over its MailboxConcurrency limit.",
                    wait,
                )
            self.spent.append(now)

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, top: bool = True
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request (``top``: from the network, not inside a ``$batch``)."""
        parts = urlsplit(target)
        path = parts.path
        if path.startswith("/v1.0"):
            path = path[len("/v1.0") :]
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        status, out_headers, payload = 500, {}, b""
        if top:
            with self.lock:
                self.in_flight += 1
                self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.latency:
                time.sleep(self.latency)
        try:
            scopes = self._authenticate(headers)
            self._throttle()
            fault = self._take_fault(method, path) if path != "/$batch" else None
            if fault is not None and not (fault.after_commit and method != "GET"):
                raise ApiError(
                    fault.status, fault.code or "ServiceUnavailable", "injected", fault.retry_after
                )
            status, out_headers, result = self._route(method, path, query, headers, body, scopes)
            if fault is not None:
                self.committed_failures += 1
                raise ApiError(
                    fault.status,
                    fault.code or "ServiceUnavailable",
                    "injected after commit",
                    fault.retry_after,
                )
            payload = b"" if result is None else json.dumps(result).encode()
            if result is not None:
                out_headers.setdefault("Content-Type", "application/json")
        except ApiError as err:
            status, out_headers, payload = err.status, err.headers(), err.payload()
        finally:
            if top:
                with self.lock:
                    self.in_flight -= 1
        with self.lock:
            self.records.append(Record(method, path, query, status, headers, time.monotonic()))
        return status, out_headers, payload

    def _authenticate(self, headers: dict[str, str]) -> frozenset[str]:
        auth = headers.get("authorization", "")
        token = auth[7:] if auth.lower().startswith("bearer ") else ""
        scopes = self.tokens.get(token)
        if scopes is None:
            raise ApiError(
                401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid."
            )
        return scopes

    def _page_size(self, headers: dict[str, str], default: int) -> int:
        m = _PAGE.search(headers.get("prefer", ""))
        return min(int(m.group(1)), self.max_page_size) if m else default

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        scopes: frozenset[str],
    ) -> tuple[int, dict[str, str], Any]:
        segs = [s for s in path.split("/") if s]
        if segs[:1] == ["$batch"] and not self.batching:
            raise ApiError(404, "BadRequest", "Resource not found for the segment '$batch'.")
        if segs[:1] == ["$batch"] and method == "POST":
            return 200, {}, self._batch(json.loads(body or b"{}"), headers)
        if segs[:1] not in (["me"], ["users"]):
            raise ApiError(400, "BadRequest", f"Resource not found for the segment '{segs[:1]}'.")
        segs = segs[1:] if segs[0] == "me" else segs[2:]
        cal = self.calendar
        if segs and segs[0] == "calendars" and len(segs) >= 2:
            if segs[1] not in self.calendars:
                raise ApiError(404, "ErrorItemNotFound", "The specified object was not found.")
            cal = self.calendars[segs[1]][1]
            segs = segs[2:] if len(segs) > 2 else ["calendar"]
        elif segs[:1] == ["calendar"] and segs[1:2] in (["events"], ["calendarView"]):
            segs = segs[1:]  # /me/calendar/events is /me/events (the default calendar)
        link = f"{self.url}/{path.lstrip('/').split('?')[0]}" if self._server else path
        if not segs and method == "GET":
            return 200, {}, {"mail": self.user, "userPrincipalName": self.user, "id": "USER-1"}
        head = segs[0]
        if (
            head in ("calendar", "calendarView", "calendars", "events")
            and not self.calendar_enabled
        ):
            raise ApiError(404, "MailboxNotEnabledForRESTAPI", "The mailbox has no calendar.")
        if head == "mailFolders":
            return self._folders(method, segs[1:], query, headers, scopes, link)
        if head == "messages" and len(segs) == 2 and method == "GET":
            res = self.mail.messages.get(segs[1])
            if res is None:
                raise ApiError(404, "ErrorItemNotFound", "The specified object was not found.")
            select = tuple(s for s in query.get("$select", "").split(",") if s) or None
            self.mail.check_select(select, scopes)
            return 200, {}, self.mail.view(res, select)
        if head == "calendars" and method == "GET":
            return (
                200,
                {},
                {
                    "value": [
                        {"id": cid, "name": name, "isDefaultCalendar": cid == CALENDAR_ID}
                        for cid, (name, _) in self.calendars.items()
                    ]
                },
            )
        if head in ("calendarView", "calendar") and segs[-1:] == ["delta"] and method == "GET":
            self._need(scopes, "Calendars.Read", "Calendars.ReadWrite")
            return 200, {}, cal.delta(query, self._page_size(headers, 100), link)
        if head == "calendarView" and len(segs) == 1 and method == "GET":
            self._need(scopes, "Calendars.ReadBasic", "Calendars.Read", "Calendars.ReadWrite")
            return 200, {}, cal.calendar_view(query, self._page_size(headers, 10), link)
        if head == "calendar" and segs[1:] == ["getSchedule"] and method == "POST":
            self._need(scopes, "Calendars.Read", "Calendars.ReadWrite")
            return 200, {}, self.calendar.schedule(json.loads(body))
        if head == "events":
            return self._events(cal, method, segs[1:], query, body, scopes)
        if head == "sendMail" and method == "POST":
            self._need(scopes, "Mail.Send")
            return 202, {}, self._send_mail(headers, body)
        raise ApiError(400, "BadRequest", f"Unsupported request {method} {path}")

    def _need(self, scopes: frozenset[str], *any_of: str) -> None:
        if not set(any_of) & scopes:
            raise ApiError(
                403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
            )

    def _folders(
        self,
        method: str,
        segs: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        scopes: frozenset[str],
        link: str,
    ) -> tuple[int, dict[str, str], Any]:
        if method != "GET":
            raise ApiError(405, "MethodNotAllowed", "read-only")
        self._need(scopes, "Mail.ReadBasic", "Mail.Read", "Mail.ReadWrite")
        if not segs:
            return 200, {}, {"value": self.mail.list_folders("ROOT")}
        try:
            fid = self.mail.folder_id(segs[0])
        except KeyError:
            raise ApiError(
                404, "ErrorItemNotFound", "The specified object was not found."
            ) from None
        rest = segs[1:]
        if not rest:
            folder = self.mail.folders[fid]
            return 200, {}, {k: v for k, v in folder.items() if k != "wellKnownName"}
        if rest == ["childFolders"]:
            return 200, {}, {"value": self.mail.list_folders(fid)}
        if rest == ["messages", "delta"]:
            return 200, {}, self.mail.delta(fid, query, self._page_size(headers, 10), scopes, link)
        if rest == ["messages"]:
            m = _MID_FILTER.search(query.get("$filter", ""))
            select = tuple(s for s in query.get("$select", "").split(",") if s) or None
            self.mail.check_select(select, scopes)
            found = [
                self.mail.view(r, select)
                for r in self.mail.messages.values()
                if r["parentFolderId"] == fid
                and (m is None or r.get("internetMessageId") == m.group(1).replace("''", "'"))
            ]
            return 200, {}, {"value": found}
        raise ApiError(400, "BadRequest", "Unsupported folder request")

    def _events(
        self,
        cal: CalendarState,
        method: str,
        segs: list[str],
        query: dict[str, str],
        body: bytes,
        scopes: frozenset[str],
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET":
            self._need(scopes, "Calendars.Read", "Calendars.ReadWrite")
            if not segs:
                return 200, {}, {"value": cal.find(query)}
            owner = self._holding(segs[0])
            return 200, {}, owner.view(owner.events[segs[0]])
        self._need(scopes, "Calendars.ReadWrite")
        if method == "POST" and not segs:
            event = json.loads(body)
            if not self.transaction_ids:
                event.pop("transactionId", None)
            return 201, {}, cal.create(event)
        if method == "DELETE" and len(segs) == 1:
            self._holding(segs[0]).delete_event(segs[0])
            return 204, {}, None
        if method == "PATCH" and len(segs) == 1:
            owner = self._holding(segs[0])
            owner.update_event(segs[0], **json.loads(body))
            return 200, {}, owner.view(owner.events[segs[0]])
        raise ApiError(405, "MethodNotAllowed", "unsupported")

    def _holding(self, eid: str) -> CalendarState:
        """The calendar holding event ``eid`` (``/me/events/{id}`` reaches any calendar's)."""
        for _, state in self.calendars.values():
            if eid in state.events:
                return state
        raise ApiError(404, "ErrorItemNotFound", "The specified object was not found.")

    def _send_mail(self, headers: dict[str, str], body: bytes) -> None:
        if headers.get("content-type", "").startswith("text/plain"):
            try:
                raw = base64.b64decode(body, validate=True)
            except ValueError:
                raise ApiError(
                    400,
                    "ErrorMimeContentInvalidBase64String",
                    "Invalid base64 string for MIME content.",
                ) from None
            self.mail.add_message(raw, "sentitems")
            return None
        message = json.loads(body).get("message") or {}
        mid = self.mail.add_message(b"Subject: x\r\n\r\n", "sentitems")
        self.mail.messages[mid].update({k: v for k, v in message.items() if k != "body"})
        return None

    def _batch(self, payload: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        requests = payload.get("requests") or []
        if len(requests) > 20:
            raise ApiError(
                400, "BadRequest", "Number of batch request steps exceeds the maximum of 20."
            )
        out = []
        for req in requests:
            url = str(req.get("url", ""))
            if url.startswith("http"):
                raise ApiError(400, "BadRequest", "Batch request URLs must be relative.")
            inner = {k.lower(): v for k, v in (req.get("headers") or {}).items()}
            inner["authorization"] = headers.get("authorization", "")
            data = json.dumps(req["body"]).encode() if "body" in req else b""
            status, h, p = self.handle(
                str(req.get("method", "GET")), "/v1.0/" + url.lstrip("/"), inner, data, top=False
            )
            out.append(
                {
                    "id": req.get("id"),
                    "status": status,
                    "headers": h,
                    "body": json.loads(p) if p else None,
                }
            )
        return {"responses": out}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    emu: GraphEmulator
    handler: Callable[..., Any]

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, rheaders, payload = self.emu.handle(self.command, self.path, headers, body)
        try:
            self.send_response(status)
            for name, value in rheaders.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
