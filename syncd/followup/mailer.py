"""Sending mail over SMTP (the digest's default route), as an outbox writer.

Configuration (``[smtp]`` in config.toml)::

    [smtp]
    host = "smtp.example.com"
    port = 587                  # default: 465 with security = "tls", else 587 (25 for "none")
    security = "starttls"       # "starttls", "tls" (implicit TLS) or "none"
    user = "me@example.com"     # omit to send without logging in
    password_env = "SMTP_PASS"  # optional: read the password from this variable
    password_file = "smtp.pw"   # optional: from this file (relative to the home; mode 0600)
    timeout_seconds = 30

The password is never written in config.toml (a ``password`` key is
refused). Unless ``password_env`` or ``password_file`` says otherwise it comes
from the OS keyring: service ``syncd``, user name ``smtp:USER@HOST``
(``syncd digest --set-password`` stores it there). ``starttls = true/false``
and ``tls = true/false`` are accepted as shorthands for ``security``.

Errors map onto the outbox's retry policy: connection problems and 4xx
replies are :class:`~syncd.core.errors.TransientError` (retried), a refused login
or 5xx reply a :class:`~syncd.core.errors.UserError` (dead letter: fix and
``syncd outbox retry``). SMTP has no idempotency: the action's key is in the
message (``Message-ID``, ``X-Syncd-Key``), so a resend after a crash between
sending and committing is recognisable as the same message by mail clients.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from email import message_from_string, policy
from pathlib import Path
from typing import Any

from connectors.base import Action
from connectors.smtp_send import SmtpServer, send_message
from syncd.config.schema import Config
from syncd.config.spec import unknown_keys
from syncd.core.errors import ConfigError, UserError
from syncd.core.home import Home

log = logging.getLogger(__name__)

KEYRING_SERVICE = "syncd"
SECURITY = ("starttls", "tls", "none")
SMTP_KEYS = (
    "host",
    "port",
    "security",
    "user",
    "password_env",
    "password_file",
    "timeout_seconds",
    "tls",
    "starttls",
    "password",  # refused below, with its own explanation
)


def keyring_user(user: str, host: str) -> str:
    """The keyring user name under which the SMTP password is kept."""
    return f"smtp:{user}@{host}"


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """The validated ``[smtp]`` table."""

    host: str
    port: int
    security: str
    user: str | None
    password_env: str | None
    password_file: Path | None
    timeout: float


def parse_smtp(table: dict[str, Any], root: Path) -> SmtpSettings:
    """Validate ``[smtp]``; :class:`ConfigError` lists every problem."""
    problems: list[str] = unknown_keys("smtp", table, SMTP_KEYS)
    if "password" in table:
        problems.append(
            "smtp.password: never put the password in config.toml; use the OS keyring"
            " (syncd digest --set-password), smtp.password_env or smtp.password_file"
        )
    for flag in ("tls", "starttls"):
        if flag in table and not isinstance(table[flag], bool):
            problems.append(f"smtp.{flag}: must be true or false")
    host = table.get("host")
    if not isinstance(host, str) or not host.strip():
        problems.append("smtp.host: needed (the SMTP server's name)")
        host = ""
    security = table.get("security")
    if security is None:
        if table.get("tls") is True:
            security = "tls"
        elif table.get("starttls") is False:
            security = "none"
        else:
            security = "starttls"
    if security not in SECURITY:
        problems.append(f"smtp.security: must be one of {', '.join(SECURITY)}")
        security = "starttls"
    default_port = {"tls": 465, "starttls": 587, "none": 25}[security]
    port = table.get("port", default_port)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        problems.append("smtp.port: must be a port number")
        port = default_port
    user = table.get("user")
    if user is not None and not isinstance(user, str):
        problems.append("smtp.user: must be a string")
        user = None
    env = table.get("password_env")
    if env is not None and not isinstance(env, str):
        problems.append("smtp.password_env: must be the name of an environment variable")
        env = None
    file = table.get("password_file")
    path = None
    if file is not None:
        if not isinstance(file, str):
            problems.append("smtp.password_file: must be a path")
        else:
            path = Path(file).expanduser()
            path = path if path.is_absolute() else root / path
    timeout = table.get("timeout_seconds", 30)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        problems.append("smtp.timeout_seconds: must be a positive number")
        timeout = 30
    if problems:
        raise ConfigError(problems)
    return SmtpSettings(host.strip(), port, security, user, env, path, float(timeout))


def smtp_password(s: SmtpSettings) -> str | None:
    """The password: from ``password_env``, ``password_file``, else the OS keyring."""
    if not s.user:
        return None
    if s.password_env:
        value = os.environ.get(s.password_env)
        if value is None:
            raise UserError(f"smtp.password_env: the variable {s.password_env} is not set")
        return value
    if s.password_file:
        try:
            mode = s.password_file.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise UserError(f"{s.password_file} is readable by others; chmod 600 it first")
            return s.password_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UserError(f"cannot read {s.password_file}: {exc.strerror}") from None
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise UserError(
            "no SMTP password source: install the keyring package, or set smtp.password_env"
            " or smtp.password_file"
        ) from None
    try:
        value = keyring.get_password(KEYRING_SERVICE, keyring_user(s.user, s.host))
    except KeyringError as exc:
        raise UserError(
            f"the OS keyring is not available ({exc}); set smtp.password_env or"
            " smtp.password_file instead"
        ) from None
    if value is None:
        raise UserError(
            f"no SMTP password for {s.user} in the keyring: run syncd digest --set-password"
        )
    return value


def store_password(s: SmtpSettings, password: str) -> None:
    """Keep the SMTP password in the OS keyring."""
    if not s.user:
        raise UserError("smtp.user is not set: no password is needed")
    try:
        import keyring
        from keyring.errors import KeyringError

        keyring.set_password(KEYRING_SERVICE, keyring_user(s.user, s.host), password)
    except ImportError:
        raise UserError("the keyring package is not installed") from None
    except KeyringError as exc:
        raise UserError(
            f"the OS keyring is not available ({exc}); use smtp.password_file instead"
        ) from None


class SmtpSender:
    """An outbox writer for ``mail.send`` actions over SMTP."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    @classmethod
    def from_config(cls, config: Config, home: Home) -> SmtpSender:
        """The sender configured in ``[smtp]``."""
        table = config.section("smtp")
        if not table:
            raise UserError("no [smtp] table in config.toml: syncd cannot send mail yet")
        return cls(parse_smtp(table, home.root))

    def send(self, raw: str, sender: str, recipients: list[str]) -> None:
        """Send one RFC 5322 message."""
        s = self.settings
        server = SmtpServer(s.host, s.port, s.security, s.user, s.timeout)
        send_message(server, smtp_password(s), raw, sender, recipients)

    def apply(self, action: Action) -> str:
        """Send the message of a ``mail.send`` action; its Message-ID."""
        if action.kind != "mail.send":
            raise UserError(f"the SMTP sender cannot perform {action.kind!r}")
        p = action.payload
        self.send(p["message"], p["from"], list(p["to"]))
        msg = message_from_string(p["message"], policy=policy.default)
        return str(msg.get("Message-ID", action.key))

    def remove(self, action: Action, remote_ref: str | None = None) -> None:
        """Sent mail cannot be recalled."""
        raise UserError("sent mail cannot be removed")
