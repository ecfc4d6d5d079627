"""The EWS emulator's HTTP server: ``POST /EWS/Exchange.asmx`` with Basic auth.

Requests are logged (operation, requested properties, whether message content
was asked for) and faults can be queued: ``ErrorServerBusy`` with a back-off
hint, HTTP 503 throttling, a stalled response (client timeout), a reset
connection, an expired password (401) and lost sync states.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import struct
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import spnego
import spnego.exceptions

from tests.support.ews_emulator import autodiscover, ops_calendar, ops_mail
from tests.support.ews_emulator.mailbox import Mailbox
from tests.support.ews_emulator.soap import (
    API_VERSIONS,
    SoapFault,
    envelope,
    fault,
    parse_request,
)

PATH = "/EWS/Exchange.asmx"
Handler = Callable[[Mailbox, ET.Element, dict], ET.Element]
OPERATIONS: dict[str, Handler] = {
    "ConvertId": ops_mail.convert_id,
    "GetFolder": ops_mail.get_folder,
    "SyncFolderHierarchy": ops_mail.sync_folder_hierarchy,
    "SyncFolderItems": ops_mail.sync_folder_items,
    "GetItem": ops_mail.get_item,
    "FindItem": ops_calendar.find_item,
    "CreateItem": ops_calendar.create_item,
    "DeleteItem": ops_calendar.delete_item,
    "UpdateItem": ops_calendar.update_item,
    "GetUserAvailabilityRequest": ops_calendar.get_user_availability,
    "GetServerTimeZones": ops_calendar.get_server_time_zones,
    "ResolveNames": ops_calendar.resolve_names,
}


@dataclass
class Fault:
    """A queued fault: ``kind`` busy | throttle | stall | reset | reset_after (the operation
    commits, then the connection is reset) | expired | invalid_sync_state,
    for ``op`` (None: any operation), ``times`` requests in a row."""

    kind: str
    op: str | None = None
    times: int = 1
    back_off_ms: int = 50


class EwsEmulator:
    """An Exchange Server 2016 speaking EWS on a loopback port, holding one mailbox."""

    def __init__(self, address: str = "me@corp.example", username: str = "CORP\\me",
                 password: str = "secret", auth: str = "basic") -> None:  # fmt: skip
        self.mailbox = Mailbox(address)
        self.username = username
        self.password = password
        self.password_expired = False
        self.auth = auth  # basic, ntlm (pyspnego's acceptor) or oauth (a bearer token)
        self.requests: list[dict[str, Any]] = []
        self.external_ews_url: str | None = None  # what Autodiscover names (default: url)
        self.faults: list[Fault] = []
        self.lock = threading.Lock()
        self.stall_seconds = 3.0
        self._server: ThreadingHTTPServer | None = None

    # -- life cycle --------------------------------------------------------------------------

    def start(self, tls: tuple[Path, Path] | None = None, port: int = 0) -> EwsEmulator:
        """Listen on loopback ``port`` (0: a free one; in a daemon thread); with ``tls``
        (certificate, key), over HTTPS."""
        emu = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()  # headers and body go in two writes: no Nagle delay between
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                emu._handle(self)

            def do_GET(self) -> None:
                self._reply(405, b"")

            def do_HEAD(self) -> None:  # Autodiscover's check that a redirect URL answers
                self.send_response(200 if self.path.lower() == autodiscover.PATH else 404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _reply(self, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        if self.auth == "ntlm":  # pyspnego's NTLM acceptor reads its users from this file
            users = Path(tempfile.mkdtemp()) / "ntlm-users"
            users.write_text(f"{self.username.replace(chr(92), ':')}:{self.password}\n")
            os.environ["NTLM_USER_FILE"] = str(users)
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
        self._server.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls[0]), str(tls[1]))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        """The EWS endpoint URL."""
        assert self._server is not None
        return f"{self.scheme}://127.0.0.1:{self._server.server_address[1]}{PATH}"

    @property
    def autodiscover_url(self) -> str:
        """The SOAP Autodiscover endpoint URL."""
        return self.url.replace(PATH, autodiscover.PATH)

    # -- test controls -------------------------------------------------------------------------

    def inject(
        self, kind: str, op: str | None = None, times: int = 1, back_off_ms: int = 50
    ) -> None:
        """Queue a fault for the next ``times`` requests (of ``op``)."""
        with self.lock:
            self.faults.append(Fault(kind, op, times, back_off_ms))

    def ops(self) -> list[str]:
        """The operations received so far, in order."""
        with self.lock:
            return [r["op"] for r in self.requests]

    def content_requests(self) -> list[dict[str, Any]]:
        """Logged requests that asked for a body, attachments or MIME content."""
        with self.lock:
            return [r for r in self.requests if r.get("content")]

    # -- serving -----------------------------------------------------------------------------

    def _take_fault(self, op: str) -> Fault | None:
        with self.lock:
            for f in self.faults:
                if f.op in (None, op) and f.times > 0:
                    f.times -= 1
                    if f.times == 0:
                        self.faults.remove(f)
                    return f
        return None

    def _ntlm(self, h: Any, header: str | None) -> bool:
        """One NTLM leg on this connection: True once the client is authenticated (then the
        connection stays authenticated, as IIS keeps it); else the 401 challenge is sent."""
        if getattr(h, "ntlm_done", False):
            return True
        token = header[5:].strip() if header and header.startswith("NTLM ") else ""
        if not token:
            h.ntlm = None
            h._reply(401, b"", {"WWW-Authenticate": "NTLM"})
            return False
        if getattr(h, "ntlm", None) is None:
            h.ntlm = spnego.server(protocol="ntlm")
        try:
            answer = h.ntlm.step(base64.b64decode(token))
        except spnego.exceptions.SpnegoError:
            h.ntlm = None
            h._reply(401, b"", {"WWW-Authenticate": "NTLM"})
            return False
        if h.ntlm.complete:
            h.ntlm_done = True
            return True
        challenge = "NTLM " + base64.b64encode(answer or b"").decode()
        h._reply(401, b"", {"WWW-Authenticate": challenge})
        return False

    def _authorized(self, header: str | None) -> bool:
        if self.auth == "oauth":  # a bearer token (the password stands for it)
            return header == f"Bearer {self.password}"
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user.lower() == self.username.lower() and password == self.password

    def _handle(self, h: Any) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length)
        path = h.path.split("?")[0]
        if path.lower() not in (PATH.lower(), autodiscover.PATH):
            h._reply(404, b"")
            return
        if self.auth == "ntlm" and not self.password_expired:
            if not self._ntlm(h, h.headers.get("Authorization")):
                with self.lock:
                    self.requests.append({"op": "(ntlm handshake)", "status": 401})
                return
        elif not self._authorized(h.headers.get("Authorization")) or self.password_expired:
            scheme = "Bearer" if self.auth == "oauth" else 'Basic realm="127.0.0.1"'
            h._reply(401, b"", {"WWW-Authenticate": scheme})
            with self.lock:
                self.requests.append({"op": "(unauthorized)", "status": 401})
            return
        if path.lower() == autodiscover.PATH:
            self._autodiscover(h, body)
            return
        entry: dict[str, Any] = {"op": "?", "status": 200}
        try:
            op, version, op_el = parse_request(body)
            entry["op"] = op
            if version and version not in API_VERSIONS:
                text = f"The specified server version {version} is invalid."
                raise SoapFault("ErrorInvalidServerVersion", text)
            answer_version = version or API_VERSIONS[0]
            f = self._take_fault(op)
            if f is not None:
                entry["fault"] = f.kind
                if self._apply_fault(h, f, op_el, answer_version, entry):
                    return
            handler = OPERATIONS.get(op)
            if handler is None:
                raise SoapFault("ErrorInvalidRequest", f"The emulator does not implement {op}.")
            payload = handler(self.mailbox, op_el, entry)
            if f is not None and f.kind == "reset_after":  # committed, then the answer is lost
                self._reset(h)
                return
            out = envelope(payload, answer_version)
            status = 200
        except (SoapFault, Exception) as exc:  # a bug of the emulator is a fault, not a hang
            sf = (
                exc
                if isinstance(exc, SoapFault)
                else SoapFault("ErrorInternalServerError", repr(exc))
            )
            out = fault(sf, API_VERSIONS[0])
            status = 500
            entry["status"] = 500
            entry["error"] = sf.code
        with self.lock:
            self.requests.append(entry)
        h._reply(status, out)

    def _autodiscover(self, h: Any, body: bytes) -> None:
        """Answer a SOAP Autodiscover GetUserSettings request for the mailbox's user."""
        address = self.mailbox.address
        ews_url = self.external_ews_url or self.url
        known = {address.lower(): autodiscover.user_settings(address, self.username, ews_url)}
        try:
            out, status = autodiscover.get_user_settings(body, known), 200
        except (ValueError, ET.ParseError):
            out, status = b"", 400
        with self.lock:
            self.requests.append({"op": "(autodiscover) GetUserSettings", "status": status})
        h._reply(status, out)

    @staticmethod
    def _reset(h: Any) -> None:
        """Drop the connection with a TCP reset."""
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        h.connection.close()
        h.close_connection = True

    def _apply_fault(self, h: Any, f: Fault, op_el: ET.Element, version: str, entry: dict) -> bool:
        """Answer with the fault; True when the request is finished."""
        with self.lock:
            self.requests.append(entry)
        if f.kind == "busy":
            text = "The server cannot service this request right now. Try again later."
            sf = SoapFault("ErrorServerBusy", text, f.back_off_ms)
            h._reply(500, fault(sf, version))
            return True
        if f.kind == "throttle":
            h._reply(503, b"Service Unavailable", {"Retry-After": "1"})
            return True
        if f.kind == "stall":
            time.sleep(self.stall_seconds)
            h.close_connection = True
            return True
        if f.kind == "reset":
            self._reset(h)
            return True
        if f.kind == "reset_after":
            return False
        if f.kind == "expired":
            self.password_expired = True
            h._reply(401, b"", {"WWW-Authenticate": 'Basic realm="127.0.0.1"'})
            return True
        if f.kind == "invalid_sync_state":
            with self.lock:
                self.requests.remove(entry)
            for folder in list(self.mailbox.folders):
                self.mailbox.invalidate_sync_states(folder)
            return False
        raise ValueError(f"unknown fault {f.kind}")
