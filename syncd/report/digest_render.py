"""The digest's renderings: the HTML and plain-text parts, the subject, the email message.

Both templates show the same sections in the same order (:data:`SECTIONS`).
Every value a template prints first goes through
:func:`syncd.core.text.one_line`: names and subjects come from mail headers,
and a control character (ESC, OSC, BEL, NUL) must not reach a terminal that
shows the text part, nor the HTML. The HTML part is also escaped (Jinja's
autoescape), uses inline styles only and holds no script.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from syncd.core.text import one_line

if TYPE_CHECKING:
    import jinja2

TEMPLATES = Path(__file__).with_name("templates")
SECTIONS = (
    "This week's follow-ups",
    "Worth reconnecting",
    "Check-ins this month",
    "Wider circle this quarter",
    "New connections",
    "Network health",
    "Give and take",
    "Emails and meetings per week",
    "Tiers",
    "Organisations",
    "Your network this month",
)


def _finalize(value: Any) -> Any:
    """Every printed value on one line without control characters; the templates' own
    markup (a macro's output) as it is."""
    return value if isinstance(value, Markup) else one_line(value)


def template_environment(keep_trailing_newline: bool = False) -> jinja2.Environment:
    """The report templates (digest, audit): HTML ones autoescaped, every printed value
    through :func:`_finalize`, an undefined name an error."""
    # Loaded here, not at import: the daemon renders a digest once a week, and jinja2
    # would otherwise stay in its memory at rest (about 2 MB).
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=keep_trailing_newline,
        finalize=_finalize,
    )


def render(data: dict[str, Any]) -> tuple[str, str]:
    """``(html, text)`` of the digest."""
    env = template_environment(keep_trailing_newline=True)
    values = {**data, "sections": SECTIONS}
    html = env.get_template("digest.html.j2").render(**values)
    text = env.get_template("digest.txt.j2").render(**values)
    return html, text


def subject_for(data: dict[str, Any]) -> str:
    """The email subject: the week and its two headline numbers."""
    n = len(data["followups"])
    return (
        f"syncd weekly, {data['period']}: {n} follow-up{'s' if n != 1 else ''},"
        f" {data['health']['touches']} emails and meetings"
    )


def build_message(
    data: dict[str, Any], html: str, text: str, to: tuple[str, ...], sender: str, key: str, now: int
) -> EmailMessage:
    """The multipart/alternative message (text first, HTML preferred).

    Its ``Message-ID`` derives from ``key`` (one per week) and the recipients,
    so a resend of the same week's digest is recognisably the same message.
    """
    msg = EmailMessage()
    msg["Subject"] = subject_for(data)
    name, address = parseaddr(sender)
    msg["From"] = formataddr((name or "syncd", address))
    msg["To"] = ", ".join(to)
    msg["Date"] = format_datetime(datetime.fromtimestamp(now).astimezone())
    digest = hashlib.sha256(f"{key}|{','.join(to)}".encode()).hexdigest()[:16]
    msg["Message-ID"] = f"<{key.replace(':', '.')}.{digest}@syncd.local>"
    msg["Auto-Submitted"] = "auto-generated"  # syncd never counts its own digest as a touch
    msg["X-Syncd-Key"] = key
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg
