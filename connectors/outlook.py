"""Microsoft 365 and Outlook.com through Microsoft Graph: one account, mail and calendar.

The seam (:mod:`connectors.base`) for an ``outlook`` account:

- :func:`open_reader`: the mailbox's message metadata
  (:mod:`connectors.outlook_mail`, per-folder ``messages/delta``) and, unless
  ``read_calendar = false``, its calendar's instances
  (:mod:`connectors.outlook_calendar`, ``calendarView/delta``), one after the
  other, each with its own cursors;
- :func:`open_writer`: follow-up events into its calendar and the weekly
  digest through ``sendMail`` (:mod:`connectors.outlook_writer`).

Requests go through :class:`connectors.graph_api.GraphClient` (throttling,
pacing, retries); grants come from :mod:`connectors.graph_auth` (msal, or a
``token_file``). Options: ``api_endpoint``, ``token_file``, ``client_id``,
``tenant``, ``calendar`` (a calendar's name or id; default: the default
calendar), ``read_calendar``, ``filter_other``, ``history_days`` and tuning
(``page_size``, ``requests_per_window``, ``window``, ``concurrency``,
``timeout``, ``backoff_base``, ``max_attempts``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from connectors.base import Batch, CalendarWriter, Cursor, Reader
from connectors.google_api import background
from connectors.graph_api import GraphClient, open_client
from connectors.graph_auth import MAIL_READ, token_source
from connectors.outlook_calendar import OutlookCalendarReader
from connectors.outlook_mail import OutlookMailReader
from connectors.outlook_writer import OutlookWriter
from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError
from syncd.core.home import Home


class OutlookReader:
    """Mail, then calendar, of one mailbox (the owner's address found once, by mail)."""

    def __init__(self, mail: OutlookMailReader, calendar: OutlookCalendarReader | None):
        self.mail = mail
        self.calendar = calendar

    def estimate(self, cursors: dict[str, Cursor]) -> int:
        """Unknown before the folders are listed: 0."""
        return 0

    def fetch(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        """The mail batches, then the calendar batches, fetched a few batches ahead in a
        thread while the caller stores them; the connections are closed at the end."""
        stop = self.mail.client.stop = threading.Event()
        try:
            yield from background(lambda: self._produce(cursors), stop)
        finally:
            self.mail.client.close()

    def _produce(self, cursors: dict[str, Cursor]) -> Iterator[Batch]:
        owner: tuple[str, ...] = ()
        for batch in self.mail.fetch(cursors):
            owner = owner or batch.owner_addresses
            yield batch
        if self.calendar is not None:
            self.calendar.owner = self.calendar.owner or owner
            yield from self.calendar.fetch(cursors)


def _int_option(account: AccountConfig, name: str, default: int) -> int:
    value = account.options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"account {account.name}: {name} must be a whole number above 0")
    return value


def calendar_id(client: GraphClient, account: AccountConfig) -> str | None:
    """The id of the account's ``calendar`` option (a name or an id), None for the default."""
    wanted = account.options.get("calendar")
    if not wanted:
        return None
    if not isinstance(wanted, str):
        raise UserError(f"account {account.name}: calendar must be a calendar's name or id")
    names = []
    for page in client.pages("me/calendars", params={"$select": "id,name"}, what="calendars"):
        for cal in page.get("value", []):
            if wanted in (cal.get("id"), cal.get("name")):
                return str(cal["id"])
            names.append(str(cal.get("name")))
    raise UserError(
        f"account {account.name}: no calendar named {wanted!r} (calendars: {', '.join(names)})"
    )


def reads_calendar(account: AccountConfig) -> bool:
    """Whether the account reads its calendar (option ``read_calendar``, default true)."""
    return account.options.get("read_calendar", True) is not False


def client_for(account: AccountConfig, home: Home) -> GraphClient:
    """A throttled, paced client of ``account``. Its access token carries every permission
    the user consented to (:func:`connectors.graph_auth.scopes_for`); Graph refuses what
    the grant lacks (403), and the caller says so."""
    return open_client(account, token_source(account, home, [MAIL_READ]))


def open_reader(account: AccountConfig, home: Home) -> Reader:
    """The read side of a configured ``outlook`` account."""
    client = client_for(account, home)
    page_size = _int_option(account, "page_size", 100)
    mail = OutlookMailReader(client, page_size, account.options.get("filter_other") is True)
    cal = None
    if reads_calendar(account):
        cal = OutlookCalendarReader(
            client,
            calendar_id(client, account),
            page_size=page_size,
            history_days=_int_option(account, "history_days", 3650),
            owner=tuple(a.lower() for a in [account.address, *account.me] if a),
        )
    return OutlookReader(mail, cal)


def open_writer(account: AccountConfig, home: Home) -> CalendarWriter:
    """The write side of a configured ``outlook`` account: follow-ups into its calendar
    (``Calendars.ReadWrite``) and the digest through ``sendMail`` (``Mail.Send``)."""
    client = client_for(account, home)
    return OutlookWriter(client, account.address, calendar_id(client, account))
