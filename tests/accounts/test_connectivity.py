"""Connection checks against real servers: aiosmtpd (plain, STARTTLS, implicit TLS), Dovecot (plain,
STARTTLS, IMAPS), closed ports and silent peers; and the outcome recorded on the account, through the
task handler and through the real queue and JobRunner."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from coldsend.accounts import connectivity
from coldsend.accounts.connectivity import (
    TASK_NAME,
    AccountCheckRepository,
    ConnectionResult,
    MailServer,
    check_account,
    run_connection_check,
    schedule_connection_check,
)
from coldsend.accounts.models import Account
from coldsend.kit.crypto import SecretBox
from coldsend.kit.jobs import JobRunner
from tests.accounts.conftest import MAILBOX, PASSWORD
from tests.conftest import CommittedWorkspace, Tenant
from tests.support.imap_server import DovecotServer
from tests.support.smtp_server import SilentServer, SmtpTestServer, closed_port

ACCOUNTS = Account.__table__
STATUS_MESSAGE_KEYS = {"code", "command", "response", "e_message", "responseCode"}


def mailbox(
    box: SecretBox,
    smtp: tuple[str | None, int | None],
    imap: tuple[str | None, int | None],
    *,
    smtp_password: str | None = PASSWORD,
    imap_password: str | None = PASSWORD,
    **extra: Any,
) -> dict[str, Any]:
    """Account column values for a mailbox at these servers (passwords encrypted as the API stores them)."""
    values: dict[str, Any] = {
        "email": MAILBOX,
        "smtp_host": smtp[0],
        "smtp_port": smtp[1],
        "smtp_username": MAILBOX,
        "smtp_password_encrypted": box.encrypt(smtp_password) if smtp_password is not None else None,
        "imap_host": imap[0],
        "imap_port": imap[1],
        "imap_username": MAILBOX,
        "imap_password_encrypted": box.encrypt(imap_password) if imap_password is not None else None,
    }
    values.update(extra)
    return values


def row(values: dict[str, Any]) -> Any:
    return SimpleNamespace(**values)


async def check(box: SecretBox, values: dict[str, Any], **kwargs: Any) -> ConnectionResult:
    return await connectivity.test_connection(row(values), box, **kwargs)


def where(server: SmtpTestServer | DovecotServer | SilentServer, *, ssl: bool = False) -> tuple[str, int]:
    if isinstance(server, DovecotServer) and ssl:
        return "127.0.0.1", server.ssl_port
    return "127.0.0.1", server.port


# -- the dialogue -----------------------------------------------------------------------------------


async def test_good_credentials_pass_in_clear_text_when_the_servers_offer_no_tls(
    box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    result = await check(box, mailbox(box, where(smtp_server), where(dovecot)))
    assert result.ok, result.failures
    assert (result.smtp.tls, result.imap.tls) == ("none", "none")
    assert result.status_message() is None


async def test_a_wrong_smtp_password_is_an_auth_failure_tried_once(
    box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    attempts = smtp_server.auth_attempts
    result = await check(box, mailbox(box, where(smtp_server), where(dovecot), smtp_password="wrong"))
    assert not result.ok and result.imap.ok
    assert smtp_server.auth_attempts == attempts + 1, "a wrong password must not be retried per mechanism"
    message = result.status_message()
    assert message is not None and set(message) == STATUS_MESSAGE_KEYS
    assert message["code"] == "EAUTH" and message["command"] == "AUTH PLAIN"
    assert message["responseCode"] == 535
    assert message["response"].startswith("535")
    assert message["e_message"].startswith("SMTP AUTH PLAIN failed: 535")


async def test_a_wrong_imap_password_is_an_auth_failure(
    box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    result = await check(box, mailbox(box, where(smtp_server), where(dovecot), imap_password="wrong"))
    assert result.smtp.ok and not result.imap.ok
    message = result.status_message()
    assert message is not None
    assert message["code"] == "EAUTH" and message["command"] == "LOGIN"
    assert "responseCode" not in message  # IMAP answers have no numeric code
    assert message["e_message"].startswith("IMAP LOGIN failed: NO")
    assert "AUTHENTICATIONFAILED" in message["response"]


async def test_both_failures_are_named_smtp_first(
    box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    values = mailbox(box, where(smtp_server), where(dovecot), smtp_password="x", imap_password="y")
    message = (await check(box, values)).status_message()
    assert message is not None and message["code"] == "EAUTH" and message["command"] == "AUTH PLAIN"
    assert "SMTP AUTH PLAIN failed" in message["e_message"] and "IMAP LOGIN failed" in message["e_message"]


async def test_closed_ports_are_refused_quickly(box: SecretBox) -> None:
    smtp_port, imap_port = closed_port(), closed_port()
    started = time.monotonic()
    result = await check(box, mailbox(box, ("127.0.0.1", smtp_port), ("127.0.0.1", imap_port)))
    assert time.monotonic() - started < 3
    assert result.smtp.failure is not None and result.imap.failure is not None
    assert result.smtp.failure.code == result.imap.failure.code == "ECONNECTION"
    assert result.smtp.failure.message == f"SMTP connect to 127.0.0.1:{smtp_port} refused"
    assert result.imap.failure.message == f"IMAP connect to 127.0.0.1:{imap_port} refused"
    assert result.smtp.failure.command == "CONN"


async def test_a_silent_server_times_out_within_the_step_timeout(box: SecretBox, silent_server: SilentServer) -> None:
    started = time.monotonic()
    result = await check(box, mailbox(box, where(silent_server), where(silent_server)), step_timeout=0.5)
    assert time.monotonic() - started < 3
    for failure in result.failures:
        assert failure.code == "ETIMEDOUT" and "timed out after 0.5s" in failure.message, failure
    assert len(result.failures) == 2


async def test_an_unresolvable_host_is_named(box: SecretBox) -> None:
    values = mailbox(box, ("no-such-host.invalid", 587), ("no-such-host.invalid", 143))
    result = await check(box, values, step_timeout=3)
    for failure in result.failures:  # EDNS; ETIMEDOUT where no resolver answers at all
        assert failure.code in ("EDNS", "ETIMEDOUT"), failure
        assert "no-such-host.invalid" in failure.message
    assert len(result.failures) == 2


async def test_an_smtp_server_talking_to_the_imap_check_is_a_protocol_error(
    box: SecretBox, smtp_server: SmtpTestServer
) -> None:
    started = time.monotonic()
    result = await check(box, mailbox(box, where(smtp_server), where(smtp_server)))
    assert time.monotonic() - started < 3
    assert result.smtp.ok
    assert result.imap.failure is not None and result.imap.failure.code == "EPROTOCOL"
    assert "sent no IMAP greeting: 220" in result.imap.failure.message


async def test_smtp_without_auth_in_clear_text_says_so(
    box: SecretBox, smtp_without_auth: SmtpTestServer, dovecot: DovecotServer
) -> None:
    result = await check(box, mailbox(box, where(smtp_without_auth), where(dovecot)))
    assert result.smtp.failure is not None and result.smtp.failure.code == "EAUTH"
    assert "offers no AUTH" in result.smtp.failure.message and "no TLS" in result.smtp.failure.message


async def test_starttls_is_used_whenever_offered(
    box: SecretBox,
    smtp_starttls_server: SmtpTestServer,
    dovecot_tls: DovecotServer,
    trust_test_ca: None,
) -> None:
    result = await check(box, mailbox(box, where(smtp_starttls_server), where(dovecot_tls)))
    assert result.ok, result.failures
    assert (result.smtp.tls, result.imap.tls) == ("starttls", "starttls")
    wrong = await check(box, mailbox(box, where(smtp_starttls_server), where(dovecot_tls), imap_password="no"))
    assert wrong.imap.failure is not None and wrong.imap.failure.code == "EAUTH"


async def test_an_untrusted_certificate_fails_tls_and_never_falls_back_to_clear_text(
    box: SecretBox, smtp_starttls_server: SmtpTestServer, dovecot_tls: DovecotServer
) -> None:
    attempts = smtp_starttls_server.auth_attempts
    result = await check(box, mailbox(box, where(smtp_starttls_server), where(dovecot_tls)))
    assert len(result.failures) == 2
    for failure in result.failures:
        assert failure.code == "ETLS" and failure.command == "STARTTLS", failure
        assert "certificate" in failure.message
    assert smtp_starttls_server.auth_attempts == attempts


async def test_implicit_tls_ports(
    box: SecretBox,
    smtp_implicit_tls_server: SmtpTestServer,
    dovecot_tls: DovecotServer,
    trust_test_ca: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ports 465/993 speak TLS from the first byte; the test servers' ports stand in for them."""
    monkeypatch.setattr(connectivity, "SMTP_IMPLICIT_TLS_PORTS", frozenset({smtp_implicit_tls_server.port}))
    monkeypatch.setattr(connectivity, "IMAP_IMPLICIT_TLS_PORTS", frozenset({dovecot_tls.ssl_port}))
    result = await check(box, mailbox(box, where(smtp_implicit_tls_server), where(dovecot_tls, ssl=True)))
    assert result.ok, result.failures
    assert (result.smtp.tls, result.imap.tls) == ("implicit", "implicit")


