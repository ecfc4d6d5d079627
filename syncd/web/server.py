"""Serving the dashboard: uvicorn on 127.0.0.1, in the foreground or in a thread.

The start URL carries the token, a secret: it is written to ``HOME/serve-url``
(0600) and shown only on the terminal of ``syncd serve``; logs name the address
without it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import threading
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.web.address import HOST, URL_FILE
from syncd.web.app import create_app
from syncd.web.context import WebContext
from syncd.web.security import Sessions

log = logging.getLogger(__name__)


@dataclass
class Served:
    """A dashboard ready to serve: its uvicorn server, socket and addresses."""

    server: uvicorn.Server
    sock: socket.socket
    port: int
    token: str
    url_file: Path
    thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        """The address without the token (safe to log)."""
        return f"http://{HOST}:{self.port}/"

    @property
    def url(self) -> str:
        """The start URL with the token (a secret: terminal and the 0600 file only)."""
        return f"{self.address}?token={self.token}"

    def run(self) -> None:
        """Serve until :meth:`stop` (or SIGINT/SIGTERM in the main thread)."""
        try:
            self.server.run(sockets=[self.sock])
        finally:
            self.sock.close()
            with contextlib.suppress(FileNotFoundError):
                self.url_file.unlink()

    def start_thread(self) -> threading.Thread:
        """Serve in a daemon thread of this process (``syncd run`` with ``[serve]``)."""
        thread = self.thread = threading.Thread(
            target=self.run, name="syncd-dashboard", daemon=True
        )
        thread.start()
        log.warning(
            "dashboard at %s (the start URL with its token is in %s)", self.address, self.url_file
        )
        return thread

    def stop(self, wait: float = 5.0) -> None:
        """Ask the server to finish its requests and stop (waiting for its thread)."""
        self.server.should_exit = True
        if self.thread is not None:
            self.thread.join(timeout=wait)


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: a free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((HOST, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {HOST} is in use (another syncd serve, or syncd run with"
                f" [serve] enabled: its address is in {URL_FILE} in the home); choose another"
                " with --port N"
            ) from None
        raise UserError(f"cannot listen on {HOST}:{port}: {exc.strerror}") from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _write_url(path: Path, url: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(url + "\n")
    os.chmod(path, 0o600)


def prepare(home: Home, port: int, fixed_now: int | None = None) -> Served:
    """Bind, build the app and write ``HOME/serve-url``; nothing is served yet."""
    home.ensure()
    sock = bind(port)
    port = sock.getsockname()[1]
    sessions = Sessions()
    app = create_app(WebContext(home, fixed_now), sessions, port)
    config = uvicorn.Config(
        app,
        log_config=None,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        proxy_headers=False,
        lifespan="off",
        ws="none",
    )
    served = Served(uvicorn.Server(config), sock, port, sessions.token, home.root / URL_FILE)
    _write_url(served.url_file, served.url)
    return served
