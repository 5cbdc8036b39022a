"""Races only committed transactions show: the same leads imported by parallel requests."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from tests.conftest import CommittedWorkspace


async def _campaign(workspace: CommittedWorkspace, name: str) -> uuid.UUID:
    async with workspace.engine.begin() as conn:
        return (
            await conn.execute(
                text(
                    "INSERT INTO campaigns (organization_id, id, name, status, timestamp_created, timestamp_updated) "
                    "VALUES (:o, gen_random_uuid(), :n, 0, now(), now()) RETURNING id"
                ),
                {"o": workspace.id, "n": name},
            )
        ).scalar_one()


async def _count(workspace: CommittedWorkspace, email: str | None = None) -> int:
    async with workspace.engine.connect() as conn:
        sql = "SELECT count(*) FROM leads WHERE organization_id = :o" + (" AND email = :e" if email else "")
        return int((await conn.execute(text(sql), {"o": workspace.id, "e": email})).scalar_one())


async def test_one_lead_imported_by_parallel_requests_is_stored_once(committed_workspace: CommittedWorkspace) -> None:
    campaign = await _campaign(committed_workspace, "race")
    client = committed_workspace.client
    body = {"campaign_id": str(campaign), "leads": [{"email": "race@acme.com"}, {"email": "other@acme.com"}]}
    responses = await asyncio.gather(*(client.post("/api/v2/leads/add", json=body) for _ in range(4)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    results = [r.json() for r in responses]
    assert sum(r["leads_uploaded"] for r in results) == 2
    assert sum(r["duplicated_leads"] for r in results) == 6
    assert await _count(committed_workspace, "race@acme.com") == 1
    singles = await asyncio.gather(
        *(client.post("/api/v2/leads", json={"campaign": str(campaign), "email": "Solo@acme.com"}) for _ in range(4))
    )
    assert all(r.status_code == 200 for r in singles), [r.text for r in singles]
    assert len({r.json()["id"] for r in singles}) == 1
    assert await _count(committed_workspace, "solo@acme.com") == 1


async def test_overlapping_batches_in_opposite_orders_never_deadlock(committed_workspace: CommittedWorkspace) -> None:
    campaign = await _campaign(committed_workspace, "order")
    client = committed_workspace.client
    leads = [{"email": f"p{i:04d}@acme.com"} for i in range(1000)]
    bodies = [leads, leads[::-1], leads[500:] + leads[:500], leads[::2] + leads[1::2]] * 2
    responses = await asyncio.gather(
        *(client.post("/api/v2/leads/add", json={"campaign_id": str(campaign), "leads": b}) for b in bodies)
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sum(r.json()["leads_uploaded"] for r in responses) == 1000
    assert await _count(committed_workspace) == 1000


async def test_skip_if_in_workspace_holds_across_parallel_imports_into_different_campaigns(
    committed_workspace: CommittedWorkspace,
) -> None:
    campaigns = [await _campaign(committed_workspace, f"c{i}") for i in range(4)]
    client = committed_workspace.client
    leads = [{"email": f"person{i}@acme.com"} for i in range(50)]
    responses = await asyncio.gather(
        *(
            client.post("/api/v2/leads/add", json={"campaign_id": str(c), "leads": leads, "skip_if_in_workspace": True})
            for c in campaigns
        )
    )
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert sorted(r.json()["leads_uploaded"] for r in responses) == [0, 0, 0, 50]
    assert await _count(committed_workspace) == 50
