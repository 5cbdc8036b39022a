"""Real responses of every implemented operation, validated against the reference's response schemas
(formats `uuid` and `date-time` checked), errors included where the reference documents the status."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from jsonschema.exceptions import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._spec import (
    describe,
    fill_path,
    implemented_operations,
    op_ids,
    operation_by_id,
    reference,
    reference_response_schema,
    schema_errors,
)
from tests.conftest import Tenant

WIRE_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
Tolerate = Callable[[ValidationError], bool]


def timestamp_problems(node: Any, where: str = "") -> list[str]:
    """Wire rule: every timestamp is UTC ISO-8601 with milliseconds and `Z`."""
    problems: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key.startswith("timestamp") or key.endswith("_at")):
                if key != "next_starting_after" and not WIRE_TIMESTAMP.match(value):
                    problems.append(f"{where}/{key} = {value!r}")
            else:
                problems.extend(timestamp_problems(value, f"{where}/{key}"))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            problems.extend(timestamp_problems(value, f"{where}/{i}"))
    return problems


def expect(response: httpx.Response, status: int, operation_id: str, tolerate: Tolerate | None = None) -> Any:
    """Assert the status, then validate the body against the reference's schema for that status.

    Error statuses the reference does not document for the operation are checked for the envelope only.
    """
    op = operation_by_id(operation_id)
    assert response.status_code == status, f"{op.operation_id}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    if status >= 400 and reference_response_schema(op.method, op.path, status) is None:
        assert set(body) == {"statusCode", "error", "message"} and body["statusCode"] == status, body
        return body
    errors = schema_errors(op.method, op.path, status, body)
    if tolerate is not None:
        errors = [e for e in errors if not tolerate(e)]
    assert not errors, f"{op.operation_id} {status} does not match the reference:\n{describe(errors)}\n{body}"
    assert not timestamp_problems(body), f"timestamps not in wire format: {timestamp_problems(body)}"
    return body


async def add_account(session: AsyncSession, organization_id: uuid.UUID, email: str) -> uuid.UUID:
    account_id = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO accounts (organization_id, id, email, timestamp_created, timestamp_updated) "
            "VALUES (:org, :id, :email, now(), now())"
        ),
        {"org": organization_id, "id": account_id, "email": email},
    )
    return account_id


async def add_campaign(session: AsyncSession, organization_id: uuid.UUID, name: str) -> uuid.UUID:
    campaign_id = uuid.uuid4()
    await session.execute(
        text(
            "INSERT INTO campaigns (organization_id, id, name, timestamp_created, timestamp_updated) "
            "VALUES (:org, :id, :name, now(), now())"
        ),
        {"org": organization_id, "id": campaign_id, "name": name},
    )
    return campaign_id


async def new_tag(tenant: Tenant, label: str, description: str | None = None) -> dict[str, Any]:
    return expect(
        await tenant.post("/api/v2/custom-tags", json={"label": label, "description": description}),
        200,
        "createCustomTag",
    )


# -- one scenario per operation -------------------------------------------------------------------

Scenario = Callable[[Tenant, Tenant, AsyncSession], Awaitable[None]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(operation_id: str) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[operation_id] = fn
        return fn

    return register


@scenario("createCustomTag")
async def _create_custom_tag(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    body = await new_tag(tenant, "Important", "Warm leads")
    assert body["organization_id"] == str(tenant.id)
    await new_tag(tenant, "No description")
    expect(await tenant.post("/api/v2/custom-tags", json={"description": "no label"}), 400, "createCustomTag")
    expect(await tenant.post("/api/v2/custom-tags", json={"label": "   "}), 400, "createCustomTag")
    expect(await tenant.post("/api/v2/custom-tags", json={"label": " important "}), 409, "createCustomTag")


@scenario("listCustomTag")
async def _list_custom_tag(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    empty = expect(await tenant.get("/api/v2/custom-tags"), 200, "listCustomTag")
    assert empty["items"] == []
    tags = [await new_tag(tenant, f"Tag {i}", None if i % 2 else f"about {i}") for i in range(3)]
    await new_tag(other, "Tag of another workspace")
    first = expect(await tenant.get("/api/v2/custom-tags", params={"limit": 2}), 200, "listCustomTag")
    assert len(first["items"]) == 2 and "next_starting_after" in first
    rest = expect(
        await tenant.get("/api/v2/custom-tags", params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listCustomTag",
    )
    assert [t["id"] for t in first["items"] + rest["items"]] == [t["id"] for t in tags]
    expect(await tenant.get("/api/v2/custom-tags", params={"search": "tag 1"}), 200, "listCustomTag")
    expect(await tenant.get("/api/v2/custom-tags", params={"tag_ids": tags[0]["id"]}), 200, "listCustomTag")
    campaign = await add_campaign(session, tenant.id, "Launch")
    toggled = await tenant.post(
        "/api/v2/custom-tags/toggle-resource",
        json={"tag_ids": [tags[1]["id"]], "resource_type": 2, "resource_ids": [str(campaign)], "assign": True},
    )
    assert toggled.status_code == 200, toggled.text
    by_resource = expect(
        await tenant.get("/api/v2/custom-tags", params={"resource_ids": str(campaign)}), 200, "listCustomTag"
    )
    assert [t["id"] for t in by_resource["items"]] == [tags[1]["id"]]


@scenario("getCustomTag")
async def _get_custom_tag(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    tag = await new_tag(tenant, "Fetched", "with description")
    assert expect(await tenant.get(f"/api/v2/custom-tags/{tag['id']}"), 200, "getCustomTag") == tag
    expect(await tenant.get(f"/api/v2/custom-tags/{uuid.uuid4()}"), 404, "getCustomTag")
    expect(await other.get(f"/api/v2/custom-tags/{tag['id']}"), 404, "getCustomTag")


@scenario("patchCustomTag")
async def _patch_custom_tag(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    tag = await new_tag(tenant, "Before")
    await new_tag(tenant, "Taken")
    url = f"/api/v2/custom-tags/{tag['id']}"
    patched = expect(await tenant.patch(url, json={"label": "After"}), 200, "patchCustomTag")
    assert patched["label"] == "After"
    expect(await tenant.patch(url, json={"description": "now described"}), 200, "patchCustomTag")
    expect(await tenant.patch(url, json={"description": None}), 200, "patchCustomTag")
    expect(await tenant.patch(url, json={"label": "taken"}), 409, "patchCustomTag")
    expect(await tenant.patch(url, json={}), 400, "patchCustomTag")
    expect(await tenant.patch(f"/api/v2/custom-tags/{uuid.uuid4()}", json={"label": "x"}), 404, "patchCustomTag")
    expect(await other.patch(url, json={"label": "Stolen"}), 404, "patchCustomTag")


@scenario("deleteCustomTag")
async def _delete_custom_tag(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    tag = await new_tag(tenant, "Doomed", "bye")
    url = f"/api/v2/custom-tags/{tag['id']}"
    expect(await other.delete(url), 404, "deleteCustomTag")
    assert expect(await tenant.delete(url), 200, "deleteCustomTag")["id"] == tag["id"]
    expect(await tenant.delete(url), 404, "deleteCustomTag")


@scenario("toggleTagResource")
async def _toggle_tag_resource(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    tag = await new_tag(tenant, "Toggled")
    campaign = await add_campaign(session, tenant.id, "Spring")
    await add_account(session, tenant.id, "sender@example.com")
    url = "/api/v2/custom-tags/toggle-resource"
    for body in (
        {"tag_ids": [tag["id"]], "resource_type": 2, "resource_ids": [str(campaign)], "assign": True},
        {"tag_ids": [tag["id"]], "resource_type": 1, "resource_ids": ["sender@example.com"], "assign": True},
        {"tag_ids": [tag["id"]], "resource_type": 1, "resource_ids": ["sender@example.com"], "assign": False},
        {"tag_ids": [tag["id"]], "resource_type": 2, "selected_all": True, "assign": True},
    ):
        assert expect(await tenant.post(url, json=body), 200, "toggleTagResource") == {"success": True}
    missing_tag = {"tag_ids": [str(uuid.uuid4())], "resource_type": 2, "resource_ids": [str(campaign)], "assign": True}
    expect(await tenant.post(url, json=missing_tag), 404, "toggleTagResource")
    expect(await other.post(url, json={**missing_tag, "tag_ids": [tag["id"]]}), 404, "toggleTagResource")
    expect(await tenant.post(url, json={"tag_ids": [tag["id"]], "assign": True}), 400, "toggleTagResource")


@scenario("listCustomTagMapping")
async def _list_custom_tag_mapping(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    url = "/api/v2/custom-tag-mappings"
    assert expect(await tenant.get(url), 200, "listCustomTagMapping")["items"] == []
    tag = await new_tag(tenant, "Mapped")
    campaign = await add_campaign(session, tenant.id, "Summer")
    account_email = "mapped@example.com"
    await add_account(session, tenant.id, account_email)
    toggle = "/api/v2/custom-tags/toggle-resource"
    for resource_type, resource in ((2, str(campaign)), (1, account_email)):
        body = {"tag_ids": [tag["id"]], "resource_type": resource_type, "resource_ids": [resource], "assign": True}
        assert (await tenant.post(toggle, json=body)).status_code == 200

    # Documented decision: an account mapping's resource_id is the account's email (accounts are
    # addressed by email everywhere in this API), where the reference says `format: uuid`. That one
    # format error, on that one field of an account mapping, is the only deviation tolerated.
    tolerated: list[ValidationError] = []

    def account_email_as_resource_id(error: ValidationError) -> bool:
        ok = (
            error.validator == "format"
            and error.validator_value == "uuid"
            and list(error.absolute_path)[-1:] == ["resource_id"]
            and error.instance == account_email
        )
        if ok:
            tolerated.append(error)
        return ok

    listed = expect(await tenant.get(url), 200, "listCustomTagMapping", tolerate=account_email_as_resource_id)
    by_type = {m["resource_type"]: m for m in listed["items"]}
    assert by_type[2]["resource_id"] == str(campaign) and by_type[1]["resource_id"] == account_email
    assert len(tolerated) == 1, "the account-email exception should apply to exactly the account mapping"

    page = expect(
        await tenant.get(url, params={"limit": 1}), 200, "listCustomTagMapping", tolerate=account_email_as_resource_id
    )
    assert len(page["items"]) == 1 and "next_starting_after" in page
    expect(
        await tenant.get(url, params={"limit": 1, "starting_after": page["next_starting_after"]}),
        200,
        "listCustomTagMapping",
        tolerate=account_email_as_resource_id,
    )
    only_campaign = expect(await tenant.get(url, params={"resource_ids": str(campaign)}), 200, "listCustomTagMapping")
    assert [m["resource_id"] for m in only_campaign["items"]] == [str(campaign)]
    assert expect(await other.get(url), 200, "listCustomTagMapping")["items"] == []


@scenario("createAPIKey")
async def _create_api_key(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    created = expect(
        await tenant.post("/api/v2/api-keys", json={"name": "CRM sync", "scopes": ["campaigns:read", "leads:all"]}),
        200,
        "createAPIKey",
    )
    assert created["scopes"] == ["campaigns:read", "leads:all"]
    check = await tenant.client.get("/api/v2/workspaces/current", headers={"Authorization": f"Bearer {created['key']}"})
    assert check.status_code == 403, "the created key works (and lacks workspaces:read)"
    expect(await tenant.post("/api/v2/api-keys", json={"scopes": ["leads:read"]}), 400, "createAPIKey")
    expect(await tenant.post("/api/v2/api-keys", json={"name": "x", "scopes": ["nope:read"]}), 400, "createAPIKey")


@scenario("listAPIKey")
async def _list_api_key(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    for i in range(2):
        assert (
            await tenant.post("/api/v2/api-keys", json={"name": f"k{i}", "scopes": ["leads:read"]})
        ).status_code == 200
    listed = expect(await tenant.get("/api/v2/api-keys"), 200, "listAPIKey")
    assert len(listed["items"]) == 3  # the tenant's own key and the two above
    first = expect(await tenant.get("/api/v2/api-keys", params={"limit": 2}), 200, "listAPIKey")
    assert "next_starting_after" in first
    expect(
        await tenant.get("/api/v2/api-keys", params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listAPIKey",
    )


@scenario("deleteAPIKey")
async def _delete_api_key(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    created = (await tenant.post("/api/v2/api-keys", json={"name": "temp", "scopes": ["leads:read"]})).json()
    url = f"/api/v2/api-keys/{created['id']}"
    expect(await other.delete(url), 404, "deleteAPIKey")
    deleted = expect(await tenant.delete(url), 200, "deleteAPIKey")
    assert deleted["id"] == created["id"] and deleted["key"] != created["key"], "the key is shown only once"
    expect(await tenant.delete(url), 404, "deleteAPIKey")


@scenario("getWorkspace")
async def _get_workspace(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    plain = expect(await tenant.get("/api/v2/workspaces/current"), 200, "getWorkspace")
    assert plain["id"] == str(tenant.id)
    await session.execute(
        text(
            "UPDATE workspaces SET plan_id = 'pid_hg_v1', plan_id_bundle = 'pid_bundle_scale_v2', "
            "plan_id_leadfinder = 'pid_lf_ls_v1', plan_id_crm = 'pid_crm_v1', "
            "plan_id_website_visitor = 'pid_wvw_v1', plan_id_inbox_placement = 'pid_ip_v1', "
            "org_client_domain = 'example.com', org_logo_url = 'https://example.com/logo.png', "
            "add_unsub_to_block = true, default_opportunity_value = 250, scheduled_for_removal_at = now(), "
            "plan_id_verification = CAST(:v AS jsonb) WHERE id = :id"
        ),
        {
            "id": tenant.id,
            "v": '{"quantity": 5, "product_id": "pid_verify_v1_monthly", '
            '"timestamp_updated": "2024-07-22T05:56:58.667Z"}',
        },
    )
    full = expect(await tenant.get("/api/v2/workspaces/current"), 200, "getWorkspace")
    assert full["plan_id_verification"]["quantity"] == 5


@scenario("patchWorkspace")
async def _patch_workspace(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    url = "/api/v2/workspaces/current"
    renamed = expect(await tenant.patch(url, json={"name": "Renamed"}), 200, "patchWorkspace")
    assert renamed["name"] == "Renamed"
    expect(await tenant.patch(url, json={"org_logo_url": "https://example.com/l.png"}), 200, "patchWorkspace")
    expect(await tenant.patch(url, json={"org_logo_url": None}), 200, "patchWorkspace")
    expect(await tenant.patch(url, json={}), 400, "patchWorkspace")
    assert expect(await other.get(url), 200, "getWorkspace")["name"] == "Rival"


OPERATIONS = implemented_operations()
by_op = pytest.mark.parametrize("op", OPERATIONS, ids=op_ids())


def test_every_implemented_operation_has_a_scenario() -> None:
    assert sorted(SCENARIOS) == sorted(o.operation_id for o in OPERATIONS)


@pytest.mark.parametrize("operation_id", sorted(o.operation_id for o in OPERATIONS))
async def test_responses_match_the_reference(
    operation_id: str, tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    reference()
    if operation_id not in SCENARIOS:
        pytest.fail(f"no scenario exercises {operation_id}: add one to {__name__}.SCENARIOS")
    await SCENARIOS[operation_id](tenant, other_tenant, session)


@by_op
async def test_401_matches_the_reference(op: Any, tenant: Tenant) -> None:
    reference()
    kwargs: dict[str, Any] = {"json": {}} if "requestBody" in op.spec else {}
    response = await tenant.client.request(op.method.upper(), fill_path(op.path), **kwargs)
    expect(response, 401, op.operation_id)
    garbage = await tenant.client.request(
        op.method.upper(), fill_path(op.path), headers={"Authorization": "Bearer nope"}, **kwargs
    )
    expect(garbage, 401, op.operation_id)


WITH_ID = [o for o in OPERATIONS if "{" in o.path]


@pytest.mark.parametrize("op", WITH_ID, ids=[o.operation_id for o in WITH_ID])
@pytest.mark.parametrize("path_id", ["random-uuid", "not-a-uuid"])
async def test_404_for_unknown_ids_matches_the_reference(op: Any, path_id: str, tenant: Tenant) -> None:
    reference()
    value = str(uuid.uuid4()) if path_id == "random-uuid" else "not-a-uuid"
    kwargs: dict[str, Any] = {"json": {"label": "x"}} if op.method == "patch" else {}
    response = await tenant.request(op.method.upper(), re.sub(r"\{[^}]+\}", value, op.path), **kwargs)
    expect(response, 404, op.operation_id)
