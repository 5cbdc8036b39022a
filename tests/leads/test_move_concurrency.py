"""`move-leads` jobs for real: committed rows, the real JobRunner, and two jobs racing over the same leads."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from coldsend.background_jobs.models import BackgroundJob
from coldsend.campaigns.models import Campaign
from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_id
from coldsend.kit.jobs import JobRunner
from coldsend.lead_lists.models import LeadList
from coldsend.leads import move as move_module
from coldsend.leads.models import Lead
from tests.conftest import CommittedWorkspace

pytestmark = pytest.mark.asyncio
LEADS = Lead.__table__


async def _setup(workspace: CommittedWorkspace, count: int) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A list of `count` leads and two empty campaigns, committed."""
    async with workspace.sessionmaker()() as s, s.begin():
        source = (
            await s.execute(insert(LeadList).values(organization_id=workspace.id, name="Source").returning(LeadList.id))
        ).scalar_one()
        a, b = [
            (
                await s.execute(insert(Campaign).values(organization_id=workspace.id, name=name).returning(Campaign.id))
            ).scalar_one()
            for name in ("A", "B")
        ]
        now = utcnow()
        await s.execute(
            insert(Lead),
            [
                {
                    "organization_id": workspace.id,
                    "id": new_id(),
                    "list_id": source,
                    "email": f"l{i:04d}@example.com",
                    "company_domain": "example.com",
                    "timestamp_created": now,
                    "timestamp_updated": now,
                }
                for i in range(count)
            ],
        )
    return source, a, b


async def _finish(workspace: CommittedWorkspace, job_ids: list[str], within: float = 60) -> list[Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        async with workspace.sessionmaker()() as s:
            rows = (await s.execute(select(BackgroundJob).where(BackgroundJob.id.in_(job_ids)))).scalars().all()
        if len(rows) == len(job_ids) and all(r.status in ("success", "failed") for r in rows):
            return sorted(rows, key=lambda r: job_ids.index(r.id))
        await asyncio.sleep(0.05)
    raise AssertionError(f"jobs did not finish: {[(r.id, r.status, r.progress) for r in rows]}")


async def _count(workspace: CommittedWorkspace, **where: uuid.UUID) -> int:
    c = LEADS.c
    async with workspace.sessionmaker()() as s:
        statement = select(func.count()).select_from(LEADS).where(c.organization_id == workspace.id)
        for name, value in where.items():
            statement = statement.where(c[name] == value)
        return int((await s.execute(statement)).scalar_one())


async def test_two_jobs_moving_the_same_leads_move_each_lead_once(
    committed_workspace: CommittedWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(move_module, "BATCH_SIZE", 40)
    source, a, b = await _setup(committed_workspace, 300)
    client = committed_workspace.client
    jobs = [
        (await client.post("/api/v2/leads/move", json={"list_id": str(source), "to_campaign_id": str(target)})).json()
        for target in (a, b)
    ]
    runner = JobRunner(committed_workspace.engine, concurrency=4)
    await runner.start()
    try:
        done = await _finish(committed_workspace, [j["id"] for j in jobs])
    finally:
        await runner.stop()
    assert [r.status for r in done] == ["success", "success"], [r.error for r in done]
    moved = [r.data["moved_leads"] for r in done]
    assert sum(moved) == 300
    assert await _count(committed_workspace, campaign_id=a) + await _count(committed_workspace, campaign_id=b) == 300
    assert await _count(committed_workspace, list_id=source) == 0
    assert await _count(committed_workspace, campaign_id=a) == moved[0]


async def test_two_jobs_copying_into_one_campaign_copy_each_address_once(
    committed_workspace: CommittedWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(move_module, "BATCH_SIZE", 40)
    source, a, _ = await _setup(committed_workspace, 300)
    client = committed_workspace.client
    body = {"list_id": str(source), "to_campaign_id": str(a), "copy_leads": True}
    jobs = [(await client.post("/api/v2/leads/move", json=body)).json() for _ in range(2)]
    runner = JobRunner(committed_workspace.engine, concurrency=4)
    await runner.start()
    try:
        done = await _finish(committed_workspace, [j["id"] for j in jobs])
    finally:
        await runner.stop()
    assert [r.status for r in done] == ["success", "success"], [r.error for r in done]
    assert sum(r.data["moved_leads"] for r in done) == 300
    assert sum(r.data["duplicate_count"] for r in done) == 300
    assert await _count(committed_workspace, campaign_id=a) == 300
    assert await _count(committed_workspace, list_id=source) == 300
    polled = (await client.get(f"/api/v2/background-jobs/{jobs[0]['id']}")).json()
    assert polled["status"] == "success" and polled["progress"] == 100
