"""POST /leads/update-interest-status: 202, scope of the change, and the reference's 400 body."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import Tenant
from tests.factories import add_campaign
from tests.leads.helpers import add_label, add_lead, add_list, assert_envelope, lead_row

URL = "/api/v2/leads/update-interest-status"


def assert_interest_error(response: httpx.Response) -> dict[str, Any]:
    """The reference's `{"error": reason}` inside the envelope."""
    assert response.status_code == 400, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == 400
    assert body["error"] == body["message"] and body["error"] != "Bad Request"
    return body


async def test_sets_every_lead_with_the_address_or_only_in_the_container(tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    campaign, a_list = await add_campaign(session, org, "C"), await add_list(session, org)
    in_campaign = await add_lead(session, org, "x@acme.com", campaign_id=campaign)
    in_list = await add_lead(session, org, "x@acme.com", list_id=a_list)
    other = await add_lead(session, org, "y@acme.com", campaign_id=campaign)

    response = await tenant.post(
        URL, json={"lead_email": "X@Acme.com", "interest_value": 1, "campaign_id": str(campaign)}
    )
    assert response.status_code == 202 and response.json() == {
        "message": "Lead interest status update background job submitted"
    }
    rows = {i: await lead_row(session, org, i) for i in (in_campaign, in_list, other)}
    assert rows[in_campaign].lt_interest_status == 1 and rows[in_campaign].timestamp_last_interest_change
    assert rows[in_list].lt_interest_status is None and rows[other].lt_interest_status is None

    assert (await tenant.post(URL, json={"lead_email": "x@acme.com", "interest_value": -3})).status_code == 202
    assert {(await lead_row(session, org, i)).lt_interest_status for i in (in_campaign, in_list)} == {-3}
    assert (
        await tenant.post(URL, json={"lead_email": "x@acme.com", "interest_value": None, "list_id": str(a_list)})
    ).status_code == 202
    assert (await lead_row(session, org, in_list)).lt_interest_status is None
    assert (await lead_row(session, org, in_campaign)).lt_interest_status == -3


async def test_custom_labels_and_refusals(tenant: Tenant, other_tenant: Tenant) -> None:
    session, org = tenant.session, tenant.id
    lead = await add_lead(session, org, "z@acme.com")
    await add_label(session, org, 12, "negative")
    await add_label(session, other_tenant.id, 13)
    assert (await tenant.post(URL, json={"lead_email": "z@acme.com", "interest_value": 12})).status_code == 202
    assert (await lead_row(session, org, lead)).lt_interest_status == 12
    assert (
        "13"
        in assert_interest_error(await tenant.post(URL, json={"lead_email": "z@acme.com", "interest_value": 13}))[
            "error"
        ]
    )
    assert (
        assert_interest_error(await tenant.post(URL, json={"lead_email": "nope", "interest_value": 1}))["error"]
        == "Invalid lead email"
    )
    assert "interest_value" in assert_interest_error(await tenant.post(URL, json={"lead_email": "z@acme.com"}))["error"]
    assert_interest_error(await tenant.post(URL, json={"lead_email": "z@acme.com", "interest_value": "high"}))
    # not found: no such lead, another workspace's lead, another workspace's campaign
    their_campaign = await add_campaign(session, other_tenant.id, "Theirs")
    await add_lead(session, other_tenant.id, "theirs@acme.com", campaign_id=their_campaign)
    assert_envelope(await tenant.post(URL, json={"lead_email": "theirs@acme.com", "interest_value": 1}), 404)
    assert_envelope(
        await tenant.post(
            URL, json={"lead_email": "z@acme.com", "interest_value": 1, "campaign_id": str(their_campaign)}
        ),
        404,
    )
    assert_envelope(
        await tenant.post(URL, json={"lead_email": "z@acme.com", "interest_value": 1, "list_id": "not-a-uuid"}), 404
    )
    assert_envelope(
        await tenant.post(
            URL, json={"lead_email": "z@acme.com", "interest_value": 1, "campaign_id": str(uuid.uuid4())}
        ),
        404,
    )
