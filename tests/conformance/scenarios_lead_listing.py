"""Scenarios for lead search and moves: `listLeads`, `moveLeads`, `searchByContact`, each called for real
and validated against the reference's schema for its status."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import add_campaign, expect, scenario
from tests.conformance.scenarios_campaigns import ALWAYS_OPEN
from tests.conftest import Tenant
from tests.leads._listing_helpers import BY_CONTACT, LIST, MOVE, add_lead, add_list


@scenario("listLeads")
async def _list_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    lst = await add_list(session, tenant.id, "L")
    await add_lead(
        session,
        tenant.id,
        "ada@example.com",
        campaign_id=campaign,
        first_name="Ada",
        last_name="Lovelace",
        email_open_count=2,
        lt_interest_status=1,
        verification_status=1,
        payload={"team": "math"},
    )
    await add_lead(session, tenant.id, "ada@example.com", list_id=lst, status=-2)
    await add_lead(session, tenant.id, None, list_id=lst, first_name="No", last_name="Email")
    await add_lead(session, tenant.id, "bob@example.com", esp_code=1, esg_code=2, is_website_visitor=True)
    await add_lead(session, other.id, "ada@example.com", first_name="Theirs")

    first = expect(await tenant.post(LIST, json={"limit": 2}), 200, "listLeads")
    assert len(first["items"]) == 2 and first["next_starting_after"] == first["items"][1]["id"]
    rest = expect(
        await tenant.post(LIST, json={"limit": 2, "starting_after": first["next_starting_after"]}), 200, "listLeads"
    )
    assert len(rest["items"]) == 2 and "next_starting_after" not in rest
    found = expect(await tenant.post(LIST, json={"search": "ada love", "campaign": str(campaign)}), 200, "listLeads")
    assert [i["first_name"] for i in found["items"]] == ["Ada"]
    contacts = expect(await tenant.post(LIST, json={"distinct_contacts": True, "limit": 1}), 200, "listLeads")
    assert contacts["next_starting_after"] == "ada@example.com"
    last = expect(
        await tenant.post(LIST, json={"distinct_contacts": True, "starting_after": "ada@example.com"}), 200, "listLeads"
    )
    assert [i["email"] for i in last["items"]] == ["bob@example.com"]
    filtered = expect(
        await tenant.post(
            LIST,
            json={
                "filter": "FILTER_VAL_UNSUBSCRIBED",
                "in_list": True,
                "queries": [{"actionType": "email-open", "values": {"occurrence-days": 1}}],
            },
        ),
        200,
        "listLeads",
    )
    assert filtered["items"] == []
    expect(await tenant.post(LIST, json={"limit": 0}), 400, "listLeads")
    expect(await tenant.post(LIST, json={"starting_after": "nope"}), 400, "listLeads")
    expect(await tenant.post(LIST, json={"filter": "FILTER_NOPE"}), 400, "listLeads")
    expect(await tenant.post(LIST, json={"campaign": str(uuid.uuid4())}), 404, "listLeads")
    expect(await other.post(LIST, json={"list_id": str(lst)}), 404, "listLeads")


@scenario("moveLeads")
async def _move_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    source = await add_list(session, tenant.id, "Source")
    target = await add_campaign(session, tenant.id, "Target")
    await add_lead(session, tenant.id, "mover@example.com", list_id=source)
    job = expect(
        await tenant.post(
            MOVE, json={"list_id": str(source), "to_campaign_id": str(target), "copy_leads": True, "limit": 10}
        ),
        200,
        "moveLeads",
    )
    assert job["type"] == "move-leads" and job["status"] == "pending" and job["entity_type"] == "campaign"
    polled = expect(await tenant.get(f"/api/v2/background-jobs/{job['id']}"), 200, "getBackgroundJob")
    assert polled["id"] == job["id"]
    expect(await tenant.post(MOVE, json={"list_id": str(source)}), 400, "moveLeads")
    expect(await tenant.post(MOVE, json={"ids": [str(uuid.uuid4())], "to_list_id": str(source)}), 400, "moveLeads")
    expect(await other.post(MOVE, json={"list_id": str(source), "to_list_id": str(source)}), 404, "moveLeads")
    expect(await tenant.post(MOVE, json={"to_campaign_id": str(uuid.uuid4())}), 404, "moveLeads")


@scenario("searchByContact")
async def _search_by_contact(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    # campaigns made through the API (the reference's Campaign needs a schedule)
    created = expect(
        await tenant.post("/api/v2/campaigns", json={"name": "Has Pat", "campaign_schedule": ALWAYS_OPEN}),
        200,
        "createCampaign",
    )
    await add_campaign(session, tenant.id, "Without")
    await add_lead(session, tenant.id, "pat@example.com", campaign_id=uuid.UUID(created["id"]))
    body = expect(await tenant.get(BY_CONTACT, params={"search": "pat@example.com"}), 200, "searchByContact")
    assert [c["name"] for c in body["items"]] == ["Has Pat"]
    sorted_ = expect(
        await tenant.get(BY_CONTACT, params={"search": "pat@example.com", "sort_column": "name", "sort_order": "desc"}),
        200,
        "searchByContact",
    )
    assert len(sorted_["items"]) == 1
    assert expect(await other.get(BY_CONTACT, params={"search": "pat@example.com"}), 200, "searchByContact") == {
        "items": []
    }
    expect(await tenant.get(BY_CONTACT), 400, "searchByContact")
