"""Rows and calls shared by the lead search and move tests. Leads, lists and labels are inserted with
SQLAlchemy Core (their own endpoints belong to other domains)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_id
from coldsend.kit.jobs import ENTRYPOINT, run_job
from coldsend.leads.models import Lead
from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import add_label, add_list, lead_row

__all__ = ["LIST", "MOVE", "add_campaign", "add_label", "add_lead", "add_list", "lead_row", "list_leads", "move"]

LIST = "/api/v2/leads/list"
MOVE = "/api/v2/leads/move"
BY_CONTACT = "/api/v2/campaigns/search-by-contact"
LEADS_TABLE = Lead.__table__


async def add_lead(
    session: AsyncSession,
    organization_id: uuid.UUID,
    email: str | None,
    *,
    campaign_id: uuid.UUID | None = None,
    list_id: uuid.UUID | None = None,
    **values: Any,
) -> uuid.UUID:
    """A lead row (any state, counters and timestamps included); ids are UUIDv7, so in creation order."""
    now = utcnow()
    statement = (
        insert(Lead)
        .values(
            organization_id=organization_id,
            id=new_id(),
            email=email.lower() if email else email,
            campaign_id=campaign_id,
            list_id=list_id,
            company_domain=(email or "").rpartition("@")[2],
            timestamp_created=now,
            timestamp_updated=now,
            **values,
        )
        .returning(Lead.id)
    )
    return (await session.execute(statement)).scalar_one()


async def leads_of(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    campaign_id: uuid.UUID | None = None,
    list_id: uuid.UUID | None = None,
) -> list[Any]:
    c = LEADS_TABLE.c
    statement = select(LEADS_TABLE).where(c.organization_id == organization_id)
    statement = statement.where(c.campaign_id == campaign_id if campaign_id else c.list_id == list_id)
    return list((await session.execute(statement.order_by(c.id))).all())


async def list_leads(tenant: Tenant, **body: Any) -> httpx.Response:
    return await tenant.post(LIST, json=body)


async def list_ok(tenant: Tenant, **body: Any) -> dict[str, Any]:
    response = await list_leads(tenant, **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def emails(tenant: Tenant, **body: Any) -> list[str]:
    """Every email the filters select, following the cursor to the end."""
    seen: list[str] = []
    cursor = None
    while True:
        page = await list_ok(tenant, **body, **({"starting_after": cursor} if cursor else {}))
        seen.extend(item["email"] for item in page["items"])
        cursor = page.get("next_starting_after")
        if not cursor:
            return seen


async def move(tenant: Tenant, **body: Any) -> httpx.Response:
    return await tenant.post(MOVE, json=body)


async def queued_payload(session: AsyncSession, job_id: str) -> bytes:
    statement = text("SELECT payload FROM pgqueuer WHERE entrypoint = :e AND convert_from(payload, 'UTF8') LIKE :p")
    rows = (await session.execute(statement, {"e": ENTRYPOINT, "p": f"%{job_id}%"})).all()
    assert len(rows) == 1, f"job {job_id} is queued {len(rows)} times"
    return bytes(rows[0][0])


def job_maker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions of the job on the test's connection (its transactions become savepoints)."""
    return async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


async def run_move(tenant: Tenant, connection: AsyncConnection, **body: Any) -> dict[str, Any]:
    """Queue a move through the API, run the job for real, and return the finished job."""
    response = await move(tenant, **body)
    assert response.status_code == 200, response.text
    job_id = response.json()["id"]
    await run_job(job_maker(connection), await queued_payload(tenant.session, job_id))
    done = await tenant.get(f"/api/v2/background-jobs/{job_id}")
    assert done.status_code == 200, done.text
    result: dict[str, Any] = done.json()
    return result
