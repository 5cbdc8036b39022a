"""Background jobs over HTTP: list filters, keyset pages, `data_fields`, tenancy."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from coldsend.background_jobs.models import BackgroundJob
from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_job_id
from tests.conftest import Tenant
from tests.custom_tags.test_endpoints import assert_envelope

JOBS = "/api/v2/background-jobs"


async def add_job(tenant: Tenant, **values: Any) -> str:
    """Insert a job row as the job framework would have left it."""
    job_id = values.pop("id", None) or new_job_id()
    row = {
        "organization_id": tenant.id,
        "id": job_id,
        "type": "update-warmup-accounts",
        "entity_type": "workspace",
        "entity_id": tenant.id,
        "status": "pending",
        "progress": 0,
        "data": {},
        **values,
    }
    await tenant.session.execute(insert(BackgroundJob).values(**row))
    return job_id


async def test_get_returns_the_reference_shape(tenant: Tenant) -> None:
    job_id = await add_job(tenant, status="success", progress=100, data={"success_count": 3, "failed_count": 1})
    body = (await tenant.get(f"{JOBS}/{job_id}")).json()
    assert body["id"] == job_id and len(job_id) == 24
    assert body["workspace_id"] == str(tenant.id)
    assert body["type"] == "update-warmup-accounts"
    assert body["entity_type"] == "workspace" and body["entity_id"] == str(tenant.id)
    assert body["status"] == "success" and body["progress"] == 100
    assert body["data"] == {"success_count": 3, "failed_count": 1}
    assert body["created_at"].endswith("Z")


async def test_data_fields_projects_the_data_object(tenant: Tenant) -> None:
    job_id = await add_job(tenant, data={"success_count": 3, "failed_count": 1, "moved_lead_emails": ["a@x.com"]})
    body = (await tenant.get(f"{JOBS}/{job_id}", params={"data_fields": "success_count,moved_lead_emails"})).json()
    assert body["data"] == {"success_count": 3, "moved_lead_emails": ["a@x.com"]}
    body = (await tenant.get(f"{JOBS}/{job_id}", params={"data_fields": "nothing"})).json()
    assert body["data"] == {}


@pytest.mark.parametrize("job_id", ["0123456789abcdef01234567", "not-hex", "ZZZZZZZZZZZZZZZZZZZZZZZZ", "123"])
async def test_unknown_or_malformed_ids_are_404(tenant: Tenant, job_id: str) -> None:
    assert_envelope(await tenant.get(f"{JOBS}/{job_id}"), 404)


async def test_other_workspaces_jobs_are_invisible(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await add_job(other_tenant)
    assert_envelope(await tenant.get(f"{JOBS}/{theirs}"), 404)
    assert (await tenant.get(JOBS)).json()["items"] == []
    assert (await tenant.get(JOBS, params={"ids": theirs})).json()["items"] == []
    assert (await other_tenant.get(f"{JOBS}/{theirs}")).status_code == 200


async def test_list_newest_first_by_default_and_pages_without_gaps(tenant: Tenant) -> None:
    base = utcnow()
    ids = [await add_job(tenant, created_at=base + timedelta(seconds=i), updated_at=base) for i in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 3, **({"starting_after": cursor} if cursor else {})}
        body = (await tenant.get(JOBS, params=params)).json()
        seen += [j["id"] for j in body["items"]]
        cursor = body.get("next_starting_after")
        if not cursor:
            break
    assert seen == list(reversed(ids))
    ascending = (await tenant.get(JOBS, params={"sort_order": "asc", "limit": 100})).json()["items"]
    assert [j["id"] for j in ascending] == ids


async def test_sort_by_updated_at(tenant: Tenant) -> None:
    base = utcnow()
    a = await add_job(tenant, created_at=base, updated_at=base + timedelta(minutes=5))
    b = await add_job(tenant, created_at=base + timedelta(seconds=1), updated_at=base + timedelta(minutes=1))
    c = await add_job(tenant, created_at=base + timedelta(seconds=2), updated_at=base + timedelta(minutes=3))
    items = (await tenant.get(JOBS, params={"sort_column": "updated_at", "sort_order": "asc"})).json()["items"]
    assert [j["id"] for j in items] == [b, c, a]
    first = (await tenant.get(JOBS, params={"sort_column": "updated_at", "limit": 2})).json()
    assert [j["id"] for j in first["items"]] == [a, c]
    rest = (await tenant.get(JOBS, params={"sort_column": "updated_at", "limit": 2,
                                           "starting_after": first["next_starting_after"]})).json()
    assert [j["id"] for j in rest["items"]] == [b]


async def test_filters(tenant: Tenant) -> None:
    campaign = uuid.uuid4()
    a = await add_job(tenant, type="move-leads", entity_type="campaign", entity_id=campaign, status="success")
    b = await add_job(tenant, type="update-warmup-accounts", status="failed")
    c = await add_job(tenant, type="update-warmup-accounts", status="in-progress")

    async def ids(**params: Any) -> set[str]:
        response = await tenant.get(JOBS, params=params)
        assert response.status_code == 200, response.text
        return {j["id"] for j in response.json()["items"]}

    assert await ids(type="move-leads") == {a}
    assert await ids(entity_type="campaign") == {a}
    assert await ids(entity_id=str(campaign)) == {a}
    assert await ids(status="failed,in-progress") == {b, c}
    assert await ids(ids=f"{a},{c}") == {a, c}
    assert await ids(included_ids=b) == {b}
    assert await ids(excluded_ids=f"{a},{b}") == {c}
    assert await ids(ids=f"{a},{b}", excluded_ids=b) == {a}


@pytest.mark.parametrize(
    "params",
    [{"type": "nope"}, {"entity_type": "galaxy"}, {"status": "success,exploded"}, {"entity_id": "x"},
     {"sort_column": "name"}, {"sort_order": "up"}, {"limit": 0}, {"starting_after": "ffffffffffffffffffffffff"}],
)
async def test_invalid_filters_are_400(tenant: Tenant, params: dict[str, Any]) -> None:
    assert_envelope(await tenant.get(JOBS, params=params), 400)


async def test_scope_required(tenant: Tenant) -> None:
    job_id = await add_job(tenant)
    key = await tenant.key_with("background-jobs:read")
    assert (await tenant.client.get(f"{JOBS}/{job_id}", headers={"Authorization": f"Bearer {key}"})).status_code == 200
    key = await tenant.key_with("accounts:read")
    assert_envelope(await tenant.client.get(JOBS, headers={"Authorization": f"Bearer {key}"}), 403)
