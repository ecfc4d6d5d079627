"""What the Gmail and Google Calendar connectors share: service, pacing, retries, batches.

- :func:`build_service` builds a google-api-python-client service from the
  discovery document the library ships, against ``api_endpoint`` (a base URL
  replacing ``https://*.googleapis.com/``, for proxies and emulators).
- :class:`connectors.google_pacing.Pacer` spends the per-user quota at the
  rate Google allows instead of running into it: a token bucket (units per second) plus a sliding
  window (units per minute). A rate-limit answer (403
  ``userRateLimitExceeded``/``rateLimitExceeded`` or 429) teaches it the
  server's real limit; ``Retry-After`` is honoured.
- :class:`GoogleClient` executes single calls and batches with retries:
  backoff on 429/403-rate/5xx/timeouts, batch size adapted to the pace and to
  failures, rejected inner calls of a batch retried alone. Errors become
  :mod:`syncd.core.errors`: a revoked or expired grant is :class:`AuthRequired`,
  a call that keeps failing :class:`TransientError`, any other error answer a
  typed :class:`~connectors.google_errors.GoogleApiError` (``NotFound``,
  ``Gone``, ``Conflict`` ...): googleapiclient's ``HttpError`` never leaves
  this module.

``new_batch_http_request()`` ignores ``client_options.api_endpoint``; batches
are built with an explicit ``batch_uri`` under the endpoint instead.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from connectors.google_auth import load_grant
from connectors.google_errors import (
    api_error,
    auth_error,
    classify,
    is_transport_error,
    refresh_detail,
    retry_after,
    status_of,
)
from connectors.google_pacing import Pacer, Stopped, shared_pacer
from syncd.core.errors import AuthRequired, TransientError, UserError

log = logging.getLogger(__name__)
# The library warns about every 403/429 it sees; pacing and retries are ours to report.
logging.getLogger("googleapiclient.http").setLevel(logging.ERROR)

# -- building services ----------------------------------------------------------------------


def service_endpoint(api_endpoint: str | None, service_path: str) -> str | None:
    """The client's base URL for a service under ``api_endpoint`` (a root URL).

    Gmail's paths already start with ``gmail/v1/``; Calendar's service path
    ``calendar/v3/`` is appended unless the endpoint ends with it already.
    """
    if not api_endpoint:
        return None
    base = api_endpoint if api_endpoint.endswith("/") else api_endpoint + "/"
    if service_path and not urlsplit(base).path.endswith("/" + service_path.strip("/") + "/"):
        base = urljoin(base, service_path)
    return base


def root_url(api_endpoint: str | None, default_root: str) -> str:
    """The root URL under which the service and its batch endpoint live."""
    if not api_endpoint:
        return default_root
    return api_endpoint if api_endpoint.endswith("/") else api_endpoint + "/"


def build_service(
    api: str, version: str, credentials: Any, api_endpoint: str | None, timeout: float = 60.0
) -> Any:
    """A discovery-based service (static discovery document, no discovery request)."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient import discovery, discovery_cache

    text = discovery_cache.get_static_doc(api, version)
    if text is None:
        raise UserError(f"google-api-python-client ships no discovery document for {api} {version}")
    doc = json.loads(text)
    http = google_auth_httplib2.AuthorizedHttp(credentials, http=httplib2.Http(timeout=timeout))
    options = {}
    endpoint = service_endpoint(api_endpoint, doc.get("servicePath", ""))
    if endpoint:
        options["api_endpoint"] = endpoint
    return discovery.build_from_document(doc, http=http, client_options=options or None)


def batch_uris(api: str, version: str, api_endpoint: str | None) -> list[str]:
    """Batch endpoints to try, the documented one first."""
    root = root_url(api_endpoint, "https://www.googleapis.com/")
    if api == "gmail" and not api_endpoint:
        root = "https://gmail.googleapis.com/"
    return [urljoin(root, f"batch/{api}/{version}"), urljoin(root, "batch")]


# -- the client -----------------------------------------------------------------------------------


