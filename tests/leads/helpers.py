"""Rows and calls shared by the lead tests (lists, block-list entries and labels are inserted directly:
their own endpoints belong to other domains)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.block_list.models import BlockListEntry
from coldsend.kit.clock import utcnow
from coldsend.lead_labels.models import LeadLabel
from coldsend.lead_lists.models import LeadList
from coldsend.leads.models import Lead
from tests.conftest import Tenant
from tests.envelope import assert_envelope  # noqa: F401

LEADS = "/api/v2/leads"
ADD = "/api/v2/leads/add"


async def add_list(session: AsyncSession, organization_id: uuid.UUID, name: str = "List") -> uuid.UUID:
    statement = insert(LeadList).values(organization_id=organization_id, name=name).returning(LeadList.id)
    return (await session.execute(statement)).scalar_one()


async def block(session: AsyncSession, organization_id: uuid.UUID, value: str) -> None:
    value = value.lower()
    await session.execute(
        insert(BlockListEntry).values(organization_id=organization_id, bl_value=value, is_domain="@" not in value)
    )


async def add_label(
    session: AsyncSession, organization_id: uuid.UUID, interest_status: int, sentiment: str = "positive"
) -> None:
    label = f"Label {interest_status}"
    await session.execute(
        insert(LeadLabel).values(
            organization_id=organization_id,
            label=label,
            label_key=label.lower(),
            interest_status_label=sentiment,
            interest_status=interest_status,
        )
    )


async def add_lead(
    session: AsyncSession,
    organization_id: uuid.UUID,
    email: str | None,
    *,
    campaign_id: uuid.UUID | None = None,
    list_id: uuid.UUID | None = None,
    **values: Any,
) -> uuid.UUID:
    """A lead row written directly (for states the API cannot produce, e.g. counters)."""
    now = utcnow()
    statement = (
        insert(Lead)
        .values(
            organization_id=organization_id,
            email=email,
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


async def lead_row(session: AsyncSession, organization_id: uuid.UUID, lead_id: str | uuid.UUID) -> Any:
    table = Lead.__table__
    statement = select(table).where(table.c.organization_id == organization_id, table.c.id == uuid.UUID(str(lead_id)))
    return (await session.execute(statement)).first()


async def count_leads(session: AsyncSession, organization_id: uuid.UUID, **where: Any) -> int:
    clauses = " ".join(f"AND {k} = :{k}" for k in where)
    statement = text(f"SELECT count(*) FROM leads WHERE organization_id = :org {clauses}")
    return int((await session.execute(statement, {"org": organization_id, **where})).scalar_one())


async def bulk_add(tenant: Tenant, leads: list[dict[str, Any]], **body: Any) -> httpx.Response:
    return await tenant.post(
        ADD, json={"leads": leads, **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in body.items()}}
    )


async def added(tenant: Tenant, leads: list[dict[str, Any]], **body: Any) -> dict[str, Any]:
    response = await bulk_add(tenant, leads, **body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def create(tenant: Tenant, **body: Any) -> dict[str, Any]:
    payload = {k: str(v) if isinstance(v, uuid.UUID) else v for k, v in body.items()}
    response = await tenant.post(LEADS, json=payload)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def post_json(tenant: Tenant, url: str, body: Any) -> httpx.Response:
    """POST a body httpx would refuse to encode (lone surrogates are valid JSON escapes, not UTF-8)."""
    content = json.dumps(body)  # ensure_ascii: surrogates travel as \\uXXXX escapes
    return await tenant.post(url, content=content, headers={"Content-Type": "application/json"})


async def queued_tasks(session: AsyncSession, name: str) -> list[dict[str, Any]]:
    """Payloads of the internal tasks `name` waiting in the queue."""
    import orjson

    statement = text("SELECT payload FROM pgqueuer WHERE entrypoint = :e ORDER BY id")
    rows = (await session.execute(statement, {"e": f"coldsend.task.{name}"})).all()
    return [orjson.loads(bytes(r[0])) for r in rows]
