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
import logging
import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from syncd.config.schema import AccountConfig
from syncd.core.errors import UserError

log = logging.getLogger(__name__)

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
    """Yield ``(root, file)`` for every regular file under ``paths``, sorted; skip hidden files.

    A symbolic link to a file is followed (unless its target was read already);
    a link to a directory is not descended into (a link loop would never end)
    and a broken link is skipped: both with a warning, never silently.
    """
    targets: set[tuple[int, int]] = set()
    for root in paths:
        if not root.exists():
            raise UserError(f"no such file or directory: {root}")
        if root.is_file():
            yield root.parent, root
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in dirnames:
                link = os.path.join(dirpath, name)
                if not name.startswith(".") and os.path.islink(link):
                    _warn_once(link, "a link to a directory is not followed")
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                path = Path(dirpath) / name
                try:
                    st = path.stat()
                except OSError as exc:
                    _warn_once(str(path), exc.strerror or "unreadable")
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                key = (st.st_dev, st.st_ino)
                if key in targets and path.is_symlink():
                    continue  # a link to a file read already (hard links are read each)
                targets.add(key)
                yield root, path


_warned: set[str] = set()


def _warn_once(path: str, why: str) -> None:
    """Say once per process that ``path`` was skipped (a reader walks its paths twice:
    for the estimate, then to read)."""
    if path not in _warned:
        _warned.add(path)
        log.warning("skipped %s: %s", path, why)


# What the first bytes of a file say it is (see :func:`sniff`).
SNIFF_BYTES = 65536
PROBE_BYTES = 4096  # where binary data gives a file away (a message body may hold some)
_COMPRESSED = (  # gzip, zip, bzip2, xz, 7-Zip, zstd
    b"\x1f\x8b",
    b"PK\x03\x04",
    b"BZh",
    b"\xfd7zXZ\x00",
    b"7z\xbc\xaf",
    b"\x28\xb5\x2f\xfd",
)
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1a\x1c-\x1f]")


def sniff(path: Path) -> str:
    """What a file looks like from its first 64 KiB: ``empty``, ``compressed``,
    ``binary``, ``ics`` (iCalendar), ``json``, ``mbox`` (several ``From `` separated
    messages), ``message`` (one message: a header line first, or a ``From`` line and
    headers) or ``text`` (none of these)."""
    with open(path, "rb") as fh:
        head = fh.read(SNIFF_BYTES)
    if head.startswith(_COMPRESSED):
        return "compressed"
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        return "empty"
    probe = head[:PROBE_BYTES]
    if len(_CONTROL_BYTES.findall(probe)) * 20 > len(probe):  # text has none, or a few
        return "binary"
    upper = text[:15].upper()
    if upper.startswith((b"BEGIN:VCALENDAR", b"BEGIN:VEVENT")):
        return "ics"
    if text[:1] in (b"{", b"["):
        return "json"
    if text.startswith(b"From "):
        return "mbox" if b"\nFrom " in text else "message"
    if _HEADER_LINE.match(text):
        return "message"
    return "text"


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