@dataclass
class Settings:
    """Tuning of one account's client (all from account options, all optional)."""

    quota_per_minute: float = 15_000
    quota_window: float = 60.0
    timeout: float = 60.0
    backoff_base: float = 1.0
    max_attempts: int = 8
    batch_size: int = 50
    page_size: int = 500

    @classmethod
    def from_options(cls, options: dict[str, Any], default_quota: float) -> Settings:
        """Read and check the optional tuning keys of ``[accounts.NAME]``."""
        out = cls(quota_per_minute=default_quota)
        problems = []
        for name, kind, low, high in (
            ("quota_per_minute", float, 1, 1e9),
            ("quota_window", float, 0.01, 86400),
            ("timeout", float, 0.05, 3600),
            ("backoff_base", float, 0.0, 600),
            ("max_attempts", int, 1, 100),
            ("batch_size", int, 1, 100),
            ("page_size", int, 1, 500),
        ):
            if name not in options:
                continue
            value = options[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (low <= value <= high)
            ):
                problems.append(f"{name} must be a number from {low} to {high:g}")
                continue
            setattr(out, name, kind(value))
        if problems:
            raise UserError("account options: " + "; ".join(problems))
        return out


@dataclass
class Call:
    """One API call for :meth:`GoogleClient.batch`: a key, a request factory and its cost."""

    key: Any
    make: Callable[[], Any]
    units: float = 1.0


