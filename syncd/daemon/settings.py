"""The daemon's configuration: the ``[daemon]`` table and the shape of its job table
(the table itself, as plain imports, is :data:`syncd.jobs.JOBS`). The whole file is
validated by :mod:`syncd.daemon.validate`."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from syncd.config.schema import Config
from syncd.config.spec import unknown_keys
from syncd.core.errors import ConfigError
from syncd.core.home import Home

log = logging.getLogger("syncd.daemon.loop")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# -- settings --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """The ``[daemon]`` table (with ``sync.interval_minutes``), validated."""

    sync_interval: int = 300
    jitter: int = 30
    digest_day: str = "monday"
    digest_time: str = "08:00"
    rules_interval: int = 3600
    selfcheck_interval: int = 86400
    job_timeout: int = 3600
    stop_grace: float = 2.0
    test_faults: bool = False


DAEMON_KEYS = {
    "sync_interval_seconds": "overrides sync.interval_minutes (whole seconds)",
    "jitter_seconds": "random extra delay before each account's sync",
    "digest_day": "weekday of the weekly digest, or 'off'",
    "digest_time": "local time HH:MM of the weekly digest",
    "rules_interval_minutes": "how often the rules run besides after each sync",
    "selfcheck_hours": "how often the self-check runs",
    "job_timeout_minutes": "a job running longer counts as hung (watchdog)",
    "stop_grace_seconds": "how long a stop waits for a running job",
    "test_faults": "honour SYNCD_TEST_FAIL_JOB (tests only)",
}


def _number(table: dict, key: str, default: float, problems: list[str], minimum=0.0) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        problems.append(f"daemon.{key}: must be a number >= {minimum:g}")
        return default
    return float(value)


def daemon_settings(config: Config) -> DaemonSettings:
    """Validate ``[daemon]``; raise :class:`ConfigError` listing every problem."""
    table = config.section("daemon")
    problems: list[str] = []
    problems += unknown_keys("daemon", table, DAEMON_KEYS)
    interval = _number(
        table, "sync_interval_seconds", config.sync_interval_minutes * 60, problems, 1
    )
    default_jitter = min(30.0, interval / 10)
    day = table.get("digest_day", "monday")
    if not isinstance(day, str) or day.lower() not in (*WEEKDAYS, "off"):
        problems.append("daemon.digest_day: must be a weekday name such as 'monday', or 'off'")
        day = "monday"
    at = table.get("digest_time", "08:00")
    if not isinstance(at, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", at):
        problems.append("daemon.digest_time: must be a local time HH:MM such as '08:00'")
        at = "08:00"
    faults = table.get("test_faults", False)
    if not isinstance(faults, bool):
        problems.append("daemon.test_faults: must be true or false")
    settings = DaemonSettings(
        sync_interval=round(interval),
        jitter=round(_number(table, "jitter_seconds", default_jitter, problems)),
        digest_day=day.lower(),
        digest_time=at,
        rules_interval=max(1, round(60 * _number(table, "rules_interval_minutes", 60, problems))),
        selfcheck_interval=max(1, round(3600 * _number(table, "selfcheck_hours", 24, problems))),
        job_timeout=max(1, round(60 * _number(table, "job_timeout_minutes", 60, problems))),
        stop_grace=_number(table, "stop_grace_seconds", 2.0, problems),
        test_faults=faults is True,
    )
    if problems:
        raise ConfigError(problems)
    return settings


# -- the job table -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plugin:
    """A job another module provides: ``run(db, home, config, now)`` (``now`` in epoch
    seconds) may return a short, non-personal summary string."""

    name: str
    run: Callable[..., str | None]
    summary: str


@dataclass(frozen=True, slots=True)
class JobTable:
    """What the daemon runs besides syncing and the rules: the plugin jobs (outbox,
    digest) and the daily self-check ``selfcheck(home, db) -> checks`` (each check has
    ``name``, ``level`` in ok / warn / fail, and ``message``)."""

    plugins: dict[str, Plugin]
    selfcheck: Callable[[Home, Any], list[Any]]
