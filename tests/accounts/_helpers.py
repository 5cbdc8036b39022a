"""Shared pieces of the account tests: request bodies, direct rows, the queue, running jobs."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from coldsend.accounts.models import Account, AccountDailyStat
from coldsend.kit.jobs import ENTRYPOINT, run_job
from tests.conftest import Tenant
from tests.envelope import assert_envelope  # noqa: F401

ACCOUNTS = "/api/v2/accounts"
SMTP_PASSWORD = "smtp-secret-Pa55!"
IMAP_PASSWORD = "imap-secret-Pa55!"


def account_body(email: str = "sender@example.com", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "email": email,
        "first_name": "Sam",
        "last_name": "Sender",
        "provider_code": 1,
        "imap_username": email,
        "imap_password": IMAP_PASSWORD,
        "imap_host": "imap.example.com",
        "imap_port": 993,
        "smtp_username": email,
        "smtp_password": SMTP_PASSWORD,
        "smtp_host": "smtp.example.com",
        "smtp_port": 587,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


async def create_account(tenant: Tenant, email: str = "sender@example.com", **overrides: Any) -> dict[str, Any]:
    response = await tenant.post(ACCOUNTS, json=account_body(email, **overrides))
    assert response.status_code == 200, response.text
    return response.json()


async def account_row(session: AsyncSession, organization_id: uuid.UUID, email: str) -> Any:
    statement = select(Account.__table__).where(
        Account.__table__.c.organization_id == organization_id, Account.__table__.c.email == email.lower()
    )
    return (await session.execute(statement)).first()


async def add_stats(
    session: AsyncSession, organization_id: uuid.UUID, account_id: uuid.UUID, day: date, **counts: int
) -> None:
    await session.execute(
        insert(AccountDailyStat).values(organization_id=organization_id, account_id=account_id, day=day, **counts)
    )


async def queued_connection_checks(session: AsyncSession, account_id: uuid.UUID) -> int:
    """Internal tasks waiting in the queue that name this account (connection tests)."""
    statement = text(
        "SELECT count(*) FROM pgqueuer "
        "WHERE entrypoint LIKE 'coldsend.task.%' AND convert_from(payload, 'UTF8') LIKE :p"
    )
    return int((await session.execute(statement, {"p": f"%{account_id}%"})).scalar_one())


async def forget_queued_checks(session: AsyncSession) -> None:
    """As if a worker had taken every waiting connection test (a waiting one is never queued twice)."""
    await session.execute(text("DELETE FROM pgqueuer WHERE entrypoint LIKE 'coldsend.task.%'"))


async def queued_job_payload(session: AsyncSession, job_id: str) -> bytes:
    statement = text("SELECT payload FROM pgqueuer WHERE entrypoint = :e AND convert_from(payload, 'UTF8') LIKE :p")
    rows = (await session.execute(statement, {"e": ENTRYPOINT, "p": f"%{job_id}%"})).all()
    assert len(rows) == 1, f"job {job_id} is queued {len(rows)} times"
    return bytes(rows[0][0])


async def run_queued_job(session: AsyncSession, connection: AsyncConnection, job_id: str) -> None:
    """Run a job the request queued, for real, inside the test's transaction."""
    payload = await queued_job_payload(session, job_id)
    maker = async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    await run_job(maker, payload)
