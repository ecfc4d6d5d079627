"""What a check of ``syncd doctor`` (and of the daemon's daily self-check) reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass(slots=True)
class Check:
    """One finding of ``syncd doctor``: ``level`` is ok, warn or fail."""

    name: str
    level: str
    message: str
    hint: str | None = None

    def as_dict(self) -> dict:
        """JSON form."""
        return asdict(self)


def private(mode: int) -> bool:
    """True when a file mode gives group and others nothing."""
    return not mode & 0o077
