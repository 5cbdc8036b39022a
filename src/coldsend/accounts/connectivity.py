"""Testing a mailbox's SMTP and IMAP connections (in the worker) and recording the outcome.

The check is a short, real dialogue with each server, both run at once:

- SMTP: connect (greeting), EHLO, [STARTTLS, EHLO], AUTH with one mechanism (PLAIN, else LOGIN, else
  CRAM-MD5: a wrong password is tried once, never once per mechanism), QUIT.
- IMAP: connect (greeting, CAPABILITY), [STARTTLS, CAPABILITY], LOGIN, SELECT INBOX, LOGOUT.

TLS rule, the same for both protocols:

1. A port in `SMTP_IMPLICIT_TLS_PORTS` (465) / `IMAP_IMPLICIT_TLS_PORTS` (993) speaks TLS from the
   first byte.
2. On any other port (587, 25, 143, ...) the session starts in clear text; when the server offers
   STARTTLS it is always used, and a failed upgrade is a failure (there is no fallback to clear text
   after STARTTLS was offered).
3. When the server offers no STARTTLS, the session stays in clear text and the credentials are sent
   in clear. Only servers that offer no TLS at all get this (local relays, test servers); a server
   that refuses clear-text login (IMAP `LOGINDISABLED`, SMTP without AUTH before TLS) fails with a
   message saying so.

Certificates are verified against the system's CAs and the host name (`tls_context_factory`).
Every network step has a timeout (`DEFAULT_TIMEOUT`, 15 s per step; the whole dialogue at most four
times that), so an unreachable or silent server gives a clear `ETIMEDOUT`, never a hung worker.

Outcome, written in one UPDATE of the account:

- success: `status` becomes 1 (Active) unless the account is paused (2 stays 2), `status_message`
  null, `autofix_failed` false, `connection_checked_at` now;
- failure: `status` becomes -1 (Connection Error), again except a paused account, which stays 2 and
  still gets the diagnosis; `status_message` is `{code, command, response, e_message, responseCode}`
  naming what failed (`responseCode` only when the server answered with an SMTP code);
  `autofix_failed` true.

The outcome is written only if the account still has the connection settings that were tested; a
result for settings edited meanwhile is dropped (the edit queued a check of its own). Checks are
queued deduplicated per account and settings (`schedule_connection_check`): a second request while
one is waiting or running adds nothing.

Codes (nodemailer's vocabulary, which Instantly's messages use): ECONFIG (missing settings or a
password that cannot be decrypted), EDNS, ECONNECTION, ETIMEDOUT, ETLS, EAUTH, EPROTOCOL.
Passwords are never logged, stored in a message, or shown in a `repr`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Literal, TypeVar

import aiosmtplib
from aioimaplib import aioimaplib
from sqlalchemy import Table, case, null, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coldsend.accounts.models import Account
from coldsend.config import Settings, get_settings
from coldsend.kit.clock import utcnow
from coldsend.kit.crypto import SecretBox, secret_box
from coldsend.kit.jobs import enqueue_task, task_handler
from coldsend.kit.repository import Record, WorkspaceRepository

logger = logging.getLogger("coldsend.accounts.connectivity")
# aioimaplib logs every command at DEBUG and masks the password only as given, while LOGIN sends it
# escaped: a password with a quote or a backslash would reach the log. Keep that logger above DEBUG.
logging.getLogger("aioimaplib.aioimaplib").setLevel(logging.INFO)

TASK_NAME = "account-connection-check"
DEFAULT_TIMEOUT = 15.0  # seconds, per network step
SMTP_IMPLICIT_TLS_PORTS: frozenset[int] = frozenset({465})
IMAP_IMPLICIT_TLS_PORTS: frozenset[int] = frozenset({993})
SMTP_AUTH_PREFERENCE = ("plain", "login", "cram-md5")

STATUS_ACTIVE = 1
STATUS_PAUSED = 2
STATUS_CONNECTION_ERROR = -1

TlsUsed = Literal["implicit", "starttls", "none"]
T = TypeVar("T")


@cache
def _system_tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()


# Seams: the worker uses the defaults; tests point them at a test CA and at test settings.
tls_context_factory: Callable[[], ssl.SSLContext] = _system_tls_context
settings_provider: Callable[[], Settings] = get_settings


# -- results ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """What failed, in the shape of an account's `status_message`."""

    code: str
    command: str
    message: str
    response: str = ""
    response_code: int | None = None

    def status_message(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "command": self.command,
            "response": self.response or self.message,
            "e_message": self.message,
        }
        if self.response_code is not None:
            body["responseCode"] = self.response_code
        return body


