"""The conformance suite every calendar writer passes (design.md §1, §4).

Subclass :class:`WriterConformance` in a ``test_*.py`` module (the class name
must start with ``Test``) and provide:

- ``make_writer(tmp_path)``: a new :class:`~connectors.base.CalendarWriter`
  on the test calendar (called as often as the suite likes; every writer
  sees the same calendar, so a new one is what a process restarted after a
  crash would open);
- ``live_events(key)``: how many events carrying ``key`` the calendar holds
  (not cancelled), read from the backend directly, not through the writer;
- ``delete_in_backend(ref)`` / ``move_in_backend(ref, start, end)``: what the
  user does to an event in their calendar app;
- optionally ``setup_target(tmp_path)`` / ``teardown_target()`` (start and
  stop a server).

Properties: ``apply`` is idempotent (the same action twice: one event, one
ref) also across writers (a retry after a crash finds the event by the key it
carries); removing an event that is not there is no error; ``lookup`` sees a
user's deletion (None) and a user's move (the new start and end); ``busy``
reports the events written.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from connectors.base import Action, CalendarWriter, RemoteEvent

START = 1_717_405_200  # 2024-06-03 09:00 UTC
HOUR = 3600


def follow_up(key: str = "dormant:12:1717000000", start: int = START) -> Action:
    """An ``event.create`` action as the planner makes it (15 minutes at ``start``)."""
    return Action(
        key=key,
        kind="event.create",
        payload={
            "title": "Reconnect with Ana Ruiz",
            "description": "97 days since last touch, active tier",
            "start": start,
            "end": start + 900,
            "timezone": "Europe/Berlin",
            "created": start - 86400,
            "person": 12,
            "flags": [key],
        },
    )


class WriterConformance:
    """Generic tests any :class:`connectors.base.CalendarWriter` must pass."""

    # -- what subclasses provide --------------------------------------------------------------

    def setup_target(self, tmp_path: Path) -> None:
        """Create the calendar (a file, a server) under ``tmp_path``."""

    def teardown_target(self) -> None:
        """Release what :meth:`setup_target` started."""

    def make_writer(self, tmp_path: Path) -> CalendarWriter:
        """A new writer on the test calendar."""
        raise NotImplementedError

    def live_events(self, key: str) -> int:
        """Events carrying ``key`` that the calendar holds and that are not cancelled."""
        raise NotImplementedError

    def delete_in_backend(self, ref: str) -> None:
        """Delete the event ``ref`` as the user would, not through the writer."""
        raise NotImplementedError

    def move_in_backend(self, ref: str, start: int, end: int) -> None:
        """Move the event ``ref`` to ``[start, end)`` as the user would."""
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _conformance_target(self, tmp_path: Path) -> Iterable[None]:
        self.setup_target(tmp_path)
        try:
            yield
        finally:
            self.teardown_target()

    # -- the suite -------------------------------------------------------------------------------

    def test_writer_protocol(self, tmp_path: Path) -> None:
        assert isinstance(self.make_writer(tmp_path), CalendarWriter)

    def test_apply_is_idempotent(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        action = follow_up()
        assert writer.lookup(action.key) is None
        ref = writer.apply(action)
        assert isinstance(ref, str) and ref
        assert writer.apply(action) == ref
        assert self.live_events(action.key) == 1
        assert writer.lookup(action.key) == RemoteEvent(ref, START, START + 900)

    def test_retry_after_a_crash_finds_the_event(self, tmp_path: Path) -> None:
        action = follow_up()
        ref = self.make_writer(tmp_path).apply(action)
        # The process died before the outbox learnt the ref; a new one applies again.
        again = self.make_writer(tmp_path).apply(action)
        assert again == ref
        assert self.live_events(action.key) == 1

    def test_keys_are_separate_events(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        first = writer.apply(follow_up("dormant:12:1717000000"))
        second = writer.apply(follow_up("dormant:12:1717000000~2", START + 2 * HOUR))
        assert first != second
        assert self.live_events("dormant:12:1717000000") == 1
        assert self.live_events("dormant:12:1717000000~2") == 1

    def test_removing_a_missing_event_is_fine(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        never = follow_up("never:1:1")
        writer.remove(never, None)
        action = follow_up()
        ref = writer.apply(action)
        writer.remove(action, ref)
        assert self.live_events(action.key) == 0
        assert writer.lookup(action.key) is None
        writer.remove(action, ref)  # gone already
        self.make_writer(tmp_path).remove(action, None)

    def test_lookup_sees_a_user_deletion(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        action = follow_up()
        ref = writer.apply(action)
        self.delete_in_backend(ref)
        assert self.live_events(action.key) == 0
        assert writer.lookup(action.key) is None
        assert self.make_writer(tmp_path).lookup(action.key) is None

    def test_lookup_sees_a_user_move(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        action = follow_up()
        ref = writer.apply(action)
        self.move_in_backend(ref, START + 26 * HOUR, START + 26 * HOUR + 1800)
        moved = self.make_writer(tmp_path).lookup(action.key)
        assert moved == RemoteEvent(ref, START + 26 * HOUR, START + 26 * HOUR + 1800)
        # A retry of the create leaves the moved event where the user put it.
        assert writer.apply(action) == ref
        assert writer.lookup(action.key) == moved
        assert self.live_events(action.key) == 1

    def test_busy_reports_written_events(self, tmp_path: Path) -> None:
        writer = self.make_writer(tmp_path)
        assert (START, START + 900) not in writer.busy(START - HOUR, START + HOUR)
        writer.apply(follow_up())
        busy = self.make_writer(tmp_path).busy(START - HOUR, START + HOUR)
        assert (START, START + 900) in busy
        assert all(isinstance(s, int) and isinstance(e, int) and s < e for s, e in busy)
        assert (START, START + 900) not in writer.busy(START + 2 * HOUR, START + 3 * HOUR)
