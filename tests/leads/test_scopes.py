"""Scopes of the lead operations: the specific one, `leads:all`, `all:<action>` and `all:all` pass; others 403."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Tenant

OPERATIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("create", "POST", "/api/v2/leads", {"json": {}}),
    ("create", "POST", "/api/v2/leads/add", {"json": {}}),
    ("read", "GET", "/api/v2/leads/ID", {}),
    ("update", "PATCH", "/api/v2/leads/ID", {"json": {}}),
    ("update", "POST", "/api/v2/leads/merge", {"json": {}}),
    ("update", "POST", "/api/v2/leads/update-interest-status", {"json": {}}),
    ("update", "POST", "/api/v2/leads/bulk-assign", {"json": {}}),
    ("delete", "DELETE", "/api/v2/leads/ID", {}),
    ("delete", "DELETE", "/api/v2/leads", {"json": {}}),
]
ACTIONS = ("create", "read", "update", "delete")


@pytest.mark.parametrize(("action", "method", "url", "kwargs"), OPERATIONS, ids=[f"{o[1]} {o[2]}" for o in OPERATIONS])
async def test_scopes(tenant: Tenant, action: str, method: str, url: str, kwargs: dict[str, Any]) -> None:
    url = url.replace("ID", str(uuid.uuid4()))
    for scope in (f"leads:{action}", "leads:all", f"all:{action}", "all:all"):
        key = await tenant.key_with(scope)
        response = await tenant.request(method, url, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert response.status_code in (200, 400, 404), f"{scope}: {response.status_code} {response.text}"
    for scope in [f"leads:{a}" for a in ACTIONS if a != action] + ["campaigns:all", f"lead_lists:{action}"]:
        key = await tenant.key_with(scope)
        response = await tenant.request(method, url, headers={"Authorization": f"Bearer {key}"}, **kwargs)
        assert response.status_code == 403, f"{scope}: {response.status_code} {response.text}"
