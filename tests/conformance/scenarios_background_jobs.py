"""Scenarios for background jobs."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tests.background_jobs.test_endpoints import add_job
from tests.conformance._scenario_kit import expect, scenario
from tests.conftest import Tenant


@scenario("getBackgroundJob")
async def _get_background_job(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    job_id = await add_job(tenant, status="success", progress=100,
                           data={"moved_lead_emails": ["a@example.com"], "success_count": 1})
    body = expect(await tenant.get(f"/api/v2/background-jobs/{job_id}"), 200, "getBackgroundJob")
    assert body["data"]["moved_lead_emails"] == ["a@example.com"]
    expect(await tenant.get(f"/api/v2/background-jobs/{job_id}", params={"data_fields": "success_count"}),
           200, "getBackgroundJob")
    expect(await other.get(f"/api/v2/background-jobs/{job_id}"), 404, "getBackgroundJob")


@scenario("listBackgroundJob")
async def _list_background_job(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    for status in ("pending", "in-progress", "success", "failed"):
        await add_job(tenant, status=status)
    await add_job(tenant, type="move-leads", entity_type="campaign", entity_id=None, user_id=None)
    page = expect(await tenant.get("/api/v2/background-jobs", params={"limit": 3}), 200, "listBackgroundJob")
    assert len(page["items"]) == 3
    expect(await tenant.get("/api/v2/background-jobs", params={"status": "failed"}), 200, "listBackgroundJob")
    assert expect(await other.get("/api/v2/background-jobs"), 200, "listBackgroundJob")["items"] == []
