"""A page deep in a large Unibox costs what the first page costs: every list shape is an index range
scan from the cursor (no sort of the workspace's emails, no OFFSET). Measured with PostgreSQL's own
buffer counts on 30,000 emails, so the check does not depend on the machine's speed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.emails.repository import Anchor, EmailRepository
from coldsend.emails.service import ListQuery, build_filter
from coldsend.kit.ids import new_id
from tests.conftest import Tenant
from tests.emails.helpers import BASE_TIME

N = 30_000

SHAPES: dict[str, dict[str, Any]] = {
    "newest-first": {},
    "oldest-first": {"sort_order": "asc"},
    "campaign": {"campaign_id": "CAMPAIGN"},
    "campaign-replies": {"campaign_id": "CAMPAIGN", "email_type": "received"},
    "received": {"email_type": "received"},
    "unread": {"is_unread": True},
    "lead": {"lead": "lead7@client.example.com"},
    "account": {"eaccount": "s3@acme.example.com"},
    "domain": {"company_domain": "client.example.com"},
    "latest-of-thread": {"latest_of_thread": True},
    "window": {"min_timestamp_created": "2026-03-02T09:00:00Z", "max_timestamp_created": "2026-04-02T00:00:00Z"},
    "preview": {"preview_only": True},
}


async def explain(session: AsyncSession, statement: Any) -> dict[str, Any]:
    conn = await session.connection()
    compiled = statement.compile(dialect=conn.dialect)
    params = tuple(compiled.params[name] for name in compiled.positiontup)
    raw = (await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {compiled}", params)).scalar_one()
    plan: dict[str, Any] = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    return plan


def node_types(plan: dict[str, Any]) -> set[str]:
    return {plan["Node Type"]} | {t for child in plan.get("Plans", []) for t in node_types(child)}


def buffers(plan: dict[str, Any]) -> int:
    return int(plan["Shared Hit Blocks"]) + int(plan["Shared Read Blocks"])


@pytest.fixture
async def big_unibox(tenant: Tenant, session: AsyncSession) -> uuid.UUID:
    campaign = new_id()
    await session.execute(
        text(
            """
            INSERT INTO emails (organization_id, id, timestamp_created, timestamp_email, message_id, subject,
                                to_address_email_list, eaccount, lead, ue_type, is_unread, campaign_id, thread_id,
                                body_text, body_html, content_preview)
            SELECT :org, gen_random_uuid(), CAST(:base AS timestamptz) + g * interval '1 minute',
                   CAST(:base AS timestamptz) + g * interval '1 minute',
                   '<m' || g || '@acme.example.com>', 'Subject ' || g, 'lead' || (g % 50) || '@client.example.com',
                   's' || (g % 5) || '@acme.example.com', 'lead' || (g % 50) || '@client.example.com',
                   CASE WHEN g % 10 = 0 THEN 2 ELSE 1 END, CASE WHEN g % 20 = 0 THEN 1 ELSE 0 END,
                   CASE WHEN g % 3 = 0 THEN CAST(:campaign AS uuid) END, md5('t' || (g / 3))::uuid,
                   repeat('Body text ', 40), repeat('<p>Body</p>', 40), 'Body text'
            FROM generate_series(1, :n) AS g
            """
        ),
        {"org": tenant.id, "base": BASE_TIME, "campaign": campaign, "n": N},
    )
    await session.execute(text("ANALYZE emails"))
    return campaign


@pytest.mark.parametrize("shape", list(SHAPES))
async def test_a_deep_page_costs_what_the_first_costs(
    shape: str, tenant: Tenant, session: AsyncSession, big_unibox: uuid.UUID
) -> None:
    params: dict[str, Any] = {k: (str(big_unibox) if v == "CAMPAIGN" else v) for k, v in SHAPES[shape].items()}
    if "campaign_id" in params:
        params["campaign_id"] = uuid.UUID(params["campaign_id"])
    query = ListQuery(**params)
    where = build_filter(query)
    descending = query.sort_order != "asc"
    repo = EmailRepository(session, tenant.id)

    async def page(anchor: Anchor | None) -> dict[str, Any]:
        statement = repo.list_statement(where, anchor, 100, descending=descending, preview_only=query.preview_only)
        return await explain(session, statement)

    everything = await repo.list_page(where, None, N, descending=descending, preview_only=True)
    assert len(everything) > 300, f"{shape}: too few matches to measure ({len(everything)})"
    deep_row = everything[-150]  # a cursor with only one page and a half left behind it
    first = await page(None)
    deep = await page(Anchor(deep_row.timestamp_created, deep_row.id))
    assert first["Actual Rows"] == deep["Actual Rows"] == 101
    assert "Sort" not in node_types(first) | node_types(deep), f"{shape}: a sort means a scan of every match"
    assert buffers(deep) <= 2 * buffers(first) + 20, f"{shape}: first page {buffers(first)}, deep {buffers(deep)}"