class CheckFailed(Exception):
    """Raised by the dialogue helpers; carries the `Failure` to report."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


@dataclass(frozen=True)
class ProtocolResult:
    protocol: Literal["SMTP", "IMAP"]
    failure: Failure | None = None
    tls: TlsUsed = "none"
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None


@dataclass(frozen=True)
class ConnectionResult:
    smtp: ProtocolResult
    imap: ProtocolResult

    @property
    def ok(self) -> bool:
        return self.smtp.ok and self.imap.ok

    @property
    def failures(self) -> list[Failure]:
        return [r.failure for r in (self.smtp, self.imap) if r.failure is not None]

    def status_message(self) -> dict[str, Any] | None:
        """None on success; else the first failure (SMTP before IMAP), with every failure in `e_message`."""
        failures = self.failures
        if not failures:
            return None
        body = failures[0].status_message()
        body["e_message"] = "; ".join(f.message for f in failures)
        return body


@dataclass(frozen=True)
class MailServer:
    """Where and as whom to log in. The password never appears in `repr`."""

    host: str | None
    port: int | None
    username: str | None
    password: str | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _require(server: MailServer, protocol: str) -> tuple[str, int]:
    missing = [
        name
        for name, value in (("host", server.host), ("port", server.port), ("username", server.username))
        if value in (None, "")
    ]
    if server.password is None:
        missing.append("password")
    if missing:
        raise CheckFailed(Failure("ECONFIG", "CONN", f"{protocol} settings incomplete: missing {', '.join(missing)}"))
    assert server.host is not None and server.port is not None
    return server.host, server.port


def _network_failure(protocol: str, exc: BaseException, command: str, server: MailServer, timeout: float) -> Failure:
    """A failure below the protocol: DNS, TCP, TLS, timeouts."""
    where = server.address
    if isinstance(exc, socket.gaierror):
        return Failure("EDNS", command, f"{protocol} host {server.host} could not be resolved ({exc.strerror or exc})")
    if isinstance(exc, ConnectionRefusedError):
        return Failure("ECONNECTION", command, f"{protocol} connect to {where} refused")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or str(exc)
        return Failure("ETLS", command, f"{protocol} TLS certificate of {where} rejected: {reason}")
    if isinstance(exc, ssl.SSLError):
        return Failure("ETLS", command, f"{protocol} TLS negotiation with {where} failed: {exc.reason or exc}")
    if isinstance(exc, TimeoutError):
        step = "connect to" if command == "CONN" else f"{command} on"
        return Failure("ETIMEDOUT", command, f"{protocol} {step} {where} timed out after {timeout:g}s")
    if isinstance(exc, ConnectionError):
        return Failure("ECONNECTION", command, f"{protocol} server {where} closed the connection during {command}")
    if isinstance(exc, OSError):
        return Failure("ECONNECTION", command, f"{protocol} connect to {where} failed: {exc.strerror or exc}")
    return Failure("EPROTOCOL", command, f"{protocol} {command} on {where} failed: {type(exc).__name__}: {exc}")


def _root_cause(exc: BaseException) -> BaseException:
    """The deepest network-level cause an SMTP/IMAP exception wraps, if any."""
    seen = exc
    while seen.__cause__ is not None:
        seen = seen.__cause__
        if isinstance(seen, OSError):
            return seen
    return exc


# -- SMTP -------------------------------------------------------------------------------------------


def _smtp_failure(exc: Exception, command: str, server: MailServer, timeout: float) -> Failure:
    where = server.address
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        response = f"{exc.code} {exc.message}"
        return Failure("EAUTH", command, f"SMTP {command} failed: {response}", response, exc.code)
    if isinstance(exc, aiosmtplib.SMTPTimeoutError):
        step = "connect to" if command == "CONN" else f"{command} on"
        return Failure("ETIMEDOUT", command, f"SMTP {step} {where} timed out after {timeout:g}s")
    if isinstance(exc, aiosmtplib.SMTPConnectResponseError):
        response = f"{exc.code} {exc.message}"
        return Failure(
            "ECONNECTION", command, f"SMTP server {where} refused the session: {response}", response, exc.code
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        response = f"{exc.code} {exc.message}"
        code = "ETLS" if command == "STARTTLS" else "EPROTOCOL"
        return Failure(code, command, f"SMTP {command} failed: {response}", response, exc.code)
    cause = _root_cause(exc)
    if cause is not exc:
        return _network_failure("SMTP", cause, command, server, timeout)
    if isinstance(exc, aiosmtplib.SMTPServerDisconnected):
        return Failure("ECONNECTION", command, f"SMTP server {where} closed the connection during {command}")
    if isinstance(exc, aiosmtplib.SMTPException):
        return Failure("EPROTOCOL", command, f"SMTP {command} on {where} failed: {exc.message}")
    return _network_failure("SMTP", exc, command, server, timeout)


async def open_smtp(
    server: MailServer,
    *,
    step_timeout: float = DEFAULT_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
    local_hostname: str = "localhost",
) -> tuple[aiosmtplib.SMTP, TlsUsed]:
    """An authenticated SMTP session following the TLS rule (for checks and for sending).

    Raises `CheckFailed` naming the step that failed; the caller owns (and must close) the client.
    """
    host, port = _require(server, "SMTP")
    implicit = port in SMTP_IMPLICIT_TLS_PORTS
    tls: TlsUsed = "implicit" if implicit else "none"
    command = "CONN"
    try:
        client = aiosmtplib.SMTP(
            hostname=host,
            port=port,
            timeout=step_timeout,
            use_tls=implicit,
            start_tls=False,
            tls_context=tls_context or tls_context_factory(),
            local_hostname=local_hostname,
        )
    except ValueError as exc:  # e.g. a line break in the host name
        raise CheckFailed(Failure("ECONFIG", command, f"SMTP settings invalid: {exc}")) from exc
    try:
        await client.connect()
        command = "EHLO"
        await client.ehlo()
        if not implicit and client.supports_extension("starttls"):
            command = "STARTTLS"
            await client.starttls()
            tls = "starttls"
            command = "EHLO"
            await client.ehlo()
        offered = [m for m in SMTP_AUTH_PREFERENCE if m in client.server_auth_methods]
        if not offered:
            hint = "" if tls != "none" else " (it offers no TLS either)"
            raise CheckFailed(
                Failure("EAUTH", "AUTH", f"SMTP server {server.address} offers no AUTH PLAIN/LOGIN/CRAM-MD5{hint}")
            )
        command = f"AUTH {offered[0].upper()}"
        authenticate = getattr(client, f"auth_{offered[0].replace('-', '')}")
        await authenticate(server.username, server.password)
    except CheckFailed:
        client.close()
        raise
    except Exception as exc:
        client.close()
        raise CheckFailed(_smtp_failure(exc, command, server, step_timeout)) from exc
    except BaseException:  # cancelled (the whole dialogue's deadline): still close the socket
        client.close()
        raise
    return client, tls


async def check_smtp(
    server: MailServer,
    *,
    step_timeout: float = DEFAULT_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
    local_hostname: str = "localhost",
) -> ProtocolResult:
    started = time.monotonic()
    tls: TlsUsed = "none"
    try:
        async with asyncio.timeout(step_timeout * 4):
            client, tls = await open_smtp(
                server, step_timeout=step_timeout, tls_context=tls_context, local_hostname=local_hostname
            )
            try:
                await client.quit()
            except Exception:  # logged in: the check has passed, however the goodbye goes
                pass
            finally:
                client.close()
    except CheckFailed as failed:
        return ProtocolResult("SMTP", failed.failure, tls, time.monotonic() - started)
    except TimeoutError:
        failure = Failure("ETIMEDOUT", "CONN", f"SMTP dialogue with {server.address} timed out")
        return ProtocolResult("SMTP", failure, tls, time.monotonic() - started)
    return ProtocolResult("SMTP", None, tls, time.monotonic() - started)


# -- IMAP -------------------------------------------------------------------------------------------


class BadGreeting(Exception):
    """The peer's first line is not an IMAP `OK`/`PREAUTH` greeting."""


