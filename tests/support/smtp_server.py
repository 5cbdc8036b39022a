"""An in-loop SMTP server (aiosmtpd) with AUTH, for connection tests and sending tests.

It runs on the test's own event loop (no thread), on 127.0.0.1 and a port the OS picks. Three TLS
modes: `plain` (no TLS at all, AUTH allowed in clear), `starttls` (STARTTLS offered and required
before AUTH), `implicit` (TLS from the first byte, like port 465). `hostname=` is always passed, so
aiosmtpd never calls the blocking `socket.getfqdn()` (aio-libs/aiosmtpd#178).

What a sending test can make it do (every knob is a plain attribute, changeable at any time):

- `recipient_replies`: a full reply line (`"550 5.1.1 <x@y>: user unknown"`, `"451 4.7.1 Try again
  later"`) given at RCPT TO for a recipient (keys compared lower-cased); a 2xx reply accepts it;
- `data_reply`: the reply after DATA instead of `250 OK` (a non-2xx one refuses the message, which
  then lands in `rejected`, not in `messages`);
- `fail_next_auth`: the next N AUTH attempts fail even with good credentials; `users` (login ->
  password) is read at every AUTH, `set_password`/`remove_user` change it;
- `sent_folder(login, data)`: called for every accepted message of an authenticated session before
  the reply is sent, like Gmail/Outlook keeping a copy in the sender's Sent folder (may be async);
- `spool`: a directory where every accepted message is also written, as
  `<spool>/<recipient>/<n>.eml` (one file per recipient, `n` counting from 1, written atomically);
- `delay`: seconds to wait before the reply to DATA. By default (`commit_before_delay=True`) the
  message is accepted first (recorded, spooled, copied to Sent) and then the reply waits: a client
  killed during the delay leaves a delivered message whose 250 it never saw, the one uncertain window
  of the sending engine. With `commit_before_delay=False` the server waits first, and a client gone
  during the delay leaves nothing (aiosmtpd cancels the session's handler when the peer hangs up).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TlsMode = Literal["plain", "starttls", "implicit"]
SentFolder = Callable[[str, bytes], Any]  # (login, message bytes) -> None, or an awaitable


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None

    @property
    def message_id(self) -> str | None:
        """The Message-ID header as written (angle brackets included, surrounding space stripped)."""
        return header_message_id(self.data)

    def parsed(self) -> Message:
        return message_from_bytes(self.data)

    def sent_to(self, address: str) -> bool:
        return address.lower() in (r.lower() for r in self.rcpt_tos)


def header_message_id(data: bytes) -> str | None:
    headers = HeaderParser(policy=compat32).parsestr(data.decode("utf-8", errors="surrogateescape"), headersonly=True)
    value = headers.get("Message-ID")
    if value is None:
        return None
    return " ".join(str(value).split()) or None


def spool_directory_name(recipient: str) -> str:
    """The spool's directory for a recipient: the address lower-cased, path separators replaced."""
    name = recipient.strip().lower().replace("/", "_").replace("\\", "_").replace("\0", "_")
    return name if name not in ("", ".", "..") else f"_{name}_"


def write_spool(spool: Path, recipient: str, data: bytes) -> Path:
    """Write `data` to `<spool>/<recipient>/<n>.eml` with the next free `n` (from 1), atomically: a
    reader never sees a partial file and two writers never take the same number."""
    directory = spool / spool_directory_name(recipient)
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f".tmp-{os.getpid()}-{uuid.uuid4().hex}"
    temporary.write_bytes(data)
    try:
        n = len([p for p in directory.iterdir() if p.suffix == ".eml"]) + 1
        while True:
            target = directory / f"{n}.eml"
            try:
                os.link(temporary, target)  # fails if taken: never overwrites
            except FileExistsError:
                n += 1
                continue
            return target
    finally:
        temporary.unlink(missing_ok=True)


def read_spool(spool: Path, recipient: str | None = None) -> dict[str, list[bytes]]:
    """The spooled messages per recipient directory, in arrival order (`n`); one recipient if named."""
    if not spool.is_dir():
        return {}
    names = [spool_directory_name(recipient)] if recipient is not None else sorted(p.name for p in spool.iterdir())
    result: dict[str, list[bytes]] = {}
    for name in names:
        directory = spool / name
        if not directory.is_dir():
            continue
        files = sorted(
            (p for p in directory.iterdir() if p.suffix == ".eml" and p.stem.isdigit()), key=lambda p: int(p.stem)
        )
        result[name] = [p.read_bytes() for p in files]
    return result


def _accepts(reply: str) -> bool:
    return reply.lstrip().startswith("2")


