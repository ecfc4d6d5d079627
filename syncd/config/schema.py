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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from syncd.config.spec import did_you_mean, type_name, unknown_keys
from syncd.core.environment import explain_os_error, not_a_directory
from syncd.core.errors import ConfigError, UserError
from syncd.core.files import replace_file
from syncd.mail.addresses import is_valid

ACCOUNT_KINDS = (
    "gmail",
    "gcal",
    "outlook",
    "exchange",
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


# The top level: these keys and tables, no others (each table's owner checks its keys).
TOP_KEYS = {
    "me": "your own addresses",
    "timezone": "your IANA time zone",
    "accounts": "one [accounts.NAME] table per account",
    "sync": "[sync] interval_minutes",
    "daemon": "the daemon's schedule (syncd.daemon.settings)",
    "planner": "follow-up events (syncd.followup.settings)",
    "digest": "the weekly summary (syncd.report.digest)",
    "smtp": "the mail server for the digest (syncd.followup.mailer)",
    "serve": "the dashboard (syncd.config.serve)",
    "tiers": "tier sizes (rules.settings)",
    "kinds": "person-kind detection thresholds (rules.settings)",
    "rules": "one [rules.ID] table per rule (rules.settings)",
}
# tiers, rules: rules.settings
TABLES = ("accounts", "sync", "daemon", "planner", "digest", "smtp", "serve")
SYNC_KEYS = ("interval_minutes",)
ACCOUNT_KEYS = ("kind", "address", "me", "enabled")  # the rest are the connector's options


def _check_addresses(values: Any, where: str, problems: list[str]) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        example = '["me@example.com"]'
        got = "a single string" if isinstance(values, str) else type_name(values)
        problems.append(f"{where}: must be a list of email addresses such as {example}, not {got}")
        return []
    out = []
    for value in values:
        if not is_valid(value.strip().lower()):
            problems.append(f"{where}: {value!r} is not an email address")
        else:
            out.append(value.strip().lower())
    return out


def check_timezone(where: str, value: Any, problems: list[str]) -> str | None:
    """``value`` when it names an IANA time zone, else None (and a problem)."""
    if not isinstance(value, str):
        problems.append(f"{where}: must be a time zone name such as 'Europe/Berlin'")
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(
            f"{where}: unknown time zone {value!r} (use a name such as 'Europe/Berlin')"
        )
        return None
    return value


def _check_sync(data: dict[str, Any], cfg: Config, problems: list[str]) -> None:
    sync = data.get("sync", {})
    if not isinstance(sync, dict):
        return
    problems += unknown_keys("sync", sync, SYNC_KEYS)
    interval = sync.get("interval_minutes", 5)
    if not isinstance(interval, int | float) or isinstance(interval, bool) or interval <= 0:
        problems.append("sync.interval_minutes: must be a positive number of minutes")
    else:
        cfg.sync_interval_minutes = float(interval)


def _check_account(name: str, table: Any, problems: list[str]) -> AccountConfig | None:
    where = f"accounts.{name}"
    if not isinstance(table, dict):
        problems.append(f"{where}: must be a table ([accounts.{name}] with kind = ...)")
        return None
    kind = table.get("kind")
    if kind is None:
        problems.append(f"{where}.kind: needed: one of {', '.join(ACCOUNT_KINDS)}")
        return None
    if kind not in ACCOUNT_KINDS:
        hint = did_you_mean(str(kind), ACCOUNT_KINDS) if isinstance(kind, str) else ""
        problems.append(f"{where}.kind: {kind!r} is not an account kind; {hint}".rstrip("; "))
        return None
    address = table.get("address")
    if address is not None and (not isinstance(address, str) or not is_valid(address.lower())):
        problems.append(f"{where}.address: {address!r} is not an email address")
        address = None
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{where}.enabled: must be true or false (got {type_name(enabled)})")
    return AccountConfig(
        name=name,
        kind=kind,
        address=address.lower() if address else None,
        me=_check_addresses(table.get("me"), f"{where}.me", problems),
        enabled=enabled is not False,
        options={k: v for k, v in table.items() if k not in ACCOUNT_KEYS},
    )


def check_config(data: dict[str, Any]) -> tuple[Config, list[str]]:
    """Validate a parsed TOML document: the configuration (as much of it as is valid) and
    every problem found in the top level, ``[sync]`` and the accounts' common keys."""
    problems: list[str] = unknown_keys("", data, TOP_KEYS, "table or setting")
    for table in TABLES:
        if table in data and not isinstance(data[table], dict):
            problems.append(f"{table}: must be a table ([{table}]), not {type_name(data[table])}")
    cfg = Config(raw=data)
    cfg.me = _check_addresses(data.get("me"), "me", problems)
    cfg.timezone = check_timezone("timezone", data.get("timezone", "UTC"), problems) or "UTC"
    _check_sync(data, cfg, problems)
    accounts = data.get("accounts", {})
    for name, table in accounts.items() if isinstance(accounts, dict) else ():
        account = _check_account(name, table, problems)
        if account is not None:
            cfg.accounts[name] = account
    rules = data.get("rules", {})  # checked by their owner, rules.settings
    if isinstance(rules, dict):
        cfg.rules = {k: v for k, v in rules.items() if isinstance(v, dict)}
    return cfg, problems


def parse_config(data: dict[str, Any]) -> Config:
    """Validate a parsed TOML document; raise :class:`ConfigError` listing every problem."""
    cfg, problems = check_config(data)
    if problems:
        raise ConfigError(problems)
    return cfg


def read_config_file(path: Path) -> dict[str, Any]:
    """``config.toml`` parsed (``{}`` when missing); a file that is not UTF-8 TOML is a
    :class:`ConfigError` in plain words."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except IsADirectoryError:
        raise ConfigError([f"{path}: is a directory, not a configuration file"]) from None
    except NotADirectoryError:
        raise not_a_directory(path.parent) from None
    except OSError as exc:
        raise explain_os_error(exc) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            [
                f"{path}: line {line} is not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
                "save the file as UTF-8"
            ]
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None


def load_config(path: Path) -> Config:
    """Read and validate ``config.toml``; a missing file is an empty configuration."""
    return parse_config(read_config_file(path))


def _edit(path: Path, change) -> None:
    # tomlkit only where the file is edited: the daemon, which only reads it, would
    # otherwise keep it in memory at rest.
    import tomlkit

    read_config_file(path)  # a file that is not UTF-8 TOML: a clean error, nothing written
    doc = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    change(doc)
    parse_config(doc.unwrap())  # never write an invalid file
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    replace_file(path, tomlkit.dumps(doc), mode=0o600)


def save_account(path: Path, account: AccountConfig, replace: bool = False) -> None:
    """Add ``[accounts.NAME]`` to the config file (comments elsewhere are kept)."""

    def change(doc) -> None:
        import tomlkit  # (see _edit)

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
