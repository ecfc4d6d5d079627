"""The whole ``config.toml`` in one pass: every table by its owner, every problem at once.

:func:`validate` reads the file once and runs each table's checks (the top
level, ``[sync]`` and the accounts' common keys: :mod:`syncd.config.schema`;
each account's options, kind and paths: :mod:`connectors.options`;
``[daemon]``; ``[tiers]`` / ``[rules.X]``: :mod:`rules.settings`;
``[planner]``, ``[digest]``, ``[smtp]``, ``[serve]``: their modules), then what no single
table can tell: references to accounts (``account:NAME``) and the directories
that files will be written to. It returns what is valid and the list of
problems; :func:`load_everything` raises :class:`~syncd.core.errors.ConfigError`
with all of them (``syncd sync``, ``syncd run`` and ``syncd service install``
refuse an invalid configuration; ``syncd doctor`` lists the problems and checks
the rest with what is valid).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.options import account_problems
from rules.settings import RulesConfig, build_config
from syncd.config.schema import Config, check_config, read_config_file
from syncd.config.serve import ServeSettings, serve_settings
from syncd.config.spec import path_problem
from syncd.core.errors import ConfigError
from syncd.core.home import Home
from syncd.daemon.settings import DaemonSettings, daemon_settings
from syncd.followup.mailer import parse_smtp
from syncd.followup.planner import PlannerSettings
from syncd.followup.settings import calendar_file
from syncd.report.digest import parse_digest, preview_path

# Account kinds that take follow-up events ([planner] calendar) and send the digest ([digest] via).
CALENDAR_KINDS = ("gcal", "outlook", "exchange")
MAIL_KINDS = ("gmail", "outlook", "exchange")


@dataclass(slots=True)
class Loaded:
    """Everything read from ``config.toml`` (defaults where a table was invalid)."""

    config: Config
    settings: DaemonSettings
    rules: RulesConfig
    serve: ServeSettings = field(default_factory=ServeSettings)


def _owned(check: Callable[[], Any], problems: list[str]) -> Any:
    """Run one owner's check; its :class:`ConfigError` problems join ``problems``."""
    try:
        return check()
    except ConfigError as exc:
        problems += exc.problems
        return None


def _outside(path: Path, home: Home) -> bool:
    return not path.is_relative_to(home.root)


def _directory_of(where: str, file: Path, home: Home) -> list[str]:
    """The directory a configured file is written into must exist (the home is created)."""
    if not _outside(file.parent, home):
        return []
    problem = path_problem(file.parent)
    if problem is None and not file.parent.is_dir():
        problem = f"{file.parent} is not a directory"
    return [f"{where}: {problem} (the directory of {file.name})"] if problem else []


def _account_reference(where: str, value: str, config: Config, kinds: tuple[str, ...]) -> list[str]:
    name = value.removeprefix("account:")
    account = config.accounts.get(name)
    if account is None:
        known = ", ".join(sorted(config.accounts)) or "none configured"
        return [f"{where}: no account named {name!r} (accounts: {known})"]
    if account.kind not in kinds:
        wanted = " or ".join(kinds)
        return [f"{where}: account {name!r} is a {account.kind} account; this needs a {wanted} one"]
    return []


def _references(config: Config, home: Home, problems: list[str]) -> None:
    """What no single table can tell: ``account:NAME`` references and output directories."""
    _owned(lambda: PlannerSettings.from_config(config, home), problems)
    calendar = config.section("planner").get("calendar")  # checked, even if others are wrong
    if isinstance(calendar, str) and calendar.startswith("account:"):
        problems += _account_reference("planner.calendar", calendar, config, CALENDAR_KINDS)
    file = calendar_file(config, home)
    if file is not None:
        problems += _directory_of("planner.calendar", file, home)
    digest = _owned(lambda: parse_digest(config), problems)
    if digest is not None and digest.via.startswith("account:"):
        problems += _account_reference("digest.via", digest.via, config, MAIL_KINDS)
    preview = preview_path(config, home)
    if preview is not None:
        problems += _directory_of("digest.preview", preview, home)
    smtp = config.section("smtp")
    settings = _owned(lambda: parse_smtp(smtp, home.root), problems) if smtp else None
    if settings is not None and settings.password_file is not None:
        problem = path_problem(settings.password_file)
        problems += [f"smtp.password_file: {problem}"] if problem else []


def validate(home: Home) -> tuple[Loaded, list[str]]:
    """The configuration (as much of it as is valid) and every problem in it.

    A file that cannot be read or is not UTF-8 TOML raises :class:`ConfigError` (or
    :class:`~syncd.core.errors.UserError`): nothing else can be checked then."""
    data = read_config_file(home.config_path)
    config, problems = check_config(data)
    for account in config.accounts.values():
        problems += account_problems(account)
    settings = _owned(lambda: daemon_settings(config), problems) or DaemonSettings()
    rules = _owned(lambda: build_config(data, source=""), problems) or build_config({})
    serve = _owned(lambda: serve_settings(config), problems) or ServeSettings()
    _references(config, home, problems)
    return Loaded(config, settings, rules, serve), list(dict.fromkeys(problems))


def load_everything(home: Home) -> Loaded:
    """Read and validate the whole configuration; every problem at once (:class:`ConfigError`)."""
    loaded, problems = validate(home)
    if problems:
        raise ConfigError(problems)
    return loaded
