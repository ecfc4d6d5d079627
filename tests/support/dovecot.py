"""A real Dovecot IMAP server on loopback for tests (Debian ``dovecot-imapd``).

:class:`Dovecot` writes a private configuration under a temporary directory
(base_dir, logs, a passwd-file for passdb and userdb, maildirs), runs
``dovecot -F -c CONF`` as the current user on ``127.0.0.1`` and a free port,
and stops it again. No system service is touched. Mailboxes carry RFC 6154
special-use attributes (Drafts, Junk, Trash, Sent, and an ``All`` folder
marked ``\\All`` when asked). A missing binary is a test failure that names the
install command, never a skip.

Seeding goes through imapclient's APPEND (:meth:`Dovecot.append`,
:func:`seed_mbox`), so the server assigns UIDs and UIDVALIDITY as it would.
"""

from __future__ import annotations

import contextlib
import email.utils
import grp
import mailbox
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import imapclient
import pytest

from tests.support.certs import private_ca

INSTALL = "apt-get install dovecot-imapd (or: make test-deps)"
USER = "ana@example.org"
PASSWORD = "s3cret-app-password"
SPECIAL = {"Drafts": "\\Drafts", "Junk": "\\Junk", "Trash": "\\Trash", "Sent": "\\Sent"}


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def dovecot_binary() -> str:
    """The dovecot executable; a test failure naming the install command when absent."""
    found = shutil.which("dovecot") or next(
        (p for p in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(p, os.X_OK)),
        None,
    )
    if not found:
        pytest.fail(f"the IMAP tests need a Dovecot server: {INSTALL}", pytrace=False)
    return found


def _accounts() -> tuple[str, str, str]:
    """Login user, internal user and group: the current user's, or Debian's for root
    (Dovecot refuses to run its login processes as root)."""
    if os.getuid() == 0:
        return "dovenull", "dovecot", "dovecot"
    user = pwd.getpwuid(os.getuid()).pw_name
    return user, user, grp.getgrgid(os.getgid()).gr_name


def _mail_owner() -> tuple[int, int]:
    """Who owns the mail: the current user, or Debian's ``dovecot`` user for root
    (Dovecot refuses mail access as uid 0)."""
    if os.getuid() == 0:
        entry = pwd.getpwnam("dovecot")
        return entry.pw_uid, entry.pw_gid
    return os.getuid(), os.getgid()


def _config(
    root: Path, run: Path, port: int, all_folder: bool, tls: tuple[Path, Path, int] | None
) -> str:
    login, user, group = _accounts()
    uid, gid = _mail_owner()
    tls_settings = f"ssl = yes\nssl_cert = <{tls[0]}\nssl_key = <{tls[1]}" if tls else "ssl = no"
    mailboxes = "".join(
        f"  mailbox {name} {{\n    auto = create\n    special_use = {flag}\n  }}\n"
        for name, flag in SPECIAL.items()
    )
    if all_folder:
        mailboxes += "  mailbox All {\n    auto = create\n    special_use = \\All\n  }\n"
    return f"""
base_dir = {run}/base
state_dir = {run}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{tls_settings}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = 0
first_valid_gid = 0
mail_location = maildir:{run}/mail/%u
mail_max_userip_connections = 100
imap_capability = +CONDSTORE
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {run}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {run}/passwd
  default_fields = uid={uid} gid={gid} home={run}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
service imap-login {{
  chroot =
  user = {login}
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls[2] if tls else 0}
  }}
}}
service anvil {{
  chroot =
}}
service auth {{
  user = {user}
}}
service auth-worker {{
  user = {user}
}}
service stats {{
  chroot =
  user = {user}
}}
service log {{
  chroot =
}}
"""


