"""Time helpers: the evaluation instant (``--now``) and ISO 8601 rendering."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from syncd.core.errors import UserError


def parse_instant(text: str) -> int:
    """An ISO 8601 date or date-time as epoch seconds; a bare date or naive time is UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"not an ISO 8601 date or time: {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def now_epoch(override: str | None = None) -> int:
    """The evaluation instant: ``override``, else ``SYNCD_NOW``, else the clock."""
    text = override or os.environ.get("SYNCD_NOW")
    return parse_instant(text) if text else int(time.time())


def iso(epoch: int | None) -> str | None:
    """Epoch seconds as ISO 8601 with a UTC offset (``2001-05-14T23:39:00+00:00``)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()
