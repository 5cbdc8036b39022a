"""DELETE /leads: one container, optional status / ids / limit, body with or without a content type."""

from __future__ import annotations

import uuid

import orjson
import pytest

from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import LEADS, add_lead, add_list, assert_envelope, count_leads


async def _delete(tenant: Tenant, body: dict[str, object], content_type: str | None = "application/json") -> int:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await tenant.request("DELETE", LEADS, content=orjson.dumps(body), headers=headers)
    assert response.status_code == 200, response.text
    count: int = response.json()["count"]
    return count


@pytest.mark.parametrize("content_type", ["application/json", None, "text/plain"])
async def test_deletes_a_campaigns_leads_whatever_the_content_type(tenant: Tenant, content_type: str | None) -> None:
    campaign, other = (
        await add_campaign(tenant.session, tenant.id, "C"),
        await add_campaign(tenant.session, tenant.id, "O"),
    )
    for i in range(3):
        await add_lead(tenant.session, tenant.id, f"c{i}@acme.com", campaign_id=campaign)
    await add_lead(tenant.session, tenant.id, "keep@acme.com", campaign_id=other)
    assert await _delete(tenant, {"campaign_id": str(campaign)}, content_type) == 3
    assert await count_leads(tenant.session, tenant.id) == 1


async def test_status_ids_and_limit_narrow_the_deletion(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    a_list = await add_list(session, org)
    other_list = await add_list(session, org, "Other")
    ids = [await add_lead(session, org, f"l{i}@acme.com", list_id=a_list, status=3 if i % 2 else 1) for i in range(6)]
    outside = await add_lead(session, org, "outside@acme.com", list_id=other_list)
    assert await _delete(tenant, {"list_id": str(a_list), "status": 3, "limit": 2}) == 2
    assert await count_leads(session, org, list_id=a_list, status=3) == 1
    remaining_completed = ids[5]
    assert await _delete(tenant, {"list_id": str(a_list), "ids": [str(ids[0]), str(outside)]}) == 1
    assert await count_leads(session, org, list_id=other_list) == 1
    assert await _delete(tenant, {"list_id": str(a_list), "limit": 1}) == 1
    assert await count_leads(session, org, list_id=a_list) == 2  # oldest first: ids[2] went
    assert await count_leads(session, org, id=remaining_completed) == 1


async def test_refusals_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    session = tenant.session
    campaign, a_list = await add_campaign(session, tenant.id, "C"), await add_list(session, tenant.id)
    theirs = await add_campaign(session, other_tenant.id, "Theirs")
    await add_lead(session, other_tenant.id, "theirs@acme.com", campaign_id=theirs)
    assert_envelope(await tenant.request("DELETE", LEADS), 400)
    assert_envelope(await tenant.request("DELETE", LEADS, json={}), 400)
    assert_envelope(
        await tenant.request("DELETE", LEADS, json={"campaign_id": str(campaign), "list_id": str(a_list)}), 400
    )
    assert_envelope(await tenant.request("DELETE", LEADS, json={"campaign_id": str(theirs)}), 404)
    assert_envelope(await tenant.request("DELETE", LEADS, json={"list_id": str(uuid.uuid4())}), 404)
    for bad in (
        {"campaign_id": str(campaign), "limit": 0},
        {"campaign_id": str(campaign), "limit": 10001},
        {"campaign_id": str(campaign), "status": 7},
        {"campaign_id": "x"},
    ):
        assert_envelope(await tenant.request("DELETE", LEADS, json=bad), 400)
    assert await count_leads(session, other_tenant.id) == 1
