"""Inputs PostgreSQL cannot store (a NUL character in text) must be refused in the error envelope,
never turned into a 500. Found by the schemathesis run; pinned here so it is deterministic."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant

NUL = "a\x00b"

CASES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "create-tag-label": ("POST", "/api/v2/custom-tags", {"json": {"label": NUL}}),
    "create-tag-description": ("POST", "/api/v2/custom-tags", {"json": {"label": "ok", "description": NUL}}),
    "list-tags-search": ("GET", "/api/v2/custom-tags", {"params": {"search": NUL}}),
    "list-tags-resource-ids": ("GET", "/api/v2/custom-tags", {"params": {"resource_ids": NUL}}),
    "list-tags-tag-ids": ("GET", "/api/v2/custom-tags", {"params": {"tag_ids": NUL}}),
    "list-tags-starting-after": ("GET", "/api/v2/custom-tags", {"params": {"starting_after": NUL}}),
    "list-mappings-resource-ids": ("GET", "/api/v2/custom-tag-mappings", {"params": {"resource_ids": NUL}}),
    "toggle-account-ids": (
        "POST",
        "/api/v2/custom-tags/toggle-resource",
        {"json": {"tag_ids": ["TAG"], "resource_type": 1, "resource_ids": [NUL], "assign": True}},
    ),
    "toggle-excluded-ids": (
        "POST",
        "/api/v2/custom-tags/toggle-resource",
        {
            "json": {
                "tag_ids": ["TAG"],
                "resource_type": 1,
                "selected_all": True,
                "excluded_resource_ids": [NUL],
                "assign": True,
            }
        },
    ),
    "toggle-search": (
        "POST",
        "/api/v2/custom-tags/toggle-resource",
        {"json": {"tag_ids": ["TAG"], "resource_type": 1, "selected_all": True, "search": NUL, "assign": True}},
    ),
    "patch-tag-label": ("PATCH", "/api/v2/custom-tags/TAG", {"json": {"label": NUL}}),
    "patch-tag-description": ("PATCH", "/api/v2/custom-tags/TAG", {"json": {"description": NUL}}),
    "create-key-name": ("POST", "/api/v2/api-keys", {"json": {"name": NUL, "scopes": ["leads:read"]}}),
    "patch-workspace-name": ("PATCH", "/api/v2/workspaces/current", {"json": {"name": NUL}}),
    "patch-workspace-logo": ("PATCH", "/api/v2/workspaces/current", {"json": {"org_logo_url": NUL}}),
}


def _substitute(value: Any, tag_id: str) -> Any:
    if isinstance(value, str):
        return value.replace("TAG", tag_id)
    if isinstance(value, list):
        return [_substitute(v, tag_id) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, tag_id) for k, v in value.items()}
    return value


@pytest.mark.parametrize("case", list(CASES))
async def test_nul_character_is_not_a_server_error(case: str, tenant: Tenant) -> None:
    created = await tenant.post("/api/v2/custom-tags", json={"label": "Existing"})
    assert created.status_code == 200, created.text
    method, url, kwargs = CASES[case]
    tag_id = created.json()["id"]
    response = await tenant.request(method, url.replace("TAG", tag_id), **_substitute(kwargs, tag_id))
    assert response.status_code < 500, f"{case}: {response.status_code} {response.text}"
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == response.status_code
    # the request's transaction must not be left broken for the next one
    assert (await tenant.get(f"/api/v2/custom-tags/{tag_id}")).status_code == 200
