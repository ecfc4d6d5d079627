"""A flaky Gmail and crashes at random points: the synced set is always exactly the mailbox.

Hypothesis draws a fault rate, a seed, crash points and mailbox changes
between runs; every run commits the batches it consumed (as syncd's ingest
does) and may die of a transient error or a crash. Whatever happens, the
observations delivered over all runs are the mailbox's messages, each once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import gmail
from connectors.google_pacing import forget_pacers
from syncd.core.errors import TransientError
from tests.support.google_emulator import GoogleEmulator
from tests.support.google_emulator.testing import ME, account, fill_mailbox, home, raw_message
from tests.support.reader_conformance import commit, identities

START = datetime(2024, 2, 1, tzinfo=UTC)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rate=st.sampled_from([0.0, 0.1, 0.3]),
    seed=st.integers(0, 1000),
    crashes=st.lists(st.integers(0, 6), min_size=0, max_size=4),
    arrivals=st.lists(st.integers(0, 3), min_size=0, max_size=4),
)
def test_flaky_server_and_crashes_never_lose_or_repeat(
    tmp_path_factory, rate, seed, crashes, arrivals
):
    forget_pacers()
    tmp = tmp_path_factory.mktemp("gmail")
    with GoogleEmulator(window=0.5) as emu:
        fill_mailbox(emu, 25)
        emu.flaky(rate, statuses=(429, 500, 503), seed=seed)
        acc = account(emu, tmp, batch_size=6, page_size=10, max_attempts=3)
        cursors: dict = {}
        seen: list[tuple] = []
        plan = [*crashes, None]  # the last run goes to the end
        added = 0
        for i, limit in enumerate(plan + [None] * 20):
            for _ in range(arrivals[i] if i < len(arrivals) else 0):
                added += 1
                when = START + timedelta(minutes=added)
                emu.gmail.add_message(
                    raw_message(f"n{added}@example.org", [ME], "hi", when), ["INBOX"]
                )
            reader = gmail.open_reader(acc, home(tmp))
            gen = reader.fetch(cursors)
            finished = False
            try:
                for n, batch in enumerate(gen):
                    if limit is not None and n >= limit:
                        break  # a crash: what was not committed is gone
                    seen.extend(identities(batch))
                    commit(cursors, batch)
                else:
                    finished = True
            except TransientError:
                pass  # syncd retries later from the committed cursor
            finally:
                gen.close()
            if finished and i >= len(plan) - 1:
                break
        emu.flaky(0)
        # One last clean run picks up anything still pending.
        for batch in gmail.open_reader(acc, home(tmp)).fetch(cursors):
            seen.extend(identities(batch))
            commit(cursors, batch)
        assert len(seen) == len(set(seen)), "an observation was delivered twice"
        assert len(seen) == 25 + added, "a message was lost"
    forget_pacers()
