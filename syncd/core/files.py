"""Replacing a file whole: the one way syncd writes a file that others read."""

from __future__ import annotations

import os
from pathlib import Path


def replace_file(
    path: Path, data: str | bytes, mode: int | None = None, newline: str | None = None
) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it
    (``.NAME.tmp``), renamed over ``path``, so a reader sees the old file or the new one.

    With ``mode`` the file has exactly that mode (0o600: private to the user, whatever the
    umask or the mode of a temporary file left from before); without, the umask's default.
    Text is UTF-8; ``newline`` as for :func:`open`."""
    tmp = path.with_name(f".{path.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    fd = os.open(tmp, flags, 0o666 if mode is None else mode)
    if isinstance(data, str):
        fh = os.fdopen(fd, "w", encoding="utf-8", newline=newline)
    else:
        fh = os.fdopen(fd, "wb")
    with fh:
        if mode is not None:
            os.fchmod(fh.fileno(), mode)
        fh.write(data)
    tmp.replace(path)
