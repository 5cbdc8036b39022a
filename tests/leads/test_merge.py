"""POST /leads/merge: what the destination keeps and takes, and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import add_lead, assert_envelope, lead_row

MERGE = "/api/v2/leads/merge"
EARLY = datetime(2026, 1, 1, tzinfo=UTC)
LATE = datetime(2026, 6, 1, tzinfo=UTC)


async def test_merge_fills_sums_and_keeps_the_latest(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign = await add_campaign(session, org, "C")
    owner = uuid.uuid4()
    source = await add_lead(
        session,
        org,
        "old@acme.com",
        first_name="Old",
        phone="+1",
        company_name="Acme",
        assigned_to=owner,
        lt_interest_status=1,
        email_open_count=2,
        email_reply_count=1,
        email_click_count=0,
        timestamp_last_open=LATE,
        timestamp_last_reply=EARLY,
        payload={"a": "source", "s": 1},
    )
    destination = await add_lead(
        session,
        org,
        "new@acme.com",
        campaign_id=campaign,
        first_name="New",
        status=2,
        email_open_count=1,
        email_reply_count=0,
        email_click_count=4,
        timestamp_last_open=EARLY,
        timestamp_last_reply=LATE,
        payload={"a": "destination", "d": 2},
    )
    response = await tenant.post(MERGE, json={"lead_id": str(source), "destination_lead_id": str(destination)})
    assert response.status_code == 200, response.text
    merged = response.json()
    assert merged["id"] == str(destination) and merged["email"] == "new@acme.com"
    assert merged["campaign"] == str(campaign) and merged["status"] == 2
    assert merged["first_name"] == "New" and merged["phone"] == "+1" and merged["company_name"] == "Acme"
    assert merged["assigned_to"] == str(owner) and merged["lt_interest_status"] == 1
    assert (merged["email_open_count"], merged["email_reply_count"], merged["email_click_count"]) == (3, 1, 4)
    assert merged["timestamp_last_open"] == "2026-06-01T00:00:00.000Z"
    assert merged["timestamp_last_reply"] == "2026-06-01T00:00:00.000Z"
    assert {k: merged["payload"][k] for k in ("a", "s", "d")} == {"a": "destination", "s": 1, "d": 2}
    assert await lead_row(session, org, source) is None


async def test_merge_refusals_and_tenancy(tenant: Tenant, other_tenant: Tenant) -> None:
    session = tenant.session
    mine = await add_lead(session, tenant.id, "mine@acme.com")
    other_mine = await add_lead(session, tenant.id, "mine2@acme.com")
    theirs = await add_lead(session, other_tenant.id, "theirs@acme.com")
    assert_envelope(await tenant.post(MERGE, json={"lead_id": str(mine), "destination_lead_id": str(mine)}), 400)
    assert_envelope(await tenant.post(MERGE, json={"lead_id": str(theirs), "destination_lead_id": str(mine)}), 404)
    assert_envelope(await tenant.post(MERGE, json={"lead_id": str(mine), "destination_lead_id": str(theirs)}), 404)
    assert_envelope(await tenant.post(MERGE, json={"lead_id": str(mine)}), 400)
    assert await lead_row(session, tenant.id, mine) is not None
    assert await lead_row(session, other_tenant.id, theirs) is not None
    ok = await tenant.post(MERGE, json={"lead_id": str(mine), "destination_lead_id": str(other_mine)})
    assert ok.status_code == 200 and ok.json()["payload"] is None
