"""Lead lists over HTTP, against the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Tenant
from tests.envelope import assert_envelope
from tests.lead_lists.helpers import add_lead
from tests.paging import every_item

LISTS = "/api/v2/lead-lists"


async def create_list(tenant: Tenant, name: str = "Prospects", **fields: Any) -> dict[str, Any]:
    response = await tenant.post(LISTS, json={"name": name, **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def list_all(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    return await every_item(tenant, LISTS, **params)


async def workspace_owner(session: AsyncSession, tenant: Tenant) -> str:
    owner = (await session.execute(text("SELECT owner FROM workspaces WHERE id = :id"), {"id": tenant.id})).scalar()
    return str(owner)


async def lead_count(session: AsyncSession, list_id: str) -> int:
    statement = text("SELECT count(*) FROM leads WHERE list_id = :id")
    return int((await session.execute(statement, {"id": uuid.UUID(list_id)})).scalar_one())


# -- create / get ------------------------------------------------------------------------------


async def test_create_returns_the_list(tenant: Tenant, session: AsyncSession) -> None:
    created = await create_list(tenant, "  Summer 2026 ")
    assert set(created) == {"id", "organization_id", "has_enrichment_task", "owned_by", "name", "timestamp_created"}
    assert created["name"] == "Summer 2026"
    assert created["organization_id"] == str(tenant.id)
    assert created["has_enrichment_task"] is None
    assert created["owned_by"] == await workspace_owner(session, tenant)
    assert uuid.UUID(created["id"]).version == 7
    assert created["timestamp_created"].endswith("Z") and len(created["timestamp_created"]) == 24
    assert (await tenant.get(f"{LISTS}/{created['id']}")).json() == created


async def test_create_keeps_given_owner_and_enrichment_flag(tenant: Tenant) -> None:
    owner = str(uuid.uuid4())
    created = await create_list(tenant, "Mine", owned_by=owner, has_enrichment_task=True)
    assert created["owned_by"] == owner and created["has_enrichment_task"] is True
    assert (await create_list(tenant, "Nobody's", owned_by=None))["owned_by"] is None


async def test_names_need_not_be_unique(tenant: Tenant) -> None:
    a = await create_list(tenant, "Same")
    b = await create_list(tenant, "same")
    assert a["id"] != b["id"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": 5}, "name"),
        ({"name": "ok", "owned_by": "someone"}, "owned_by"),
        ({"name": "ok", "has_enrichment_task": "often"}, "has_enrichment_task"),
    ],
)
async def test_create_validation_names_the_field(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.post(LISTS, json=body), 400)["message"]


async def test_create_ignores_unknown_fields(tenant: Tenant) -> None:
    created = await create_list(tenant, "Extra", id=str(uuid.uuid4()), organization_id=str(uuid.uuid4()), x=1)
    assert created["organization_id"] == str(tenant.id)


@pytest.mark.parametrize("list_id", ["0198c0de-1a2b-7c3d-8e4f-000000000001", "not-a-uuid"])
async def test_unknown_ids_are_404(tenant: Tenant, list_id: str) -> None:
    assert_envelope(await tenant.get(f"{LISTS}/{list_id}"), 404)
    assert_envelope(await tenant.patch(f"{LISTS}/{list_id}", json={"name": "x"}), 404)
    assert_envelope(await tenant.delete(f"{LISTS}/{list_id}"), 404)
    assert_envelope(await tenant.get(f"{LISTS}/{list_id}/verification-stats"), 404)


# -- patch -------------------------------------------------------------------------------------


async def test_patch_updates_only_the_given_fields(tenant: Tenant) -> None:
    created = await create_list(tenant, "Before", has_enrichment_task=True)
    url = f"{LISTS}/{created['id']}"
    renamed = (await tenant.patch(url, json={"name": " After "})).json()
    assert renamed == {**created, "name": "After"}
    cleared = (await tenant.patch(url, json={"owned_by": None, "has_enrichment_task": False})).json()
    assert cleared == {**renamed, "owned_by": None, "has_enrichment_task": False}
    assert (await tenant.get(url)).json() == cleared


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"unknown": 1}, "name"),
        ({"name": None}, "name"),
        ({"name": " "}, "name"),
        ({"owned_by": "x"}, "owned_by"),
    ],
)
async def test_patch_rejects_empty_or_invalid_bodies(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    created = await create_list(tenant)
    assert field in assert_envelope(await tenant.patch(f"{LISTS}/{created['id']}", json=body), 400)["message"]


# -- delete ------------------------------------------------------------------------------------


async def test_delete_returns_the_list_and_deletes_its_leads(tenant: Tenant, session: AsyncSession) -> None:
    doomed = await create_list(tenant, "Doomed")
    kept = await create_list(tenant, "Kept")
    for _ in range(3):
        await add_lead(session, tenant.id, list_id=uuid.UUID(doomed["id"]))
    await add_lead(session, tenant.id, list_id=uuid.UUID(kept["id"]))
    loose = await add_lead(session, tenant.id)
    response = await tenant.delete(f"{LISTS}/{doomed['id']}")
    assert response.status_code == 200 and response.json() == doomed
    assert await lead_count(session, doomed["id"]) == 0
    assert await lead_count(session, kept["id"]) == 1
    assert (await session.execute(text("SELECT count(*) FROM leads WHERE id = :id"), {"id": loose})).scalar() == 1
    assert_envelope(await tenant.get(f"{LISTS}/{doomed['id']}"), 404)


@pytest.mark.parametrize("headers", [{}, {"content-type": "application/json"}])
async def test_delete_without_body_with_or_without_json_content_type(tenant: Tenant, headers: dict[str, str]) -> None:
    created = await create_list(tenant)
    assert (await tenant.delete(f"{LISTS}/{created['id']}", headers=headers)).status_code == 200


# -- list --------------------------------------------------------------------------------------


async def test_list_pages_through_every_list_once_in_creation_order(tenant: Tenant) -> None:
    created = [await create_list(tenant, f"List {i}") for i in range(7)]
    first = (await tenant.get(LISTS, params={"limit": 3})).json()
    assert [x["id"] for x in first["items"]] == [x["id"] for x in created[:3]]
    assert [x["id"] for x in await list_all(tenant, limit=3)] == [x["id"] for x in created]
    assert [x["id"] for x in await list_all(tenant, limit=1)] == [x["id"] for x in created]
    full = (await tenant.get(LISTS, params={"limit": 7})).json()
    assert "next_starting_after" not in full and len(full["items"]) == 7


async def test_list_cursor_is_a_timestamp(tenant: Tenant, session: AsyncSession) -> None:
    lists = [await create_list(tenant, f"L{i}") for i in range(3)]
    base = datetime(2026, 1, 1, tzinfo=UTC)
    for i, item in enumerate(lists):
        await session.execute(
            text("UPDATE lead_lists SET timestamp_created = :t WHERE id = :id"),
            {"t": base + timedelta(minutes=i), "id": uuid.UUID(item["id"])},
        )
    first = (await tenant.get(LISTS, params={"limit": 1})).json()
    assert first["next_starting_after"] == "2026-01-01T00:00:00.000Z"
    after = (await tenant.get(LISTS, params={"starting_after": "2026-01-01T00:00:30Z"})).json()
    assert [x["name"] for x in after["items"]] == ["L1", "L2"]
    naive = (await tenant.get(LISTS, params={"starting_after": "2026-01-01T00:01:00"})).json()
    assert [x["name"] for x in naive["items"]] == ["L2"]
    by_id = (await tenant.get(LISTS, params={"starting_after": lists[0]["id"]})).json()
    assert [x["name"] for x in by_id["items"]] == ["L1", "L2"]


async def test_lists_created_in_the_same_millisecond_are_neither_skipped_nor_repeated(
    tenant: Tenant, session: AsyncSession
) -> None:
    lists = [await create_list(tenant, f"L{i}") for i in range(5)]
    await session.execute(
        text("UPDATE lead_lists SET timestamp_created = '2026-01-01T00:00:00Z' WHERE organization_id = :o"),
        {"o": tenant.id},
    )
    first = (await tenant.get(LISTS, params={"limit": 2})).json()
    assert first["next_starting_after"].startswith("2026-01-01T00:00:00.000Z&")
    assert sorted(x["id"] for x in await list_all(tenant, limit=2)) == sorted(x["id"] for x in lists)
    assert len(await list_all(tenant, limit=2)) == 5


async def test_list_filters_by_search_and_enrichment(tenant: Tenant) -> None:
    a = await create_list(tenant, "Summer 100% leads", has_enrichment_task=True)
    b = await create_list(tenant, "summer_b", has_enrichment_task=False)
    c = await create_list(tenant, "Winter")
    assert [x["id"] for x in await list_all(tenant, search="SUMMER")] == [a["id"], b["id"]]
    assert [x["id"] for x in await list_all(tenant, search="100%")] == [a["id"]]
    assert [x["id"] for x in await list_all(tenant, search="r_")] == [b["id"]]
    assert [x["id"] for x in await list_all(tenant, has_enrichment_task="true")] == [a["id"]]
    assert [x["id"] for x in await list_all(tenant, has_enrichment_task="false")] == [b["id"], c["id"]]
    assert [x["id"] for x in await list_all(tenant, has_enrichment_task="false", search="win")] == [c["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "soon"}, "starting_after"),
        ({"starting_after": "2026-01-01T00:00:00Z&nope"}, "starting_after"),
        ({"starting_after": str(uuid.uuid4())}, "starting_after"),
        ({"has_enrichment_task": "sometimes"}, "has_enrichment_task"),
    ],
)
async def test_list_rejects_bad_parameters(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.get(LISTS, params=params), 400)["message"]


# -- verification stats ------------------------------------------------------------------------


async def test_verification_stats_count_the_lists_leads(tenant: Tenant, session: AsyncSession) -> None:
    created = await create_list(tenant)
    other_list = await create_list(tenant, "Other")
    list_id = uuid.UUID(created["id"])
    statuses = [1, 1, 1, -1, -2, -2, -3, -4, 11, 12, 12, None, None]
    for status in statuses:
        await add_lead(session, tenant.id, list_id=list_id, verification_status=status)
    await add_lead(session, tenant.id, list_id=uuid.UUID(other_list["id"]), verification_status=1)
    await add_lead(session, tenant.id, verification_status=1)
    body = (await tenant.get(f"{LISTS}/{created['id']}/verification-stats")).json()
    assert body == {
        "stats": {
            "verified": 3,
            "invalid": 1,
            "risky": 2,
            "catch_all": 1,
            "job_change": 1,
            "verification_job_pending_leadfinder": 0,
            "verification_job_pending_user": 3,
        },
        "total_leads": len(statuses),
    }


async def test_verification_stats_of_an_empty_list_are_zero(tenant: Tenant) -> None:
    created = await create_list(tenant)
    body = (await tenant.get(f"{LISTS}/{created['id']}/verification-stats")).json()
    assert body["total_leads"] == 0 and set(body["stats"].values()) == {0}
    assert len(body["stats"]) == 7


# -- tenancy and scopes ------------------------------------------------------------------------


async def test_another_workspaces_list_is_404_everywhere(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    theirs = await create_list(other_tenant, "Secret")
    await add_lead(session, other_tenant.id, list_id=uuid.UUID(theirs["id"]), verification_status=1)
    url = f"{LISTS}/{theirs['id']}"
    assert_envelope(await tenant.get(url), 404)
    assert_envelope(await tenant.patch(url, json={"name": "Stolen"}), 404)
    assert_envelope(await tenant.delete(url), 404)
    assert_envelope(await tenant.get(f"{url}/verification-stats"), 404)
    assert await list_all(tenant) == []
    assert await list_all(tenant, search="Secret") == []
    assert (await tenant.get(LISTS, params={"starting_after": theirs["id"]})).status_code == 400
    assert (await other_tenant.get(url)).json() == theirs
    assert await lead_count(session, theirs["id"]) == 1


OPERATIONS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", LISTS, {"json": {"name": "x"}}, "create"),
    ("GET", LISTS, {}, "read"),
    ("GET", f"{LISTS}/LIST", {}, "read"),
    ("PATCH", f"{LISTS}/LIST", {"json": {"name": "y"}}, "update"),
    ("DELETE", f"{LISTS}/LIST", {}, "delete"),
    ("GET", f"{LISTS}/LIST/verification-stats", {}, "read"),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "action"), OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS])
async def test_scopes(tenant: Tenant, method: str, url: str, kwargs: dict[str, Any], action: str) -> None:
    others = sorted({"read", "create", "update", "delete"} - {action})
    refused = [*(f"lead_lists:{a}" for a in others), "leads:all", "block_list_entries:all", f"all:{others[0]}"]
    allowed = [f"lead_lists:{action}", "lead_lists:all", f"all:{action}", "all:all"]
    for scope in refused + allowed:
        created = await create_list(tenant)
        key = await tenant.key_with(scope)
        response = await tenant.request(
            method, url.replace("LIST", created["id"]), headers={"Authorization": f"Bearer {key}"}, **kwargs
        )
        if scope in refused:
            assert_envelope(response, 403)
        else:
            assert response.status_code == 200, f"{scope}: {response.text}"


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", LISTS, {"params": {"search": NUL}}),
        ("GET", LISTS, {"params": {"starting_after": NUL}}),
        ("POST", LISTS, {"json": {"name": NUL}}),
        ("GET", f"{LISTS}/a%00b/verification-stats", {}),
    ],
    ids=["search", "cursor", "create", "stats"],
)
async def test_a_nul_character_is_a_400_or_404_not_a_broken_request(
    tenant: Tenant, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await tenant.request(method, url, **kwargs)
    assert response.status_code in (400, 404), response.text
    assert (await tenant.get(LISTS)).status_code == 200  # nothing left broken for the next request
