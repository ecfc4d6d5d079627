"""Performing the planner's steps (vdirsyncer's ``action.run``): one transaction each.

Each step's ledger change (:mod:`syncd.followup.ledger`) and its outbox action
(:mod:`syncd.followup.outbox`) commit together, under ``BEGIN IMMEDIATE``, so a
crash leaves every step either done or not started; the outbox then performs
the calendar writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlite_utils

from syncd.followup import ledger, outbox
from syncd.followup.decide import (
    KeepFollowUp,
    PlaceFollowUp,
    Step,
    UserDeleted,
    UserMoved,
    Wait,
    WithdrawFollowUp,
)
from syncd.followup.ledger import FollowUp
from syncd.store.db import write_transaction


@dataclass(slots=True)
class PlanReport:
    """What one planning run did."""

    placed: list[FollowUp] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    user_deleted: list[str] = field(default_factory=list)
    user_moved: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line, without personal data."""
        return (
            f"{len(self.placed)} follow-ups planned, {len(self.withdrawn)} withdrawn,"
            f" {len(self.user_deleted)} deleted and {len(self.user_moved)} moved by you,"
            f" {len(self.waiting)} waiting for the digest"
        )


def _withdraw(db: sqlite_utils.Database, step: WithdrawFollowUp, now: int) -> None:
    if step.cancel_create and outbox.cancel(db, f"create:{step.key}", now):
        ledger.mark_withdrawn(db, step.key, step.reason, now, pending=False)
        return
    payload = {"remote_ref": step.remote_ref}
    outbox.enqueue(db, "remove", step.key, "event.remove", step.target, payload, now)
    ledger.mark_withdrawn(db, step.key, step.reason, now, pending=True)


def _place(db: sqlite_utils.Database, step: PlaceFollowUp, now: int) -> FollowUp | None:
    """Record the follow-up and queue its create; None when another planner recorded it first."""
    fu = step.followup()
    if not ledger.record(db, fu):
        return None
    outbox.enqueue(db, "create", step.key, "event.create", step.target, step.payload(), now)
    return fu


def apply(
    db: sqlite_utils.Database, steps: Iterable[Step], now: int, report: PlanReport | None = None
) -> PlanReport:
    """Perform ``steps`` in order, one transaction each; returns (or extends) the report."""
    report = report if report is not None else PlanReport()
    for step in steps:
        if isinstance(step, KeepFollowUp):
            continue
        if isinstance(step, Wait):
            report.waiting.append(step.flag_id)
            continue
        with write_transaction(db):
            if isinstance(step, UserDeleted):
                ledger.mark_deleted(db, step.key, step.reason, now)
                report.user_deleted.append(step.key)
            elif isinstance(step, UserMoved):
                ledger.mark_moved(db, step.key, step.start, step.end, step.week, now)
                report.user_moved.append(step.key)
            elif isinstance(step, WithdrawFollowUp):
                _withdraw(db, step, now)
                report.withdrawn.append(step.key)
            elif (fu := _place(db, step, now)) is not None:
                report.placed.append(fu)
    return report
