"""WebDAV/CalDAV requests for the ``caldav`` connector: discovery, sync, typed errors.

The caldav library discovers the principal and its calendars (well-known
URL, current-user-principal, calendar-home-set) and carries the HTTP
requests (authentication, TLS verification against the system store or
``cafile``). The REPORTs whose outcome syncd must see exactly are built here:
``sync-collection`` (RFC 6578; a token the server no longer accepts becomes
:class:`~syncd.core.errors.CursorExpired`), ``PROPFIND`` of etags (for servers
without sync), ``calendar-multiget`` and a time-range ``calendar-query``.
Library and HTTP errors never leave this module untyped: 401/403 on login is
:class:`~syncd.core.errors.AuthRequired`, 429/5xx and lost connections are
:class:`~syncd.core.errors.TransientError`.
"""

from __future__ import annotations

import contextlib
import logging
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar
from urllib.parse import unquote, urljoin, urlsplit

import caldav
from caldav.lib import error as dav_error

from connectors.base import LOOPBACK
from connectors.passwords import account_password
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, CursorExpired, SyncdError, TransientError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

NS = {"D": "DAV:", "C": "urn:ietf:params:xml:ns:caldav"}
XML = {"Content-Type": 'application/xml; charset="utf-8"'}
RETRY_SECONDS = 120
# The library's authentication objects, by class name, and the scheme each answers.
AUTH_SCHEMES = {"HTTPBasicAuth": "basic", "HTTPDigestAuth": "digest", "HTTPBearerAuth": "bearer"}
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class DavSettings:
    """Where and how to reach one CalDAV account."""

    name: str
    url: str
    username: str
    calendar: str | None
    cafile: str | None
    timeout: float

    @classmethod
    def of(cls, account: AccountConfig) -> DavSettings:
        """The settings of a configured ``caldav`` account, checked."""
        o = account.options
        url = str(o.get("url") or "")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"account {account.name}: url must be an https:// URL")
        if parts.scheme == "http" and parts.hostname not in LOOPBACK:
            raise UserError(
                f"account {account.name}: plain http is only allowed to this machine; "
                "use the https:// URL"
            )
        username = str(o.get("username") or account.address or "")
        if not username:
            raise UserError(f"account {account.name}: needs --username or --address")
        cafile = str(o["cafile"]) if o.get("cafile") else None
        return cls(
            name=account.name,
            url=url,
            username=username,
            calendar=str(o["calendar"]) if o.get("calendar") else None,
            cafile=cafile,
            timeout=float(o.get("timeout") or 60),
        )

    @property
    def discovery_key(self) -> str:
        """What discovery depends on: a calendar found for another key is not this one."""
        return "\n".join((self.url, self.username, self.calendar or ""))


class CalendarGone(Exception):
    """The calendar URL remembered from an earlier sync answered 404 (deleted, moved)."""


@dataclass(slots=True)
class Resource:
    """One calendar object resource: its href (a path), etag and (when fetched) data."""

    href: str
    etag: str = ""
    data: bytes | None = None
    gone: bool = False


def _refused(settings: DavSettings, status: int, what: str) -> SyncdError:
    if status in (401, 403):
        return AuthRequired(
            f"account {settings.name}: the server refused the login of {settings.username} "
            f"({what}: HTTP {status}); run `syncd auth {settings.name}` with an app password"
        )
    if status == 429 or status >= 500:
        return TransientError(
            f"account {settings.name}: the server is busy ({what}: HTTP {status})",
            retry_after=RETRY_SECONDS,
        )
    return UserError(f"account {settings.name}: the server refused {what}: HTTP {status}")


