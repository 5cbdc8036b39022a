"""Scenarios for lead lists."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import expect, scenario
from tests.conftest import Tenant
from tests.lead_lists.helpers import add_lead

LISTS = "/api/v2/lead-lists"


async def new_list(tenant: Tenant, name: str, **fields: Any) -> dict[str, Any]:
    return expect(await tenant.post(LISTS, json={"name": name, **fields}), 200, "createLeadList")


@scenario("createLeadList")
async def _create_lead_list(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    plain = await new_list(tenant, "Prospects")
    assert plain["organization_id"] == str(tenant.id) and plain["owned_by"] is not None
    owner = str(uuid.uuid4())
    full = await new_list(tenant, "Enriched", has_enrichment_task=True, owned_by=owner)
    assert full["owned_by"] == owner and full["has_enrichment_task"] is True
    await new_list(tenant, "Unowned", owned_by=None, has_enrichment_task=None)
    expect(await tenant.post(LISTS, json={}), 400, "createLeadList")
    expect(await tenant.post(LISTS, json={"name": "  "}), 400, "createLeadList")
    expect(await tenant.post(LISTS, json={"name": "x", "owned_by": "me"}), 400, "createLeadList")


@scenario("listLeadList")
async def _list_lead_list(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(LISTS), 200, "listLeadList")["items"] == []
    lists = [await new_list(tenant, f"List {i}", has_enrichment_task=i == 1) for i in range(3)]
    await new_list(other, "List of another workspace")
    first = expect(await tenant.get(LISTS, params={"limit": 2}), 200, "listLeadList")
    rest = expect(
        await tenant.get(LISTS, params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listLeadList",
    )
    assert [x["id"] for x in first["items"] + rest["items"]] == [x["id"] for x in lists]
    found = expect(await tenant.get(LISTS, params={"search": "list 2"}), 200, "listLeadList")
    assert [x["id"] for x in found["items"]] == [lists[2]["id"]]
    enriched = expect(await tenant.get(LISTS, params={"has_enrichment_task": "true"}), 200, "listLeadList")
    assert [x["id"] for x in enriched["items"]] == [lists[1]["id"]]
    expect(await tenant.get(LISTS, params={"starting_after": "2025-03-07T00:00:00.000Z"}), 200, "listLeadList")
    expect(await tenant.get(LISTS, params={"starting_after": "last tuesday"}), 400, "listLeadList")


@scenario("getLeadList")
async def _get_lead_list(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead_list = await new_list(tenant, "Fetched")
    assert expect(await tenant.get(f"{LISTS}/{lead_list['id']}"), 200, "getLeadList") == lead_list
    expect(await tenant.get(f"{LISTS}/{uuid.uuid4()}"), 404, "getLeadList")
    expect(await other.get(f"{LISTS}/{lead_list['id']}"), 404, "getLeadList")


@scenario("patchLeadList")
async def _patch_lead_list(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead_list = await new_list(tenant, "Before")
    url = f"{LISTS}/{lead_list['id']}"
    assert expect(await tenant.patch(url, json={"name": "After"}), 200, "patchLeadList")["name"] == "After"
    expect(await tenant.patch(url, json={"has_enrichment_task": True, "owned_by": None}), 200, "patchLeadList")
    expect(await tenant.patch(url, json={}), 400, "patchLeadList")
    expect(await tenant.patch(url, json={"name": None}), 400, "patchLeadList")
    expect(await other.patch(url, json={"name": "Stolen"}), 404, "patchLeadList")


@scenario("deleteLeadList")
async def _delete_lead_list(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead_list = await new_list(tenant, "Doomed")
    await add_lead(session, tenant.id, list_id=uuid.UUID(lead_list["id"]))
    url = f"{LISTS}/{lead_list['id']}"
    expect(await other.delete(url), 404, "deleteLeadList")
    assert expect(await tenant.delete(url), 200, "deleteLeadList") == lead_list
    expect(await tenant.delete(url), 404, "deleteLeadList")


@scenario("getVerificationStats")
async def _get_verification_stats(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead_list = await new_list(tenant, "Verified")
    url = f"{LISTS}/{lead_list['id']}/verification-stats"
    empty = expect(await tenant.get(url), 200, "getVerificationStats")
    assert empty["total_leads"] == 0 and set(empty["stats"].values()) == {0}
    list_id = uuid.UUID(lead_list["id"])
    for status in (1, 1, -1, -2, -3, -4, 11, 12, None):
        await add_lead(session, tenant.id, list_id=list_id, verification_status=status)
    body = expect(await tenant.get(url), 200, "getVerificationStats")
    assert body["total_leads"] == 9
    assert body["stats"]["verified"] == 2 and body["stats"]["verification_job_pending_user"] == 2
    expect(await other.get(url), 404, "getVerificationStats")
