"""User configuration: ``config.toml`` under the home, validated up front.

Config is what the user declares (accounts, schedule, working hours, digest
delivery, rule settings); state lives in SQLite and secrets in the keyring or
0600 files. :func:`load_config` reports *every* problem at once through
:class:`~syncd.core.errors.ConfigError`. :func:`save_account` / :func:`remove_account`
edit the file with tomlkit, keeping the user's comments.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomlkit

from syncd.core.errors import ConfigError, UserError
from syncd.mail.addresses import is_valid

ACCOUNT_KINDS = (
    "gmail",
    "gcal",
    "graph",
    "outlookcal",
    "ews",
    "imap",
    "caldav",
    "mbox",
    "maildir",
    "ics",
)


@dataclass(slots=True)
class AccountConfig:
    """One configured account (``[accounts.NAME]``).

    ``options`` keeps kind-specific keys (``api_endpoint``, ``token_file``,
    ``calendar``, ``host``, ``paths`` ...) as written.
    """

    name: str
    kind: str
    address: str | None = None
    me: list[str] = field(default_factory=list)
    enabled: bool = True
    options: dict[str, Any] = field(default_factory=dict)

    def as_toml(self) -> dict[str, Any]:
        """The table written under ``[accounts.NAME]``."""
        table: dict[str, Any] = {"kind": self.kind}
        if self.address:
            table["address"] = self.address
        if self.me:
            table["me"] = list(self.me)
        if not self.enabled:
            table["enabled"] = False
        table.update(self.options)
        return table


@dataclass(slots=True)
class Config:
    """The whole validated configuration. Unknown top-level tables are kept in ``raw``."""

    me: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    accounts: dict[str, AccountConfig] = field(default_factory=dict)
    sync_interval_minutes: float = 5.0
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        """A top-level table as written (``{}`` when absent), for modules that own it."""
        value = self.raw.get(name, {})
        return value if isinstance(value, dict) else {}


def _check_addresses(values: Any, where: str, problems: list[str]) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        problems.append(f"{where}: must be a list of email addresses")
        return []
    out = []
    for value in values:
        if not is_valid(value.strip().lower()):
            problems.append(f"{where}: {value!r} is not an email address")
        else:
            out.append(value.strip().lower())
    return out


def parse_config(data: dict[str, Any]) -> Config:
    """Validate a parsed TOML document; raise :class:`ConfigError` listing every problem."""
    problems: list[str] = []
    cfg = Config(raw=data)
    cfg.me = _check_addresses(data.get("me"), "me", problems)
    tz = data.get("timezone", "UTC")
    if not isinstance(tz, str):
        problems.append("timezone: must be a string such as 'Europe/Berlin'")
    else:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(tz)
            cfg.timezone = tz
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"timezone: unknown time zone {tz!r}")
    sync = data.get("sync", {})
    if not isinstance(sync, dict):
        problems.append("sync: must be a table")
    else:
        interval = sync.get("interval_minutes", 5)
        if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
            problems.append("sync.interval_minutes: must be a positive number")
        else:
            cfg.sync_interval_minutes = float(interval)
    accounts = data.get("accounts", {})
    if not isinstance(accounts, dict):
        problems.append("accounts: must be a table of [accounts.NAME] tables")
        accounts = {}
    for name, table in accounts.items():
        where = f"accounts.{name}"
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a table")
            continue
        kind = table.get("kind")
        if kind not in ACCOUNT_KINDS:
            problems.append(
                f"{where}.kind: must be one of {', '.join(ACCOUNT_KINDS)} (got {kind!r})"
            )
            continue
        address = table.get("address")
        if address is not None and (not isinstance(address, str) or not is_valid(address.lower())):
            problems.append(f"{where}.address: {address!r} is not an email address")
            address = None
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            problems.append(f"{where}.enabled: must be true or false")
        options = {k: v for k, v in table.items() if k not in ("kind", "address", "me", "enabled")}
        cfg.accounts[name] = AccountConfig(
            name=name,
            kind=kind,
            address=address.lower() if address else None,
            me=_check_addresses(table.get("me"), f"{where}.me", problems),
            enabled=enabled is not False,
            options=options,
        )
    rules = data.get("rules", {})
    if not isinstance(rules, dict) or not all(isinstance(v, dict) for v in rules.values()):
        problems.append("rules: must be a table of [rules.RULE_ID] tables")
    else:
        cfg.rules = rules
    if problems:
        raise ConfigError(problems)
    return cfg


def load_config(path: Path) -> Config:
    """Read and validate ``config.toml``; a missing file is an empty configuration."""
    if not path.exists():
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror}") from None
    return parse_config(data)


def _edit(path: Path, change) -> None:
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    change(doc)
    parse_config(doc.unwrap())  # never write an invalid file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(tomlkit.dumps(doc), encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def save_account(path: Path, account: AccountConfig, replace: bool = False) -> None:
    """Add ``[accounts.NAME]`` to the config file (comments elsewhere are kept)."""

    def change(doc) -> None:
        accounts = doc.setdefault("accounts", tomlkit.table(is_super_table=True))
        if account.name in accounts and not replace:
            raise UserError(
                f"account {account.name!r} exists already (syncd account remove it first)"
            )
        table = tomlkit.table()
        for key, value in account.as_toml().items():
            table[key] = value
        accounts[account.name] = table

    _edit(path, change)


def remove_account(path: Path, name: str) -> None:
    """Delete ``[accounts.NAME]`` from the config file."""

    def change(doc) -> None:
        accounts = doc.get("accounts", {})
        if name not in accounts:
            raise UserError(f"no account named {name!r}")
        del accounts[name]

    _edit(path, change)
