"""The rules engine and the built-in relationship playbook (design.md §3).

- :mod:`rules.settings`: defaults (``defaults.toml``) + user config, validated;
- :mod:`rules.tiers`: the interaction score and Dunbar tiers;
- :mod:`rules.aggregates`: per-person aggregates in SQL, cached;
- :mod:`rules.cadence`, :mod:`rules.conversation`: the rules, small pure functions;
- :mod:`rules.engine`: full and incremental evaluation into flags
  (:mod:`rules.flags` holds their lifecycle).
"""
