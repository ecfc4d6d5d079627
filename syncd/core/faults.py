"""Test hooks: the environment variables that inject faults, in one place.

They exist so end-to-end tests can crash or slow syncd at exact points; each
is documented where it is honoured. The daemon's hooks work only with
``[daemon] test_faults = true``, so a stray variable never breaks a real install.
"""

from __future__ import annotations

# syncd.followup.outbox: "1" exits the process right after a remote write, before the
# outbox records it (the retry must find the object instead of creating a second).
CRASH_ENV = "SYNCD_TEST_CRASH_AFTER_REMOTE_WRITE"
# syncd.daemon.loop: KIND[:COUNT][,...] makes the named jobs fail COUNT times.
FAULT_ENV = "SYNCD_TEST_FAIL_JOB"
# syncd.daemon.loop: seconds to hold each sync batch boundary.
SLOW_BATCH_ENV = "SYNCD_TEST_SLOW_BATCH"
