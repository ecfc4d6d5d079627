"""The daemon's logging: journald priorities under systemd, no personal data at INFO."""

from __future__ import annotations

import logging
import os
import re
import sys

_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(\.[\w-]+)+")


def redact(text: str, limit: int = 300) -> str:
    """``text`` with email addresses masked and shortened: safe for INFO-level logs."""
    text = _EMAIL.sub("<address>", " ".join(str(text).split()))
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- logging ---------------------------------------------------------------------------

_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3}


class _JournalFormatter(logging.Formatter):
    """``<priority>`` prefixes that journald turns into log levels; no timestamps."""

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 2 if record.levelno > logging.ERROR else 6)
        return f"<{priority}>{record.name}: {super().format(record)}"


def _stderr_is_journal(environ) -> bool:
    stream = environ.get("JOURNAL_STREAM", "")
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def configure_logging(verbose: int, environ=os.environ) -> None:
    """Logs to stderr (journald under systemd). Default: the daemon's own INFO lines, which
    carry no personal data (counts, account names, redacted errors); others WARNING+."""
    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal(environ):
        handler.setFormatter(_JournalFormatter("%(message)s"))
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING)
    logging.getLogger("syncd.daemon.loop").setLevel(logging.DEBUG if verbose >= 2 else logging.INFO)
