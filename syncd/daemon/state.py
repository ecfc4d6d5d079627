"""One daemon per home (an ``flock``) and what it tells others: its pid and ``daemon.json``."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import signal
import time
from datetime import UTC, datetime

from syncd.core.errors import UserError
from syncd.core.files import replace_file
from syncd.core.home import Home

log = logging.getLogger(__name__)

STATE_FILE = "daemon.json"
LOCK_FILE = "syncd.lock"

# -- lock and state file ---------------------------------------------------------------


class InstanceLock:
    """An exclusive ``flock`` on ``HOME/syncd.lock``: one daemon per home."""

    def __init__(self, home: Home):
        self.path = home.root / LOCK_FILE
        self.fd: int | None = None

    def acquire(self, wait: float = 2.0) -> None:
        """Take the lock (retrying briefly: `syncd status` probes it); UserError when held."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise UserError(f"cannot lock {self.path}: {exc.strerror}") from None
                if time.monotonic() >= deadline:
                    pid = _read_pid(fd)
                    os.close(fd)
                    who = f" (pid {pid})" if pid else ""
                    raise UserError(
                        f"syncd is already running for {self.path.parent}{who}; "
                        "stop it first (syncd service status, or kill the pid)"
                    ) from None
                time.sleep(0.05)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: deleting it would race with a starting daemon)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, 0)
            os.close(self.fd)
            self.fd = None


def _read_pid(fd: int) -> int | None:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or 0) or None
    return None


def running_pid(home: Home) -> int | None:
    """The pid of the daemon holding ``home``'s lock, or None when none runs."""
    path = home.root / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return _read_pid(fd) or -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def nudge(home: Home) -> bool:
    """Ask the daemon running for ``home`` (if any) to reload and retry every account now.

    For commands that fix what the daemon is waiting for (``syncd auth``). True when sent.
    """
    pid = running_pid(home)
    if not pid or pid < 0:
        return False
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError:
        return False
    return True


def write_state(home: Home, data: dict) -> None:
    """Replace ``HOME/daemon.json`` with ``data`` (0600, atomically); a failure is logged,
    never raised: the daemon goes on without its status file."""
    path = home.root / STATE_FILE
    try:
        # compact: json's C encoder (indent is pure Python)
        replace_file(path, json.dumps(data, separators=(",", ":")), mode=0o600)
    except OSError as exc:
        log.warning("cannot write %s: %s", path, exc.strerror)


def read_state(home: Home) -> dict | None:
    """The daemon's last written state (``HOME/daemon.json``), or None."""
    try:
        return json.loads((home.root / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def to_iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # schedule keeps naive local times
        moment = moment.astimezone()
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None
