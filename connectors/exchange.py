"""Exchange on-premises through EWS (exchangelib): mail, calendar, follow-ups and the digest.

One ``exchange`` account is one mailbox (:mod:`connectors.ews_session` opens
it). :func:`open_reader` reads its mail (:mod:`connectors.ews_mail`) and,
unless ``calendar = false``, its calendar (:mod:`connectors.ews_calendar`);
:func:`open_writer` writes follow-up events and sends the digest
(:mod:`connectors.ews_writer`). Exchange Online users go through Microsoft
Graph instead: EWS there is being switched off (design.md §6).
"""

from __future__ import annotations

from collections.abc import Iterator

from connectors.base import Batch, CalendarWriter, Cursor, Reader
from connectors.ews_calendar import CalendarSync
from connectors.ews_mail import MailSync
from connectors.ews_session import Session, open_session
from connectors.ews_writer import ExchangeWriter
from syncd.config.schema import AccountConfig
from syncd.core.home import Home

DEFAULT_PAGE_SIZE = 100


class ExchangeReader:
    """Mail (every mail folder), then the calendar's rolling window."""

    def __init__(self, session: Session, mail: MailSync | None, calendar: CalendarSync | None):
        self.session = session
        self.mail = mail
        self.calendar = calendar

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Unknown up front (0): EWS reports changes only as they are read."""
        return 0

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """Mail batches (one per page of a folder's changes), then calendar batches; the
        connections are closed at the end (:meth:`Session.close`)."""
        try:
            if self.mail is not None:
                yield from self.mail.fetch(cursors)
            if self.calendar is not None:
                yield from self.calendar.fetch(cursors)
        finally:
            self.session.close()


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``exchange`` account."""
    session = open_session(account, home)
    page = int(account.options.get("page_size", DEFAULT_PAGE_SIZE))
    calendar = None
    if account.options.get("calendar", True):
        past = int(account.options.get("window_past_days", 365))
        future = int(account.options.get("window_future_days", 90))
        calendar = CalendarSync(session, past, future)
    return ExchangeReader(session, MailSync(session, page), calendar)


def open_writer(account: AccountConfig, home: Home) -> CalendarWriter:
    """The write side of a configured ``exchange`` account: follow-ups into its calendar
    (``[planner] calendar = "account:NAME"``) and the digest (``[digest] via``)."""
    return ExchangeWriter(open_session(account, home))
