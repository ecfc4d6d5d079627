"""Shared helpers for connectors that read local export files.

A file's cursor records its size, mtime and a sampled hash of the prefix
already read, so an unchanged file costs one ``stat`` and an appended file is
read from where the last import stopped.

Local connectors open an account through :func:`account_paths`: the files and
directories listed in its ``paths`` option (``syncd account add KIND NAME
PATH...`` writes them absolute; relative ones are taken from the working
directory, as on the ``syncd import`` command line).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError

SAMPLE = 65536


def account_paths(account: AccountConfig) -> list[Path]:
    """The ``paths`` option of a local account (a non-empty list of path strings), checked."""
    paths = account.options.get("paths")
    if isinstance(paths, str | Path):
        paths = [paths]
    listed = isinstance(paths, list) and all(isinstance(p, str | Path) for p in paths)
    if not paths or not listed:
        raise UserError(f"account {account.name}: paths must list the files or directories to read")
    return [Path(p).expanduser() for p in paths]


def int_option(account: AccountConfig, name: str, default: Any = None) -> Any:
    """An optional whole-number account option (``default`` when absent), checked."""
    value = account.options.get(name, default)
    if value is not default and (not isinstance(value, int) or isinstance(value, bool)):
        raise UserError(f"account {account.name}: {name} must be a whole number")
    return value


def walk_files(paths: list[Path]) -> Iterator[tuple[Path, Path]]:
    """Yield ``(root, file)`` for every regular file under ``paths``, sorted; skip hidden files."""
    for root in paths:
        if not root.exists():
            raise UserError(f"no such file or directory: {root}")
        if root.is_file():
            yield root.parent, root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                if path.is_file() and not path.is_symlink():
                    yield root, path


def folder_name(root: Path, path: Path, strip_maildir: bool = False) -> str:
    """The folder a file stands for: its path relative to the import root."""
    rel = path.relative_to(root) if path != root else Path(path.name)
    parts = list(rel.parts)
    if strip_maildir:
        parts = parts[:-1]  # the file itself is one message, not a folder
        if parts and parts[-1] in ("cur", "new", "tmp"):
            parts = parts[:-1]
        if not parts:
            return root.name
    return "/".join(parts) or root.name


def prefix_sample(fh, length: int) -> str:
    """A hash of the file's first and last 64 KiB before ``length`` (plus the length)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(length).encode())
    fh.seek(0)
    h.update(fh.read(min(SAMPLE, length)))
    if length > SAMPLE:
        fh.seek(max(SAMPLE, length - SAMPLE))
        h.update(fh.read(length - max(SAMPLE, length - SAMPLE)))
    return h.hexdigest()


def unchanged(cursor: dict | None, st: os.stat_result) -> bool:
    """True when a completed cursor still describes the file exactly."""
    return bool(
        cursor
        and cursor.get("done")
        and cursor.get("size") == st.st_size
        and cursor.get("mtime_ns") == st.st_mtime_ns
    )