async def test_implicit_tls_with_an_untrusted_certificate(
    box: SecretBox,
    smtp_implicit_tls_server: SmtpTestServer,
    dovecot_tls: DovecotServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(connectivity, "SMTP_IMPLICIT_TLS_PORTS", frozenset({smtp_implicit_tls_server.port}))
    monkeypatch.setattr(connectivity, "IMAP_IMPLICIT_TLS_PORTS", frozenset({dovecot_tls.ssl_port}))
    result = await check(box, mailbox(box, where(smtp_implicit_tls_server), where(dovecot_tls, ssl=True)))
    assert [(f.code, f.command) for f in result.failures] == [("ETLS", "CONN"), ("ETLS", "CONN")]


async def test_missing_settings_and_undecryptable_passwords_are_config_failures(
    box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    values = mailbox(box, (None, None), where(dovecot), imap_password=None)
    result = await check(box, values)
    assert result.smtp.failure is not None and result.smtp.failure.code == "ECONFIG"
    assert "missing host, port" in result.smtp.failure.message
    assert result.imap.failure is not None and "missing password" in result.imap.failure.message

    other_key = SecretBox("Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=")
    foreign = mailbox(other_key, where(smtp_server), where(dovecot))
    result = await check(box, foreign)
    assert [f.code for f in result.failures] == ["ECONFIG", "ECONFIG"]
    assert "cannot be decrypted" in result.failures[0].message


def test_passwords_stay_out_of_reprs() -> None:
    server = MailServer("smtp.example.com", 587, "me@example.com", PASSWORD)
    assert PASSWORD not in repr(server) and PASSWORD not in str(server)


# -- recording the outcome --------------------------------------------------------------------------


async def insert_account(session: AsyncSession, organization_id: uuid.UUID, values: dict[str, Any]) -> uuid.UUID:
    statement = insert(Account).values(organization_id=organization_id, **values).returning(Account.id)
    return (await session.execute(statement)).scalar_one()


async def account_state(session: AsyncSession, account_id: uuid.UUID) -> Any:
    statement = select(
        ACCOUNTS.c.status,
        ACCOUNTS.c.status_message,
        ACCOUNTS.c.status_message.is_(None).label("message_is_sql_null"),
        ACCOUNTS.c.autofix_failed,
        ACCOUNTS.c.connection_checked_at,
    ).where(ACCOUNTS.c.id == account_id)
    return (await session.execute(statement)).one()


def maker_in(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions that join the test's transaction (so handlers run for real and still roll back)."""
    return async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


async def run_task(connection: AsyncConnection, organization_id: uuid.UUID, account_id: uuid.UUID) -> None:
    await run_connection_check(
        {"organization_id": str(organization_id), "account_id": str(account_id)}, maker_in(connection)
    )


async def test_a_passing_check_makes_an_errored_account_active(
    tenant: Tenant,
    session: AsyncSession,
    connection: AsyncConnection,
    box: SecretBox,
    smtp_server: SmtpTestServer,
    dovecot: DovecotServer,
) -> None:
    values = mailbox(box, where(smtp_server), where(dovecot), status=-1, autofix_failed=True)
    values["status_message"] = {"code": "EAUTH", "command": "AUTH PLAIN", "e_message": "old"}
    account_id = await insert_account(session, tenant.id, values)
    await run_task(connection, tenant.id, account_id)
    state = await account_state(session, account_id)
    assert state.status == 1
    assert state.status_message is None and state.message_is_sql_null
    assert state.autofix_failed is False
    assert state.connection_checked_at is not None


async def test_a_failing_check_records_a_connection_error(
    tenant: Tenant,
    session: AsyncSession,
    connection: AsyncConnection,
    box: SecretBox,
    smtp_server: SmtpTestServer,
    dovecot: DovecotServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account_id = await insert_account(session, tenant.id, mailbox(box, where(smtp_server), where(dovecot)))
    await session.execute(
        ACCOUNTS.update()
        .where(ACCOUNTS.c.id == account_id)
        .values(smtp_password_encrypted=box.encrypt("not " + PASSWORD))
    )
    with caplog.at_level(logging.DEBUG):
        await run_task(connection, tenant.id, account_id)
    state = await account_state(session, account_id)
    assert state.status == -1 and state.autofix_failed is True
    assert state.status_message["code"] == "EAUTH" and state.status_message["responseCode"] == 535
    assert "SMTP AUTH PLAIN failed: 535" in state.status_message["e_message"]
    assert PASSWORD not in caplog.text and PASSWORD not in str(state.status_message)


async def test_a_paused_account_stays_paused_but_learns_the_diagnosis(
    tenant: Tenant,
    session: AsyncSession,
    connection: AsyncConnection,
    box: SecretBox,
    smtp_server: SmtpTestServer,
    dovecot: DovecotServer,
) -> None:
    failing = mailbox(box, where(smtp_server), where(dovecot), imap_password="wrong", status=2)
    account_id = await insert_account(session, tenant.id, failing)
    await run_task(connection, tenant.id, account_id)
    state = await account_state(session, account_id)
    assert state.status == 2 and state.autofix_failed is True
    assert state.status_message["command"] == "LOGIN"

    await session.execute(
        ACCOUNTS.update().where(ACCOUNTS.c.id == account_id).values(imap_password_encrypted=box.encrypt(PASSWORD))
    )
    await run_task(connection, tenant.id, account_id)
    state = await account_state(session, account_id)
    assert state.status == 2 and state.autofix_failed is False and state.message_is_sql_null


async def test_a_result_for_settings_changed_meanwhile_is_not_recorded(
    tenant: Tenant, session: AsyncSession, box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    account_id = await insert_account(session, tenant.id, mailbox(box, where(smtp_server), where(dovecot)))
    repository = AccountCheckRepository(session, tenant.id)
    tested = await repository.get(account_id)
    result = await connectivity.test_connection(tested, box)
    await session.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == account_id).values(smtp_port=2525))
    assert await repository.record(tested, result) is None
    assert (await account_state(session, account_id)).connection_checked_at is None


async def test_the_handler_is_workspace_scoped_and_tolerant(
    tenant: Tenant,
    other_tenant: Tenant,
    session: AsyncSession,
    connection: AsyncConnection,
    box: SecretBox,
    smtp_server: SmtpTestServer,
    dovecot: DovecotServer,
) -> None:
    account_id = await insert_account(session, tenant.id, mailbox(box, where(smtp_server), where(dovecot)))
    await run_task(connection, other_tenant.id, account_id)  # another workspace's id: not found, no write
    assert (await account_state(session, account_id)).connection_checked_at is None
    await run_task(connection, tenant.id, uuid.uuid4())  # vanished account
    await run_connection_check({"organization_id": "nope"}, maker_in(connection))  # malformed payload
    assert await check_account(maker_in(connection), tenant.id, uuid.uuid4()) is None


# -- scheduling and the real queue ------------------------------------------------------------------


async def queued_checks(session: AsyncSession, account_id: uuid.UUID) -> int:
    statement = text("SELECT count(*) FROM pgqueuer WHERE entrypoint = :e AND convert_from(payload, 'UTF8') LIKE :p")
    result = await session.execute(statement, {"e": f"coldsend.task.{TASK_NAME}", "p": f"%{account_id}%"})
    return int(result.scalar_one())


async def test_scheduling_dedupes_per_account_and_settings(
    tenant: Tenant, session: AsyncSession, box: SecretBox
) -> None:
    account_id = await insert_account(session, tenant.id, mailbox(box, ("smtp.example.com", 587), ("imap", 993)))
    await schedule_connection_check(session, tenant.id, account_id)
    await schedule_connection_check(session, tenant.id, account_id)
    assert await queued_checks(session, account_id) == 1
    await session.execute(ACCOUNTS.update().where(ACCOUNTS.c.id == account_id).values(smtp_host="smtp2.example.com"))
    await schedule_connection_check(session, tenant.id, account_id)
    assert await queued_checks(session, account_id) == 2
    missing = uuid.uuid4()
    await schedule_connection_check(session, tenant.id, missing)
    assert await queued_checks(session, missing) == 0


async def wait_for_check(workspace: CommittedWorkspace, account_id: uuid.UUID, within: float = 30) -> Any:
    deadline = time.monotonic() + within
    async with workspace.sessionmaker()() as s:
        while time.monotonic() < deadline:
            state = await account_state(s, account_id)
            await s.rollback()
            if state.connection_checked_at is not None:
                return state
            await asyncio.sleep(0.05)
    raise AssertionError(f"account {account_id} was never checked")


async def test_checks_go_through_the_real_queue_and_worker(
    committed_workspace: CommittedWorkspace, box: SecretBox, smtp_server: SmtpTestServer, dovecot: DovecotServer
) -> None:
    maker = committed_workspace.sessionmaker()
    org = committed_workspace.id
    async with maker() as s, s.begin():
        good = await insert_account(s, org, mailbox(box, where(smtp_server), where(dovecot)))
        bad = await insert_account(
            s, org, mailbox(box, where(smtp_server), where(dovecot), email="other@mail.example.com", smtp_password="x")
        )
        for account_id in (good, bad):
            await schedule_connection_check(s, org, account_id)
    runner = JobRunner(committed_workspace.engine)
    await runner.start()
    try:
        good_state = await wait_for_check(committed_workspace, good)
        bad_state = await wait_for_check(committed_workspace, bad)
    finally:
        await runner.stop()
    assert good_state.status == 1 and good_state.autofix_failed is False and good_state.message_is_sql_null
    assert bad_state.status == -1 and bad_state.autofix_failed is True
    assert bad_state.status_message["code"] == "EAUTH"
    async with maker() as s:
        assert await queued_checks(s, good) == 0 and await queued_checks(s, bad) == 0