class DavSession:
    """One account's connection: the chosen calendar, and the requests syncd makes."""

    def __init__(self, settings: DavSettings, password: str):
        self.settings = settings
        self.client = caldav.DAVClient(
            url=settings.url,
            username=settings.username,
            password=password,
            timeout=int(settings.timeout),
            ssl_verify_cert=settings.cafile or True,
            require_tls=urlsplit(settings.url).hostname not in LOOPBACK,
        )
        self._calendar_url: str | None = None
        self._remembered = False

    def close(self) -> None:
        """Close the pooled connections (the next request opens new ones): each keeps a
        keep-alive watch thread (urllib3-future) waking every few seconds."""
        with contextlib.suppress(Exception):
            self.client.close()

    # -- plumbing -----------------------------------------------------------------------------

    def guarded(self, what: str, call: Callable[[], T]) -> T:
        """Run a library call; every failure becomes a typed one-line error."""
        try:
            return call()
        except SyncdError:
            raise
        except dav_error.AuthorizationError:
            raise _refused(self.settings, 401, what) from None
        except dav_error.NotFoundError:
            raise UserError(f"account {self.settings.name}: {what}: not found") from None
        except Exception as exc:  # requests/niquests errors: refused TLS, lost connections
            if _certificate_error(exc):
                raise UserError(
                    f"account {self.settings.name}: the server's certificate is not trusted; "
                    "for a private CA name it with --cafile FILE"
                ) from None
            if isinstance(exc, dav_error.DAVError):
                raise TransientError(
                    f"account {self.settings.name}: {what} failed ({exc.__class__.__name__})",
                    retry_after=RETRY_SECONDS,
                ) from None
            raise TransientError(
                f"account {self.settings.name}: cannot reach the server for {what} "
                f"({type(exc).__name__})",
                retry_after=RETRY_SECONDS,
            ) from None

    def request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request through the library's session: status, headers, body."""
        resp = self.guarded(
            f"{method} {urlsplit(url).path}",
            lambda: self.client.request(url, method, body.decode(), headers or {}),
        )
        raw = getattr(resp, "_raw_body", b"") or b""
        if not raw and resp.raw:
            raw = resp.raw.encode() if isinstance(resp.raw, str) else bytes(resp.raw)
        return int(resp.status), {k.lower(): v for k, v in resp.headers.items()}, raw

    def absolute(self, href: str) -> str:
        """An href from a response as an absolute URL."""
        return urljoin(self.calendar_url, href)

    # -- discovery ----------------------------------------------------------------------------

    @property
    def calendar_url(self) -> str:
        """The account's calendar (option ``calendar``: its name or URL; default: the first)."""
        if self._calendar_url is None:
            self._calendar_url = self._discover()
        return self._calendar_url

    @property
    def auth_scheme(self) -> str | None:
        """The authentication the server asked for ("basic", "digest", "bearer"), once a
        request has been answered; None before."""
        return AUTH_SCHEMES.get(type(self.client.auth).__name__)

    def remember(self, url: str, auth_scheme: str | None) -> None:
        """Use the calendar and the authentication an earlier sync found (discovery is
        four PROPFINDs, and the library's first request is refused until it knows the
        scheme); a 404 on the calendar raises :class:`CalendarGone`, then :meth:`forget`."""
        self._calendar_url, self._remembered = url, True
        if auth_scheme in AUTH_SCHEMES.values():
            self.client.auth_type = auth_scheme
            self.client.build_auth_object()

    def forget(self) -> None:
        """Drop what :meth:`remember` set: the next use discovers and negotiates again."""
        self._calendar_url, self._remembered = None, False
        self.client.auth, self.client.auth_type = None, None

    def _gone(self, status: int) -> None:
        if status in (404, 410) and self._remembered:
            raise CalendarGone(self._calendar_url)

    def _discover(self) -> str:
        wanted = self.settings.calendar
        principal = self.guarded("discovery", self.client.principal)
        calendars = self.guarded("discovery", principal.calendars)
        named = []
        for cal in calendars:
            url = str(cal.url)
            name = self.guarded("discovery", cal.get_display_name) or ""
            named.append((name, url))
            tail = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
            if wanted is None or wanted in (name, url, tail):
                return url if url.endswith("/") else url + "/"
        if not named:
            raise UserError(f"account {self.settings.name}: the server lists no calendar")
        names = ", ".join(repr(n or u) for n, u in named)
        raise UserError(
            f"account {self.settings.name}: no calendar named {wanted!r} (the server has {names})"
        )

    # -- reading ------------------------------------------------------------------------------

    def sync_collection(self, token: str | None) -> tuple[list[Resource], str] | None:
        """Changes since ``token`` (everything without one) and the new token; None when
        the server does not offer sync-collection. A refused token is CursorExpired."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:">'
            f"<D:sync-token>{_escape(token or '')}</D:sync-token><D:sync-level>1</D:sync-level>"
            "<D:prop><D:getetag/></D:prop></D:sync-collection>"
        ).encode()
        try:
            status, _, raw = self.request("REPORT", self.calendar_url, body, XML)
        except AuthRequired:
            if not token:
                raise
            # Some servers answer a stale token with 403, which the library reports as
            # a refused login: if the same report without a token is accepted, it was
            # the token.
            if self.sync_collection(None) is not None:
                raise CursorExpired(
                    f"account {self.settings.name}: the server refused the sync token"
                ) from None
            raise
        self._gone(status)
        if status == 207:
            root = _xml(raw)
            new_token = (root.findtext("D:sync-token", "", NS) or "").strip()
            return _resources(root), new_token
        if token and (status in (403, 409) or b"valid-sync-token" in raw):
            raise CursorExpired(f"account {self.settings.name}: the server refused the sync token")
        if status in (400, 403, 404, 405, 415, 501):
            return None
        raise _refused(self.settings, status, "the sync report")

    def etags(self) -> list[Resource]:
        """Every resource of the calendar with its etag (PROPFIND, depth 1)."""
        body = (
            b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
            b"<D:getetag/><D:resourcetype/></D:prop></D:propfind>"
        )
        status, _, raw = self.request("PROPFIND", self.calendar_url, body, {**XML, "Depth": "1"})
        self._gone(status)
        if status != 207:
            raise _refused(self.settings, status, "the calendar listing")
        own = urlsplit(self.calendar_url).path.rstrip("/")
        return [r for r in _resources(_xml(raw)) if r.href.rstrip("/") != own]

    def multiget(self, hrefs: list[str]) -> list[Resource]:
        """The calendar data and etags of ``hrefs`` (one calendar-multiget REPORT)."""
        refs = "".join(f"<D:href>{_escape(h)}</D:href>" for h in hrefs)
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:calendar-multiget xmlns:D="DAV:" '
            f'xmlns:C="{NS["C"]}"><D:prop><D:getetag/><C:calendar-data/></D:prop>{refs}'
            "</C:calendar-multiget>"
        ).encode()
        status, _, raw = self.request("REPORT", self.calendar_url, body, {**XML, "Depth": "1"})
        if status != 207:
            raise _refused(self.settings, status, "reading events")
        return _resources(_xml(raw))

    def time_range(self, start: int, end: int) -> list[Resource]:
        """Resources with a VEVENT overlapping ``[start, end)`` (calendar-query)."""
        body = (
            '<?xml version="1.0" encoding="utf-8"?><C:calendar-query xmlns:D="DAV:" '
            f'xmlns:C="{NS["C"]}"><D:prop><D:getetag/><C:calendar-data/></D:prop>'
            '<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
            f'<C:time-range start="{_utc(start)}" end="{_utc(end)}"/>'
            "</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>"
        ).encode()
        status, _, raw = self.request("REPORT", self.calendar_url, body, {**XML, "Depth": "1"})
        if status != 207:
            raise _refused(self.settings, status, "the free/busy query")
        return [r for r in _resources(_xml(raw)) if r.data is not None]


def _certificate_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is a refused TLS certificate."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        if "CERTIFICATE_VERIFY_FAILED" in str(seen) or "certificate verify failed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y%m%dT%H%M%SZ")


def _xml(raw: bytes) -> ET.Element:
    try:
        return ET.fromstring(raw)
    except ET.ParseError:
        raise TransientError(
            "the CalDAV server sent unreadable XML", retry_after=RETRY_SECONDS
        ) from None


def _resources(root: ET.Element) -> list[Resource]:
    """The responses of a multistatus: href, etag, calendar data, gone (404)."""
    out = []
    for response in root.findall("D:response", NS):
        href = unquote((response.findtext("D:href", "", NS) or "").strip())
        if not href:
            continue
        status = response.findtext("D:status", "", NS) or ""
        res = Resource(href=href, gone=" 404" in status)
        for propstat in response.findall("D:propstat", NS):
            if " 200" not in (propstat.findtext("D:status", "", NS) or ""):
                continue
            prop = propstat.find("D:prop", NS)
            if prop is None:
                continue
            res.etag = (prop.findtext("D:getetag", "", NS) or "").strip()
            data = prop.findtext("C:calendar-data", None, NS)
            if data is not None:
                res.data = data.encode("utf-8")
            if prop.find("D:resourcetype/D:collection", NS) is not None:
                res.href = res.href if res.href.endswith("/") else res.href + "/"
        out.append(res)
    return out


def open_session(account: AccountConfig, home: Home) -> DavSession:
    """A session for a configured ``caldav`` account (nothing is requested yet)."""
    settings = DavSettings.of(account)
    if settings.cafile and not Path(settings.cafile).exists():
        raise UserError(f"account {account.name}: the CA file {settings.cafile} does not exist")
    return DavSession(settings, account_password(account, home))


def chunked(items: list[str], size: int) -> Iterator[list[str]]:
    """``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