class ImapSession:
    """An aioimaplib client whose every step is bounded and aborts as soon as the server hangs up."""

    def __init__(
        self, server: MailServer, host: str, port: int, timeout: float, context: ssl.SSLContext | None
    ) -> None:
        self.server = server
        self.timeout = timeout
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.client = aioimaplib.IMAP4(
            host=host, port=port, timeout=timeout, conn_lost_cb=self._on_lost, ssl_context=context
        )
        # aioimaplib handles the greeting in a task of its own and drops its errors (a non-IMAP peer or a
        # `* BYE` would only surface as a timeout): report them through `lost` instead.
        greet = self.client.protocol.welcome

        async def welcome(line: bytes) -> None:
            try:
                await greet(line)
            except Exception:
                self._on_lost(BadGreeting(line.decode(errors="replace").strip()))

        self.client.protocol.welcome = welcome

    def _on_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    async def step(self, awaitable: Awaitable[T]) -> T:
        task = asyncio.ensure_future(awaitable)
        waiters: set[asyncio.Future[Any]] = {task, self.lost}
        done, _ = await asyncio.wait(waiters, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if self.lost in done:
            if isinstance(reason := self.lost.result(), BadGreeting):
                raise reason
            raise ConnectionResetError("connection closed by the server")
        raise TimeoutError

    @property
    def protocol(self) -> aioimaplib.IMAP4ClientProtocol:
        return self.client.protocol

    async def starttls(self, context: ssl.SSLContext, host: str) -> None:
        protocol = self.protocol
        response = await self.step(
            protocol.execute(aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop))
        )
        if response.result != "OK":
            text = _imap_text(response)
            raise CheckFailed(Failure("ETLS", "STARTTLS", f"IMAP STARTTLS failed: {response.result} {text}", text))
        protocol.incomplete_line = b""  # RFC 2595: nothing sent before the handshake may be trusted
        transport = await asyncio.wait_for(
            asyncio.get_running_loop().start_tls(protocol.transport, protocol, context, server_hostname=host),
            self.timeout,
        )
        protocol.transport = transport
        await self.step(protocol.capability())

    def close(self) -> None:
        transport = self.protocol.transport if self.protocol is not None else None
        if transport is not None:
            transport.close()
        task = getattr(self.client, "_client_task", None)
        if task is not None and not task.done():
            task.cancel()