@dataclass
class SmtpTestServer:
    """`users` maps login -> password; `auth_attempts` counts every AUTH the server answered.
    `offer_auth=False` makes a plain server that offers AUTH only after TLS, i.e. never.
    The sending-test knobs are described in the module docstring."""

    users: dict[str, str] = field(default_factory=dict)
    tls: TlsMode = "plain"
    offer_auth: bool = True
    server_context: ssl.SSLContext | None = None
    hostname: str = "smtp.coldsend.test"
    host: str = "127.0.0.1"
    port: int = 0
    auth_attempts: int = 0
    messages: list[ReceivedMessage] = field(default_factory=list)
    _server: asyncio.AbstractServer | None = None
    recipient_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    fail_next_auth: int = 0
    sent_folder: SentFolder | None = None
    delay: float = 0.0
    commit_before_delay: bool = True
    spool: Path | None = None
    rejected: list[ReceivedMessage] = field(default_factory=list)  # refused after DATA (`data_reply`)
    refused_recipients: list[str] = field(default_factory=list)  # answered non-2xx at RCPT TO

    # -- runtime changes -------------------------------------------------------------------------

    def set_password(self, login: str, password: str) -> None:
        """Add the user or change its password; the next AUTH uses it."""
        self.users[login] = password

    def remove_user(self, login: str) -> None:
        self.users.pop(login, None)

    def reset(self) -> None:
        """Forget what arrived and clear the failure knobs (`recipient_replies`, `data_reply`,
        `fail_next_auth`, `delay`); users, TLS, port, `sent_folder` and `spool` stay."""
        self.messages.clear()
        self.rejected.clear()
        self.refused_recipients.clear()
        self.recipient_replies.clear()
        self.data_reply = None
        self.fail_next_auth = 0
        self.delay = 0.0
        self.commit_before_delay = True

    # -- what arrived ----------------------------------------------------------------------------

    def messages_to(self, address: str) -> list[ReceivedMessage]:
        """Accepted messages with `address` among their envelope recipients (case-insensitive)."""
        return [m for m in self.messages if m.sent_to(address)]

    def message_ids(self) -> list[str]:
        """The Message-ID header of each accepted message, in arrival order (messages without one skipped)."""
        return [mid for m in self.messages if (mid := m.message_id) is not None]

    # -- aiosmtpd hooks --------------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.auth_attempts += 1
        if self.fail_next_auth > 0:
            self.fail_next_auth -= 1
            return AuthResult(success=False, handled=False)
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = login in self.users and self.users[login] == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        replies = {key.lower(): value for key, value in self.recipient_replies.items()}
        reply = replies.get(address.lower(), "250 OK")
        if _accepts(reply):
            envelope.rcpt_tos.append(address)
            envelope.rcpt_options.extend(rcpt_options)
        else:
            self.refused_recipients.append(address)
        return reply

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        message = ReceivedMessage(
            str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""), login
        )
        reply = self.data_reply if self.data_reply is not None else "250 OK"
        if not _accepts(reply):
            if self.delay > 0:
                await asyncio.sleep(self.delay)
            self.rejected.append(message)
            return reply
        if self.delay > 0 and not self.commit_before_delay:
            await asyncio.sleep(self.delay)  # the peer hanging up now cancels this handler: nothing kept
        await self._commit(message)
        if self.delay > 0 and self.commit_before_delay:
            await asyncio.sleep(self.delay)
        return reply

    async def _commit(self, message: ReceivedMessage) -> None:
        """Keep an accepted message: spool, `messages`, Sent copy (all before the reply is sent)."""
        if self.spool is not None:
            for recipient in message.rcpt_tos:
                write_spool(self.spool, recipient, message.data)
        self.messages.append(message)
        if self.sent_folder is not None and message.login is not None:
            result = self.sent_folder(message.login, message.data)
            if inspect.isawaitable(result):
                await asyncio.shield(result)  # a client hanging up now does not undo the copy

    # -- lifecycle -------------------------------------------------------------------------------

    def _factory(self) -> SMTP:
        loop = asyncio.get_running_loop()
        starttls = self.tls == "starttls"
        return SMTP(
            self,
            hostname=self.hostname,
            loop=loop,
            authenticator=self._authenticate,
            auth_require_tls=starttls or not self.offer_auth,
            require_starttls=starttls,
            tls_context=self.server_context if starttls else None,
            timeout=30,
        )

    async def start(self) -> SmtpTestServer:
        if self.tls != "plain" and self.server_context is None:
            raise ValueError(f"an SMTP server in {self.tls} mode needs server_context")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory,
            self.host,
            self.port,
            ssl=self.server_context if self.tls == "implicit" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> SmtpTestServer:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class SilentServer:
    """Accepts TCP connections and never says a word: the peer that makes clients time out."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)

    async def start(self) -> SilentServer:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (connections are refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
