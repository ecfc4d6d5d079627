"""The ``[serve]`` table: whether ``syncd run`` also serves the dashboard, and on which port.

```toml
[serve]
enabled = true      # syncd run serves the dashboard (syncd serve does it on demand)
port = 8750         # on 127.0.0.1 only
```
"""

from __future__ import annotations

from dataclasses import dataclass

from syncd.config.schema import Config
from syncd.config.spec import type_name, unknown_keys
from syncd.core.errors import ConfigError

DEFAULT_PORT = 8750
SERVE_KEYS = {
    "enabled": "syncd run also serves the dashboard (true/false)",
    "port": "the dashboard's port on 127.0.0.1 (1024-65535)",
}


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """The ``[serve]`` table, validated."""

    enabled: bool = False
    port: int = DEFAULT_PORT


def check_port(value: object) -> str | None:
    """Why ``value`` is not a port the dashboard may listen on (None: it is one)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return f"must be a whole number from 1024 to 65535, not {type_name(value)}"
    if not 1024 <= value <= 65535:
        return f"must be from 1024 to 65535 (got {value})"
    return None


def serve_settings(config: Config) -> ServeSettings:
    """Validate ``[serve]``; raise :class:`ConfigError` listing every problem."""
    table = config.section("serve")
    problems = unknown_keys("serve", table, SERVE_KEYS)
    enabled = table.get("enabled", False)
    if not isinstance(enabled, bool):
        problems.append(f"serve.enabled: must be true or false (got {type_name(enabled)})")
        enabled = False
    port = table.get("port", DEFAULT_PORT)
    problem = check_port(port)
    if problem:
        problems.append(f"serve.port: {problem}")
        port = DEFAULT_PORT
    if problems:
        raise ConfigError(problems)
    return ServeSettings(enabled=enabled, port=port)
