"""Several test SMTP servers at once: one per sending account, each with its own login and password.

- `SmtpFarm` runs them on the caller's event loop (`async with SmtpFarm(3) as farm: ...`).
- `python -m tests.support.smtp_farm --count N --spool DIR` runs them in a process of their own, so
  they outlive a worker the test SIGKILLs. Every accepted message is written to
  `DIR/<recipient>/<n>.eml` before the 250 is sent; when listening, the process prints one JSON line
  on stdout: `{"pid": ..., "ports": [...], "accounts": [{"login", "password", "host", "port"}, ...]}`.
  It stops on SIGTERM/SIGINT (and, with `--exit-on-stdin-eof`, when its stdin closes: the test that
  started it is gone). `FarmProcess` starts and stops such a process and reads its spool.
  With `--sent-maildir TEMPLATE` (`{login}` replaced), every accepted message is also copied into
  that Maildir's Sent folder, like Gmail/Outlook do: point it at a `DovecotServer`
  (`FarmProcess(..., dovecot=server)`) and the copies are visible over IMAP.

Logins default to `sender<n>@farm.coldsend.test` with password `farm-password-<n>` (n from 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tests.support.imap_server import deliver_to_maildir, mail_owner_ids
from tests.support.smtp_server import ReceivedMessage, SmtpTestServer, header_message_id, read_spool

if TYPE_CHECKING:
    from tests.support.imap_server import DovecotServer

DEFAULT_LOGIN = "sender{n}@farm.coldsend.test"
DEFAULT_PASSWORD = "farm-password-{n}"
REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FarmAccount:
    """One server of a farm and the one user it accepts."""

    login: str
    password: str
    host: str
    port: int


class SmtpFarm:
    """`count` SmtpTestServers on the running loop; `options` (delay, sent_folder, spool, data_reply,
    recipient_replies, ...) are passed to every server. `servers[i]` accepts only `accounts[i]`."""

    def __init__(
        self,
        count: int,
        *,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
        **options: Any,
    ) -> None:
        if count < 1:
            raise ValueError("a farm needs at least one server")
        self.servers = [
            SmtpTestServer(users={login.format(n=n): password.format(n=n)}, **options) for n in range(1, count + 1)
        ]

    @property
    def accounts(self) -> list[FarmAccount]:
        return [
            FarmAccount(login, password, server.host, server.port)
            for server in self.servers
            for login, password in list(server.users.items())[:1]
        ]

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def server_for(self, login: str) -> SmtpTestServer:
        for server in self.servers:
            if login in server.users:
                return server
        raise KeyError(login)

    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every accepted message, server by server."""
        return [message for server in self.servers for message in server.messages]

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        return [message for server in self.servers for message in server.messages_to(address)]

    def message_ids(self) -> list[str]:
        return [mid for server in self.servers for mid in server.message_ids()]

    async def start(self) -> SmtpFarm:
        try:
            for server in self.servers:
                await server.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def stop(self) -> None:
        for server in self.servers:
            await server.stop()

    async def __aenter__(self) -> SmtpFarm:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


# -- the farm in a process of its own ---------------------------------------------------------------


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.support.smtp_farm", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, required=True, help="how many servers (one per account)")
    parser.add_argument("--spool", type=Path, required=True, help="accepted messages go to SPOOL/<rcpt>/<n>.eml")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--login", default=DEFAULT_LOGIN, help="login template, {n} = 1..count")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="password template, {n} = 1..count")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between accepting DATA and the 250")
    parser.add_argument("--data-reply", default=None, help="reply after DATA instead of 250 OK")
    parser.add_argument(
        "--recipient-reply", action="append", default=[], metavar="ADDRESS=REPLY", help="reply at RCPT TO ADDRESS"
    )
    parser.add_argument("--sent-maildir", default=None, help="Maildir ({login} replaced) to copy accepted mail into")
    parser.add_argument("--sent-folder", default="Sent", help="folder of --sent-maildir (default Sent)")
    parser.add_argument("--separator", default=".", help="hierarchy separator of --sent-folder")
    parser.add_argument("--maildir-owner", default=None, metavar="UID:GID", help="owner of the Maildir files written")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help="stop when stdin closes")
    return parser.parse_args(argv)


def _sent_copier(args: argparse.Namespace) -> Callable[[str, bytes], None] | None:
    if args.sent_maildir is None:
        return None
    owner: tuple[int, int] | None = None
    if args.maildir_owner:
        uid, gid = args.maildir_owner.split(":")
        owner = (int(uid), int(gid))

    def copy(login: str, data: bytes) -> None:
        maildir = Path(args.sent_maildir.format(login=login))
        deliver_to_maildir(maildir, args.sent_folder, data, separator=args.separator, owner=owner)

    return copy


