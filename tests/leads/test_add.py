"""POST /leads/add: import hygiene and every counter of the response, against the real database."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from coldsend.leads.imports import VERIFY_TASK
from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import (
    ADD,
    add_label,
    add_lead,
    add_list,
    added,
    assert_envelope,
    block,
    bulk_add,
    count_leads,
    lead_row,
    post_json,
    queued_tasks,
)

COUNTERS = (
    "total_sent",
    "leads_uploaded",
    "in_blocklist",
    "duplicated_leads",
    "skipped_count",
    "invalid_email_count",
    "incomplete_count",
    "duplicate_email_count",
)


def counters(result: dict[str, Any]) -> dict[str, int]:
    return {k: result[k] for k in COUNTERS}


async def test_every_counter_of_a_list_import(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign = await add_campaign(session, org, "Running")
    target = await add_list(session, org, "Target")
    await add_lead(session, org, "in-campaign@acme.com", campaign_id=campaign)
    await add_lead(session, org, "already@acme.com", list_id=target)
    await block(session, org, "blocked@acme.com")
    await block(session, org, "spam.io")
    leads = [
        {"email": " New@Acme.com ", "first_name": "Nina", "last_name": "New", "phone": "+1 555"},  # 0 created
        {"email": "not-an-email"},  # 1 invalid
        {"first_name": "Only", "last_name": "Name"},  # 2 created without an address (lists allow it)
        {"company_name": "Nobody"},  # 3 incomplete: neither email nor name
        {"email": "NEW@acme.com"},  # 4 duplicate inside the payload
        {"email": "BLOCKED@acme.com"},  # 5 on the block list (address)
        {"email": "anyone@Spam.io"},  # 6 on the block list (domain)
        {"email": "Already@Acme.com"},  # 7 already in the target list
        {"email": "in-campaign@ACME.com"},  # 8 skip_if_in_campaign
        {"email": "user@example.test"},  # 9 invalid: special-use domain
        {"email": "", "first_name": "Empty"},  # 10 created: an empty address counts as none
    ]
    result = await added(tenant, leads, list_id=target, skip_if_in_campaign=True)
    assert counters(result) == {
        "total_sent": 11,
        "leads_uploaded": 3,
        "in_blocklist": 2,
        "duplicated_leads": 1,
        "skipped_count": 1,
        "invalid_email_count": 2,
        "incomplete_count": 1,
        "duplicate_email_count": 1,
    }
    assert result["status"] == "success"
    assert result["blocklist_used"] == str(org)
    assert result["remaining_in_plan"] is None
    created = result["created_leads"]
    assert [(c["index"], c["email"], c["first_name"], c["last_name"]) for c in created] == [
        (0, "new@acme.com", "Nina", "New"),
        (2, None, "Only", "Name"),
        (10, None, "Empty", None),
    ]
    assert created[0]["phone"] == "+1 555"
    row = await lead_row(session, org, created[0]["id"])
    assert row.email == "new@acme.com" and row.list_id == target and row.campaign_id is None
    assert row.company_domain == "acme.com" and row.upload_method == "api" and row.status == 1
    assert await count_leads(session, org, list_id=target) == 4


async def test_campaign_import_counts_missing_addresses_as_invalid(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    leads = [{"first_name": "No", "last_name": "Address"}, {"email": None}, {"email": "ok@acme.com"}]
    result = await added(tenant, leads, campaign_id=campaign)
    assert result["invalid_email_count"] == 2 and result["incomplete_count"] == 0
    assert result["leads_uploaded"] == 1 and result["remaining_in_plan"] is None
    assert result["created_leads"][0]["index"] == 2


async def test_skip_if_in_workspace_sees_every_container_and_leads_without_one(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign, other_campaign = await add_campaign(session, org, "A"), await add_campaign(session, org, "B")
    a_list = await add_list(session, org)
    await add_lead(session, org, "c@acme.com", campaign_id=other_campaign)
    await add_lead(session, org, "l@acme.com", list_id=a_list)
    await add_lead(session, org, "loose@acme.com")
    await add_lead(session, org, "here@acme.com", campaign_id=campaign)
    emails = ["c@acme.com", "l@acme.com", "loose@acme.com", "here@acme.com", "fresh@acme.com"]
    result = await added(tenant, [{"email": e} for e in emails], campaign_id=campaign, skip_if_in_workspace=True)
    assert (result["skipped_count"], result["duplicated_leads"], result["leads_uploaded"]) == (3, 1, 1)
    assert result["created_leads"][0]["email"] == "fresh@acme.com"


async def test_skip_if_in_campaign_and_in_list_only_look_at_their_kind(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    target = await add_campaign(session, org, "Target")
    other_campaign = await add_campaign(session, org, "Other")
    a_list = await add_list(session, org)
    await add_lead(session, org, "in-campaign@acme.com", campaign_id=other_campaign)
    await add_lead(session, org, "in-list@acme.com", list_id=a_list)
    leads = [{"email": "in-campaign@acme.com"}, {"email": "in-list@acme.com"}]

    by_campaign = await added(tenant, leads, campaign_id=target, skip_if_in_campaign=True)
    assert (by_campaign["skipped_count"], by_campaign["created_leads"][0]["email"]) == (1, "in-list@acme.com")

    second = await add_campaign(session, org, "Second")
    by_list = await added(tenant, leads, campaign_id=second, skip_if_in_list=True)
    assert (by_list["skipped_count"], by_list["created_leads"][0]["email"]) == (1, "in-campaign@acme.com")


async def test_without_flags_addresses_elsewhere_are_added_and_the_target_is_deduplicated(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign, other = await add_campaign(session, org, "A"), await add_campaign(session, org, "B")
    await add_lead(session, org, "elsewhere@acme.com", campaign_id=other)
    first = await added(tenant, [{"email": "elsewhere@acme.com"}, {"email": "x@acme.com"}], campaign_id=campaign)
    assert first["leads_uploaded"] == 2
    again = await added(tenant, [{"email": "X@ACME.COM"}, {"email": "y@acme.com"}], campaign_id=campaign)
    assert (again["duplicated_leads"], again["leads_uploaded"]) == (1, 1)
    assert await count_leads(session, org, email="elsewhere@acme.com") == 2


async def test_custom_variables_land_in_the_payload_and_the_campaign_learns_their_names(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign = await add_campaign(session, org, "Vars", custom_variables={"existing": "keep"})
    variables = {"past_customer": True, "seats": 12, "score": 4.5, "note": "hi", "nothing": None}
    result = await added(
        tenant, [{"email": "v@acme.com", "first_name": "Vic", "custom_variables": variables}], campaign_id=campaign
    )
    lead_id = result["created_leads"][0]["id"]
    assert (await lead_row(session, org, lead_id)).payload == variables
    fetched = (await tenant.get(f"/api/v2/leads/{lead_id}")).json()
    assert fetched["payload"] == {**variables, "firstName": "Vic"}
    campaign_body = (await tenant.get(f"/api/v2/campaigns/{campaign}")).json()
    assert campaign_body["custom_variables"] == {
        "existing": "keep",
        "past_customer": "",
        "seats": "",
        "score": "",
        "note": "",
        "nothing": "",
    }


@pytest.mark.parametrize("value", [{"nested": 1}, [1, 2]])
async def test_custom_variables_must_be_scalars(tenant: Tenant, value: Any) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    response = await bulk_add(
        tenant, [{"email": "a@acme.com", "custom_variables": {"bad": value}}], campaign_id=campaign
    )
    body = assert_envelope(response, 400)
    assert "custom_variables" in body["message"] and "'bad'" in body["message"]
    assert await count_leads(tenant.session, tenant.id) == 0


async def test_verify_on_import_marks_leads_pending_and_queues_one_task(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    result = await added(
        tenant, [{"email": "a@acme.com"}, {"email": "b@acme.com"}], campaign_id=campaign, verify_leads_on_import=True
    )
    ids = sorted(c["id"] for c in result["created_leads"])
    for lead_id in ids:
        assert (await lead_row(tenant.session, tenant.id, lead_id)).verification_status == 12
        assert (await tenant.get(f"/api/v2/leads/{lead_id}")).json()["verification_status"] == 12
    tasks = await queued_tasks(tenant.session, VERIFY_TASK)
    assert [sorted(t["lead_ids"]) for t in tasks if t["organization_id"] == str(tenant.id)] == [ids]
    a_list = await add_list(tenant.session, tenant.id)
    named = await added(tenant, [{"first_name": "No address"}], list_id=a_list, verify_leads_on_import=True)
    assert (await lead_row(tenant.session, tenant.id, named["created_leads"][0]["id"])).verification_status is None
    plain = await added(tenant, [{"email": "c@acme.com"}], campaign_id=campaign)
    assert "verification_status" not in (await tenant.get(f"/api/v2/leads/{plain['created_leads'][0]['id']}")).json()


async def test_verify_task_handler_leaves_leads_pending(tenant: Tenant, connection: Any) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from coldsend.leads.imports import verify_imported_leads

    campaign = await add_campaign(tenant.session, tenant.id, "C")
    result = await added(tenant, [{"email": "a@acme.com"}], campaign_id=campaign, verify_leads_on_import=True)
    (payload,) = [t for t in await queued_tasks(tenant.session, VERIFY_TASK) if t["organization_id"] == str(tenant.id)]
    maker = async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    await verify_imported_leads(payload, maker)
    lead_id = result["created_leads"][0]["id"]
    assert (await lead_row(tenant.session, tenant.id, lead_id)).verification_status == 12


async def test_owner_defaults_to_the_body_then_the_campaign_owner(tenant: Tenant) -> None:
    owner, body_owner, own = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    campaign = await add_campaign(tenant.session, tenant.id, "C", owned_by=owner)
    leads = [{"email": "a@acme.com"}, {"email": "b@acme.com", "assigned_to": str(own)}]
    result = await added(tenant, leads, campaign_id=campaign)
    rows = [await lead_row(tenant.session, tenant.id, c["id"]) for c in result["created_leads"]]
    assert [r.assigned_to for r in rows] == [owner, own]
    result = await added(tenant, [{"email": "c@acme.com"}], campaign_id=campaign, assigned_to=str(body_owner))
    assert (await lead_row(tenant.session, tenant.id, result["created_leads"][0]["id"])).assigned_to == body_owner


async def test_interest_status_built_in_or_a_label_of_the_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    session = tenant.session
    campaign = await add_campaign(session, tenant.id, "C")
    await add_label(session, tenant.id, 7)
    await add_label(session, other_tenant.id, 8)
    result = await added(
        tenant,
        [{"email": "a@acme.com", "lt_interest_status": 2}, {"email": "b@acme.com", "lt_interest_status": 7}],
        campaign_id=campaign,
    )
    rows = [await lead_row(session, tenant.id, c["id"]) for c in result["created_leads"]]
    assert [r.lt_interest_status for r in rows] == [2, 7]
    assert all(r.timestamp_last_interest_change is not None for r in rows)
    refused = await bulk_add(tenant, [{"email": "c@acme.com", "lt_interest_status": 8}], campaign_id=campaign)
    assert "8" in assert_envelope(refused, 400)["message"]


async def test_target_must_be_exactly_one_container_of_the_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    session = tenant.session
    campaign, a_list = await add_campaign(session, tenant.id, "C"), await add_list(session, tenant.id)
    theirs = await add_campaign(session, other_tenant.id, "Theirs")
    their_list = await add_list(session, other_tenant.id)
    leads = [{"email": "a@acme.com"}]
    assert_envelope(await bulk_add(tenant, leads), 400)
    assert_envelope(await bulk_add(tenant, leads, campaign_id=campaign, list_id=a_list), 400)
    assert_envelope(await bulk_add(tenant, leads, campaign_id=theirs), 404)
    assert_envelope(await bulk_add(tenant, leads, list_id=their_list), 404)
    assert_envelope(await bulk_add(tenant, leads, campaign_id=uuid.uuid4()), 404)
    assert await count_leads(session, other_tenant.id) == 0


async def test_batch_size_is_1_to_1000(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    assert "leads" in assert_envelope(await bulk_add(tenant, [], campaign_id=campaign), 400)["message"]
    many = [{"email": f"u{i}@acme.com"} for i in range(1001)]
    assert_envelope(await bulk_add(tenant, many, campaign_id=campaign), 400)
    result = await added(tenant, many[:1000], campaign_id=campaign)
    assert result["leads_uploaded"] == 1000
    assert [c["index"] for c in result["created_leads"]] == list(range(1000))


@pytest.mark.parametrize("bad", ["a\x00b", "a\udb6fb"], ids=["nul", "lone-surrogate"])
async def test_text_postgresql_cannot_store_is_a_400(tenant: Tenant, bad: str) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    for lead in (
        {"email": "a@acme.com", "first_name": bad},
        {"email": "a@acme.com", "custom_variables": {"k": bad}},
        {"email": "a@acme.com", "custom_variables": {bad: 1}},
    ):
        body = {"campaign_id": str(campaign), "leads": [lead]}
        assert_envelope(await post_json(tenant, ADD, body), 400)
    address = await post_json(tenant, ADD, {"campaign_id": str(campaign), "leads": [{"email": f"{bad}@acme.com"}]})
    if bad == "a\x00b":
        assert address.status_code == 200 and address.json()["invalid_email_count"] == 1
    else:  # a lone surrogate is no Unicode text: the body is refused as invalid JSON
        assert_envelope(address, 400)
    single = await post_json(tenant, "/api/v2/leads", {"email": "b@acme.com", "first_name": bad})
    assert_envelope(single, 400)
    assert await count_leads(tenant.session, tenant.id) == 0


async def test_other_workspaces_never_count(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    their_campaign = await add_campaign(tenant.session, other_tenant.id, "Theirs")
    await add_lead(tenant.session, other_tenant.id, "shared@acme.com", campaign_id=their_campaign)
    await block(tenant.session, other_tenant.id, "acme.com")
    result = await added(tenant, [{"email": "shared@acme.com"}], campaign_id=campaign, skip_if_in_workspace=True)
    assert (result["leads_uploaded"], result["skipped_count"], result["in_blocklist"]) == (1, 0, 0)


async def test_body_fields_are_typed(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    assert_envelope(await bulk_add(tenant, [{"email": 5}], campaign_id=campaign), 400)
    assert_envelope(await bulk_add(tenant, [{"email": "a@acme.com", "assigned_to": "x"}], campaign_id=campaign), 400)
    assert_envelope(await bulk_add(tenant, [{"email": "a@acme.com"}], campaign_id="not-a-uuid"), 400)
    assert_envelope(await bulk_add(tenant, ["a@acme.com"], campaign_id=campaign), 400)
    unknown = await added(tenant, [{"email": "a@acme.com", "unknown": 1}], campaign_id=campaign, extra=True)
    assert unknown["leads_uploaded"] == 1
