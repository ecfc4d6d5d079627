"""A real Radicale CalDAV server on loopback for tests (PyPI ``radicale``).

:class:`Radicale` writes a config (htpasswd users, filesystem storage under a
temporary directory, owner-only rights), runs ``python -m radicale`` on
``127.0.0.1`` and a free port, and stops it. A missing package is a test
failure that names the install command. Seeding goes over CalDAV (PUT of one
resource per UID), so the server assigns etags and sync tokens as it would.
"""

from __future__ import annotations

import base64
import contextlib
import importlib.util
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.certs import private_ca
from tests.support.dovecot import free_port

INSTALL = "pip install radicale (make's venv installs it with the dev extra)"
USER = "ana"
ADDRESS = "ana@example.org"
PASSWORD = "cal-app-password"
CALENDAR = "work"


class Radicale:
    """One Radicale instance (see the module docstring)."""

    def __init__(self, root: Path, tls: bool = False):
        self.root = root
        self.tls = tls
        self.cafile: Path | None = None
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/"

    @property
    def calendar_url(self) -> str:
        """The test calendar's collection URL."""
        return f"{self.url}{USER}/{CALENDAR}/"

    def start(self) -> Radicale:
        """Write the config (a new free port unless restarting), start, wait until it answers."""
        if importlib.util.find_spec("radicale") is None:
            pytest.fail(f"the CalDAV tests need a Radicale server: {INSTALL}", pytrace=False)
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "users").write_text(f"{USER}:{PASSWORD}\n")
        if not self.port:
            self.port = free_port()
        conf = self.root / "radicale.conf"
        tls = ""
        if self.tls:
            self.cafile, cert, key = private_ca(self.root / "tls")
            tls = f"ssl = True\ncertificate = {cert}\nkey = {key}\n"
        conf.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n{tls}"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {self.root}/users\n"
            "htpasswd_encryption = plain\ndelay = 0\n"
            f"[storage]\nfilesystem_folder = {self.root}/collections\n"
            "[rights]\ntype = owner_only\n"
            "[logging]\nlevel = warning\n"
        )
        self.log_file = open(self.root / "radicale.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(conf)],
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"radicale did not start: {self.log()}", pytrace=False)
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return self
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"radicale did not answer on port {self.port}: {self.log()}", pytrace=False)

    def stop(self) -> None:
        """Stop the server."""
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        self.log_file.close()

    def restart(self) -> None:
        """Stop and start again on the same port (the storage stays)."""
        self.stop()
        self.start()

    def log(self) -> str:
        """The server's log (the last lines)."""
        path = self.root / "radicale.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    # -- plain HTTP, as another calendar app would --------------------------------------------

    def request(
        self, method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        """One authenticated request; (status, body)."""
        req = urllib.request.Request(url, data=body or None, method=method)
        mgr = urllib.request.HTTPPasswordMgrWithDefaultRealm()
        mgr.add_password(None, self.url, USER, PASSWORD)
        opener = urllib.request.build_opener(urllib.request.HTTPBasicAuthHandler(mgr))
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with opener.open(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def make_calendar(self, name: str = CALENDAR) -> str:
        """MKCALENDAR ``name``; its URL."""
        url = f"{self.url}{USER}/{name}/"
        body = (
            '<?xml version="1.0"?><C:mkcalendar xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop>'
            f"<D:displayname>{name}</D:displayname>"
            "</D:prop></D:set></C:mkcalendar>"
        ).encode()
        status, text = self.request("MKCALENDAR", url, body, {"Content-Type": "application/xml"})
        assert status in (201, 405, 409), (status, text)  # 405/409: it exists
        return url

    def put(self, uid: str, ics: bytes, calendar: str = CALENDAR) -> str:
        """PUT one resource ``UID.ics``; its URL."""
        url = f"{self.url}{USER}/{calendar}/{uid}.ics"
        status, text = self.request("PUT", url, ics, {"Content-Type": "text/calendar"})
        assert status in (201, 204), (status, text)
        return url

    def delete(self, url: str) -> None:
        """DELETE a resource."""
        status, text = self.request("DELETE", url)
        assert status in (200, 204, 404), (status, text)

    def collection(self, calendar: str = CALENDAR) -> Path:
        """Where the calendar's resources are stored on disk."""
        return self.root / "collections" / "collection-root" / USER / calendar
