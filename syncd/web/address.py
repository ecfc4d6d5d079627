"""Where the dashboard is served: its host, the file holding its start URL, and whether
one answers. Light on purpose: ``syncd status`` reads it without loading the server."""

from __future__ import annotations

import socket

from syncd.core.home import Home

HOST = "127.0.0.1"
URL_FILE = "serve-url"


def served_address(home: Home) -> str | None:
    """The address (without the token) of the dashboard serving ``home`` right now, if
    one answers: ``syncd serve`` or ``syncd run`` with ``[serve]``."""
    try:
        url = (home.root / URL_FILE).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    address = url.split("?", 1)[0]
    try:
        port = int(address.rstrip("/").rsplit(":", 1)[1])
        with socket.create_connection((HOST, port), timeout=0.5):
            return address
    except (ValueError, IndexError, OSError):
        return None  # a file left by a server that was killed
