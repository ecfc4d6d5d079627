"""The IMAP reader passes the reader conformance suite against a real Dovecot.

24 messages over INBOX, Sent and Trash (plus a draft and junk that are never
read), 5 per batch; data is added by APPEND to INBOX.
"""

from __future__ import annotations

from pathlib import Path

from connectors import imap
from connectors.base import Reader
from tests.support.dovecot import Dovecot
from tests.support.imap_testing import BODY_MARKER, ME, fill, home, imap_account, raw
from tests.support.reader_conformance import ConnectorConformance


class TestImapConformance(ConnectorConformance):
    """Dovecot on loopback, opened through the connector seam."""

    body_markers = (BODY_MARKER,)
    interrupt_after = 2

    def setup_source(self, tmp_path: Path) -> None:
        self.server = Dovecot(tmp_path / "dovecot").start()
        fill(self.server)
        self.added = 0

    def teardown_source(self) -> None:
        self.server.close()

    def make_reader(self, tmp_path: Path) -> Reader:
        return imap.open_reader(imap_account(self.server, tmp_path, batch_size=5), home(tmp_path))

    def add_data(self, tmp_path: Path) -> None:
        self.added += 1
        self.server.append("INBOX", raw(500 + self.added, "new@example.org", ME))
