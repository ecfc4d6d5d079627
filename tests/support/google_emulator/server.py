"""The emulator's HTTP server: routing, auth, quota, faults, batch and the record.

One :class:`GoogleEmulator` serves Gmail v1 and Calendar v3 (the subsets in
:mod:`.gmail` and :mod:`.calendar`) plus a minimal OAuth server, on
``127.0.0.1`` with a random port, for one user. Every request is checked
against the discovery documents, authenticated (``Authorization: Bearer``),
scope-checked, charged to the per-user quota and recorded.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from . import discovery
from .calendar import CalendarState
from .errors import ApiError
from .gmail import GmailState
from .quota import SlidingWindow, cost

SCOPE = "https://www.googleapis.com/auth/"
DEFAULT_SCOPES = frozenset(
    {
        SCOPE + "gmail.metadata",
        SCOPE + "gmail.send",
        SCOPE + "calendar.events",
        SCOPE + "calendar.freebusy",
    }
)
MAX_BATCH = 100


@dataclass(slots=True)
class Record:
    """One request as the emulator saw it."""

    method: str
    params: dict[str, Any]
    status: int
    units: int
    batch: bool
    at: float
    body: Any = None


@dataclass(slots=True)
class Grant:
    """An access token (and its refresh token) with scopes."""

    scopes: frozenset[str]
    expires: float | None = None
    refresh_token: str | None = None
    revoked: bool = False


@dataclass(slots=True)
class Fault:
    route: str
    status: int | None
    count: int
    retry_after: float | None = None
    reason: str | None = None
    delay: float = 0.0


@dataclass
class _Flaky:
    probability: float
    statuses: tuple[int, ...]
    rng: Any


def _route_matches(route: str, method_id: str) -> bool:
    return route in ("*", method_id) or (route.endswith(".*") and method_id.startswith(route[:-1]))


@dataclass
class GoogleEmulator:
    """Gmail + Calendar for one user, on a local port.

    ``quota_per_minute`` is Gmail's per-user limit in units per ``window``
    seconds (None: unlimited); ``calendar_quota_per_minute`` the Calendar
    per-user request limit. ``rate_limit_status`` is 403
    (``userRateLimitExceeded``) or 429 (``rateLimitExceeded``).
    """

    user: str = "me@example.com"
    access_token: str = "test-token"
    scopes: frozenset[str] = DEFAULT_SCOPES
    quota_per_minute: int | None = 15_000
    calendar_quota_per_minute: int | None = 600
    window: float = 60.0
    rate_limit_status: int = 403
    retry_after_header: bool = False
    charge_rejected: bool = False
    token_lifetime: float = 3600.0
    calendar_now: float | None = None
    batch_paths: tuple[str, ...] = ("batch", "batch/gmail/v1", "batch/calendar/v3")
    records: list[Record] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gmail = GmailState(self.user)
        self.calendar = CalendarState(self.user, now=self.calendar_now)
        self.apis = [discovery.load_api("gmail", "v1"), discovery.load_api("calendar", "v3")]
        self.grants: dict[str, Grant] = {self.access_token: Grant(frozenset(self.scopes))}
        self.codes: dict[str, tuple[frozenset[str], str]] = {}
        self.gmail_quota = SlidingWindow(self.quota_per_minute, self.window)
        self.calendar_quota = SlidingWindow(self.calendar_quota_per_minute, self.window)
        self.faults: list[Fault] = []
        self.flaky_mode: _Flaky | None = None
        self.lock = threading.Lock()
        self.handlers: dict[str, Callable] = {**self.gmail.handlers(), **self.calendar.handlers()}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> GoogleEmulator:
        """Serve on 127.0.0.1, a random port, in a daemon thread."""
        emulator = self

        class Handler(_Handler):
            emu = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Shut the server down."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GoogleEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL replacing Google's (``--api-endpoint``)."""
        assert self._server is not None, "emulator not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def write_token_file(self, path: Path, token: str | None = None) -> Path:
        """Write ``{"token": ...}`` for ``--token-file``."""
        path.write_text(json.dumps({"token": token or self.access_token}))
        return path

    def client_secrets(self, path: Path) -> Path:
        """Write an installed-app client secrets file pointing at this emulator's OAuth."""
        path.write_text(
            json.dumps(
                {
                    "installed": {
                        "client_id": "emulator-client.apps.googleusercontent.com",
                        "client_secret": "emulator-secret",
                        "auth_uri": self.url + "o/oauth2/auth",
                        "token_uri": self.url + "token",
                        "redirect_uris": ["http://localhost"],
                    }
                }
            )
        )
        return path

    # -- fault injection -------------------------------------------------------------

    def fail_next(
        self,
        route: str = "*",
        status: int = 500,
        count: int = 1,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        """Answer the next ``count`` calls of ``route`` (method id, ``gmail.*``, ``batch``
        or ``*``) with ``status``."""
        with self.lock:
            self.faults.append(Fault(route, status, count, retry_after, reason))

    def delay_next(self, route: str = "*", seconds: float = 1.0, count: int = 1) -> None:
        """Hold the next ``count`` responses of ``route`` for ``seconds`` (client timeouts)."""
        with self.lock:
            self.faults.append(Fault(route, None, count, delay=seconds))

    def flaky(self, probability: float, statuses=(429, 500, 503), seed: int = 0) -> None:
        """Fail each call with ``probability`` (0 turns it off), statuses drawn at random."""
        import random

        self.flaky_mode = (
            _Flaky(probability, tuple(statuses), random.Random(seed)) if (probability > 0) else None
        )

    def expire_history(self) -> None:
        """history.list answers 404 for every history id issued so far."""
        self.gmail.expire_history()

    def expire_sync_token(self) -> None:
        """events.list answers 410 for every sync token issued so far."""
        self.calendar.expire_sync_tokens()

    def revoke(self) -> None:
        """Revoke every grant: API calls answer 401, refreshes ``invalid_grant``."""
        with self.lock:
            for grant in self.grants.values():
                grant.revoked = True

    def expire_access_tokens(self) -> None:
        """Expire every access token (a refresh token still gets a new one)."""
        with self.lock:
            for grant in self.grants.values():
                grant.expires = 0.0

    def _take_fault(self, method_id: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and _route_matches(fault.route, method_id):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
            if self.flaky_mode and method_id != "batch":
                f = self.flaky_mode
                if f.rng.random() < f.probability:
                    return Fault(method_id, f.rng.choice(f.statuses), 1)
        return None

    # -- the record ----------------------------------------------------------------

    def calls(self, method: str | None = None, status: int | None = None) -> list[Record]:
        """Recorded calls (batch parts each count), optionally of one method / status."""
        with self.lock:
            return [
                r
                for r in self.records
                if (method is None or r.method == method) and (status is None or r.status == status)
            ]

    def units(self, api: str = "gmail") -> int:
        """Quota units charged so far for ``api``."""
        return sum(r.units for r in self.calls() if r.method.startswith(api + "."))

    def reset_records(self) -> None:
        """Forget the record (state and quota stay)."""
        with self.lock:
            self.records.clear()

    def _record(self, rec: Record) -> None:
        with self.lock:
            self.records.append(rec)

    # -- request handling --------------------------------------------------------------

    def handle(
        self, verb: str, target: str, headers: dict[str, str], body: bytes, in_batch: bool = False
    ) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; returns ``(status, headers, body)``."""
        parts = urlsplit(target)
        path = parts.path.lstrip("/")
        query = parse_qs(parts.query, keep_blank_values=True)
        if not in_batch:
            if path == "token" and verb == "POST":
                return self._token_endpoint(body)
            if path == "o/oauth2/auth" and verb == "GET":
                return self._auth_endpoint(query)
            if path in self.batch_paths and verb == "POST":
                return self._batch(headers, body)
        found = discovery.match(self.apis, verb, path)
        if found is None:
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"
        method, path_values = found
        api = next(a for a in self.apis if a.name == method.api)
        units = cost(method.id)
        params: dict[str, Any] = {}
        parsed_body: Any = None
        served = False
        try:
            grant = self._authenticate(headers)
            params = discovery.check_parameters(api, method, path_values, query)
            if body:
                try:
                    parsed_body = json.loads(body)
                except ValueError:
                    raise ApiError(400, "Invalid JSON payload received.", "parseError") from None
            if not grant.scopes & set(method.scopes):
                raise ApiError(
                    403,
                    "Request had insufficient authentication scopes.",
                    "insufficientPermissions",
                )
            fault = self._take_fault(method.id)
            if fault is not None:
                if fault.delay:
                    time.sleep(fault.delay)
                if fault.status is not None:
                    raise self._fault_error(fault)
            quota = self.gmail_quota if method.api == "gmail" else self.calendar_quota
            wait = quota.try_spend(units)
            if wait is not None:
                if self.charge_rejected:
                    served = True
                raise self._rate_error(method.api, wait)
            handler = self.handlers.get(method.id)
            if handler is None:
                raise ApiError(501, f"{method.id} is not emulated", "notImplemented")
            served = True
            response = handler(params, parsed_body, set(grant.scopes))
        except discovery.BadRequest as exc:
            self._record(Record(method.id, params, exc.status, 0, in_batch, time.monotonic()))
            err = ApiError(exc.status, str(exc), exc.reason)
            return err.status, self._error_headers(err), err.body()
        except ApiError as exc:
            # Served calls cost quota even when they fail (404, 409, 410); rejected ones not.
            self._record(
                Record(
                    method.id,
                    params,
                    exc.status,
                    units if served else 0,
                    in_batch,
                    time.monotonic(),
                    parsed_body,
                )
            )
            return exc.status, self._error_headers(exc), exc.body()
        self._record(Record(method.id, params, 200, units, in_batch, time.monotonic(), parsed_body))
        if response is None:
            return 204, {}, b""
        return (
            200,
            {"Content-Type": "application/json; charset=UTF-8"},
            json.dumps(response).encode(),
        )

    def _error_headers(self, err: ApiError) -> dict[str, str]:
        out = {"Content-Type": "application/json; charset=UTF-8"}
        for name, value in err.headers().items():
            if name == "Retry-After":
                seconds = float(value)
                value = str(max(1, int(seconds + 0.999))) if self.window >= 60 else f"{seconds:.3f}"
            out[name] = value
        return out

    def _rate_error(self, api: str, wait: float) -> ApiError:
        retry = wait if self.retry_after_header else None
        if self.rate_limit_status == 429:
            return ApiError(429, "Too many requests for user.", "rateLimitExceeded", retry)
        reason = "userRateLimitExceeded" if api == "gmail" else "rateLimitExceeded"
        return ApiError(403, "User-rate limit exceeded.", reason, retry)

    def _fault_error(self, fault: Fault) -> ApiError:
        status = fault.status or 500
        if fault.reason:
            return ApiError(status, fault.reason, fault.reason, fault.retry_after)
        if status == 403:
            return ApiError(
                403, "User-rate limit exceeded.", "userRateLimitExceeded", fault.retry_after
            )
        if status == 429:
            return ApiError(429, "Too many requests.", "rateLimitExceeded", fault.retry_after)
        if status == 401:
            return ApiError(401, "Request had invalid authentication credentials.", "authError")
        if status == 404:
            return ApiError(404, "Requested entity was not found.", "notFound")
        if status == 410:
            return ApiError(
                410, "Sync token is no longer valid, a full sync is required.", "fullSyncRequired"
            )
        return ApiError(
            status,
            "Backend Error" if status >= 500 else "Error",
            "backendError" if status >= 500 else "error",
            fault.retry_after,
        )

    def _authenticate(self, headers: dict[str, str]) -> Grant:
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth.lower().startswith("bearer ") else None
        with self.lock:
            grant = self.grants.get(token or "")
            if (
                grant is None
                or grant.revoked
                or (grant.expires is not None and grant.expires < time.time())
            ):
                raise ApiError(
                    401,
                    "Request had invalid authentication credentials. Expected OAuth "
                    "2 access token, login cookie or other valid authentication "
                    "credential.",
                    "authError",
                )
            return grant

    # -- batch ---------------------------------------------------------------------------

    def _batch(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        fault = self._take_fault("batch")
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status is not None:
                err = self._fault_error(fault)
                return err.status, self._error_headers(err), err.body()
        content_type = headers.get("content-type", "")
        if not content_type.startswith("multipart/mixed"):
            err = ApiError(400, "Batch requests must be multipart/mixed.", "badRequest")
            return 400, self._error_headers(err), err.body()
        parts = _multipart(content_type, body)
        if not parts or len(parts) > MAX_BATCH:
            err = ApiError(
                400, f"A batch holds 1 to {MAX_BATCH} calls (got {len(parts)}).", "badRequest"
            )
            return 400, self._error_headers(err), err.body()
        boundary = "batch_" + secrets.token_hex(12)
        out = []
        for cid, payload in parts:
            status, rheaders, rbody = self._inner(payload)
            lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}"]
            lines += [f"{k}: {v}" for k, v in rheaders.items()]
            lines.append(f"Content-Length: {len(rbody)}")
            inner = ("\r\n".join(lines) + "\r\n\r\n").encode() + rbody
            rid = cid[1:-1] if cid.startswith("<") else cid
            out.append(
                f"--{boundary}\r\nContent-Type: application/http\r\n"
                f"Content-ID: <response-{rid}>\r\n\r\n".encode()
                + inner
                + b"\r\n"
            )
        payload = b"".join(out) + f"--{boundary}--\r\n".encode()
        return 200, {"Content-Type": f"multipart/mixed; boundary={boundary}"}, payload

    def _inner(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        raw = raw.replace(b"\r\n", b"\n")
        head, _, body = raw.partition(b"\n\n")
        lines = head.decode("utf-8", "replace").split("\n")
        try:
            verb, target, _ = lines[0].split(" ", 2)
        except ValueError:
            err = ApiError(400, "Bad inner request line", "badRequest")
            return 400, self._error_headers(err), err.body()
        hdrs = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            hdrs[name.strip().lower()] = value.strip()
        return self.handle(verb, target, hdrs, body.strip(b"\n"), in_batch=True)

    # -- OAuth -----------------------------------------------------------------------------

    def _auth_endpoint(self, query: dict[str, list[str]]) -> tuple[int, dict[str, str], bytes]:
        """The consent page: consents at once and redirects with a code."""
        redirect = query.get("redirect_uri", [""])[0]
        scopes = frozenset(query.get("scope", [""])[0].split())
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = (scopes, query.get("code_challenge", [""])[0])
        target = (
            redirect
            + "?"
            + urlencode(
                {
                    "code": code,
                    "state": query.get("state", [""])[0],
                    "scope": " ".join(sorted(scopes)),
                }
            )
        )
        return 302, {"Location": target}, b""

    def _token_endpoint(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        grant_type = form.get("grant_type")

        def fail(error: str, text: str) -> tuple[int, dict[str, str], bytes]:
            payload = json.dumps({"error": error, "error_description": text}).encode()
            return 400, {"Content-Type": "application/json"}, payload

        with self.lock:
            if grant_type == "authorization_code":
                entry = self.codes.pop(form.get("code", ""), None)
                if entry is None:
                    return fail("invalid_grant", "Malformed auth code.")
                scopes, challenge = entry
                verifier = form.get("code_verifier")
                if challenge and verifier:
                    import hashlib

                    digest = (
                        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                        .decode()
                        .rstrip("=")
                    )
                    if digest != challenge:
                        return fail("invalid_grant", "Invalid code verifier.")
                refresh = "1//" + secrets.token_urlsafe(24)
            elif grant_type == "refresh_token":
                refresh = form.get("refresh_token", "")
                old = next((g for g in self.grants.values() if g.refresh_token == refresh), None)
                if old is None or old.revoked:
                    return fail("invalid_grant", "Token has been expired or revoked.")
                scopes = old.scopes
            else:
                return fail("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
            token = "ya29." + secrets.token_urlsafe(24)
            self.grants[token] = Grant(scopes, time.time() + self.token_lifetime, refresh)
        payload = {
            "access_token": token,
            "expires_in": int(self.token_lifetime),
            "scope": " ".join(sorted(scopes)),
            "token_type": "Bearer",
        }
        if grant_type == "authorization_code":
            payload["refresh_token"] = refresh
        return 200, {"Content-Type": "application/json"}, json.dumps(payload).encode()


_REASONS = {
    200: "OK",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    410: "Gone",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def _multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """``(Content-ID, payload)`` of each part of a multipart/mixed body."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return []
    out = []
    for chunk in body.split(b"--" + m.group(1).encode())[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.lstrip(b"\r\n")
        for sep in (b"\r\n\r\n", b"\n\n"):
            head, found, payload = chunk.partition(sep)
            if found:
                break
        cid = ""
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-id":
                cid = value.strip()
        if payload.endswith(b"\r\n"):
            payload = payload[:-2]
        elif payload.endswith(b"\n"):
            payload = payload[:-1]
        out.append((cid, payload))
    return out


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, no 40 ms delayed ACKs
    emu: GoogleEmulator

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
