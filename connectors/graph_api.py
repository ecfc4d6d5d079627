"""Microsoft Graph over HTTP: one paced, throttled, retrying client per mailbox.

:class:`GraphClient` sends every request of the ``outlook`` connector
(:mod:`connectors.outlook`) through ``requests``:

- at most ``concurrency`` (≤ 4, Outlook's documented limit) requests in flight per
  mailbox (a semaphore shared by the readers and writers of one account);
- paced below Outlook's 10,000 requests per 10 minutes per mailbox by
  :class:`connectors.google_pacing.Pacer` (a token bucket plus a sliding window);
- ``Retry-After`` honoured on 429 / 503 / 504, exponential backoff on other
  5xx and transport errors, a 401 answered by one token refresh then
  :class:`~syncd.core.errors.AuthRequired`;
- other error answers become typed :class:`GraphError` subclasses
  (:class:`NotFound`, :class:`Gone` for an expired delta link, :class:`Forbidden` ...):
  no ``requests`` exception leaves this module;
- JSON ``$batch`` (at most 20 requests per batch, as Graph allows).

``base`` is ``https://graph.microsoft.com/v1.0`` or the account's ``api_endpoint``.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.google_pacing import Pacer, Stopped, shared_pacer
from syncd.core.errors import AuthRequired, SyncdError, TransientError, UserError

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://graph.microsoft.com/v1.0"
MAX_CONCURRENCY = 4  # Outlook: 4 concurrent requests per mailbox
REQUESTS_PER_WINDOW = 10_000  # Outlook: 10,000 requests per 10 minutes per mailbox
WINDOW_SECONDS = 600.0
BATCH_LIMIT = 20  # JSON batching: at most 20 requests per $batch
THROTTLED = frozenset({429, 503, 504})


class GraphError(SyncdError):
    """An error answer of Graph that no retry cures: ``status``, ``code`` (e.g.
    ``syncStateNotFound``) and Graph's message."""

    def __init__(self, status: int, code: str = "", message: str = "", what: str = "request"):
        self.status = status
        self.code = code
        self.detail = message
        super().__init__(f"Microsoft Graph: {what} failed: HTTP {status} {code}".rstrip())


class BadRequest(GraphError):
    """HTTP 400."""


class Forbidden(GraphError):
    """HTTP 403 (a permission the grant lacks, e.g. a body under ``Mail.ReadBasic``)."""


class NotFound(GraphError):
    """HTTP 404."""


class Conflict(GraphError):
    """HTTP 409."""


class Gone(GraphError):
    """HTTP 410, or ``syncStateNotFound``: the delta link expired, resync the scope."""


_TYPED = {400: BadRequest, 403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone}


def error_for(status: int, body: Any, what: str) -> GraphError:
    """The typed error of an error answer (``body``: its decoded JSON, if any)."""
    err = body.get("error") if isinstance(body, dict) else None
    code = str(err.get("code", "")) if isinstance(err, dict) else ""
    message = str(err.get("message", "")) if isinstance(err, dict) else ""
    if code in ("syncStateNotFound", "SyncStateNotFound", "resyncRequired"):
        return Gone(status, code, message, what)
    return _TYPED.get(status, GraphError)(status, code, message, what)


def retry_after(headers: Any) -> float | None:
    """Seconds of a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    value = (headers or {}).get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        pass
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time()) if when.tzinfo else None


@dataclass
class Settings:
    """Tuning of one mailbox's client (account options, all optional)."""

    requests_per_window: float = REQUESTS_PER_WINDOW
    window: float = WINDOW_SECONDS
    concurrency: int = MAX_CONCURRENCY
    timeout: float = 60.0
    backoff_base: float = 1.0
    max_attempts: int = 8
    page_size: int = 100

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Settings:
        """The settings of ``[accounts.NAME]`` (types are checked by :mod:`connectors.options`)."""
        out = cls()
        for name in ("requests_per_window", "window", "timeout", "backoff_base"):
            if isinstance(options.get(name), int | float) and not isinstance(options[name], bool):
                setattr(out, name, float(options[name]))
        for name in ("concurrency", "max_attempts", "page_size"):
            if isinstance(options.get(name), int) and not isinstance(options[name], bool):
                setattr(out, name, int(options[name]))
        out.concurrency = max(1, min(out.concurrency, MAX_CONCURRENCY))
        return out


_SEMAPHORES: dict[tuple[str, str], threading.BoundedSemaphore] = {}
_SEMAPHORES_LOCK = threading.Lock()


def mailbox_semaphore(key: tuple[str, str], size: int) -> threading.BoundedSemaphore:
    """One semaphore per mailbox in this process: reader and writer share the 4 slots."""
    with _SEMAPHORES_LOCK:
        sem = _SEMAPHORES.get(key)
        if sem is None:
            sem = _SEMAPHORES[key] = threading.BoundedSemaphore(size)
        return sem


