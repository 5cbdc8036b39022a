"""POST /leads: one lead through the import rules; what it answers when nothing is created."""

from __future__ import annotations

import uuid

from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import LEADS, add_label, add_lead, add_list, assert_envelope, block, count_leads, create


async def test_create_in_a_campaign_returns_the_lead_in_wire_shape(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    owner = uuid.uuid4()
    lead = await create(
        tenant,
        campaign=campaign,
        email="  Jane.Doe@Example.COM ",
        first_name="Jane",
        last_name="Doe",
        company_name="Example Inc.",
        job_title="CTO",
        phone="+1234",
        website="https://example.com",
        personalization="Hi",
        pl_value_lead="High",
        assigned_to=owner,
        lt_interest_status=1,
        custom_variables={"tier": "gold"},
    )
    assert lead["email"] == "jane.doe@example.com"
    assert lead["campaign"] == str(campaign) and lead["list_id"] is None
    assert lead["organization"] == str(tenant.id)
    assert lead["status"] == 1 and lead["upload_method"] == "api"
    assert lead["company_domain"] == "example.com"
    assert lead["assigned_to"] == str(owner) and lead["lt_interest_status"] == 1
    assert lead["timestamp_last_interest_change"] is not None
    assert lead["email_open_count"] == lead["email_reply_count"] == lead["email_click_count"] == 0
    assert lead["status_summary"] == {}
    assert lead["payload"] == {
        "tier": "gold",
        "firstName": "Jane",
        "lastName": "Doe",
        "companyName": "Example Inc.",
        "jobTitle": "CTO",
        "website": "https://example.com",
        "phone": "+1234",
        "personalization": "Hi",
    }
    assert lead["timestamp_created"].endswith("Z") and lead["timestamp_created"] == lead["timestamp_updated"]
    assert "verification_status" not in lead and "esp_code" not in lead
    assert (await tenant.get(f"{LEADS}/{lead['id']}")).json() == lead


async def test_create_in_a_list_or_in_no_container(tenant: Tenant) -> None:
    a_list = await add_list(tenant.session, tenant.id)
    in_list = await create(tenant, list_id=a_list, first_name="Nameonly")
    assert in_list["list_id"] == str(a_list) and in_list["email"] is None and in_list["company_domain"] == ""
    loose = await create(tenant, email="loose@acme.com")
    assert loose["campaign"] is None and loose["list_id"] is None


async def test_existing_lead_is_returned_instead_of_a_second_one(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    first = await create(tenant, campaign=campaign, email="a@acme.com", first_name="First")
    again = await create(tenant, campaign=campaign, email="A@ACME.COM", first_name="Second")
    assert again == first
    assert await count_leads(tenant.session, tenant.id) == 1


async def test_skip_flags_return_the_lead_that_matched(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign, other = await add_campaign(session, org, "C"), await add_campaign(session, org, "Other")
    a_list = await add_list(session, org)
    in_other = await add_lead(session, org, "x@acme.com", campaign_id=other)
    in_list = await add_lead(session, org, "y@acme.com", list_id=a_list)
    skipped = await create(tenant, campaign=campaign, email="x@acme.com", skip_if_in_workspace=True)
    assert skipped["id"] == str(in_other)
    skipped = await create(tenant, campaign=campaign, email="y@acme.com", skip_if_in_list=True)
    assert skipped["id"] == str(in_list)
    created = await create(tenant, campaign=campaign, email="y@acme.com", skip_if_in_campaign=True)
    assert created["campaign"] == str(campaign) and created["id"] != str(in_list)


async def test_refusals(tenant: Tenant, other_tenant: Tenant) -> None:
    session = tenant.session
    campaign, a_list = await add_campaign(session, tenant.id, "C"), await add_list(session, tenant.id)
    await block(session, tenant.id, "blocked.com")
    cases = [
        ({"campaign": str(campaign), "first_name": "No email"}, 400),
        ({"campaign": str(campaign), "email": "nope"}, 400),
        ({"list_id": str(a_list), "company_name": "No name"}, 400),
        ({}, 400),
        ({"campaign": str(campaign), "list_id": str(a_list), "email": "a@acme.com"}, 400),
        ({"campaign": str(campaign), "email": "a@blocked.com"}, 400),
        ({"campaign": str(campaign), "email": "a@acme.com", "lt_interest_status": 99}, 400),
        ({"campaign": str(campaign), "email": "a@acme.com", "custom_variables": {"x": {"y": 1}}}, 400),
        ({"campaign": str(await add_campaign(session, other_tenant.id, "Theirs")), "email": "a@acme.com"}, 404),
        ({"list_id": str(uuid.uuid4()), "email": "a@acme.com"}, 404),
    ]
    for body, status in cases:
        assert_envelope(await tenant.post(LEADS, json=body), status)
    assert await count_leads(session, tenant.id) == 0
    await add_label(session, tenant.id, 99)
    assert (await create(tenant, campaign=campaign, email="a@acme.com", lt_interest_status=99))[
        "lt_interest_status"
    ] == 99


async def test_verify_on_create(tenant: Tenant) -> None:
    lead = await create(tenant, email="v@acme.com", verify_leads_on_import=True)
    assert lead["verification_status"] == 12
