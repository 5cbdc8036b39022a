"""A real Dovecot IMAP server for tests, run in the foreground from a temporary configuration.

Debian's `dovecot-imapd` provides `/usr/sbin/dovecot` (CI installs it through `.ci/run`). The server
listens on 127.0.0.1 only, on free ports, with a passwd-file of plain-text test users; it needs no
system service and touches nothing outside its temporary directory. Without TLS it allows LOGIN
in clear; with certificates it offers STARTTLS on the plain port, requires it before LOGIN, and
also serves implicit TLS (IMAPS) on a second port.

Run as root it drops privileges like a packaged Dovecot (login processes as `dovenull`, mail as
`nobody`); run as another user, everything runs as that user.

Mail is stored as Maildir++ under `<directory>/mail/<login>/Maildir` (`maildir(login)`): INBOX is
that directory itself, a folder `Sent` is its subdirectory `.Sent`, a nested `a/b` (or `a.b`: the
hierarchy separator is `.` unless `separator` is set) is `.a.b`. `deliver(login, folder, data)`
drops a message there the way an MDA does (tmp/ then rename into cur/, owned by the mail user), so
Dovecot sees it on the next command that syncs the folder. `special_use` marks folders with RFC 6154
attributes (`{"Sent Items": "\\Sent"}`): Dovecot then reports them in LIST once the folder exists.
"""

from __future__ import annotations

import contextlib
import getpass
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.certs import TestCertificates

DOVECOT = Path("/usr/sbin/dovecot")
MISSING = (
    "Dovecot is not installed (/usr/sbin/dovecot): install the Debian package with "
    "`apt-get install -y dovecot-imapd` (.ci/run does this on CI)"
)


def dovecot_available() -> bool:
    return DOVECOT.is_file() and os.access(DOVECOT, os.X_OK)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mail_owner() -> tuple[str, str, int]:
    """(user, group, uid) the mail processes run as."""
    if os.geteuid() == 0:
        try:
            group = grp.getgrnam("nogroup").gr_name
        except KeyError:
            group = grp.getgrgid(pwd.getpwnam("nobody").pw_gid).gr_name
        return "nobody", group, pwd.getpwnam("nobody").pw_uid
    return getpass.getuser(), grp.getgrgid(os.getegid()).gr_name, os.geteuid()


def mail_owner_ids() -> tuple[int, int]:
    """(uid, gid) that owns the mail files Dovecot's mail processes read and write."""
    _, group, uid = _mail_owner()
    return uid, grp.getgrnam(group).gr_gid


def maildir_folder_path(maildir: Path, folder: str, separator: str = ".") -> Path:
    """Where a folder of a Maildir++ mailbox lives: INBOX is `maildir` itself, `a<sep>b` is `.a.b`
    (a `/` is taken as a separator too)."""
    if folder.upper() == "INBOX":
        return maildir
    parts = folder.replace("/", separator).split(separator)
    if any(part in ("", ".", "..") or "." in part for part in parts):
        raise ValueError(f"folder {folder!r} cannot be stored as a Maildir++ directory")
    return maildir / ("." + ".".join(parts))


