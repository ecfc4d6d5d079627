"""The daemon's test-only fault injection: which jobs fail, how often, and only when enabled."""

from __future__ import annotations

import pytest

from syncd.daemon.faults import JobFaults


def fails(faults: JobFaults, job: str) -> bool:
    try:
        faults.check(job)
    except RuntimeError:
        return True
    return False


def test_counts_kinds_and_named_jobs():
    faults = JobFaults("rules:2, sync:inbox:1, selfcheck", enabled=True)
    assert [fails(faults, "rules") for _ in range(3)] == [True, True, False]
    assert [fails(faults, "sync:inbox") for _ in range(2)] == [True, False]
    assert not fails(faults, "sync:other")
    assert all(fails(faults, "selfcheck") for _ in range(5))  # no count: always


def test_a_kind_covers_every_job_of_it():
    faults = JobFaults("sync", enabled=True)
    assert fails(faults, "sync:a") and fails(faults, "sync:b")
    assert not fails(faults, "rules")


@pytest.mark.parametrize("text", ["", "  "])
def test_nothing_set_fails_nothing(text):
    assert not fails(JobFaults(text, enabled=True), "rules")


def test_ignored_unless_the_config_enables_it(caplog):
    faults = JobFaults("rules", enabled=False)
    assert not fails(faults, "rules")
    assert "ignored" in caplog.text
