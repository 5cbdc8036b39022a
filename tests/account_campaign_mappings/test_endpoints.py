"""GET /api/v2/account-campaign-mappings/{email}: the campaigns that send from an account."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest

from tests.campaigns.helpers import CAMPAIGNS, create, envelope
from tests.conftest import Tenant
from tests.factories import add_account

URL = "/api/v2/account-campaign-mappings"


async def new_tag(tenant: Tenant, label: str) -> str:
    response = await tenant.post("/api/v2/custom-tags", json={"label": label})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def toggle(tenant: Tenant, tag_id: str, resource_type: int, resource: str, assign: bool = True) -> None:
    sent = {"tag_ids": [tag_id], "resource_type": resource_type, "resource_ids": [resource], "assign": assign}
    assert (await tenant.post("/api/v2/custom-tags/toggle-resource", json=sent)).status_code == 200


async def mapped(tenant: Tenant, email: str, **params: Any) -> dict[str, Any]:
    response = await tenant.get(f"{URL}/{email}", params=params)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_campaigns_naming_the_account_in_email_list(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "seller@acme.com")
    await add_account(tenant.session, tenant.id, "other@acme.com")
    uses = await create(tenant, "Uses it", email_list=["seller@acme.com", "other@acme.com"])
    await create(tenant, "Does not", email_list=["other@acme.com"])
    await create(tenant, "No senders")
    result = await mapped(tenant, "seller@acme.com")
    assert result == {
        "items": [
            {
                "campaign_id": uses["id"],
                "campaign_name": "Uses it",
                "timestamp_created": uses["timestamp_created"],
                "status": 0,
            }
        ]
    }


async def test_campaigns_reaching_the_account_through_a_tag(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "pooled@acme.com")
    pool, unused = await new_tag(tenant, "Pool"), await new_tag(tenant, "Unused")
    by_tag = await create(tenant, "By tag", email_tag_list=[pool])
    await create(tenant, "Other tag", email_tag_list=[unused])
    assert (await mapped(tenant, "pooled@acme.com"))["items"] == []
    await toggle(tenant, pool, 1, "pooled@acme.com")
    assert [m["campaign_id"] for m in (await mapped(tenant, "pooled@acme.com"))["items"]] == [by_tag["id"]]
    await toggle(tenant, pool, 1, "pooled@acme.com", assign=False)
    assert (await mapped(tenant, "pooled@acme.com"))["items"] == []


async def test_a_campaign_linked_both_ways_is_listed_once_with_its_status(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "both@acme.com")
    tag = await new_tag(tenant, "Both")
    await toggle(tenant, tag, 1, "both@acme.com")
    campaign = await create(
        tenant,
        "Both",
        email_list=["both@acme.com"],
        email_tag_list=[tag],
        sequences=[{"steps": [{"type": "email", "delay": 1, "variants": [{"subject": "s", "body": "b"}]}]}],
    )
    assert (await tenant.post(f"{CAMPAIGNS}/{campaign['id']}/activate")).status_code == 200
    items = (await mapped(tenant, "both@acme.com"))["items"]
    assert [(m["campaign_id"], m["status"]) for m in items] == [(campaign["id"], 1)]


@pytest.mark.parametrize(
    "spelling", ["Mixed.Case@Acme.com", "mixed.case@acme.com", quote("mixed.case@acme.com", safe="")]
)
async def test_the_email_is_matched_in_any_case_and_encoding(tenant: Tenant, spelling: str) -> None:
    await add_account(tenant.session, tenant.id, "Mixed.Case@acme.com")
    campaign = await create(tenant, email_list=["MIXED.CASE@ACME.COM"])
    assert [m["campaign_id"] for m in (await mapped(tenant, spelling))["items"]] == [campaign["id"]]


async def test_pages_in_campaign_id_order(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "busy@acme.com")
    made = [await create(tenant, f"C{i}", email_list=["busy@acme.com"]) for i in range(5)]
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["starting_after"] = cursor
        page = await mapped(tenant, "busy@acme.com", **params)
        seen.extend(m["campaign_id"] for m in page["items"])
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert seen == [c["id"] for c in made]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"starting_after": "nope"}])
async def test_bad_paging_parameters_are_400(tenant: Tenant, params: dict) -> None:
    await add_account(tenant.session, tenant.id, "a@acme.com")
    envelope(await tenant.get(f"{URL}/a@acme.com", params=params), 400)


@pytest.mark.parametrize("email", ["ghost@acme.com", "not-an-email", "0199ffff-0000-7000-8000-000000000000"])
async def test_unknown_account_is_404(tenant: Tenant, email: str) -> None:
    envelope(await tenant.get(f"{URL}/{email}"), 404)


async def test_another_workspaces_account_is_404_and_its_campaigns_never_show(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    await add_account(tenant.session, tenant.id, "shared-name@acme.com")
    await create(tenant, "Mine", email_list=["shared-name@acme.com"])
    envelope(await other_tenant.get(f"{URL}/shared-name@acme.com"), 404)
    # the same address as an account of the other workspace sees only that workspace's campaigns
    await add_account(tenant.session, other_tenant.id, "shared-name@acme.com")
    assert (await mapped(other_tenant, "shared-name@acme.com"))["items"] == []


async def test_scopes(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "a@acme.com")
    for scope, status in (
        ("account_campaign_mappings:read", 200),
        ("account_campaign_mappings:all", 200),
        ("all:read", 200),
        ("campaigns:read", 403),
        ("accounts:read", 403),
        ("account_campaign_mappings:update", 403),
    ):
        key = await tenant.key_with(scope)
        response = await tenant.get(f"{URL}/a@acme.com", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == status, f"{scope}: {response.text}"
