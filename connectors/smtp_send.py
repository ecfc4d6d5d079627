"""Sending one message over SMTP submission: the transport of every SMTP route.

Used by ``[smtp]`` (:mod:`syncd.followup.mailer`) and by ``imap`` accounts
that send the digest with their own credentials (:mod:`connectors.imap_send`).
Security is ``starttls`` (587), ``tls`` (implicit, 465) or ``none`` (25);
certificates are verified (system store, or ``cafile``). Errors follow the
outbox's retry policy: a refused login, refused recipients or a 5xx reply are
:class:`~syncd.core.errors.UserError` (dead letter), 4xx replies and lost
connections :class:`~syncd.core.errors.TransientError`.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass

from syncd.core.errors import TransientError, UserError

RETRY_SECONDS = 300


@dataclass(frozen=True, slots=True)
class SmtpServer:
    """Where to submit: host, port, security, login user (None: no login), timeout."""

    host: str
    port: int
    security: str
    user: str | None
    timeout: float = 30.0
    cafile: str | None = None


def _connect(server: SmtpServer) -> smtplib.SMTP:
    context = ssl.create_default_context(cafile=server.cafile)
    if server.security == "tls":
        return smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout, context=context)
    conn = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
    if server.security == "starttls":
        conn.starttls(context=context)
    return conn


def send_message(
    server: SmtpServer, password: str | None, raw: str, sender: str, recipients: list[str]
) -> None:
    """Submit one RFC 5322 message (CRLF line ends), logging in when ``server.user`` is set."""
    try:
        conn = _connect(server)
        try:
            if server.user:
                conn.login(server.user, password or "")
            data = raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
            conn.sendmail(sender, recipients, data)
        finally:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
    except ssl.SSLCertVerificationError as exc:
        raise UserError(
            f"the certificate of SMTP {server.host} is not trusted ({exc.verify_message}); "
            "for a private CA name it with --cafile"
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise UserError(f"SMTP login to {server.host} refused: {exc.smtp_code}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise UserError(f"SMTP server refused the recipients {sorted(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        text = f"SMTP {server.host} answered {exc.smtp_code}"
        if 400 <= exc.smtp_code < 500:
            raise TransientError(text, RETRY_SECONDS) from None
        raise UserError(text) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise TransientError(
            f"cannot reach SMTP {server.host}:{server.port}: {exc}", RETRY_SECONDS
        ) from None
