"""Connectors: one module per source, all speaking :mod:`connectors.base`.

Modules are imported lazily by name (:func:`load`), so a missing optional
dependency breaks only its own connector.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from syncd.core.errors import UserError

KNOWN = ("mbox", "maildir", "ics", "gmail", "gcal")


def load(name: str) -> ModuleType:
    """Import ``connectors.<name>``; a missing dependency becomes a clear :class:`UserError`."""
    if name not in KNOWN:
        raise UserError(f"unknown connector {name!r} (known: {', '.join(KNOWN)})")
    try:
        return importlib.import_module(f"connectors.{name}")
    except ImportError as exc:
        raise UserError(f"connector {name!r} needs a missing package: {exc.name or exc}") from exc
