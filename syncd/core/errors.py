"""The one exception hierarchy of syncd.

Every error syncd raises on purpose derives from :class:`SyncdError`. The CLI
prints a :class:`UserError` as one clean line (no traceback) and exits with its
``exit_code`` (1; 2 for an invalid configuration; an :class:`EnvironmentProblem`,
such as a full disk, carries a ``sysexits.h`` status); :class:`TransientError`
tells schedulers when to retry;
:class:`CursorExpired` makes the sync engine drop the cursor and resync fully.
"""

from __future__ import annotations


class SyncdError(Exception):
    """Root of all syncd errors."""


class UserError(SyncdError):
    """Something the user can fix: bad arguments, missing files, bad config."""

    exit_code = 1


class ConfigError(UserError):
    """The configuration is invalid; ``problems`` lists every problem found (exit status 2)."""

    exit_code = 2

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


class EnvironmentProblem(UserError):
    """The machine is in the way (disk full, read-only, permissions, a locked database):
    one sentence saying what happened and what to do; ``exit_code`` from ``sysexits.h``.
    Built by :func:`syncd.core.environment.explain`."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


class TransientError(SyncdError):
    """A temporary failure (rate limit, 5xx, timeout); retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class CursorExpired(SyncdError):
    """The remote no longer accepts our cursor (404 historyId, 410 syncToken): resync fully."""


class AuthRequired(UserError):
    """An account's grant is missing, expired or revoked: run ``syncd auth ACCOUNT``."""
