"""An in-loop SMTP server (aiosmtpd) with AUTH, for connection tests and, later, sending tests.

It runs on the test's own event loop (no thread), on 127.0.0.1 and a port the OS picks. Three TLS
modes: `plain` (no TLS at all, AUTH allowed in clear), `starttls` (STARTTLS offered and required
before AUTH), `implicit` (TLS from the first byte, like port 465). `hostname=` is always passed, so
aiosmtpd never calls the blocking `socket.getfqdn()` (aio-libs/aiosmtpd#178).
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

TlsMode = Literal["plain", "starttls", "implicit"]


@dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    login: str | None


@dataclass
class SmtpTestServer:
    """`users` maps login -> password; `auth_attempts` counts every AUTH the server answered.
    `offer_auth=False` makes a plain server that offers AUTH only after TLS, i.e. never."""

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

    # -- aiosmtpd hooks --------------------------------------------------------------------------

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        self.auth_attempts += 1
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        ok = login in self.users and self.users[login] == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        login = session.auth_data if isinstance(session.auth_data, str) else None
        self.messages.append(
            ReceivedMessage(
                str(envelope.mail_from), list(envelope.rcpt_tos), bytes(envelope.original_content or b""), login
            )
        )
        return "250 OK"

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
