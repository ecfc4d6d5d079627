"""The words of config validation, shared by every table's owner.

Each table of ``config.toml`` is validated by the module that owns it (the
top level, ``[sync]`` and ``[accounts.NAME]``'s common keys here in
:mod:`syncd.config.schema`; each connector's account options in
:mod:`connectors.options`; ``[daemon]``, ``[planner]``, ``[digest]``,
``[smtp]``, ``[tiers]`` and ``[rules.X]`` by theirs), and
:func:`syncd.daemon.validate.validate` runs them all in one pass. This
module gives them one voice: every problem names its table and key
(``accounts.archive.path``), an unknown key comes with a "did you mean", a
wrong type says what was expected in plain words, and a path is checked the
same way everywhere.
"""

from __future__ import annotations

import difflib
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


def did_you_mean(key: str, known: Iterable[str]) -> str:
    """``did you mean "paths"?`` for the closest known key, else the list of known keys."""
    choices = sorted(known)
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    if close:
        return f'did you mean "{close[0]}"?'
    return f"known: {', '.join(choices)}" if choices else "this table takes no settings"


def unknown_key(where: str, key: str, known: Iterable[str], what: str = "setting") -> str:
    """The problem for ``key`` of table ``where`` (``""``: the top level) that no one reads."""
    name = f"{where}.{key}" if where else key
    return f"{name}: unknown {what}; {did_you_mean(key, known)}"


def unknown_keys(
    where: str, table: dict[str, Any], known: Iterable[str], what: str = "setting"
) -> list[str]:
    """One problem per key of ``table`` that is not in ``known``."""
    known = set(known)
    return [unknown_key(where, key, known, what) for key in table if key not in known]


def type_name(value: Any) -> str:
    """``value``'s TOML type in plain words ("a string", "a list", ...)."""
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a table"
    return "a date or time"


def path_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used ("does not exist", "is a symbolic link loop" ...), or None."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f"{path} is a symbolic link loop (it points back at itself)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return f"{path} does not exist"
        if exc.errno in (errno.EACCES, errno.EPERM):
            return f"{path} cannot be reached: permission denied"
        return f"{path} cannot be used: {(exc.strerror or str(exc)).lower()}"
    except ValueError:  # an embedded NUL
        return f"{path!r} is not a valid path"
    return None


@dataclass(frozen=True, slots=True)
class Option:
    """One key of a table: its type (``kind``), a line of help, and bounds for numbers.

    Kinds: ``bool``, ``int``, ``number``, ``string``, ``url`` (http or https),
    ``file`` (a path that must exist) and ``paths`` (a non-empty list of paths
    that must exist; a single string is an error, not a one-item list).
    """

    kind: str
    help: str
    low: float | None = None
    high: float | None = None


def _bounds(where: str, value: float, option: Option) -> list[str]:
    low, high = option.low, option.high
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
        return [f"{where}: must be {span} (got {value!r})"]
    return []


def check_value(where: str, value: Any, option: Option) -> list[str]:
    """Type problems of ``value`` for ``option`` (paths are not looked at: see
    :func:`check_paths`)."""
    kind = option.kind
    got = f"got {type_name(value)}"
    if kind == "bool":
        return [] if isinstance(value, bool) else [f"{where}: must be true or false ({got})"]
    if kind in ("int", "number"):
        ok = isinstance(value, int) or (kind == "number" and isinstance(value, float))
        if isinstance(value, bool) or not ok:
            what = "a whole number" if kind == "int" else "a number"
            return [f"{where}: must be {what} ({got})"]
        return _bounds(where, value, option)
    if kind in ("string", "file", "url"):
        if not isinstance(value, str) or not value.strip():
            what = {"string": "a non-empty string", "file": "the path of a file"}.get(
                kind, "an http(s) URL"
            )
            return [f"{where}: must be {what} ({got})"]
        if kind == "url" and urlsplit(value).scheme not in ("http", "https"):
            return [f"{where}: must be an http:// or https:// URL (got {value!r})"]
        return []
    if kind == "paths":
        example = '["/home/me/Mail/archive.mbox"]'
        if isinstance(value, str):
            return [f"{where}: must be a list of paths such as {example}, not a single string"]
        if not isinstance(value, list) or not value:
            return [f"{where}: must be a non-empty list of paths such as {example} ({got})"]
        if not all(isinstance(p, str) and p.strip() for p in value):
            return [f"{where}: every item must be a path (a non-empty string)"]
        return []
    raise ValueError(f"unknown option kind {kind!r}")  # a mistake in a table of options


def check_paths(where: str, value: Any, option: Option, base: Path | None = None) -> list[str]:
    """``file`` / ``paths`` values that do not lead anywhere; relative paths are taken
    from ``base`` (else the working directory). Call after :func:`check_value` passed."""
    if option.kind == "file":
        values = [value]
    elif option.kind == "paths":
        values = list(value)
    else:
        return []
    problems = []
    for text in values:
        path = Path(text).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        problem = path_problem(path)
        if problem:
            problems.append(f"{where}: {problem}")
    return problems