class Dovecot:
    """One Dovecot instance on loopback (see the module docstring)."""

    def __init__(self, root: Path, all_folder: bool = False, tls: bool = False):
        self.root = root
        self.all_folder = all_folder
        self.port = 0
        self.tls_port = 0
        self.tls = tls
        self.cafile: Path | None = None
        self._run: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def run(self) -> Path:
        """Runtime files, where Dovecot's unprivileged processes can reach them (as root
        its login and auth processes are dovenull/dovecot, and pytest's tmp is 0700);
        created on first use, removed by :meth:`close`."""
        if self._run is None:
            self._run = Path(tempfile.mkdtemp(prefix="syncd-dovecot-"))
            self._run.chmod(0o755)
        return self._run

    @property
    def conf(self) -> Path:
        """The generated configuration file."""
        return self.root / "dovecot.conf"

    def start(self) -> Dovecot:
        """Write the config (a new free port unless restarting), start, wait for the greeting."""
        binary = dovecot_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in ("base", "state", "mail", "home"):
            (self.run / sub).mkdir(exist_ok=True)
        uid, gid = _mail_owner()
        for sub in ("mail", "home"):
            os.chown(self.run / sub, uid, gid)
        passwd = self.run / "passwd"
        passwd.write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        passwd.chmod(0o644)
        if not self.port:
            self.port = free_port()
        tls = None
        if self.tls:
            self.cafile, cert, key = private_ca(self.run / "tls")
            self.tls_port = self.tls_port or free_port()
            tls = (cert, key, self.tls_port)
        self.conf.write_text(_config(self.root, self.run, self.port, self.all_folder, tls))
        self.proc = subprocess.Popen(
            [binary, "-F", "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                pytest.fail(f"dovecot did not start: {err.strip()} {self.log()}", pytrace=False)
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s,
            ):
                if s.recv(64).startswith(b"* OK"):
                    return self
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"dovecot did not answer on port {self.port}: {self.log()}", pytrace=False)

    def stop(self) -> None:
        """Stop the server and its children at once (its own process group, SIGKILL:
        a graceful shutdown takes a second per test; nothing here needs one)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()
        self.proc = None

    def close(self) -> None:
        """Stop and remove the runtime directory."""
        self.stop()
        if self._run is not None:
            shutil.rmtree(self._run, ignore_errors=True)
            self._run = None

    def restart(self) -> None:
        """Stop and start again on the same port."""
        self.stop()
        self.start()

    def log(self) -> str:
        """The server's log (the last lines), for failure messages."""
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def client(self) -> imapclient.IMAPClient:
        """A logged-in imapclient connection (the caller logs out)."""
        c = imapclient.IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, folder: str, raw: bytes, flags: tuple[bytes, ...] = (), when=None) -> None:
        """APPEND one message to ``folder`` (created when missing)."""
        with contextlib.closing(_Session(self)) as s:
            s.ensure(folder)
            s.c.append(folder, raw, flags=flags, msg_time=when)

    def renumber(self, folder: str) -> None:
        """Give ``folder`` a new UIDVALIDITY, as a server restored from a backup or a
        rebuilt index does (the server is restarted)."""
        self.stop()
        box = self.maildir(folder)
        uidlist = box / "dovecot-uidlist"
        head, _, rest = uidlist.read_text().partition("\n")
        fields = [f"V{int(f[1:]) + 1000}" if f.startswith("V") else f for f in head.split()]
        uidlist.write_text(" ".join(fields) + "\n" + rest)
        for index in box.glob("dovecot.index*"):
            index.unlink()
        self.start()

    def maildir(self, folder: str = "") -> Path:
        """The user's maildir for ``folder`` ("" is INBOX)."""
        base = self.run / "mail" / USER
        return base / f".{folder.replace('/', '.')}" if folder else base


class _Session:
    """A logged-in connection that creates folders on demand."""

    def __init__(self, server: Dovecot):
        self.c = server.client()
        self.known = {name for _, _, name in self.c.list_folders()}

    def ensure(self, folder: str) -> None:
        if folder not in self.known and folder.upper() != "INBOX":
            self.c.create_folder(folder)
            self.known.add(folder)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.c.logout()


def message_time(raw: bytes) -> datetime | None:
    """The Date header of ``raw`` as an aware datetime (for INTERNALDATE), or None."""
    head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
    for line in head.decode("latin-1").splitlines():
        if line.lower().startswith("date:"):
            with contextlib.suppress(TypeError, ValueError, IndexError):
                parsed = email.utils.parsedate_to_datetime(line[5:].strip())
                return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def seed_mbox(server: Dovecot, files: list[Path], folder_of=lambda p: p.name) -> int:
    """APPEND every message of the mbox ``files`` (one folder per file); the count."""
    count = 0
    with contextlib.closing(_Session(server)) as s:
        for path in files:
            folder = folder_of(path)
            s.ensure(folder)
            box = mailbox.mbox(path, create=False)
            try:
                for key in box.iterkeys():
                    raw = box.get_bytes(key).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
                    s.c.append(folder, raw, msg_time=message_time(raw))
                    count += 1
            finally:
                box.close()
    return count
