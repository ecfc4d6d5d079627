"""The rules engine's fast paths give the same results as the plain ones they replace."""

from __future__ import annotations

import json

from rules.flags import _facts_json


def test_facts_json_is_json_dumps_compact():
    """The reused C encoder writes what ``json.dumps`` (compact, non-ASCII kept) writes."""
    samples = [
        {},
        {"tier": "core", "pinned": False, "cadence_days": 30, "tag": None, "last_touch": 17},
        {"subject": 'Re: "Budget" — Q3 ünïcode \\ \n\t', "received": -1, "direct": True},
        {"steps": [3, 14, 60], "ratio": 0.1 + 0.2, "big": 2**70, "nested": {"a": [None, 1.5]}},
        {"nan": float("nan"), "inf": float("inf"), "emoji": "\U0001f600"},
    ]
    for facts in samples:
        assert _facts_json(facts) == json.dumps(facts, ensure_ascii=False, separators=(",", ":"))
