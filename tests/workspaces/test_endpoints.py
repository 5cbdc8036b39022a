"""The current workspace: read and rename through the key that belongs to it."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant
from tests.custom_tags.test_endpoints import assert_envelope

CURRENT = "/api/v2/workspaces/current"


async def test_get_current_returns_the_keys_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = (await tenant.get(CURRENT)).json()
    theirs = (await other_tenant.get(CURRENT)).json()
    assert mine["id"] == str(tenant.id) and mine["name"] == "Acme"
    assert theirs["id"] == str(other_tenant.id) and theirs["name"] == "Rival"
    for field in ("timestamp_created", "timestamp_updated", "owner", "plan_id", "org_logo_url"):
        assert field in mine


async def test_patch_renames_and_sets_logo(tenant: Tenant, other_tenant: Tenant) -> None:
    response = await tenant.patch(CURRENT, json={"name": " Acme EU ", "org_logo_url": "https://example.com/l.png"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Acme EU"
    assert body["org_logo_url"] == "https://example.com/l.png"
    assert (await tenant.get(CURRENT)).json()["name"] == "Acme EU"
    assert (await other_tenant.get(CURRENT)).json()["name"] == "Rival"
    cleared = (await tenant.patch(CURRENT, json={"org_logo_url": None})).json()
    assert cleared["org_logo_url"] is None and cleared["name"] == "Acme EU"


async def test_patch_sets_the_unsubscribe_to_block_list_flag(tenant: Tenant) -> None:
    body = (await tenant.patch(CURRENT, json={"add_unsub_to_block": True})).json()
    assert body["add_unsub_to_block"] is True


@pytest.mark.parametrize("body", [{}, {"name": None}, {"name": ""}, {"name": 3}, {"plan_id": "pid_free"}])
async def test_patch_rejects_invalid_bodies(tenant: Tenant, body: dict) -> None:
    assert_envelope(await tenant.patch(CURRENT, json=body), 400)
    assert (await tenant.get(CURRENT)).json()["name"] == "Acme"
