"""GET, PATCH and DELETE of one lead, and tenancy."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import LEADS, add_label, add_lead, assert_envelope, count_leads, create, lead_row


async def test_get_every_stored_field(tenant: Tenant) -> None:
    when = datetime(2026, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)
    lead_id = await add_lead(
        tenant.session,
        tenant.id,
        "full@acme.com",
        status=-1,
        email_open_count=3,
        email_reply_count=1,
        email_click_count=2,
        verification_status=-2,
        esp_code=1,
        esg_code=2,
        enrichment_status=1,
        timestamp_last_contact=when,
        timestamp_last_open=when,
        status_summary={"lastStep": {"from": "campaign", "stepID": "s1", "timestamp_executed": "x"}},
    )
    lead = (await tenant.get(f"{LEADS}/{lead_id}")).json()
    assert lead["status"] == -1 and lead["verification_status"] == -2
    assert (lead["esp_code"], lead["esg_code"], lead["enrichment_status"]) == (1, 2, 1)
    assert lead["timestamp_last_contact"] == "2026-05-01T12:30:15.123Z"
    assert (lead["email_open_count"], lead["email_reply_count"], lead["email_click_count"]) == (3, 1, 2)
    assert lead["status_summary"]["lastStep"]["from"] == "campaign"


@pytest.mark.parametrize("path_id", ["not-a-uuid", "random-uuid"])
async def test_unknown_ids_are_404(tenant: Tenant, path_id: str) -> None:
    path_id = str(uuid.uuid4()) if path_id == "random-uuid" else path_id
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"first_name": "x"}} if method == "PATCH" else {}
        assert_envelope(await tenant.request(method, f"{LEADS}/{path_id}", **kwargs), 404)


async def test_another_workspaces_lead_is_404_everywhere(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await add_lead(tenant.session, other_tenant.id, "theirs@acme.com", first_name="Theirs")
    assert_envelope(await tenant.get(f"{LEADS}/{theirs}"), 404)
    assert_envelope(await tenant.patch(f"{LEADS}/{theirs}", json={"first_name": "Mine"}), 404)
    assert_envelope(await tenant.delete(f"{LEADS}/{theirs}"), 404)
    row = await lead_row(tenant.session, other_tenant.id, theirs)
    assert row is not None and row.first_name == "Theirs"


async def test_patch_sets_clears_and_merges_variables(tenant: Tenant) -> None:
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    lead = await create(
        tenant, campaign=campaign, email="p@acme.com", first_name="Pat", phone="1", custom_variables={"a": 1, "b": 2}
    )
    response = await tenant.patch(
        f"{LEADS}/{lead['id']}",
        json={"first_name": "Patricia", "phone": None, "custom_variables": {"b": "two", "c": True}, "email": "x@y.z"},
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["first_name"] == "Patricia" and patched["phone"] is None
    assert patched["email"] == "p@acme.com"  # not a patchable field
    assert patched["payload"] == {"a": 1, "b": "two", "c": True, "firstName": "Patricia"}
    assert patched["timestamp_updated"] >= lead["timestamp_updated"]
    campaign_vars = (await tenant.get(f"/api/v2/campaigns/{campaign}")).json()["custom_variables"]
    assert set(campaign_vars) == {"a", "b", "c"}


async def test_patch_interest_status_moves_its_timestamp_only_on_change(tenant: Tenant) -> None:
    lead = await create(tenant, email="i@acme.com")
    assert "lt_interest_status" not in lead and lead["timestamp_last_interest_change"] is None
    first = (await tenant.patch(f"{LEADS}/{lead['id']}", json={"lt_interest_status": 2})).json()
    assert first["lt_interest_status"] == 2 and first["timestamp_last_interest_change"] is not None
    same = (await tenant.patch(f"{LEADS}/{lead['id']}", json={"lt_interest_status": 2, "phone": "1"})).json()
    assert same["timestamp_last_interest_change"] == first["timestamp_last_interest_change"]
    reset = (await tenant.patch(f"{LEADS}/{lead['id']}", json={"lt_interest_status": None})).json()
    assert "lt_interest_status" not in reset
    assert_envelope(await tenant.patch(f"{LEADS}/{lead['id']}", json={"lt_interest_status": 55}), 400)
    await add_label(tenant.session, tenant.id, 55)
    assert (await tenant.patch(f"{LEADS}/{lead['id']}", json={"lt_interest_status": 55})).json()[
        "lt_interest_status"
    ] == 55


async def test_patch_refusals_and_empty_body(tenant: Tenant) -> None:
    lead = await create(tenant, email="r@acme.com")
    assert_envelope(await tenant.patch(f"{LEADS}/{lead['id']}", json={"custom_variables": {"x": [1]}}), 400)
    assert_envelope(await tenant.patch(f"{LEADS}/{lead['id']}", json={"assigned_to": "nope"}), 400)
    assert_envelope(await tenant.patch(f"{LEADS}/{lead['id']}", json={"first_name": "a\x00"}), 400)
    unchanged = await tenant.patch(f"{LEADS}/{lead['id']}", json={})
    assert unchanged.status_code == 200 and unchanged.json() == lead
    no_body = await tenant.patch(f"{LEADS}/{lead['id']}")
    assert no_body.status_code == 200 and no_body.json() == lead


async def test_delete_returns_the_deleted_lead(tenant: Tenant) -> None:
    lead = await create(tenant, email="d@acme.com")
    response = await tenant.delete(f"{LEADS}/{lead['id']}", headers={"Content-Type": "application/json"})
    assert response.status_code == 200 and response.json() == lead
    assert_envelope(await tenant.get(f"{LEADS}/{lead['id']}"), 404)
    assert await count_leads(tenant.session, tenant.id) == 0
