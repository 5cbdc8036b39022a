"""API keys over HTTP: created with scopes and shown once, listed with a hint, revoked by DELETE."""

from __future__ import annotations

import hashlib
import uuid

import pytest
from sqlalchemy import text

from tests.conftest import Tenant
from tests.custom_tags.test_endpoints import assert_envelope

KEYS = "/api/v2/api-keys"


async def test_create_returns_the_plaintext_once_and_it_works(tenant: Tenant) -> None:
    response = await tenant.post(KEYS, json={"name": "CRM", "scopes": ["custom_tags:read"]})
    assert response.status_code == 200, response.text
    created = response.json()
    assert created["name"] == "CRM"
    assert created["scopes"] == ["custom_tags:read"]
    assert created["organization_id"] == str(tenant.id)
    assert len(created["key"]) >= 40
    # usable at once, and limited to its scope
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await tenant.client.get("/api/v2/custom-tags", headers=headers)).status_code == 200
    assert_envelope(await tenant.client.post("/api/v2/custom-tags", json={"label": "x"}, headers=headers), 403)
    # listed with a hint only
    listed = (await tenant.get(KEYS)).json()["items"]
    mine = next(k for k in listed if k["id"] == created["id"])
    assert mine["key"] != created["key"]
    assert created["key"] not in str(listed)
    assert mine["key"].startswith(created["key"][:4]) and mine["key"].endswith(created["key"][-4:])


async def test_only_a_hash_of_the_key_is_stored(tenant: Tenant) -> None:
    created = (await tenant.post(KEYS, json={"name": "h", "scopes": ["all:read"]})).json()
    row = (
        await tenant.session.execute(
            text("SELECT key_hash FROM api_keys WHERE id = :id"), {"id": uuid.UUID(created["id"])}
        )
    ).one()
    assert row[0] == hashlib.sha256(created["key"].encode()).digest()
    dump = (await tenant.session.execute(text("SELECT api_keys::text FROM api_keys"))).all()
    assert all(created["key"] not in r[0] for r in dump)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": ["all:all"]}, "name"),
        ({"name": "x"}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["campaigns:fly"]}, "scopes"),
        ({"name": "x", "scopes": "all:all"}, "scopes"),
        ({"name": " ", "scopes": ["all:all"]}, "name"),
    ],
)
async def test_create_validation(tenant: Tenant, body: dict, field: str) -> None:
    result = assert_envelope(await tenant.post(KEYS, json=body), 400)
    assert field in result["message"]


async def test_a_key_cannot_grant_more_than_it_holds(tenant: Tenant) -> None:
    limited = await tenant.key_with("api_keys:create", "campaigns:read")
    headers = {"Authorization": f"Bearer {limited}"}
    ok = await tenant.client.post(KEYS, json={"name": "sub", "scopes": ["campaigns:read"]}, headers=headers)
    assert ok.status_code == 200, ok.text
    for scopes in (["all:all"], ["campaigns:all"], ["all:read"], ["leads:read"]):
        denied = await tenant.client.post(KEYS, json={"name": "esc", "scopes": scopes}, headers=headers)
        assert_envelope(denied, 403)


async def test_delete_revokes_and_returns_the_key(tenant: Tenant) -> None:
    created = (await tenant.post(KEYS, json={"name": "temp", "scopes": ["workspaces:read"]})).json()
    headers = {"Authorization": f"Bearer {created['key']}"}
    assert (await tenant.client.get("/api/v2/workspaces/current", headers=headers)).status_code == 200
    response = await tenant.delete(f"{KEYS}/{created['id']}")
    assert response.status_code == 200
    deleted = response.json()
    assert deleted["id"] == created["id"] and deleted["name"] == "temp"
    assert deleted["key"] != created["key"]
    assert_envelope(await tenant.client.get("/api/v2/workspaces/current", headers=headers), 401)
    assert created["id"] not in [k["id"] for k in (await tenant.get(KEYS)).json()["items"]]
    assert_envelope(await tenant.delete(f"{KEYS}/{created['id']}"), 404)


async def test_a_key_can_revoke_itself(tenant: Tenant) -> None:
    own = (await tenant.post(KEYS, json={"name": "self", "scopes": ["api_keys:all"]})).json()
    headers = {"Authorization": f"Bearer {own['key']}"}
    assert (await tenant.client.delete(f"{KEYS}/{own['id']}", headers=headers)).status_code == 200
    assert_envelope(await tenant.client.get(KEYS, headers=headers), 401)


async def test_list_paginates(tenant: Tenant) -> None:
    for i in range(6):
        assert (await tenant.post(KEYS, json={"name": f"k{i}", "scopes": ["all:read"]})).status_code == 200
    first = (await tenant.get(KEYS, params={"limit": 4})).json()
    assert len(first["items"]) == 4
    second = (await tenant.get(KEYS, params={"limit": 4, "starting_after": first["next_starting_after"]})).json()
    ids = [k["id"] for k in first["items"] + second["items"]]
    assert len(ids) == 7 == len(set(ids))  # 6 + the tenant's own key
    assert "next_starting_after" not in second


async def test_other_workspaces_keys_are_invisible(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = (await other_tenant.post(KEYS, json={"name": "theirs", "scopes": ["all:read"]})).json()
    assert theirs["id"] not in [k["id"] for k in (await tenant.get(KEYS)).json()["items"]]
    assert_envelope(await tenant.delete(f"{KEYS}/{theirs['id']}"), 404)
    headers = {"Authorization": f"Bearer {theirs['key']}"}
    assert (await tenant.client.get("/api/v2/workspaces/current", headers=headers)).json()["id"] == str(other_tenant.id)
