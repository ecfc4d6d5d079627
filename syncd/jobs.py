"""The daemon's job table, as plain imports: what ``syncd run`` does besides syncing.

The daemon (:mod:`syncd.daemon.loop`) receives this table from the CLI, so the
loop itself knows nothing of the outbox, the digest or the doctor.
"""

from __future__ import annotations

from typing import Any

from syncd.core.home import Home
from syncd.daemon.settings import JobTable, Plugin
from syncd.followup.planner import plan_and_drain
from syncd.ops.doctor import Check, run_checks
from syncd.report.digest import send_weekly


def selfcheck(home: Home, db: Any) -> list[Check]:
    """The daily self-check: ``syncd doctor`` without the service manager, on the daemon's db."""
    return run_checks(home, service=False, db=db)


JOBS = JobTable(
    plugins={
        "outbox": Plugin("outbox", plan_and_drain, "send pending calendar writes and mail"),
        "digest": Plugin("digest", send_weekly, "the weekly summary email"),
    },
    selfcheck=selfcheck,
)
