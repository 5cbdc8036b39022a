"""POST /leads/bulk-assign: 202 at once, then the internal task shares the selection out in turn."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from coldsend.leads.service import ASSIGN_TASK, run_bulk_assign
from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import add_label, add_lead, add_list, assert_envelope, lead_row, queued_tasks

URL = "/api/v2/leads/bulk-assign"


async def _run_queued(tenant: Tenant, connection: AsyncConnection) -> None:
    maker = async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    for payload in await queued_tasks(tenant.session, ASSIGN_TASK):
        if payload["organization_id"] == str(tenant.id):
            await run_bulk_assign(payload, maker)


async def _accepted(tenant: Tenant, body: dict[str, Any]) -> None:
    response = await tenant.post(URL, json=body)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "accepted", "message": "Your request will be processed in a background job"}


async def test_leads_of_a_campaign_are_shared_out_in_turn(
    tenant: Tenant, other_tenant: Tenant, connection: AsyncConnection
) -> None:
    session, org = tenant.session, tenant.id
    campaign = await add_campaign(session, org, "C")
    leads = [await add_lead(session, org, f"a{i}@acme.com", campaign_id=campaign) for i in range(5)]
    outside = await add_lead(session, org, "outside@acme.com")
    theirs = await add_lead(session, other_tenant.id, "theirs@acme.com")
    users = [uuid.uuid4(), uuid.uuid4()]
    await _accepted(tenant, {"organization_user_ids": [str(u) for u in users], "campaign": str(campaign)})
    await _run_queued(tenant, connection)
    assert [(await lead_row(session, org, i)).assigned_to for i in leads] == [users[i % 2] for i in range(5)]
    assert (await lead_row(session, org, outside)).assigned_to is None
    assert (await lead_row(session, other_tenant.id, theirs)).assigned_to is None


async def test_filters_search_ids_and_limit(tenant: Tenant, connection: AsyncConnection) -> None:
    session, org = tenant.session, tenant.id
    a_list = await add_list(session, org)
    await add_label(session, org, 9, "positive")
    interested = await add_lead(session, org, "int@acme.com", list_id=a_list, lt_interest_status=1)
    labelled = await add_lead(session, org, "lab@acme.com", list_id=a_list, lt_interest_status=9)
    replied = await add_lead(session, org, "rep@acme.com", list_id=a_list, email_reply_count=2, first_name="Zed")
    plain = await add_lead(session, org, "plain@acme.com", list_id=a_list)
    user = uuid.uuid4()

    await _accepted(tenant, {"organization_user_ids": [str(user)], "filter": "FILTER_LEAD_INTERESTED"})
    await _accepted(tenant, {"organization_user_ids": [str(user)], "filter": "FILTER_LEAD_CUSTOM_LABEL_POSITIVE"})
    await _accepted(tenant, {"organization_user_ids": [str(user)], "search": "ZED", "in_list": True})
    await _run_queued(tenant, connection)
    assert {i: (await lead_row(session, org, i)).assigned_to for i in (interested, labelled, replied, plain)} == {
        interested: user,
        labelled: user,
        replied: user,
        plain: None,
    }


async def test_limit_and_ids(tenant: Tenant, connection: AsyncConnection) -> None:
    session, org = tenant.session, tenant.id
    leads = [await add_lead(session, org, f"l{i}@acme.com") for i in range(4)]
    user = uuid.uuid4()
    await _accepted(tenant, {"organization_user_ids": [str(user)], "ids": [str(i) for i in leads[1:]], "limit": 2})
    await _run_queued(tenant, connection)
    assert [(await lead_row(session, org, i)).assigned_to for i in leads] == [None, user, user, None]


async def test_refusals(tenant: Tenant, other_tenant: Tenant) -> None:
    user = str(uuid.uuid4())
    their_campaign = await add_campaign(tenant.session, other_tenant.id, "Theirs")
    assert_envelope(await tenant.post(URL, json={}), 400)
    assert_envelope(await tenant.post(URL, json={"organization_user_ids": []}), 400)
    assert_envelope(await tenant.post(URL, json={"organization_user_ids": ["x"]}), 400)
    assert_envelope(await tenant.post(URL, json={"organization_user_ids": [user], "filter": "FILTER_NOPE"}), 400)
    assert_envelope(
        await tenant.post(URL, json={"organization_user_ids": [user], "campaign": str(their_campaign)}), 404
    )
    assert_envelope(await tenant.post(URL, json={"organization_user_ids": [user], "smart_view_id": user}), 404)
    queries = [{"actionType": "reply", "values": {"occurrence-days": 3}}]
    assert_envelope(await tenant.post(URL, json={"organization_user_ids": [user], "queries": queries}), 400)
    assert await queued_tasks(tenant.session, ASSIGN_TASK) == []
