"""Notice an edited ``config.toml`` without polling it: inotify on its directory (Linux).

The daemon sleeps in ``select()`` until its next job; with a :class:`ConfigWatch`
among the descriptors, a write, rename or removal of the configuration file
wakes it at once, so it need not wake every few seconds to ``stat`` the file.
Elsewhere (no inotify: macOS, BSD) :func:`open_watch` returns ``None`` and the
loop falls back to a short polling sleep. A configuration file that is a symbolic
link into another directory is not watched through its target; the loop's
``stat`` at each wake (at least once per sync interval) still notices an edit.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
import sys
from pathlib import Path

IN_ATTRIB = 0x004
IN_CLOSE_WRITE = 0x008
IN_MOVED_FROM = 0x040
IN_MOVED_TO = 0x080
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_Q_OVERFLOW = 0x4000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = 0o2000000
MASK = IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE | IN_DELETE
_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (then len bytes of name)


def parse_events(data: bytes) -> list[tuple[int, str]]:
    """``(mask, name)`` of each ``struct inotify_event`` in ``data``."""
    out = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        offset += _HEADER.size
        name = data[offset : offset + length].split(b"\0", 1)[0]
        offset += length
        out.append((mask, os.fsdecode(name)))
    return out


def touches(events: list[tuple[int, str]], name: str) -> bool:
    """Whether any event concerns the file ``name`` (or events were lost)."""
    return any(name == n or mask & IN_Q_OVERFLOW for mask, n in events)


class ConfigWatch:
    """An inotify descriptor watching the configuration file's directory."""

    def __init__(self, fd: int, name: str):
        self.fd = fd
        self.name = name

    def fileno(self) -> int:
        """The descriptor, for ``select()``."""
        return self.fd

    def changed(self) -> bool:
        """Read the pending events; True when the configuration file was touched."""
        hit = False
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return hit
            except OSError:
                return True  # cannot tell: let the caller stat the file
            if not data:
                return hit
            hit = hit or touches(parse_events(data), self.name)

    def close(self) -> None:
        """Stop watching."""
        if self.fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = -1


def open_watch(config_path: Path) -> ConfigWatch | None:
    """A watch on ``config_path``'s directory, or None where inotify is unavailable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        init, add = libc.inotify_init1, libc.inotify_add_watch
    except (OSError, AttributeError):
        return None
    add.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]
    fd = init(IN_NONBLOCK | IN_CLOEXEC)
    if fd < 0:
        return None
    if add(fd, os.fsencode(config_path.parent), MASK) < 0:
        os.close(fd)
        return None
    return ConfigWatch(fd, config_path.name)