def _imap_text(response: Any) -> str:
    lines = getattr(response, "lines", None) or []
    last = lines[-1] if lines else b""
    return (last.decode(errors="replace") if isinstance(last, bytes) else str(last)).strip()


async def open_imap(
    server: MailServer, *, step_timeout: float = DEFAULT_TIMEOUT, tls_context: ssl.SSLContext | None = None
) -> tuple[ImapSession, TlsUsed]:
    """A logged-in IMAP session following the TLS rule (for checks and for inbox sync).

    Raises `CheckFailed` naming the step that failed; the caller owns (and must close) the session.
    """
    host, port = _require(server, "IMAP")
    implicit = port in IMAP_IMPLICIT_TLS_PORTS
    context = tls_context or tls_context_factory()
    tls: TlsUsed = "implicit" if implicit else "none"
    command = "CONN"
    session = ImapSession(server, host, port, step_timeout, context if implicit else None)
    try:
        await session.step(session.client.wait_hello_from_server())
        if not implicit and session.client.has_capability("STARTTLS"):
            command = "STARTTLS"
            await session.starttls(context, host)
            tls = "starttls"
        if session.client.has_capability("LOGINDISABLED"):
            raise CheckFailed(
                Failure(
                    "EAUTH",
                    "LOGIN",
                    f"IMAP server {server.address} refuses LOGIN on this connection (LOGINDISABLED)"
                    + ("" if tls != "none" else " and offers no STARTTLS"),
                )
            )
        command = "LOGIN"
        assert server.username is not None and server.password is not None
        response = await session.step(session.protocol.login(aioimaplib.quoted(server.username), server.password))
        if response.result != "OK":
            text = _imap_text(response)
            raise CheckFailed(Failure("EAUTH", "LOGIN", f"IMAP LOGIN failed: {response.result} {text}".rstrip(), text))
    except CheckFailed:
        session.close()
        raise
    except Exception as exc:
        session.close()
        if isinstance(exc, BadGreeting):
            failure = Failure(
                "EPROTOCOL", command, f"IMAP server {server.address} sent no IMAP greeting: {exc}", str(exc)
            )
        elif isinstance(exc, aioimaplib.AioImapException):
            failure = Failure("EPROTOCOL", command, f"IMAP {command} on {server.address} failed: {exc}")
        else:
            failure = _network_failure("IMAP", exc, command, server, step_timeout)
        raise CheckFailed(failure) from exc
    except BaseException:
        session.close()
        raise
    return session, tls


