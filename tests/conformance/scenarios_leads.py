"""Scenarios for the lead operations (create, add, get, patch, delete, bulk delete, merge, interest
status, bulk assign); lead search and moves have their own module."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import add_campaign, expect, scenario
from tests.conftest import Tenant
from tests.leads.helpers import add_lead, add_list, block

LEADS = "/api/v2/leads"


async def _lead(tenant: Tenant, **body: object) -> dict[str, object]:
    payload = {"email": f"{uuid.uuid4().hex[:8]}@acme.com", "first_name": "Ada", **body}
    return dict(expect(await tenant.post(LEADS, json=payload), 200, "createLead"))


@scenario("createLead")
async def _create_lead(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "Leads")
    full = await _lead(
        tenant,
        campaign=str(campaign),
        last_name="Lovelace",
        company_name="Engines Ltd",
        job_title="Analyst",
        phone="+44 1",
        website="https://engines.example.com",
        personalization="Hello",
        lt_interest_status=1,
        pl_value_lead="High",
        assigned_to=str(uuid.uuid4()),
        custom_variables={"seats": 3, "vip": True, "note": None},
        verify_leads_on_import=True,
    )
    assert full["campaign"] == str(campaign) and full["verification_status"] == 12
    await _lead(tenant, list_id=str(await add_list(session, tenant.id)))
    await _lead(tenant)
    expect(await tenant.post(LEADS, json={"campaign": str(campaign), "email": "not-an-address"}), 400, "createLead")
    expect(await tenant.post(LEADS, json={"campaign": str(campaign), "first_name": "No address"}), 400, "createLead")
    theirs = await add_campaign(session, other.id, "Theirs")
    expect(await tenant.post(LEADS, json={"campaign": str(theirs), "email": "a@acme.com"}), 404, "createLead")


@scenario("bulkAddLeads")
async def _bulk_add_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "Bulk")
    a_list = await add_list(session, tenant.id)
    await add_lead(session, tenant.id, "here@acme.com", campaign_id=campaign)
    await add_lead(session, tenant.id, "listed@acme.com", list_id=a_list)
    await block(session, tenant.id, "blocked.io")
    leads = [
        {"email": "one@acme.com", "first_name": "One", "last_name": "L", "phone": "1", "custom_variables": {"k": 1}},
        {"email": "ONE@acme.com"},
        {"email": "bad"},
        {"email": "x@blocked.io"},
        {"email": "here@acme.com"},
        {"email": "listed@acme.com"},
    ]
    body = {"campaign_id": str(campaign), "leads": leads, "skip_if_in_list": True, "verify_leads_on_import": True}
    result = expect(await tenant.post(f"{LEADS}/add", json=body), 200, "bulkAddLeads")
    assert result["leads_uploaded"] == 1 and result["skipped_count"] == 1 and result["in_blocklist"] == 1
    in_list = expect(
        await tenant.post(f"{LEADS}/add", json={"list_id": str(a_list), "leads": [{"last_name": "Only"}, {}]}),
        200,
        "bulkAddLeads",
    )
    assert in_list["created_leads"][0]["email"] is None and in_list["incomplete_count"] == 1
    expect(await tenant.post(f"{LEADS}/add", json={"leads": [{"email": "a@acme.com"}]}), 400, "bulkAddLeads")
    expect(await tenant.post(f"{LEADS}/add", json={"campaign_id": str(campaign), "leads": []}), 400, "bulkAddLeads")
    theirs = await add_campaign(session, other.id, "Theirs")
    expect(
        await tenant.post(f"{LEADS}/add", json={"campaign_id": str(theirs), "leads": [{"email": "a@acme.com"}]}),
        404,
        "bulkAddLeads",
    )


@scenario("getLead")
async def _get_lead(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead = await _lead(tenant, lt_interest_status=-4)
    assert expect(await tenant.get(f"{LEADS}/{lead['id']}"), 200, "getLead") == lead
    stored = await add_lead(
        session,
        tenant.id,
        "stats@acme.com",
        status=-2,
        email_open_count=2,
        esp_code=2,
        esg_code=0,
        enrichment_status=-1,
        verification_status=1,
        subsequence_id=uuid.uuid4(),
        status_summary={
            "lastStep": {
                "from": "campaign",
                "stepID": str(uuid.uuid4()),
                "timestamp_executed": "2026-01-02T03:04:05.006Z",
            },
            "domain_complete": True,
        },
        status_summary_subseq={"from": "subsequence", "stepID": "s", "timestampExecuted": "2026-01-02T03:04:05.006Z"},
    )
    expect(await tenant.get(f"{LEADS}/{stored}"), 200, "getLead")
    expect(await other.get(f"{LEADS}/{lead['id']}"), 404, "getLead")
    expect(await tenant.get(f"{LEADS}/not-a-uuid"), 404, "getLead")


@scenario("patchLead")
async def _patch_lead(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead = await _lead(tenant, custom_variables={"a": 1})
    patched = expect(
        await tenant.patch(
            f"{LEADS}/{lead['id']}",
            json={"first_name": "Grace", "phone": None, "lt_interest_status": 3, "custom_variables": {"b": "x"}},
        ),
        200,
        "patchLead",
    )
    assert patched["first_name"] == "Grace" and patched["payload"]["a"] == 1 and patched["payload"]["b"] == "x"
    expect(await tenant.patch(f"{LEADS}/{lead['id']}", json={"custom_variables": {"x": {}}}), 400, "patchLead")
    expect(await other.patch(f"{LEADS}/{lead['id']}", json={"first_name": "Mine"}), 404, "patchLead")


@scenario("deleteLead")
async def _delete_lead(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead = await _lead(tenant)
    expect(await other.delete(f"{LEADS}/{lead['id']}"), 404, "deleteLead")
    assert expect(await tenant.delete(f"{LEADS}/{lead['id']}"), 200, "deleteLead") == lead
    expect(await tenant.delete(f"{LEADS}/{lead['id']}"), 404, "deleteLead")


@scenario("bulkDeleteLeads")
async def _bulk_delete_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "Delete")
    for i in range(3):
        await add_lead(session, tenant.id, f"d{i}@acme.com", campaign_id=campaign, status=3 if i else 1)
    body = {"campaign_id": str(campaign), "status": 3, "limit": 1}
    assert expect(await tenant.request("DELETE", LEADS, json=body), 200, "bulkDeleteLeads") == {"count": 1}
    rest = expect(await tenant.request("DELETE", LEADS, json={"campaign_id": str(campaign)}), 200, "bulkDeleteLeads")
    assert rest == {"count": 2}
    expect(await tenant.request("DELETE", LEADS, json={}), 400, "bulkDeleteLeads")
    theirs = await add_campaign(session, other.id, "Theirs")
    expect(await tenant.request("DELETE", LEADS, json={"campaign_id": str(theirs)}), 404, "bulkDeleteLeads")


@scenario("mergeLeads")
async def _merge_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    source, destination = await _lead(tenant, phone="+1"), await _lead(tenant)
    body = {"lead_id": source["id"], "destination_lead_id": destination["id"]}
    merged = expect(await tenant.post(f"{LEADS}/merge", json=body), 200, "mergeLeads")
    assert merged["id"] == destination["id"] and merged["phone"] == "+1"
    expect(await tenant.post(f"{LEADS}/merge", json=body), 404, "mergeLeads")
    theirs = await _lead(other)
    body = {"lead_id": theirs["id"], "destination_lead_id": destination["id"]}
    expect(await tenant.post(f"{LEADS}/merge", json=body), 404, "mergeLeads")
    expect(await tenant.post(f"{LEADS}/merge", json={"lead_id": destination["id"]}), 400, "mergeLeads")


@scenario("updateLeadInterestStatus")
async def _update_interest_status(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    lead = await _lead(tenant)
    url = f"{LEADS}/update-interest-status"
    accepted = expect(
        await tenant.post(url, json={"lead_email": lead["email"], "interest_value": 2}), 202, "updateLeadInterestStatus"
    )
    assert accepted["message"]
    expect(
        await tenant.post(url, json={"lead_email": lead["email"], "interest_value": None}),
        202,
        "updateLeadInterestStatus",
    )
    expect(await tenant.post(url, json={"lead_email": "bad", "interest_value": 1}), 400, "updateLeadInterestStatus")
    expect(
        await tenant.post(url, json={"lead_email": lead["email"], "interest_value": 999}),
        400,
        "updateLeadInterestStatus",
    )
    expect(
        await other.post(url, json={"lead_email": lead["email"], "interest_value": 1}), 404, "updateLeadInterestStatus"
    )


@scenario("bulkAssignLeads")
async def _bulk_assign_leads(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    url = f"{LEADS}/bulk-assign"
    body = {"organization_user_ids": [str(uuid.uuid4())], "filter": "FILTER_VAL_NOT_CONTACTED", "limit": 10}
    accepted = expect(await tenant.post(url, json=body), 202, "bulkAssignLeads")
    assert accepted["status"] == "accepted"
    expect(await tenant.post(url, json={"organization_user_ids": []}), 400, "bulkAssignLeads")
    theirs = await add_campaign(session, other.id, "Theirs")
    expect(await tenant.post(url, json={**body, "campaign": str(theirs)}), 404, "bulkAssignLeads")
