"""A loopback TCP proxy for tests: records what the client sends, can cut connections.

Put it between a connector and a real server (Dovecot): ``sent`` holds every
byte the client wrote (so a test can check which IMAP commands were issued),
and ``cut_after(marker, n)`` drops the connection when the client sends
``marker`` for the ``n``-th time (a connection lost mid-fetch).
"""

from __future__ import annotations

import contextlib
import socket
import threading


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:target``."""

    def __init__(self, target: int):
        self.target = target
        self.sent = bytearray()
        self._cut: tuple[bytes, int] | None = None
        self._seen = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, marker: bytes, count: int) -> None:
        """Drop the connection when the client sends ``marker`` the ``count``-th time."""
        with self._lock:
            self._cut = (marker, count)
            self._seen = 0

    def commands(self) -> list[str]:
        """The client's lines (commands and literals), decoded."""
        return bytes(self.sent).decode("latin-1").splitlines()

    def close(self) -> None:
        """Stop accepting and close every connection."""
        with contextlib.suppress(OSError):
            self._listener.close()
        for s in list(self._open):
            with contextlib.suppress(OSError):
                s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            self._open += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _should_cut(self, data: bytes) -> bool:
        with self._lock:
            if self._cut is None:
                return False
            marker, count = self._cut
            self._seen += data.count(marker)
            if self._seen >= count:
                self._cut = None
                return True
            return False

    def _pipe(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if upstream:
                    self.sent += data
                    if self._should_cut(data):
                        break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