async def check_imap(
    server: MailServer, *, step_timeout: float = DEFAULT_TIMEOUT, tls_context: ssl.SSLContext | None = None
) -> ProtocolResult:
    started = time.monotonic()
    tls: TlsUsed = "none"
    try:
        async with asyncio.timeout(step_timeout * 4):
            session, tls = await open_imap(server, step_timeout=step_timeout, tls_context=tls_context)
            try:
                try:
                    response = await session.step(session.protocol.select("INBOX"))
                except Exception as exc:
                    raise CheckFailed(_network_failure("IMAP", exc, "SELECT INBOX", server, step_timeout)) from exc
                if response.result != "OK":
                    text = _imap_text(response)
                    raise CheckFailed(
                        Failure(
                            "EPROTOCOL", "SELECT INBOX", f"IMAP SELECT INBOX failed: {response.result} {text}", text
                        )
                    )
                with contextlib.suppress(Exception):  # the mailbox opened: the check passed, however LOGOUT goes
                    await session.step(session.protocol.logout())
            finally:
                session.close()
    except CheckFailed as failed:
        return ProtocolResult("IMAP", failed.failure, tls, time.monotonic() - started)
    except TimeoutError:
        failure = Failure("ETIMEDOUT", "CONN", f"IMAP dialogue with {server.address} timed out")
        return ProtocolResult("IMAP", failure, tls, time.monotonic() - started)
    return ProtocolResult("IMAP", None, tls, time.monotonic() - started)


# -- the account ------------------------------------------------------------------------------------


def _decrypt(box: SecretBox, token: str | None, protocol: str) -> str | None:
    if token is None:
        return None
    try:
        return box.decrypt(token)
    except ValueError as exc:
        raise CheckFailed(
            Failure("ECONFIG", "CONN", f"stored {protocol} password cannot be decrypted with COLDSEND_SECRET_KEY")
        ) from exc


def _ehlo_name(account: Any) -> str:
    """The account's domain (a name the server can see is ours), else `localhost`."""
    domain = str(getattr(account, "email", "") or "").rpartition("@")[2].strip().lower()
    plausible = "." in domain and domain.isascii() and all(c.isalnum() or c in ".-" for c in domain)
    return domain if plausible else "localhost"


def mail_servers(account: Any, box: SecretBox) -> tuple[MailServer | Failure, MailServer | Failure]:
    """The account's (SMTP, IMAP) endpoints with decrypted passwords, or why one cannot be built."""
    result: list[MailServer | Failure] = []
    for protocol in ("smtp", "imap"):
        try:
            password = _decrypt(box, getattr(account, f"{protocol}_password_encrypted"), protocol.upper())
        except CheckFailed as failed:
            result.append(failed.failure)
            continue
        result.append(
            MailServer(
                host=getattr(account, f"{protocol}_host"),
                port=getattr(account, f"{protocol}_port"),
                username=getattr(account, f"{protocol}_username"),
                password=password,
            )
        )
    return result[0], result[1]


async def test_connection(
    account_row: Any,
    box: SecretBox,
    *,
    step_timeout: float = DEFAULT_TIMEOUT,
    tls_context: ssl.SSLContext | None = None,
) -> ConnectionResult:
    """Test an account's SMTP and IMAP settings at once; never raises for what the servers do."""
    smtp_server, imap_server = mail_servers(account_row, box)

    async def guarded(protocol: Literal["SMTP", "IMAP"], check: Awaitable[ProtocolResult]) -> ProtocolResult:
        try:
            return await check
        except Exception as exc:  # a bug of ours or of a library: still a result, never a crashed task
            logger.exception("%s check of %s failed unexpectedly", protocol, getattr(account_row, "email", "?"))
            return ProtocolResult(protocol, Failure("EPROTOCOL", "CONN", f"{protocol} check failed: {exc!r}"))

    async def smtp() -> ProtocolResult:
        if isinstance(smtp_server, Failure):
            return ProtocolResult("SMTP", smtp_server)
        ehlo = _ehlo_name(account_row)
        check = check_smtp(smtp_server, step_timeout=step_timeout, tls_context=tls_context, local_hostname=ehlo)
        return await guarded("SMTP", check)

    async def imap() -> ProtocolResult:
        if isinstance(imap_server, Failure):
            return ProtocolResult("IMAP", imap_server)
        return await guarded("IMAP", check_imap(imap_server, step_timeout=step_timeout, tls_context=tls_context))

    smtp_result, imap_result = await asyncio.gather(smtp(), imap())
    return ConnectionResult(smtp_result, imap_result)


