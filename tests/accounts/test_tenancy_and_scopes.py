"""Every account endpoint: another workspace's account is unknown (404, never listed, paused, warmed
or counted), and each endpoint demands its scope."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.accounts._helpers import ACCOUNTS, account_body, assert_envelope, create_account
from tests.conftest import Tenant

THEIRS = "theirs@example.com"

# (name, method, path, body) — each aims at the other workspace's account
AIMED_AT_THEIRS: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("getAccount", "GET", f"{ACCOUNTS}/{THEIRS}", None),
    ("patchAccount", "PATCH", f"{ACCOUNTS}/{THEIRS}", {"first_name": "Stolen"}),
    ("deleteAccount", "DELETE", f"{ACCOUNTS}/{THEIRS}", None),
    ("pauseAccount", "POST", f"{ACCOUNTS}/{THEIRS}/pause", None),
    ("resumeAccount", "POST", f"{ACCOUNTS}/{THEIRS}/resume", None),
    ("markAccountFixed", "POST", f"{ACCOUNTS}/{THEIRS}/mark-fixed", None),
    ("enableWarmupForAccounts", "POST", f"{ACCOUNTS}/warmup/enable", {"emails": [THEIRS]}),
    ("disableWarmupForAccounts", "POST", f"{ACCOUNTS}/warmup/disable", {"emails": [THEIRS]}),
    ("getWarmupAnalytics", "POST", f"{ACCOUNTS}/warmup-analytics", {"emails": [THEIRS]}),
    ("getDailyAccountAnalytics", "GET", f"{ACCOUNTS}/analytics/daily?emails={THEIRS}", None),
]


@pytest.mark.parametrize(("name", "method", "path", "body"), AIMED_AT_THEIRS, ids=[a[0] for a in AIMED_AT_THEIRS])
async def test_another_workspace_s_account_is_404(
    tenant: Tenant, other_tenant: Tenant, name: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    await create_account(tenant, "mine@example.com")
    before = await create_account(other_tenant, THEIRS)
    await other_tenant.post(f"{ACCOUNTS}/{THEIRS}/pause")
    before = (await other_tenant.get(f"{ACCOUNTS}/{THEIRS}")).json()
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    assert_envelope(await tenant.request(method, path, **kwargs), 404)
    assert (await other_tenant.get(f"{ACCOUNTS}/{THEIRS}")).json() == before


async def test_bulk_pause_never_touches_another_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_account(other_tenant, THEIRS)
    result = (await tenant.post(f"{ACCOUNTS}/pause", json={"emails": [THEIRS]})).json()
    assert result == {"paused_emails": [], "failed_emails": [THEIRS]}
    assert (await other_tenant.get(f"{ACCOUNTS}/{THEIRS}")).json()["status"] == 1


async def test_list_and_create_are_per_workspace(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_account(other_tenant, THEIRS)
    assert (await tenant.get(ACCOUNTS)).json() == {"items": []}
    mine = await create_account(tenant, THEIRS)  # the same address may exist in both workspaces
    assert mine["organization"] == str(tenant.id)
    assert [a["organization"] for a in (await other_tenant.get(ACCOUNTS)).json()["items"]] == [str(other_tenant.id)]


# -- scopes ------------------------------------------------------------------------------------

MINE = "mine@example.com"

# (operationId, method, path, body, the action of the accounts:* scope it needs)
ENDPOINTS: list[tuple[str, str, str, dict[str, Any] | None, str]] = [
    ("createAccount", "POST", ACCOUNTS, account_body("new@example.com"), "create"),
    ("listAccount", "GET", ACCOUNTS, None, "read"),
    ("getAccount", "GET", f"{ACCOUNTS}/{MINE}", None, "read"),
    ("patchAccount", "PATCH", f"{ACCOUNTS}/{MINE}", {"first_name": "New"}, "update"),
    ("deleteAccount", "DELETE", f"{ACCOUNTS}/{MINE}", None, "delete"),
    ("pauseAccounts", "POST", f"{ACCOUNTS}/pause", {"emails": [MINE]}, "update"),
    ("pauseAccount", "POST", f"{ACCOUNTS}/{MINE}/pause", None, "update"),
    ("resumeAccount", "POST", f"{ACCOUNTS}/{MINE}/resume", None, "update"),
    ("markAccountFixed", "POST", f"{ACCOUNTS}/{MINE}/mark-fixed", None, "update"),
    ("enableWarmupForAccounts", "POST", f"{ACCOUNTS}/warmup/enable", {"emails": [MINE]}, "update"),
    ("disableWarmupForAccounts", "POST", f"{ACCOUNTS}/warmup/disable", {"emails": [MINE]}, "update"),
    ("getWarmupAnalytics", "POST", f"{ACCOUNTS}/warmup-analytics", {"emails": [MINE]}, "read"),
    ("getDailyAccountAnalytics", "GET", f"{ACCOUNTS}/analytics/daily", None, "read"),
]
ACTIONS = ("create", "read", "update", "delete")


@pytest.mark.parametrize(("name", "method", "path", "body", "action"), ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
async def test_each_endpoint_demands_its_scope(
    tenant: Tenant, session: AsyncSession, name: str, method: str, path: str, body: dict[str, Any] | None, action: str
) -> None:
    await create_account(tenant, MINE)
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    for scope in ("campaigns:all", "custom_tags:all", *(f"accounts:{a}" for a in ACTIONS if a != action)):
        key = await tenant.key_with(scope)
        response = await tenant.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert_envelope(response, 403)
    for scope in (f"accounts:{action}", "accounts:all", f"all:{action}"):
        key = await tenant.key_with(scope)
        response = await tenant.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert response.status_code == 200, f"{scope}: {response.status_code} {response.text}"
        if name == "deleteAccount":  # put it back for the next scope
            await create_account(tenant, MINE)
        if name == "createAccount":
            assert (await tenant.delete(f"{ACCOUNTS}/new@example.com")).status_code == 200