@dataclass
class GraphClient:
    """Requests to one mailbox's Graph endpoint (see the module docstring).

    ``token`` returns the current access token; called with ``True`` after a
    401 it may refresh (it returns None when it cannot: the grant is gone).
    """

    base: str
    token: Callable[[bool], str | None]
    account: str = ""
    settings: Settings = field(default_factory=Settings)
    pacer: Pacer | None = None
    semaphore: threading.BoundedSemaphore | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    session: requests.Session = field(default_factory=requests.Session)
    stats: dict[str, int] = field(
        default_factory=lambda: {"requests": 0, "retries": 0, "throttled": 0, "batches": 0}
    )

    def close(self) -> None:
        """Close the pooled connections (the next request opens new ones). A pooled
        connection keeps a keep-alive watch thread waking every few seconds, which a
        daemon at rest must not."""
        self.session.close()

    def __post_init__(self) -> None:
        self.base = self.base.rstrip("/")
        if self.pacer is None:
            self.pacer = Pacer(
                self.settings.requests_per_window,
                self.settings.window,
                backoff_base=self.settings.backoff_base,
                logger=log,
            )
        if self.semaphore is None:
            self.semaphore = threading.BoundedSemaphore(self.settings.concurrency)

    # -- plumbing -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        """An absolute URL: ``path`` under the base, or a nextLink/deltaLink as given."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base}/{path.lstrip('/')}"

    def sleep(self, seconds: float) -> None:
        """Sleep, unless the fetch was abandoned."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped("stopped")
        if self.stop.is_set():
            raise Stopped("stopped")

    def _backoff(self, attempt: int) -> float:
        base = self.settings.backoff_base * 2**attempt
        return min(base, self.settings.backoff_base * 32) * (0.5 + random.random() / 2)

    def _auth_required(self, detail: str) -> AuthRequired:
        return AuthRequired(
            f"account {self.account}: Microsoft refused the grant ({detail}); "
            f"run `syncd auth {self.account}`"
        )

    def _send(self, method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        assert self.pacer is not None and self.semaphore is not None
        entry = self.pacer.acquire(1, self.sleep)
        self.stats["requests"] += 1
        with self.semaphore:
            try:
                return self.session.request(
                    method, url, headers=headers, timeout=self.settings.timeout, **kw
                )
            finally:
                self.pacer.settle(entry)

    # -- requests -----------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        what: str = "request",
        retry: bool = True,
    ) -> Any:
        """Send one request with pacing and retries; the decoded JSON answer (None if empty).

        Raises :class:`GraphError` subclasses for error answers, :class:`AuthRequired`
        for a refused grant, :class:`TransientError` when retries run out. With
        ``retry=False`` only a 429 (never processed) is retried: a 5xx or a transport
        error may have hidden a committed write, so it is the caller's to check
        (:class:`TransientError` with the server's ``Retry-After``).
        """
        assert self.pacer is not None
        url = self.url(path)
        attempt = 0
        refreshed = False
        while True:
            token = self.token(False)
            if not token:
                raise self._auth_required("no access token")
            sent = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            sent.update(headers or {})
            kw: dict[str, Any] = {"params": params}
            if body is not None:
                kw["data"] = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            elif data is not None:
                kw["data"] = data
            try:
                resp = self._send(method, url, sent, **kw)
            except requests.RequestException as exc:
                pause = self._backoff(attempt)
                attempt += 1
                if attempt >= self.settings.max_attempts or not retry:
                    floor = 60.0 if retry else 0.0
                    raise self._give_up(what, type(exc).__name__, pause, floor) from None
                self.stats["retries"] += 1
                log.debug("%s: %s, retry %d in %.2fs", what, type(exc).__name__, attempt, pause)
                self.sleep(pause)
                continue
            status = resp.status_code
            if status < 400:
                self.pacer.success()
                return _json(resp)
            if status == 401:
                if not refreshed and self.token(True):
                    refreshed = True
                    continue
                raise self._auth_required(f"HTTP 401 on {what}")
            if status in THROTTLED or status >= 500:
                hint = retry_after(resp.headers)
                if status == 429:
                    self.stats["throttled"] += 1
                    self.pacer.refund(1)
                    pause = self.pacer.rate_limited(hint)
                else:
                    pause = hint if hint is not None else self._backoff(attempt)
                attempt += 1
                limit = self.settings.max_attempts * (2 if status == 429 else 1)
                if attempt >= limit or (not retry and status != 429):
                    raise self._give_up(what, f"HTTP {status}", pause, 60.0 if retry else 0.0)
                self.stats["retries"] += 1
                log.debug("%s: HTTP %s, retry %d in %.2fs", what, status, attempt, pause)
                self.sleep(pause)
                continue
            raise error_for(status, _json(resp, quiet=True), what)

    def get(self, path: str, what: str = "GET", **kw: Any) -> Any:
        """``GET`` (see :meth:`request`)."""
        return self.request("GET", path, what=what, **kw)

    def pages(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        what: str = "list",
    ) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``@odata.nextLink``."""
        url: str | None = path
        while url:
            page = self.get(url, what, params=params, headers=headers) or {}
            yield page
            url, params = page.get("@odata.nextLink"), None

    def batch(self, calls: list[dict[str, Any]], what: str = "$batch") -> list[dict[str, Any]]:
        """Run up to :data:`BATCH_LIMIT` requests (``{"method", "url", ...}``) in one JSON
        ``$batch``; the inner responses in the order of ``calls`` (each ``status``,
        ``headers``, ``body``). Throttled inner requests are retried in a new batch."""
        if len(calls) > BATCH_LIMIT:
            raise UserError(f"a Graph $batch holds at most {BATCH_LIMIT} requests")
        done: dict[int, dict[str, Any]] = {}
        todo = list(range(len(calls)))
        attempt = 0
        while todo:
            self.stats["batches"] += 1
            body = {"requests": [{"id": str(i), **calls[i]} for i in todo]}
            answer = self.request("POST", "$batch", body=body, what=what) or {}
            again: list[int] = []
            hints: list[float] = []
            for inner in answer.get("responses", []):
                i = int(inner.get("id", -1))
                if i not in todo:
                    continue
                status = int(inner.get("status", 500))
                if status in THROTTLED:
                    again.append(i)
                    hint = retry_after(inner.get("headers"))
                    hints.append(hint if hint is not None else self._backoff(attempt))
                else:
                    done[i] = inner
            missing = [i for i in todo if i not in done and i not in again]
            again += missing
            todo = sorted(again)
            if todo:
                attempt += 1
                pause = max(hints or [self._backoff(attempt)])
                if attempt >= self.settings.max_attempts:
                    raise self._give_up(what, "throttled inner requests", pause)
                self.stats["retries"] += len(todo)
                self.sleep(pause)
        return [done[i] for i in range(len(calls))]

    def _give_up(self, what: str, why: str, wait: float, floor: float = 60.0) -> TransientError:
        return TransientError(
            f"Microsoft Graph ({self.account}): {what} kept failing: {why}",
            retry_after=max(wait, floor),
        )


def interleave(
    producers: list[Callable[[], Iterator[Any]]], stop: threading.Event, workers: int
) -> Iterator[Any]:
    """Run the generators ``producers`` on up to ``workers`` threads and yield their items
    as they come (each producer's own items in order). The threads wind down when the
    consumer stops early or ``stop`` is set; a producer's exception is re-raised here."""
    if workers <= 1 or len(producers) <= 1:
        for make in producers:
            yield from make()
        return
    items: queue.Queue = queue.Queue(maxsize=workers * 2)
    todo = deque(producers)
    lock = threading.Lock()
    halt = threading.Event()  # ours: ``stop`` belongs to the caller
    done = object()

    def halted() -> bool:
        return halt.is_set() or stop.is_set()

    def put(entry: tuple[BaseException | None, Any]) -> bool:
        while not halted():
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            while not halted():
                with lock:
                    if not todo:
                        break
                    make = todo.popleft()
                for item in make():
                    if not put((None, item)):
                        return
        except Stopped:
            return
        except BaseException as exc:
            put((exc, None))
            return
        put((None, done))

    threads = [
        threading.Thread(target=run, name="graph-fetch", daemon=True)
        for _ in range(min(workers, len(producers)))
    ]
    for thread in threads:
        thread.start()
    finished = 0
    try:
        while finished < len(threads):
            try:
                exc, item = items.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    raise Stopped("stopped") from None
                continue
            if exc is not None:
                raise exc
            if item is done:
                finished += 1
                continue
            yield item
    finally:
        halt.set()
        for thread in threads:
            thread.join(timeout=30)


def _json(resp: Any, quiet: bool = False) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        if quiet:
            return None
        raise TransientError(
            f"Microsoft Graph answered HTTP {resp.status_code} with no JSON", retry_after=300
        ) from None


def endpoint_option(account: Any) -> str:
    """The account's ``api_endpoint`` (default: Graph v1.0), checked."""
    endpoint = account.options.get("api_endpoint") or DEFAULT_ENDPOINT
    if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
        raise UserError(f"account {account.name}: api_endpoint must be an http(s) URL")
    return endpoint.rstrip("/")


def open_client(account: Any, token: Callable[[bool], str | None]) -> GraphClient:
    """A client for ``account`` (an :class:`~syncd.config.schema.AccountConfig`) whose pacer
    and concurrency slots are shared by every client of the same mailbox in this process."""
    endpoint = endpoint_option(account)
    settings = Settings.from_options(account.options)
    key = (account.name, f"graph@{endpoint}")

    def factory() -> Pacer:
        return Pacer(
            settings.requests_per_window,
            settings.window,
            backoff_base=settings.backoff_base,
            logger=log,
        )

    pacer = shared_pacer(key, factory)
    pacer.maybe_reset()
    return GraphClient(
        base=endpoint,
        token=token,
        account=account.name,
        settings=settings,
        pacer=pacer,
        semaphore=mailbox_semaphore(key, settings.concurrency),
    )
