"""The planner: open flags become short follow-up events in the user's calendar.

Each run (:func:`plan_followups`) is three moves, as vdirsyncer plans its
actions before running them:

1. **gather** (:mod:`syncd.followup.gather`): the open flags, the people, the
   target's follow-ups in the ledger with what the calendar says about them
   now, the busy time -- plain data;
2. **decide** (:mod:`syncd.followup.decide`): a pure function from that data
   to typed steps (the user's deletions and moves recorded, follow-ups kept or
   withdrawn, new ones placed in free working time within the weekly cap, the
   rest waiting for the digest);
3. **apply** (:mod:`syncd.followup.apply`): one transaction per step, the
   ledger row (:mod:`syncd.followup.ledger`) and its outbox action together.

The outbox (:mod:`syncd.followup.outbox`) then writes the events. The event's
key is the flag id (``rule:person:cycle``; ``~N`` is appended if a withdrawn
follow-up of a snoozed flag is placed again). Settings: :mod:`syncd.followup.settings`;
titles and descriptions: :mod:`syncd.followup.texts`.

One planner at a time per home: a run holds an ``flock`` on ``HOME/plan.lock``
from gather to apply, so a second ``syncd plan`` (or the daemon's outbox job)
waits and then sees what the first one placed. Should two planners still
decide the same follow-up, the ledger keeps the first and the second records
nothing (:func:`syncd.followup.ledger.record`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import time
from collections.abc import Iterator

import sqlite_utils

from connectors.base import CalendarWriter
from syncd.config.schema import Config
from syncd.core.errors import UserError
from syncd.core.home import Home
from syncd.followup.apply import PlanReport, apply
from syncd.followup.decide import PlaceFollowUp, Step, decide
from syncd.followup.gather import Inputs, LookupFailed, describe, gather
from syncd.followup.ledger import ACTIVE, FollowUp, followups
from syncd.followup.outbox import drain_outbox, resolve_writer
from syncd.followup.settings import PlannerSettings, parse_settings

__all__ = [
    "ACTIVE",
    "FollowUp",
    "PlanReport",
    "PlannerSettings",
    "calendar_writer",
    "followups",
    "parse_settings",
    "plan_and_drain",
    "plan_followups",
    "plan_steps",
]

log = logging.getLogger(__name__)

LOCK_NAME = "plan.lock"
LOCK_WAIT = 120.0  # seconds a planner waits for another one to finish


@contextlib.contextmanager
def planner_lock(home: Home, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold the home's planner lock (``HOME/plan.lock``), waiting up to ``wait`` seconds."""
    try:
        home.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(home.root / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise UserError(f"cannot plan follow-ups in {home.root}: {exc.strerror}") from None
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise UserError(
                        f"another syncd plan has been running on {home.root} for {wait:.0f}s;"
                        " try again when it has finished"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)


def calendar_writer(settings: PlannerSettings, home: Home, config: Config) -> CalendarWriter:
    """The writer of the planner's target; :class:`UserError` when it is not a calendar."""
    writer = resolve_writer(settings.target, home, config)
    if not isinstance(writer, CalendarWriter):
        raise UserError(f"planner.calendar: {settings.target!r} cannot hold calendar events")
    return writer


def plan_followups(
    db: sqlite_utils.Database,
    home: Home,
    config: Config,
    now: int,
    settings: PlannerSettings | None = None,
    writer: CalendarWriter | None = None,
) -> PlanReport:
    """Reconcile and place follow-ups as of ``now``: gather, decide, apply.

    Only stores ledger rows and outbox actions; :func:`syncd.followup.outbox.drain_outbox`
    performs the writes. ``writer`` overrides the target's writer (tests).
    """
    settings = settings or PlannerSettings.from_config(config, home)
    if not settings.enabled:
        return PlanReport()
    if writer is None:
        writer = calendar_writer(settings, home, config)
    with planner_lock(home):
        try:
            inputs, steps = plan_steps(db, writer, settings, now)
        except LookupFailed as exc:  # the calendar is unreachable: decide nothing now
            log.warning("cannot look up follow-ups in %s: %s", settings.target, exc)
            return PlanReport(errors=[str(exc)])
        return apply(db, steps, now, PlanReport(errors=list(inputs.errors)))


def plan_steps(
    db: sqlite_utils.Database, writer: CalendarWriter, settings: PlannerSettings, now: int
) -> tuple[Inputs, list[Step]]:
    """Gather and decide (raises :class:`LookupFailed`).

    Where follow-ups go depends only on the flags, their people's tiers, the calendar
    and the ledger, so a first decision on those alone names the people who get one;
    their names, addresses and latest touches (for titles, descriptions and the
    basis) are then read and the same, now complete, decision is made again.
    """
    inputs = gather(db, writer, settings, now)

    def decided() -> list[Step]:
        return decide(
            inputs.flags,
            inputs.busy,
            inputs.placed,
            settings,
            now,
            people=inputs.people,
            touched=inputs.touched,
            taken=inputs.taken,
        )

    steps = decided()
    chosen = {s.person_id for s in steps if isinstance(s, PlaceFollowUp)}
    if chosen:
        describe(db, inputs, chosen, now)
        steps = decided()
    return inputs, steps


def plan_and_drain(db: sqlite_utils.Database, home: Home, config: Config, now: int) -> str:
    """The daemon's ``outbox`` job: plan follow-ups (when configured), then drain the outbox."""
    parts = []
    settings = PlannerSettings.from_config(config, home)
    if settings.enabled:
        parts.append(plan_followups(db, home, config, now, settings=settings).summary())
    parts.append(drain_outbox(db, home, config, now).summary())
    return "; ".join(parts)
