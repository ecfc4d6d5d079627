"""The systemd notification protocol (``sd_notify``), without libsystemd.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (a unix datagram socket;
a leading ``@`` means the abstract namespace) and, when ``WatchdogSec=`` is
set, ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``). A message is one datagram of
newline-separated ``KEY=VALUE`` lines: ``READY=1``, ``STATUS=...``,
``WATCHDOG=1``, ``RELOADING=1``, ``STOPPING=1``.

Outside systemd (no ``NOTIFY_SOCKET``) every call is a cheap no-op, so callers
never need to check.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Send state changes to the service manager, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None):
        env = os.environ if environ is None else environ
        self.address: str | bytes | None = None
        text = env.get("NOTIFY_SOCKET", "")
        if text.startswith("@"):
            self.address = "\0" + text[1:]
        elif text.startswith("/"):
            self.address = text
        elif text:
            log.debug("NOTIFY_SOCKET %r is not a unix socket; notifications disabled", text)
        self.watchdog_usec = 0
        pid = env.get("WATCHDOG_PID")
        usec = env.get("WATCHDOG_USEC", "")
        if usec.isdigit() and (not pid or pid == str(os.getpid())):
            self.watchdog_usec = int(usec)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether a service manager listens."""
        return self.address is not None

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between ``WATCHDOG=1`` pings (half the manager's timeout), or None."""
        if not self.enabled or not self.watchdog_usec:
            return None
        return self.watchdog_usec / 2_000_000

    def send(self, *lines: str) -> bool:
        """Send one datagram of ``KEY=VALUE`` lines; False when nobody listens or it failed."""
        if self.address is None:
            return False
        payload = "\n".join(line.replace("\n", " ") for line in lines).encode("utf-8")
        with self._lock:
            try:
                if self._sock is None:
                    self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    self._sock.setblocking(False)
                self._sock.sendto(payload, self.address)
            except OSError as exc:
                log.debug("sd_notify failed: %s", exc)
                return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """``READY=1`` (startup or a reload finished), with an optional status line."""
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        """A free-form one-line status shown by ``systemctl status``."""
        return self.send(f"STATUS={text}")

    def reloading(self) -> bool:
        """``RELOADING=1`` with the monotonic timestamp systemd ≥ 253 asks for."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str | None = None) -> bool:
        """``STOPPING=1``: shutting down."""
        return self.send("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        """``WATCHDOG=1``: still alive."""
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        """Close the socket (later sends reopen it)."""
        with self._lock:
            if self._sock is not None:
                self._sock.close()
                self._sock = None
