"""connectors.graph_api.interleave: folders read side by side, each in order."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.graph_api import interleave


def slow(name: str, n: int, delay: float = 0.01):
    def make():
        for i in range(n):
            time.sleep(delay)
            yield (name, i)

    return make


def test_items_of_each_producer_keep_their_order_and_none_is_lost():
    got = list(interleave([slow(c, 5) for c in "abcdef"], threading.Event(), 4))
    assert sorted(got) == sorted((c, i) for c in "abcdef" for i in range(5))
    for c in "abcdef":
        assert [i for name, i in got if name == c] == list(range(5))
    assert len({name for name, _ in got[:8]}) >= 2, "producers ran side by side"


def test_an_early_stop_winds_the_threads_down_and_errors_come_through():
    before = threading.active_count()
    gen = interleave([slow(c, 100) for c in "abcd"], threading.Event(), 4)
    assert next(gen)
    gen.close()
    assert threading.active_count() <= before

    def boom():
        yield 1
        raise ValueError("broken folder")

    with pytest.raises(ValueError, match="broken folder"):
        list(interleave([boom, slow("x", 3)], threading.Event(), 2))