@dataclass
class GoogleClient:
    """A service with the pacer, retries and batches of one account."""

    service: Any
    pacer: Pacer
    settings: Settings
    batch_endpoints: list[str]
    account: str = ""
    on_token: Callable[[], None] | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    batch_size: int = 0
    stats: dict[str, int] = field(
        default_factory=lambda: {"calls": 0, "retries": 0, "rejected": 0, "batches": 0}
    )

    def __post_init__(self) -> None:
        # Slow start: small batches first, doubling while they succeed; a server with less
        # quota than assumed then rejects a small tail rather than most of a large batch.
        self.batch_size = min(self.settings.batch_size, 10)

    # -- plumbing ----------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """Sleep, unless the fetch was abandoned."""
        if seconds > 0 and self.stop.wait(seconds):
            raise Stopped("stopped")
        if self.stop.is_set():
            raise Stopped("stopped")

    def _backoff(self, attempt: int, hint: float | None = None) -> float:
        if hint is not None:
            return hint
        base = self.settings.backoff_base * 2**attempt
        return min(base, max(self.settings.backoff_base * 32, 0.0)) * (0.5 + random.random() / 2)

    def _give_up(self, what: str, exc: BaseException | str, wait: float) -> TransientError:
        return TransientError(
            f"Google API ({self.account}): {what} kept failing: {exc}", retry_after=max(wait, 60.0)
        )

    def _tokens_changed(self) -> None:
        if self.on_token is not None:
            try:
                self.on_token()
            except Exception:  # never fail a sync over saving a refreshed token
                log.warning("could not save the refreshed token of %s", self.account)

    def _auth_required(self, detail: str) -> AuthRequired:
        return AuthRequired(
            f"account {self.account}: Google refused the grant ({detail}); "
            f"run `syncd auth {self.account}`"
        )

    # -- single calls -----------------------------------------------------------------------

    def execute(self, make: Callable[[], Any], units: float = 1.0, what: str = "call") -> Any:
        """Run one request with pacing and retries; other error answers raise a
        :class:`~connectors.google_errors.GoogleApiError` (``NotFound``, ``Gone`` ...).

        ``make`` builds a fresh request per attempt (``service.x().y(...)``).
        """
        from googleapiclient.errors import HttpError

        attempt = 0
        while True:
            entry = self.pacer.acquire(units, self.sleep)
            self.stats["calls"] += 1
            try:
                try:
                    result = make().execute(num_retries=0)
                finally:
                    self.pacer.settle(entry)
            except HttpError as exc:
                kind = classify(exc)
                if kind == "rate":
                    self.pacer.refund(units)
                    self.stats["rejected"] += 1
                    pause = self.pacer.rate_limited(retry_after(exc))
                    if attempt + 1 >= self.settings.max_attempts * 2:
                        raise self._give_up(what, "rate limited", pause) from None
                elif kind == "server":
                    pause = self._backoff(attempt, retry_after(exc))
                    if attempt + 1 >= self.settings.max_attempts:
                        raise self._give_up(what, f"HTTP {status_of(exc)}", pause) from None
                elif kind == "auth":
                    raise self._auth_required(f"HTTP 401 on {what}") from None
                elif kind == "scope":
                    raise AuthRequired(
                        f"account {self.account}: the grant lacks a scope needed for {what}; "
                        f"run `syncd auth {self.account}`"
                    ) from None
                elif kind == "daily":
                    raise TransientError(
                        f"Google API ({self.account}): daily quota used up", retry_after=3600
                    ) from None
                else:
                    raise api_error(exc, what) from None
                attempt += 1
                self.stats["retries"] += 1
                log.debug("%s: HTTP %s, retry %d in %.2fs", what, status_of(exc), attempt, pause)
                self.sleep(pause)
                continue
            except Exception as exc:
                if auth_error(exc):
                    raise self._auth_required(refresh_detail(exc)) from None
                if isinstance(exc, Stopped) or not is_transport_error(exc):
                    raise
                pause = self._backoff(attempt)
                attempt += 1
                if attempt >= self.settings.max_attempts:
                    raise self._give_up(what, type(exc).__name__, pause) from None
                self.stats["retries"] += 1
                log.debug("%s: %s, retry %d in %.2fs", what, type(exc).__name__, attempt, pause)
                self.sleep(pause)
                continue
            self.pacer.success()
            self._tokens_changed()
            return result

    # -- batches ---------------------------------------------------------------------------------

    def next_batch_size(self, unit_cost: float) -> int:
        """Calls the next batch may hold: adapted to failures and to the current pace."""
        return max(
            1, min(self.batch_size, self.pacer.allowed_batch(unit_cost, self.settings.batch_size))
        )

    def batch(self, calls: Iterable[Call], what: str = "batch") -> Iterator[tuple[Any, Any, Any]]:
        """Run ``calls`` in batches; yield ``(key, response, error|None)`` per call.

        Rate-limited, 5xx and timed-out calls are retried (with the pace
        slowed, backoff and a smaller batch); other errors are yielded for the
        caller to judge: error answers as a
        :class:`~connectors.google_errors.GoogleApiError` (``NotFound`` ...),
        anything else as raised. Results come in completion order.
        """
        from googleapiclient.errors import HttpError

        todo: deque[Call] = deque(calls)
        attempts: dict[tuple[int, str], int] = {}
        while todo:
            size = self.next_batch_size(max(c.units for c in list(todo)[: self.batch_size]))
            chunk = [todo.popleft() for _ in range(min(size, len(todo)))]
            entry = self.pacer.acquire(sum(c.units for c in chunk), self.sleep)
            results: dict[int, tuple[Any, Any]] = {}
            try:
                try:
                    self._run_batch(chunk, results)
                finally:
                    self.pacer.settle(entry)
            except HttpError as exc:
                kind = classify(exc)
                if kind == "auth":
                    raise self._auth_required("HTTP 401 on a batch") from None
                if kind not in ("rate", "server"):
                    raise api_error(exc, what) from None
                results = {i: (None, exc) for i in range(len(chunk))}
            except Exception as exc:
                if auth_error(exc):
                    raise self._auth_required(refresh_detail(exc)) from None
                if isinstance(exc, Stopped) or not is_transport_error(exc):
                    raise
                results = {i: (None, exc) for i in range(len(chunk))}
            retry: list[Call] = []
            rate_hits: list[Any] = []
            rate_units = 0.0
            worst: float | None = None
            for i, call in enumerate(chunk):
                response, exc = results.get(i, (None, TimeoutError("no response part")))
                if exc is None:
                    yield call.key, response, None
                    continue
                kind = (
                    classify(exc)
                    if isinstance(exc, HttpError)
                    else ("server" if is_transport_error(exc) else "other")
                )
                if kind == "auth":
                    raise self._auth_required("HTTP 401 in a batch")
                if kind == "scope":
                    raise AuthRequired(
                        f"account {self.account}: the grant lacks a scope needed "
                        f"for {what}; run `syncd auth {self.account}`"
                    )
                if kind == "daily":
                    raise TransientError(
                        f"Google API ({self.account}): daily quota used up", retry_after=3600
                    )
                if kind not in ("rate", "server"):
                    typed = api_error(exc, what) if isinstance(exc, HttpError) else exc
                    yield call.key, None, typed
                    continue
                slot = (id(call), kind)
                n = attempts[slot] = attempts.get(slot, 0) + 1
                limit = self.settings.max_attempts * (4 if kind == "rate" else 1)
                if n >= limit:
                    raise self._give_up(what, exc, self._backoff(n))
                retry.append(call)
                if kind == "rate":
                    rate_hits.append(exc)
                    rate_units += call.units
                else:
                    hint = retry_after(exc) if isinstance(exc, HttpError) else None
                    worst = max(worst or 0.0, self._backoff(n - 1, hint))
            ok = len(chunk) - len(retry)
            if ok:
                self.pacer.success()
                self._tokens_changed()
            if rate_hits:
                self.pacer.refund(rate_units)
                hints = [h for h in (retry_after(e) for e in rate_hits) if h is not None]
                pause = self.pacer.rate_limited(max(hints) if hints else None, len(rate_hits))
                self.stats["rejected"] += len(rate_hits)
                self.batch_size = max(1, min(self.batch_size, len(chunk)) // 2)
                worst = max(worst or 0.0, pause)
            elif worst is not None:
                self.batch_size = max(1, min(self.batch_size, len(chunk)) // 2)
            elif self.batch_size < self.settings.batch_size:
                self.batch_size = min(self.settings.batch_size, self.batch_size * 2)
            if retry:
                self.stats["retries"] += len(retry)
                todo.extendleft(reversed(retry))
                log.debug(
                    "%s: %d of %d calls to retry in %.2fs",
                    what,
                    len(retry),
                    len(chunk),
                    worst or 0.0,
                )
                self.sleep(worst or 0.0)

    def _run_batch(self, chunk: list[Call], results: dict[int, tuple[Any, Any]]) -> None:
        from googleapiclient.errors import HttpError
        from googleapiclient.http import BatchHttpRequest

        self.stats["batches"] += 1
        self.stats["calls"] += len(chunk)
        if not self.batch_endpoints or len(chunk) == 1:
            for i, call in enumerate(chunk):
                try:
                    results[i] = (call.make().execute(num_retries=0), None)
                except HttpError as exc:
                    results[i] = (None, exc)
            return
        while True:
            uri = self.batch_endpoints[0]

            def done(request_id: str, response: Any, exc: Any) -> None:
                results[int(request_id)] = (response, exc)

            batch = BatchHttpRequest(callback=done, batch_uri=uri)
            for i, call in enumerate(chunk):
                batch.add(call.make(), request_id=str(i))
            try:
                batch.execute()
                return
            except HttpError as exc:
                if status_of(exc) in (404, 405) and len(self.batch_endpoints) > 0:
                    log.info("batch endpoint %s not served; trying the next", uri)
                    self.batch_endpoints.pop(0)
                    if not self.batch_endpoints:
                        self._run_batch(chunk, results)
                        return
                    continue
                raise


# -- background fetching ------------------------------------------------------------------------


def background(
    produce: Callable[[], Iterator[Any]], stop: threading.Event, depth: int = 4
) -> Iterator[Any]:
    """Run the generator ``produce()`` in a thread, ``depth`` items ahead of the consumer.

    The consumer's work (storing batches) then does not stall the quota. When
    the consumer stops early, ``stop`` is set and the thread winds down;
    exceptions of the producer are re-raised in the consumer.
    """
    items: queue.Queue = queue.Queue(maxsize=depth)
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in produce():
                if not put((None, item)):
                    return
            put((None, done))
        except Stopped:
            pass
        except BaseException as exc:
            put((exc, None))

    thread = threading.Thread(target=run, name="google-fetch", daemon=True)
    thread.start()
    try:
        while True:
            exc, item = items.get()
            if exc is not None:
                raise exc
            if item is done:
                return
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


# -- opening an account -------------------------------------------------------------------------


def open_client(
    account: Any,
    home: Any,
    api: str,
    version: str,
    default_quota: float,
    required: list[str] | None = None,
) -> GoogleClient:
    """A paced client for ``account`` (an :class:`~syncd.config.schema.AccountConfig`)."""
    endpoint = account.options.get("api_endpoint")
    if endpoint is not None and (
        not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https")
    ):
        raise UserError(f"account {account.name}: api_endpoint must be an http(s) URL")
    settings = Settings.from_options(account.options, default_quota)
    grant = load_grant(account, home, required)
    service = build_service(api, version, grant.credentials, endpoint, settings.timeout)

    def factory() -> Pacer:
        return Pacer(
            settings.quota_per_minute,
            settings.quota_window,
            backoff_base=settings.backoff_base,
            logger=log,
        )

    pacer = shared_pacer((account.name, f"{api}@{endpoint or 'google'}"), factory)
    pacer.maybe_reset()
    return GoogleClient(
        service=service,
        pacer=pacer,
        settings=settings,
        batch_endpoints=batch_uris(api, version, endpoint),
        account=account.name,
        on_token=grant.save_if_refreshed,
    )
