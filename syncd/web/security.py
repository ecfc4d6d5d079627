"""The dashboard's guard: who may talk to it, and what the browser may do with its pages.

The dashboard listens on 127.0.0.1 only, yet any web page the user visits can make
the browser send requests there, and a DNS-rebinding page can even read answers.
So, as Jupyter does:

- **Host.** Only ``127.0.0.1:PORT`` and ``localhost:PORT`` are served: a rebound
  name (``evil.example:PORT``) is refused before anything else happens.
- **Token.** ``syncd serve`` prints a URL with a random token; ``GET ...?token=T``
  exchanges it for a session cookie (``HttpOnly; SameSite=Strict``) and redirects
  to the same address without the token, so it leaves the address bar and the
  history. Every other request needs that cookie.
- **CSRF.** Every POST carries the session's CSRF token in its form (field
  ``csrf``), compared in constant time; the form must be URL-encoded and small, and
  an ``Origin`` header, when sent, must be this server's.
- **Headers.** A strict Content-Security-Policy (``default-src 'self'``: no inline
  script, no remote asset), no framing, no referrer, no sniffing, no caching; and
  no CORS header ever, so no other origin can read an answer.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

COOKIE = "syncd_session"
CSRF_FIELD = "csrf"
MAX_FORM = 64 * 1024  # bytes: the dashboard's forms are a few fields
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none';"
    " base-uri 'none'; object-src 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


def new_token() -> str:
    """A fresh secret for the start URL (32 random bytes, URL-safe)."""
    return secrets.token_urlsafe(32)


@dataclass
class Sessions:
    """The start token and the sessions it opened (session id → CSRF token), in memory:
    a restart of the server asks for the new URL."""

    token: str = field(default_factory=new_token)
    _csrf: dict[str, str] = field(default_factory=dict)
    _notes: dict[str, tuple[str, bool]] = field(default_factory=dict)

    def exchange(self, token: str) -> str | None:
        """A new session id when ``token`` is the start token, else None."""
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return None
        sid = secrets.token_urlsafe(32)
        self._csrf[sid] = secrets.token_urlsafe(32)
        return sid

    def csrf(self, sid: str | None) -> str | None:
        """The CSRF token of session ``sid`` (None: no such session)."""
        return self._csrf.get(sid) if sid else None

    def note(self, sid: str, text: str, error: bool = False) -> None:
        """Keep ``text`` for the session's next page (what an action did, or why not)."""
        self._notes[sid] = (text, error)

    def take_note(self, sid: str) -> tuple[str, bool] | None:
        """The kept note of session ``sid``, once."""
        return self._notes.pop(sid, None)


def allowed_hosts(port: int) -> frozenset[str]:
    """The Host header values the dashboard answers."""
    return frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _session_id(scope: Scope) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(raw)
    except Exception:  # a malformed Cookie header is no session
        return None
    morsel = cookie.get(COOKIE)
    return morsel.value if morsel else None


async def _plain(send: Send, status: int, text: str, extra: list | None = None) -> None:
    body = text.encode()
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *[(k.encode(), v.encode()) for k, v in HEADERS.items()],
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None when it is larger than :data:`MAX_FORM`."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


class Guard:
    """ASGI middleware enforcing the rules in this module's docstring around ``app``."""

    def __init__(self, app: ASGIApp, sessions: Sessions, port: int):
        self.app = app
        self.sessions = sessions
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse what is not allowed, else pass the request on and add the headers."""
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":
            return  # no websockets
        host = (_header(scope, b"host") or "").lower()
        if host not in allowed_hosts(self.port):
            await _plain(send, 421, "syncd: this dashboard answers only 127.0.0.1 and localhost")
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query and scope["method"] == "GET":
            await self._exchange(scope, send, query)
            return
        sid = _session_id(scope)
        csrf = self.sessions.csrf(sid)
        if csrf is None:
            await _plain(
                send,
                403,
                "syncd: open the address syncd serve printed (it carries the token);"
                " this browser has no session yet",
            )
            return
        if scope["method"] not in ("GET", "HEAD", "POST"):
            await _plain(send, 405, "syncd: method not allowed")
            return
        if scope["method"] == "POST":
            receive = await self._check_post(scope, receive, send, csrf)
            if receive is None:
                return
        state = scope.setdefault("state", {})
        state["csrf"], state["sid"] = csrf, sid
        await self.app(scope, receive, self._with_headers(send))

    async def _exchange(self, scope: Scope, send: Send, query: dict[str, list[str]]) -> None:
        sid = self.sessions.exchange(query["token"][0])
        if sid is None:
            await _plain(send, 403, "syncd: wrong token; use the address syncd serve printed")
            return
        rest = {k: v for k, v in query.items() if k != "token"}
        path = scope.get("path") or "/"
        location = path + ("?" + urlencode(rest, doseq=True) if rest else "")
        cookie = f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict"
        await _plain(
            send,
            303,
            "signed in",
            [(b"location", location.encode()), (b"set-cookie", cookie.encode())],
        )

    async def _check_post(
        self, scope: Scope, receive: Receive, send: Send, csrf: str
    ) -> Receive | None:
        """A receive replaying the body when the POST is allowed, else None (refused)."""
        origin = _header(scope, b"origin")
        if origin and origin.lower() not in {f"http://{h}" for h in allowed_hosts(self.port)}:
            await _plain(send, 403, "syncd: a request from another site is refused")
            return None
        kind = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if kind != "application/x-www-form-urlencoded":
            await _plain(send, 415, "syncd: actions are URL-encoded forms")
            return None
        body = await _read_body(receive)
        if body is None:
            await _plain(send, 413, "syncd: form too large")
            return None
        sent = parse_qs(body.decode("latin-1")).get(CSRF_FIELD, [""])[0]
        if not hmac.compare_digest(sent.encode(), csrf.encode()):
            await _plain(send, 403, "syncd: the form's CSRF token is missing or wrong; reload")
            return None
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    def _with_headers(self, send: Send) -> Send:
        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in HEADERS.items():
                    if key.encode() not in present:
                        headers.append((key.encode(), value.encode()))
                headers = [
                    (k, v) for k, v in headers if not k.lower().startswith(b"access-control")
                ]
                message["headers"] = headers
            await send(message)

        return wrapped
