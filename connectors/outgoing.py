"""Mail that syncd sends through an account (the weekly digest), made idempotent.

Every sender gives the message a Message-ID derived from the outbox key, so a
retry after a crash can look for it in the account's Sent folder instead of
sending a second copy.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP


def message_id_for(key: str, domain: str = "syncd.invalid") -> str:
    """The deterministic Message-ID of the mail sent for idempotency key ``key``."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"<{digest}@{domain}>"


def outgoing_message(message: EmailMessage | bytes | str, key: str) -> tuple[EmailMessage, str]:
    """``message`` as an :class:`EmailMessage` with its Message-ID (given, else
    :func:`message_id_for` ``key``, which is then set on the message)."""
    if isinstance(message, str):
        message = message.encode("utf-8")
    msg = (
        message
        if isinstance(message, EmailMessage)
        else BytesParser(_class=EmailMessage, policy=SMTP).parsebytes(message)
    )
    wanted = str(msg.get("Message-ID") or "").strip()
    if not wanted:
        wanted = message_id_for(key)
        msg["Message-ID"] = wanted
    return msg, wanted
