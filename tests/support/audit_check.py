"""The audit's counts recomputed from ``syncd people --json`` (issue 18, item 5): both
must agree, on any store."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from tests.support.helpers import people_json, run_cli

DAY = 86400
TIE_OF_TIER = {"core": "strong", "active": "strong", "network": "medium"}


def audit_and_people(home, now: str) -> tuple[dict, list[dict]]:
    """``syncd audit --json`` and ``syncd people --json``, both as of ``now``."""
    import json

    audit = json.loads(run_cli("--now", now, "audit", "--json", home=home).stdout)
    return audit, people_json(home, "--now", now)


def assert_agrees(audit: dict, people: list[dict], now: str) -> None:
    """Tier sizes, tie counts and dormant strong ties equal those recomputed from people."""
    instant = datetime.fromisoformat(now).timestamp() if "T" in now else None
    if instant is None:
        instant = datetime.fromisoformat(now + "T00:00:00+00:00").timestamp()
    humans = [p for p in people if p["kind"] == "human"]
    assert audit["people"] == len(people)
    assert audit["humans"] == len(humans)
    tiers = Counter(p["tier"] for p in humans)
    assert audit["tiers"] == {t: tiers.get(t, 0) for t in ("core", "active", "network")}
    silent = audit["dormant_days"] * DAY
    ties: Counter[str] = Counter()
    strong = set()
    for p in humans:
        last = datetime.fromisoformat(p["last_touch"]).timestamp()
        if instant - last >= silent:
            ties["dormant"] += 1
            if min(p["touches_in"], p["touches_out"]) + p["meetings"] >= 10:
                strong.add(p["id"])
        else:
            ties[TIE_OF_TIER.get(p["tier"], "weak")] += 1
    assert audit["ties"] == {t: ties.get(t, 0) for t in ("strong", "medium", "weak", "dormant")}
    assert audit["reactivate_total"] == len(strong)
    assert {s["id"] for s in audit["reactivate"]} <= strong
