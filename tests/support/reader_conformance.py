"""The conformance suite every connector's reader passes (design.md §1).

Subclass :class:`ConnectorConformance` in a ``test_*.py`` module (the class
name must start with ``Test``) and provide:

- ``make_reader(tmp_path)``: a new reader over the test source (call it as
  often as the suite likes; every reader sees the same source);
- ``add_data(tmp_path)``: add at least one new item to the source;
- optionally ``setup_source(tmp_path)`` / ``teardown_source()`` (start and
  stop a server), ``body_markers`` (strings that occur only in message bodies
  or event descriptions, so must never reach an observation) and
  ``interrupt_after`` (batches consumed before the simulated crash).

The source must yield at least two batches on a first fetch for the
interruption test to bite (it still passes with one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Batch, Reader


def identities(batch: Batch) -> list[tuple]:
    """What one batch delivered: one identity per observation."""
    out: list[tuple] = []
    for obs in batch.mail:
        obs.summarized()
        out.append(("mail", obs.folder, obs.hash))
    for ev in batch.events:
        out.append(("event", ev.calendar, ev.key, ev.hash))
    return out


def commit(cursors: dict[str, Any], batch: Batch) -> None:
    """What syncd's ingest does with a batch's cursors: store them (as JSON)."""
    for scope, cursor in batch.cursors.items():
        cursors[scope] = json.loads(json.dumps(cursor))


def run(reader: Reader, cursors: dict[str, Any], limit: int | None = None) -> list[tuple]:
    """Fetch (up to ``limit`` batches), committing cursors into ``cursors``; the identities."""
    seen: list[tuple] = []
    gen = reader.fetch(cursors)
    try:
        for n, batch in enumerate(gen):
            if limit is not None and n >= limit:
                break
            seen.extend(identities(batch))
            commit(cursors, batch)
    finally:
        gen.close()
    return seen


class ConnectorConformance:
    """Generic tests any :class:`connectors.base.Reader` must pass."""

    body_markers: tuple[str, ...] = ()
    interrupt_after: int = 1

    # -- what subclasses provide --------------------------------------------------------------

    def setup_source(self, tmp_path: Path) -> None:
        """Create the source (files, a server) under ``tmp_path``."""

    def teardown_source(self) -> None:
        """Release what :meth:`setup_source` started."""

    def make_reader(self, tmp_path: Path) -> Reader:
        raise NotImplementedError

    def add_data(self, tmp_path: Path) -> None:
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def _conformance_source(self, tmp_path: Path) -> Iterable[None]:
        self.setup_source(tmp_path)
        try:
            yield
        finally:
            self.teardown_source()

    # -- the suite -------------------------------------------------------------------------------

    def test_reader_protocol(self, tmp_path: Path) -> None:
        reader = self.make_reader(tmp_path)
        assert isinstance(reader, Reader)

    def test_first_fetch_cursors_round_trip_json(self, tmp_path: Path) -> None:
        batches = list(self.make_reader(tmp_path).fetch({}))
        assert batches, "a first fetch of a non-empty source yields batches"
        assert any(b.mail or b.events for b in batches), "and observations"
        for batch in batches:
            assert isinstance(batch, Batch)
            for scope, cursor in batch.cursors.items():
                assert isinstance(scope, str)
                assert json.loads(json.dumps(cursor)) == cursor

    def test_second_fetch_yields_nothing_new(self, tmp_path: Path) -> None:
        cursors: dict[str, Any] = {}
        first = run(self.make_reader(tmp_path), cursors)
        assert first
        again = run(self.make_reader(tmp_path), cursors)
        assert again == [], f"{len(again)} observations again after a complete fetch"

    def test_new_data_is_fetched_once(self, tmp_path: Path) -> None:
        cursors: dict[str, Any] = {}
        first = set(run(self.make_reader(tmp_path), cursors))
        self.add_data(tmp_path)
        new = run(self.make_reader(tmp_path), cursors)
        assert new, "added data is fetched"
        assert not set(new) & first, "nothing fetched before comes again"
        assert run(self.make_reader(tmp_path), cursors) == []

    def test_resume_after_interruption_no_duplicates_no_losses(self, tmp_path: Path) -> None:
        complete = run(self.make_reader(tmp_path), {})
        cursors: dict[str, Any] = {}
        before = run(self.make_reader(tmp_path), cursors, limit=self.interrupt_after)
        after = run(self.make_reader(tmp_path), cursors)
        got = before + after
        assert len(got) == len(set(got)), "an observation came twice"
        assert set(got) == set(complete), "an observation was lost"

    def test_observations_hold_no_body(self, tmp_path: Path) -> None:
        text = repr([b.mail + b.events for b in self.make_reader(tmp_path).fetch({})])
        for marker in self.body_markers:
            assert marker not in text

    def test_estimate_is_a_non_negative_int(self, tmp_path: Path) -> None:
        reader = self.make_reader(tmp_path)
        value = reader.estimate({})
        assert isinstance(value, int) and not isinstance(value, bool) and value >= 0
        cursors: dict[str, Any] = {}
        run(reader, cursors)
        later = self.make_reader(tmp_path).estimate(cursors)
        assert isinstance(later, int) and later >= 0