def _make_dirs(path: Path, owner: tuple[int, int] | None) -> None:
    """`mkdir -p`, handing every directory it creates to `owner` (uid, gid)."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
            if owner is not None:
                os.chown(directory, *owner)


def create_maildir_folder(
    maildir: Path, folder: str, *, separator: str = ".", owner: tuple[int, int] | None = None
) -> Path:
    """Create a folder (with cur/, new/, tmp/ and the Maildir++ `maildirfolder` marker); idempotent."""
    path = maildir_folder_path(maildir, folder, separator)
    for sub in ("cur", "new", "tmp"):
        _make_dirs(path / sub, owner)
    if path != maildir and not (path / "maildirfolder").exists():
        (path / "maildirfolder").touch()
        if owner is not None:
            os.chown(path / "maildirfolder", *owner)
    return path


def deliver_to_maildir(
    maildir: Path,
    folder: str,
    data: bytes,
    *,
    separator: str = ".",
    owner: tuple[int, int] | None = None,
    seen: bool = True,
) -> Path:
    """Drop one message into a folder the way an MDA does (written in tmp/, renamed into cur/ as
    `<unique>:2,S`, or into new/ unseen), creating the folder if needed; returns the file."""
    path = create_maildir_folder(maildir, folder, separator=separator, owner=owner)
    now = time.time()
    unique = f"{int(now)}.M{int((now % 1) * 1e6)}P{os.getpid()}Q{uuid.uuid4().hex[:12]}.coldsend-test"
    temporary = path / "tmp" / unique
    temporary.write_bytes(data)
    temporary.chmod(0o600)
    if owner is not None:
        os.chown(temporary, *owner)
    target = path / "cur" / f"{unique}:2,S" if seen else path / "new" / unique
    temporary.rename(target)
    return target


@dataclass
class DovecotServer:
    """`users` maps login -> password (written to the passwd-file at start; `set_password` rewrites it).
    `special_use` maps folder name -> RFC 6154 attribute(s) (`"\\Sent"`); `separator` sets the
    hierarchy separator of the mailbox names (Dovecot's Maildir++ default is `.`)."""

    users: dict[str, str] = field(default_factory=dict)
    certificates: TestCertificates | None = None
    host: str = "127.0.0.1"
    port: int = 0
    ssl_port: int = 0
    directory: Path | None = None
    _process: subprocess.Popen[bytes] | None = None
    special_use: dict[str, str] = field(default_factory=dict)
    separator: str | None = None

    @property
    def log_path(self) -> Path:
        assert self.directory is not None
        return self.directory / "dovecot.log"

    def _write_users(self) -> None:
        assert self.directory is not None
        lines = "".join(f"{login}:{{PLAIN}}{password}\n" for login, password in self.users.items())
        path = self.directory / "users"
        path.write_text(lines)
        path.chmod(0o644)

    def set_password(self, login: str, password: str) -> None:
        """Dovecot re-reads a changed passwd-file on the next login, but checks it at most once a
        second: a login within the second of an earlier one may not see the change yet (create the
        users a test needs at `start`, through `users`, when that matters)."""
        self.users[login] = password
        self._write_users()

    def maildir(self, login: str) -> Path:
        """The user's Maildir (INBOX); it exists once the user logged in or got mail delivered."""
        assert self.directory is not None, "start the server first"
        return self.directory / "mail" / login / "Maildir"

    def create_folder(self, login: str, folder: str) -> Path:
        """Create an (empty) folder for the user, as if a client had created it."""
        owner = mail_owner_ids()
        _make_dirs(self.maildir(login), owner)
        return create_maildir_folder(self.maildir(login), folder, separator=self.separator or ".", owner=owner)

    def deliver(self, login: str, folder: str, data: bytes, *, seen: bool = True) -> Path:
        """Put a message into the user's folder (creating the folder, e.g. "Sent"); Dovecot sees it on
        the next command that syncs that folder (SELECT/EXAMINE/STATUS/NOOP)."""
        owner = mail_owner_ids()
        _make_dirs(self.maildir(login), owner)
        return deliver_to_maildir(
            self.maildir(login), folder, data, separator=self.separator or ".", owner=owner, seen=seen
        )

    def _config(self) -> str:
        assert self.directory is not None
        d = self.directory
        user, group, _ = _mail_owner()
        tls = self.certificates is not None
        lines = [
            f"base_dir = {d}/run",
            f"state_dir = {d}/state",
            f"log_path = {d}/dovecot.log",
            f"instance_name = coldsend-test-{d.name}",
            "protocols = imap",
            f"listen = {self.host}",
            "auth_mechanisms = plain login",
            "auth_failure_delay = 0",
            "mail_location = maildir:~/Maildir",
            "mailbox_list_index = no",  # LIST scans the Maildir, so folders `deliver` creates show at once
        ]
        if tls:
            assert self.certificates is not None
            lines += [
                "ssl = required",
                f"ssl_cert = <{self.certificates.cert_path}",
                f"ssl_key = <{self.certificates.key_path}",
                "disable_plaintext_auth = yes",
            ]
            if Path("/usr/share/dovecot/dh.pem").is_file():
                lines.append("ssl_dh = </usr/share/dovecot/dh.pem")
        else:
            lines += ["ssl = no", "disable_plaintext_auth = no"]
        chroot: list[str] = []
        if os.geteuid() != 0:  # an unprivileged Dovecot can neither chroot nor switch users
            chroot = ["  chroot ="]
            lines += [
                f"default_login_user = {user}",
                f"default_internal_user = {user}",
                f"default_internal_group = {group}",
            ]
        lines += [
            "passdb {",
            "  driver = passwd-file",
            f"  args = scheme=PLAIN username_format=%u {d}/users",
            "}",
            "userdb {",
            "  driver = static",
            f"  args = uid={user} gid={group} home={d}/mail/%u",
            "}",
            *self._namespace(),
            "service imap-login {",
            *chroot,
            "  inet_listener imap {",
            f"    address = {self.host}",
            f"    port = {self.port}",
            "  }",
            "  inet_listener imaps {",
            f"    address = {self.host}",
            f"    port = {self.ssl_port if tls else 0}",
            "  }",
            "}",
            "service anvil {",
            *chroot,
            "  unix_listener anvil-auth-penalty {",
            "    mode = 0",
            "  }",
            "}",
        ]
        return "\n".join(lines) + "\n"

    def _namespace(self) -> list[str]:
        """The inbox namespace, written out only when something differs from Dovecot's implicit one."""
        if not self.special_use and self.separator is None:
            return []
        lines = ["namespace inbox {", "  inbox = yes", '  prefix = ""']
        if self.separator is not None:
            lines.append(f"  separator = {self.separator}")
        for folder, attributes in self.special_use.items():
            lines += [f'  mailbox "{folder}" {{', f"    special_use = {attributes}", "  }"]
        lines.append("}")
        return lines

    def start(self, timeout: float = 10.0) -> DovecotServer:
        if not dovecot_available():
            raise RuntimeError(MISSING)
        self.directory = Path(tempfile.mkdtemp(prefix="cs-dovecot-"))
        self.directory.chmod(0o755)
        for sub in ("run", "state", "mail"):
            (self.directory / sub).mkdir()
        _, _, uid = _mail_owner()
        if os.geteuid() == 0:
            os.chown(self.directory / "mail", uid, -1)
        self.port = self.port or _free_port()
        if self.certificates is not None:
            self.ssl_port = self.ssl_port or _free_port()
        self._write_users()
        config = self.directory / "dovecot.conf"
        config.write_text(self._config())
        self._process = subprocess.Popen(
            [str(DOVECOT), "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: `stop` ends the master and its children
        )
        deadline = time.monotonic() + timeout
        ports = [self.port] + ([self.ssl_port] if self.certificates is not None else [])
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                err = self._process.stderr.read().decode() if self._process.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                self.stop()
                raise RuntimeError(f"dovecot exited with {self._process.returncode}: {err}\n{log}")
            if all(self._listening(p) for p in ports):
                return self
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"dovecot did not listen on {ports} within {timeout}s")

    def _listening(self, port: int) -> bool:
        with contextlib.suppress(OSError), socket.create_connection((self.host, port), timeout=0.2):
            return True
        return False

    def stop(self) -> None:
        if self._process is not None:
            group = self._process.pid  # the group this server's master leads (start_new_session)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            try:
                self._process.wait(timeout=1)
            except subprocess.TimeoutExpired:  # Dovecot may linger for seconds on shutdown: no need here
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
                self._process.wait()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)  # children that outlived the master
            if self._process.stderr is not None:
                self._process.stderr.close()
            self._process = None
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