test_connection.__test__ = False  # type: ignore[attr-defined]  # a library function, not a pytest test


CONNECTION_COLUMNS = tuple(
    f"{protocol}_{part}" for protocol in ("smtp", "imap") for part in ("host", "port", "username", "password_encrypted")
)


def connection_fingerprint(account: Any) -> str:
    """A digest of the account's connection settings (encrypted passwords included, never decrypted)."""
    material = "\x1f".join(repr(getattr(account, column, None)) for column in CONNECTION_COLUMNS)
    return hashlib.sha256(material.encode()).hexdigest()[:16]


class AccountCheckRepository(WorkspaceRepository):
    """The queries of connection checks (workspace-scoped like every other)."""

    table: ClassVar[Table] = Account.__table__  # type: ignore[assignment]

    async def record(self, tested: Any, result: ConnectionResult) -> Record | None:
        """Write the outcome in one statement, only if the account still has the settings that were
        tested (else the result is stale and a newer check is queued). A paused account stays paused;
        both rules are decided in SQL, so a pause or an edit landing while the check runs wins."""
        columns = self.table.c
        outcome = STATUS_ACTIVE if result.ok else STATUS_CONNECTION_ERROR
        now = utcnow()
        message = result.status_message()
        statement = (
            self._scoped(update(self.table))
            .where(columns.id == tested.id)
            .where(*(columns[name].is_not_distinct_from(getattr(tested, name)) for name in CONNECTION_COLUMNS))
            .values(
                status=case((columns.status == STATUS_PAUSED, STATUS_PAUSED), else_=outcome),
                status_message=null() if message is None else message,
                autofix_failed=not result.ok,
                connection_checked_at=now,
                timestamp_updated=now,
            )
            .returning(*self.table.c)
        )
        return (await self.session.execute(statement)).first()


async def schedule_connection_check(session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID) -> None:
    """Queue a connection check of the account in the caller's transaction (a worker runs it after
    commit). Deduplicated per account and connection settings: while a check of the same settings is
    waiting or running, no second one is queued; new settings always get a check of their own."""
    account = await AccountCheckRepository(session, organization_id).get(account_id)
    if account is None:
        return
    await enqueue_task(
        session,
        TASK_NAME,
        {"organization_id": str(organization_id), "account_id": str(account_id)},
        dedupe_key=f"{TASK_NAME}:{account_id}:{connection_fingerprint(account)}",
    )


async def check_account(
    maker: async_sessionmaker[AsyncSession],
    organization_id: uuid.UUID,
    account_id: uuid.UUID,
    *,
    step_timeout: float = DEFAULT_TIMEOUT,
) -> ConnectionResult | None:
    """Load the account, test it (outside any transaction), record the outcome. None if it is gone."""
    async with maker() as session:
        account = await AccountCheckRepository(session, organization_id).get(account_id)
    if account is None:
        logger.info("account %s vanished before its connection check", account_id)
        return None
    try:
        box = secret_box(settings_provider())
    except ValueError as exc:
        failure = Failure("ECONFIG", "CONN", f"COLDSEND_SECRET_KEY is unusable: {exc}")
        result = ConnectionResult(ProtocolResult("SMTP", failure), ProtocolResult("IMAP", failure))
    else:
        result = await test_connection(account, box, step_timeout=step_timeout)
    async with maker() as session, session.begin():
        recorded = await AccountCheckRepository(session, organization_id).record(account, result)
    if recorded is None:
        logger.info("account %s changed during its connection check; the newer check decides", account_id)
        return result
    if result.ok:
        logger.info("account %s connected (SMTP %s, IMAP %s)", account.email, result.smtp.tls, result.imap.tls)
    else:
        logger.warning("account %s failed its connection check: %s", account.email, result.status_message())
    return result


@task_handler(TASK_NAME)
async def run_connection_check(payload: dict[str, Any], maker: async_sessionmaker[AsyncSession]) -> None:
    try:
        organization_id = uuid.UUID(str(payload["organization_id"]))
        account_id = uuid.UUID(str(payload["account_id"]))
    except (KeyError, ValueError) as exc:
        logger.error("connection check with a malformed payload %r: %s", payload, exc)
        return
    await check_account(maker, organization_id, account_id)
