"""Environment failures in plain words: the one place that turns an ``OSError`` or a
SQLite error into a sentence saying what happened and what to do.

A full disk, a read-only file system, a file where a directory should be, a
missing permission, a symbolic link loop, a locked or damaged database: none
of them is a bug in syncd, so none of them may surface as "internal error".
:func:`explain` returns an :class:`~syncd.core.errors.EnvironmentProblem` (a
:class:`~syncd.core.errors.UserError` with an exit status from ``sysexits.h``)
or None when the exception is not an environment failure.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from syncd.core.errors import EnvironmentProblem

# sysexits.h: what scripts and service managers can tell apart.
EX_CANTCREAT = 73  # a file or directory cannot be created
EX_IOERR = 74  # the disk: full, read-only, I/O error
EX_TEMPFAIL = 75  # try again later (a lock held by another program)
EX_NOPERM = 77  # permission denied
EX_DATAERR = 65  # damaged data

SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
NO_PERMISSION = (errno.EACCES, errno.EPERM)


def _where(exc: OSError) -> str:
    name = exc.filename if exc.filename is not None else exc.filename2
    return os.fsdecode(name) if name is not None else "a file"


def explain_os_error(exc: OSError) -> EnvironmentProblem:
    """One sentence (and an exit status) for a failed file system operation."""
    where = _where(exc)
    code = exc.errno
    if code in SPACE:
        return EnvironmentProblem(
            f"no space left for {where} (the disk is full or a quota or file size limit "
            "is reached): free some space and run the command again; the data already "
            "stored is intact",
            EX_IOERR,
        )
    if code == errno.EROFS:
        return EnvironmentProblem(
            f"{where} is on a read-only file system: remount it read-write, or give "
            "syncd a writable directory with --home",
            EX_IOERR,
        )
    if code in NO_PERMISSION:
        return EnvironmentProblem(
            f"permission denied: {where}: make it writable for your user "
            f"(ls -ld {where}), or give syncd a directory of your own with --home",
            EX_NOPERM,
        )
    if code in (errno.EEXIST, errno.ENOTDIR):
        return EnvironmentProblem(
            f"{where} is in the way: a file stands where syncd needs a directory; "
            "give --home a directory (syncd creates it if missing) or move the file",
            EX_CANTCREAT,
        )
    if code == errno.ENOENT:
        return EnvironmentProblem(
            f"{where} does not exist (and cannot be created there): check the path",
            EX_CANTCREAT,
        )
    if code == errno.ELOOP:
        return symlink_loop(where)
    if code == errno.ENAMETOOLONG:
        return EnvironmentProblem(f"the path {where} is too long: use a shorter one", EX_CANTCREAT)
    if code == errno.EIO:
        return EnvironmentProblem(
            f"the disk reported an input/output error on {where}: check the disk "
            "(dmesg) and run the command again",
            EX_IOERR,
        )
    reason = (exc.strerror or str(exc)).lower()
    return EnvironmentProblem(f"cannot use {where}: {reason}", EX_IOERR)


def not_a_directory(path: Path) -> EnvironmentProblem:
    """The home (or another directory syncd needs) is a file."""
    return EnvironmentProblem(
        f"{path} is a file, not a directory: give --home a directory (syncd creates it) "
        "or move the file away",
        EX_CANTCREAT,
    )


def symlink_loop(where: str | Path) -> EnvironmentProblem:
    """A path that is a symbolic link pointing (through others) back at itself."""
    return EnvironmentProblem(
        f"{where} is a symbolic link loop (it points back at itself): "
        "point it at a real file or directory, or give the real path",
        EX_CANTCREAT,
    )


def _sqlite_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_IOERR = 5, 6, 8, 10
SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB = 11, 13, 14, 26
SQLITE_PERM = 3


def sqlite_failure(exc: sqlite3.Error) -> str | None:
    """What kind of environment failure a SQLite error is: ``locked``, ``full``,
    ``readonly``, ``cantopen``, ``damaged``, ``io``; None for anything else (a bug)."""
    code = _sqlite_code(exc)
    text = str(exc).lower()
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "database is locked" in text:
        return "locked"
    if code == SQLITE_FULL or "disk is full" in text:
        return "full"
    if code == SQLITE_READONLY or "readonly database" in text:
        return "readonly"
    if code in (SQLITE_CANTOPEN, SQLITE_PERM) or "unable to open" in text:
        return "cantopen"
    if code in (SQLITE_CORRUPT, SQLITE_NOTADB) or "not a database" in text or "malformed" in text:
        return "damaged"
    if code == SQLITE_IOERR or "disk i/o error" in text:
        return "io"
    return None


def explain_sqlite_error(exc: sqlite3.Error, db_path: Path | None) -> EnvironmentProblem | None:
    """One sentence for a SQLite failure that comes from the environment, else None."""
    where = str(db_path) if db_path else "the database"
    kind = sqlite_failure(exc)
    if kind == "locked":
        return EnvironmentProblem(
            f"the database {where} is locked by another program (another syncd command "
            "or the daemon) that kept it longer than syncd waits: run the command again "
            "when it is done (syncd status shows what the daemon does)",
            EX_TEMPFAIL,
        )
    if kind == "full":
        return explain_os_error(OSError(errno.ENOSPC, "No space left on device", where))
    if kind == "readonly":
        return EnvironmentProblem(
            f"the database {where} cannot be written (a read-only file system, or the "
            "file or its directory is not writable by you): fix the permissions or the "
            "mount, or give syncd another --home",
            EX_NOPERM,
        )
    if kind == "cantopen":
        return EnvironmentProblem(
            f"cannot open the database {where}: it and its directory must be readable and "
            "writable by you (syncd doctor checks them), or give syncd another --home",
            EX_CANTCREAT,
        )
    if kind == "damaged":
        return EnvironmentProblem(
            f"the database {where} is damaged (not a valid SQLite file): move it aside "
            "and import or sync again, or restore it from a backup (syncd doctor checks it)",
            EX_DATAERR,
        )
    if kind == "io":
        return EnvironmentProblem(
            f"a disk error stopped writing {where} (often a full disk or a file size "
            "limit): free some space, check the disk (dmesg) and run the command again; "
            "what was committed before is intact",
            EX_IOERR,
        )
    return None


def explain(exc: BaseException, db_path: Path | None = None) -> EnvironmentProblem | None:
    """The plain-words form of ``exc`` when it is an environment failure, else None.

    ``db_path`` names the store in SQLite messages (SQLite errors carry no path).
    """
    if isinstance(exc, EnvironmentProblem):
        return exc
    if isinstance(exc, sqlite3.Error):
        return explain_sqlite_error(exc, db_path)
    if isinstance(exc, OSError) and exc.errno is not None:
        # a file system failure names its file; others (sockets ...) are not explained here
        if exc.filename is not None or exc.errno in (*SPACE, errno.EROFS, errno.EIO):
            return explain_os_error(exc)
        return None
    if isinstance(exc, RuntimeError) and str(exc).startswith("Symlink loop from "):
        return symlink_loop(str(exc).removeprefix("Symlink loop from ").strip("'\""))
    if isinstance(exc.__cause__, OSError | sqlite3.Error):
        return explain(exc.__cause__, db_path)
    return None
