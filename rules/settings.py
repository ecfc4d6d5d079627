"""Rule settings: shipped defaults (``rules/defaults.toml``) overridden by the user's config.

The user's ``config.toml`` may hold a ``[tiers]`` table, a ``[kinds]`` table (the
thresholds of person-kind detection), one ``[rules.<id>]`` table per rule and one
``[rules.tags.<tag>]`` table per tag with a cadence of its own (``cadence_days``,
given to the ``dormant`` rule as its ``tag_days``); other tables belong to other
parts of syncd and are ignored here. Everything is validated up
front and every problem is reported at once (:class:`syncd.core.errors.ConfigError`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rules.tags import normalise_tag, tag_problem
from syncd.config.schema import read_config_file
from syncd.config.spec import type_name, unknown_key
from syncd.core.errors import ConfigError

DEFAULTS_PATH = Path(__file__).with_name("defaults.toml")
TIER_NAMES = ("core", "active", "network", "acquaintance")


def load_defaults() -> dict[str, Any]:
    """The shipped defaults as a dict (``tiers`` and ``rules``)."""
    with open(DEFAULTS_PATH, "rb") as fh:
        return tomllib.load(fh)


@dataclass(frozen=True)
class RulesConfig:
    """Validated settings: tier sizes, half-life and each rule's table."""

    sizes: dict[str, int]
    half_life_days: float
    rules: dict[str, dict[str, Any]]
    kinds: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> float:
        """The decay rate per second: weights are ``2 ** (at * k)`` up to a common factor."""
        return 1.0 / (self.half_life_days * 86400.0)

    @property
    def fingerprint(self) -> str:
        """A hash of the effective settings (a change triggers a full evaluation)."""
        blob = json.dumps(
            {
                "sizes": self.sizes,
                "half_life": self.half_life_days,
                "rules": self.rules,
                "kinds": self.kinds,
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def enabled(self, rule_id: str) -> bool:
        """Whether rule ``rule_id`` runs."""
        return bool(self.rules.get(rule_id, {}).get("enabled", False))


def _coerce(where: str, default: Any, value: Any, problems: list[str]) -> Any:
    """``value`` checked against the type of ``default``; appends a problem when wrong."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, list):
        if isinstance(value, list):
            kind = type(default[0]) if default else None
            if kind is None or all(isinstance(v, kind) and not isinstance(v, bool) for v in value):
                return list(value)
            problems.append(f"{where}: every item must be {type_name(default[0])}")
            return default
    elif isinstance(default, str) and isinstance(value, str):
        return value
    problems.append(f"{where}: expected {type_name(default)}, got {value!r}")
    return default


def _merge(where: str, defaults: dict[str, Any], given: Any, problems: list[str]) -> dict[str, Any]:
    if not isinstance(given, dict):
        problems.append(f"{where}: expected a table, got {given!r}")
        return dict(defaults)
    out = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            problems.append(unknown_key(where, key, defaults))
            continue
        out[key] = _coerce(f"{where}.{key}", defaults[key], value, problems)
    return out


def _check_positive(where: str, table: dict[str, Any], keys: tuple[str, ...], problems: list[str]):
    for key in keys:
        if key in table and not table[key] > 0:
            problems.append(f"{where}.{key}: must be greater than 0 (got {table[key]!r})")


def _check_non_negative(
    where: str, table: dict[str, Any], keys: tuple[str, ...], problems: list[str]
):
    for key in keys:
        if key in table and table[key] < 0:
            problems.append(f"{where}.{key}: must not be negative (got {table[key]!r})")


def _check_tiers(where: str, values: list[str], problems: list[str]) -> None:
    for value in values:
        if value not in TIER_NAMES:
            problems.append(f"{where}: unknown tier {value!r} (tiers: {', '.join(TIER_NAMES)})")


def _check_rule(where: str, table: dict[str, Any], problems: list[str]) -> None:
    _check_positive(
        where,
        table,
        (
            "core_days",
            "active_days",
            "network_days",
            "window_days",
            "min_touches",
            "hours",
            "days",
            "min_threads",
            "min_exchanges",
            "silent_days",
        ),
        problems,
    )
    _check_non_negative(where, table, ("expire_days", "days_before"), problems)
    for kind in table.get("kinds", []) if isinstance(table.get("kinds"), list) else []:
        if kind not in ("birthday", "anniversary"):
            problems.append(f"{where}.kinds: unknown date {kind!r} (birthday, anniversary)")
    for key in ("tiers", "skip_tiers"):
        if key in table:
            _check_tiers(f"{where}.{key}", table[key], problems)
    if "max_share" in table and not 0.5 < table["max_share"] <= 1.0:
        problems.append(
            f"{where}.max_share: must be above 0.5 and at most 1 (got {table['max_share']!r})"
        )
    if "steps_days" in table:
        steps = table["steps_days"]
        if not steps:
            problems.append(f"{where}.steps_days: needs at least one step")
        elif any(s <= 0 for s in steps) or any(a >= b for a, b in itertools.pairwise(steps)):
            problems.append(
                f"{where}.steps_days: must be positive and strictly increasing (got {steps!r})"
            )


TAG_KEYS = {"cadence_days": 30}


def _tag_cadences(where: str, given: Any, problems: list[str]) -> dict[str, int]:
    """``[rules.tags.<tag>]`` tables: each tag's ``cadence_days``, by normalised name."""
    if not isinstance(given, dict):
        problems.append(f"{where}: expected [rules.tags.<tag>] tables, got {given!r}")
        return {}
    out: dict[str, int] = {}
    for raw, table in given.items():
        problem = tag_problem(raw)
        if problem is not None:
            problems.append(f"{where}.{raw}: {problem}")
            continue
        name = normalise_tag(raw)
        if name in out:
            problems.append(f"{where}.{raw}: the tag {name!r} is configured twice")
            continue
        if not isinstance(table, dict):
            problems.append(f"{where}.{raw}: expected a table with cadence_days, got {table!r}")
            continue
        if "cadence_days" not in table:
            problems.append(f"{where}.{raw}.cadence_days: needed (a number of days)")
        merged = _merge(f"{where}.{raw}", TAG_KEYS, table, problems)
        _check_positive(f"{where}.{raw}", merged, ("cadence_days",), problems)
        out[name] = merged["cadence_days"]
    return dict(sorted(out.items()))


def build_config(user: dict[str, Any] | None, source: str = "config") -> RulesConfig:
    """Merge ``user`` (a parsed config.toml) over the defaults and validate everything.

    Each problem starts with ``source`` (none when it is empty)."""
    defaults = load_defaults()
    problems: list[str] = []
    user = user or {}
    at = f"{source}: " if source else ""
    tiers = _merge(f"{at}tiers", defaults["tiers"], user.get("tiers", {}), problems)
    for name in ("core", "active", "network"):
        if tiers[name] < 0:
            problems.append(f"{at}tiers.{name}: must not be negative (got {tiers[name]})")
    if not tiers["half_life_days"] > 0:
        problems.append(f"{at}tiers.half_life_days: must be greater than 0")
    rules: dict[str, dict[str, Any]] = {}
    given_rules = user.get("rules", {})
    if not isinstance(given_rules, dict):
        problems.append(f"{at}rules: expected a table of [rules.<id>] tables")
        given_rules = {}
    tag_days = _tag_cadences(f"{at}rules.tags", given_rules.get("tags", {}), problems)
    for rule_id in given_rules:
        if rule_id not in defaults["rules"] and rule_id != "tags":
            problems.append(unknown_key(f"{at}rules", rule_id, defaults["rules"], "rule"))
    for rule_id, table in defaults["rules"].items():
        where = f"{at}rules.{rule_id}"
        merged = _merge(where, table, given_rules.get(rule_id, {}), problems)
        _check_rule(where, merged, problems)
        rules[rule_id] = merged
    # A tag's cadence overrides the tier's (the shortest of a person's tags wins).
    rules["dormant"]["tag_days"] = tag_days
    kinds = _merge(f"{at}kinds", defaults["kinds"], user.get("kinds", {}), problems)
    _check_positive(f"{at}kinds", kinds, tuple(k for k in kinds if k != "auto_self"), problems)
    for key in ("template_share", "category_share"):
        if not 0 < kinds[key] <= 1:
            problems.append(f"{at}kinds.{key}: must be above 0 and at most 1 (got {kinds[key]!r})")
    if problems:
        raise ConfigError(problems)
    return RulesConfig(
        sizes={n: tiers[n] for n in ("core", "active", "network")},
        half_life_days=float(tiers["half_life_days"]),
        rules=rules,
        kinds=kinds,
    )


def load_config(path: Path | None) -> RulesConfig:
    """Settings from the user's ``config.toml`` at ``path`` (missing file: defaults)."""
    if path is None:
        return build_config({})
    return build_config(read_config_file(Path(path)), source=str(path))