async def _serve(args: argparse.Namespace) -> None:
    replies = dict(item.split("=", 1) for item in args.recipient_reply)
    args.spool.mkdir(parents=True, exist_ok=True)
    farm = SmtpFarm(
        args.count,
        login=args.login,
        password=args.password,
        host=args.host,
        spool=args.spool,
        delay=args.delay,
        data_reply=args.data_reply,
        recipient_replies=replies,
        sent_folder=_sent_copier(args),
    )
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, done.set)
    if args.exit_on_stdin_eof:
        loop.add_reader(sys.stdin.fileno(), lambda: done.set() if not os.read(sys.stdin.fileno(), 4096) else None)
    await farm.start()
    try:
        ready = {"pid": os.getpid(), "ports": farm.ports, "accounts": [asdict(a) for a in farm.accounts]}
        sys.stdout.write(json.dumps(ready) + "\n")
        sys.stdout.flush()
        await done.wait()
    finally:
        await farm.stop()


def main(argv: Sequence[str] | None = None) -> None:
    asyncio.run(_serve(_parse_args(argv)))


class FarmProcess:
    """Start `python -m tests.support.smtp_farm` and talk to it (synchronously: it has its own loop).

    `with FarmProcess(3, spool) as farm:` ... `farm.accounts`, `farm.messages(recipient)`; `stop()`
    ends it with SIGTERM (SIGKILL after `timeout`). With `dovecot=`, accepted mail is copied into the
    sender's "Sent" folder of that Dovecot (the SMTP login must be a Dovecot user)."""

    def __init__(
        self,
        count: int,
        spool: Path,
        *,
        delay: float = 0.0,
        login: str = DEFAULT_LOGIN,
        password: str = DEFAULT_PASSWORD,
        data_reply: str | None = None,
        recipient_replies: dict[str, str] | None = None,
        dovecot: DovecotServer | None = None,
        sent_folder: str = "Sent",
    ) -> None:
        self.spool = spool
        self.command = [
            sys.executable,
            "-m",
            "tests.support.smtp_farm",
            "--count",
            str(count),
            "--spool",
            str(spool),
            "--login",
            login,
            "--password",
            password,
            "--delay",
            str(delay),
            "--exit-on-stdin-eof",
        ]
        if data_reply is not None:
            self.command += ["--data-reply", data_reply]
        for address, reply in (recipient_replies or {}).items():
            self.command += ["--recipient-reply", f"{address}={reply}"]
        if dovecot is not None:
            assert dovecot.directory is not None, "start the Dovecot server first"
            uid, gid = mail_owner_ids()
            self.command += [
                "--sent-maildir",
                str(dovecot.directory / "mail" / "{login}" / "Maildir"),
                "--sent-folder",
                sent_folder,
                "--separator",
                dovecot.separator or ".",
                "--maildir-owner",
                f"{uid}:{gid}",
            ]
        self.process: subprocess.Popen[bytes] | None = None
        self.accounts: list[FarmAccount] = []
        self._stderr: IO[bytes] | None = None

    @property
    def ports(self) -> list[int]:
        return [account.port for account in self.accounts]

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def errors(self) -> str:
        """What the farm wrote on stderr so far."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def start(self, timeout: float = 15.0) -> FarmProcess:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115  # kept for errors(), closed by __exit__
        self.process = subprocess.Popen(
            self.command,
            cwd=REPO_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            start_new_session=True,  # signals to the test's (or a worker's) process group miss it
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while not selector.select(timeout=max(0.0, deadline - time.monotonic())):
                if time.monotonic() >= deadline:
                    self.stop()
                    raise RuntimeError(f"the SMTP farm was not ready within {timeout}s: {self.errors()}")
        line = self.process.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError(f"the SMTP farm exited before it was ready: {self.errors()}")
        ready = json.loads(line)
        self.accounts = [FarmAccount(**account) for account in ready["accounts"]]
        return self

    def stop(self, timeout: float = 5.0) -> int | None:
        """End the farm (SIGTERM, then SIGKILL); its return code."""
        if self.process is None:
            return None
        process, self.process = self.process, None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        return process.returncode

    def messages(self, recipient: str | None = None) -> dict[str, list[bytes]]:
        """The spooled messages per recipient (lower-cased address), in arrival order."""
        return read_spool(self.spool, recipient)

    def messages_to(self, recipient: str) -> list[bytes]:
        return next(iter(self.messages(recipient).values()), [])

    def message_ids(self, recipient: str | None = None) -> list[str]:
        return [
            mid
            for messages in self.messages(recipient).values()
            for data in messages
            if (mid := header_message_id(data))
        ]

    def __enter__(self) -> FarmProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None


if __name__ == "__main__":
    main()
