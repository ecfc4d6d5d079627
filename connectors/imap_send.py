"""The digest through an ``imap`` account: SMTP submission with the account's credentials.

``[digest] via = "account:NAME"`` on an ``imap`` account sends with the same
login name and password as the mail is read with. The submission server is
``smtp_host`` (default: the IMAP host with a leading ``imap.`` made
``smtp.``, as at Fastmail, iCloud (``imap.mail.me.com``) and Gmail),
``smtp_port`` and ``smtp_security`` (``starttls`` on 587 by default, ``tls``
on 465; ``none`` only to this machine).

SMTP has no idempotency, so before sending, the account's ``\\Sent`` folder
is searched over IMAP for the message's Message-ID: a retry after a crash
between sending and committing finds the copy the server filed there and
does not send again (the outbox already keeps one digest per week).
"""

from __future__ import annotations

import logging
from email import message_from_string, policy

from connectors.base import Action, Writer
from connectors.imap_session import LOOPBACK, ImapSettings, guarded, session
from connectors.passwords import account_password
from connectors.smtp_send import SmtpServer, send_message
from syncd.config.schema import AccountConfig
from syncd.core.errors import TransientError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

SMTP_SECURITY = ("starttls", "tls", "none")
SMTP_PORT = {"starttls": 587, "tls": 465, "none": 25}


def smtp_server(account: AccountConfig) -> SmtpServer:
    """The submission server of an ``imap`` account (see the module docstring)."""
    imap = ImapSettings.of(account)
    o = account.options
    host = str(o.get("smtp_host") or "")
    if not host:
        host = "smtp." + imap.host[5:] if imap.host.startswith("imap.") else imap.host
    security = str(o.get("smtp_security") or "starttls")
    if security not in SMTP_SECURITY:
        raise UserError(f"account {account.name}: smtp_security must be one of {SMTP_SECURITY}")
    if security == "none" and host not in LOOPBACK:
        raise UserError(
            f"account {account.name}: plaintext SMTP is only allowed to this machine; "
            "use smtp_security = starttls or tls"
        )
    port = int(o.get("smtp_port") or SMTP_PORT[security])
    return SmtpServer(host, port, security, imap.username, imap.timeout, imap.cafile)


class ImapAccountSender:
    """An outbox writer for ``mail.send`` actions through an ``imap`` account."""

    def __init__(self, account: AccountConfig, home: Home):
        self.account = account
        self.home = home
        self.server = smtp_server(account)

    def already_sent(self, message_id: str) -> bool:
        """Whether a message with ``message_id`` is in the account's ``\\Sent`` folder."""
        if not message_id:
            return False
        try:
            with session(self.account, self.home) as (client, settings):
                listing = guarded(settings, client.list_folders)
                sent = [n for flags, _, n in listing if b"\\sent" in {f.lower() for f in flags}]
                for folder in sent:
                    guarded(settings, lambda f=folder: client.select_folder(f, readonly=True))
                    found = guarded(
                        settings, lambda: client.search(["HEADER", "Message-ID", message_id])
                    )
                    if found:
                        return True
        except TransientError as exc:
            log.info("could not look into Sent before sending (%s); sending", exc)
        return False

    def apply(self, action: Action) -> str:
        """Send the message of a ``mail.send`` action (unless found in Sent); its Message-ID."""
        if action.kind != "mail.send":
            raise UserError(f"the IMAP account sender cannot perform {action.kind!r}")
        p = action.payload
        raw = p.get("message")
        if not isinstance(raw, str):
            raise UserError("a mail.send action needs payload['message'] (the message as text)")
        msg = message_from_string(raw, policy=policy.default)
        message_id = str(msg.get("Message-ID", "") or "")
        if self.already_sent(message_id):
            log.info("the digest is in Sent already; not sending it again")
            return message_id or action.key
        password = account_password(self.account, self.home)
        sender = str(p.get("from") or self.account.address or self.server.user)
        recipients = [str(r) for r in p.get("to") or [self.account.address] if r]
        send_message(self.server, password, raw, sender, recipients)
        return message_id or action.key

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Sent mail cannot be recalled."""
        raise UserError("sent mail cannot be removed")


def account_sender(account: AccountConfig, home: Home) -> Writer:
    """The digest sender of an ``imap`` account."""
    return ImapAccountSender(account, home)
