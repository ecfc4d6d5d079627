"""The daemon's test-only fault injection: ``SYNCD_TEST_FAIL_JOB=KIND[:COUNT][,...]``.

Honoured only with ``[daemon] test_faults = true`` (a stray variable never breaks a real
install). Each entry names a job (``sync``, ``sync:NAME``, ``rules``, ``selfcheck`` ...)
that raises before doing any work, ``COUNT`` times (default: always); ``sync`` covers
every ``sync:NAME``.
"""

from __future__ import annotations

import logging

from syncd.core.faults import FAULT_ENV

log = logging.getLogger(__name__)


class JobFaults:
    """The jobs still to fail, and how many times each (None: always)."""

    def __init__(self, text: str = "", enabled: bool = False):
        self.left: dict[str, int | None] = {}
        text = text.strip()
        if not text:
            return
        if not enabled:
            log.warning("%s is set but ignored ([daemon] test_faults is not true)", FAULT_ENV)
            return
        for item in text.split(","):
            name, _, count = item.strip().partition(":")
            if count.isdigit():
                self.left[name] = int(count)
            elif count:  # sync:NAME[:COUNT]
                sub, _, count2 = count.partition(":")
                self.left[f"{name}:{sub}"] = int(count2) if count2.isdigit() else None
            else:
                self.left[name] = None
        log.warning("test fault injection active: %s", ", ".join(sorted(self.left)))

    def check(self, job: str) -> None:
        """Raise if ``job`` (or its kind, the part before ``:``) is due to fail now."""
        for key in (job, job.split(":", 1)[0]):
            if key in self.left:
                left = self.left[key]
                if left is not None:
                    if left <= 0:
                        continue
                    self.left[key] = left - 1
                raise RuntimeError(f"injected test fault in job {job} ({FAULT_ENV})")
