"""Lead labels over HTTP, against the real database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.lead_labels.repository import LeadLabelRepository
from coldsend.lead_labels.service import pick_interest_status
from tests.conftest import Tenant
from tests.envelope import assert_envelope
from tests.lead_lists.helpers import add_lead
from tests.paging import every_item

LABELS = "/api/v2/lead-labels"


async def create_label(tenant: Tenant, label: str, sentiment: str = "positive", **fields: Any) -> dict[str, Any]:
    response = await tenant.post(LABELS, json={"label": label, "interest_status_label": sentiment, **fields})
    assert response.status_code == 200, response.text
    return response.json()


async def list_all(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    return await every_item(tenant, LABELS, **params)


async def interest_of(session: AsyncSession, lead_id: uuid.UUID) -> int | None:
    statement = text("SELECT lt_interest_status FROM leads WHERE id = :id")
    return (await session.execute(statement, {"id": lead_id})).scalar()


# -- create ------------------------------------------------------------------------------------


async def test_create_returns_the_label_with_a_server_assigned_interest_status(
    tenant: Tenant, session: AsyncSession
) -> None:
    created = await create_label(tenant, "  Hot Lead ", description="Wants a demo", use_with_ai=True)
    assert list(created) == [
        "id",
        "timestamp_created",
        "created_by",
        "organization_id",
        "label",
        "interest_status_label",
        "interest_status",
        "description",
        "use_with_ai",
    ]
    owner = (await session.execute(text("SELECT owner FROM workspaces WHERE id = :id"), {"id": tenant.id})).scalar()
    assert created["created_by"] == str(owner)
    assert created["organization_id"] == str(tenant.id)
    assert created["label"] == "Hot Lead"
    assert (created["interest_status_label"], created["interest_status"]) == ("positive", 5)
    assert (created["description"], created["use_with_ai"]) == ("Wants a demo", True)
    assert uuid.UUID(created["id"]).version == 7
    assert created["timestamp_created"].endswith("Z") and len(created["timestamp_created"]) == 24
    assert (await tenant.get(f"{LABELS}/{created['id']}")).json() == created
    second = await create_label(tenant, "Cold", "negative")
    assert second["interest_status"] == 6
    assert (second["description"], second["use_with_ai"]) == (None, None)


async def test_interest_status_in_the_body_is_ignored(tenant: Tenant) -> None:
    created = await create_label(tenant, "Mine", interest_status=1, id=str(uuid.uuid4()))
    assert created["interest_status"] == 5


async def test_each_workspace_has_its_own_interest_statuses_and_labels(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await create_label(tenant, "Shared")
    theirs = await create_label(other_tenant, "shared")
    assert mine["interest_status"] == theirs["interest_status"] == 5


@pytest.mark.parametrize("label", ["hot lead", "HOT LEAD", " Hot   lead ", "Hot\tLead"])
async def test_create_rejects_a_label_equal_after_normalising(tenant: Tenant, label: str) -> None:
    await create_label(tenant, "Hot Lead")
    body = assert_envelope(await tenant.post(LABELS, json={"label": label, "interest_status_label": "neutral"}), 409)
    assert body["error"] == "Conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interest_status_label": "positive"}, "label"),
        ({"label": "", "interest_status_label": "positive"}, "label"),
        ({"label": "  ", "interest_status_label": "positive"}, "label"),
        ({"label": 3, "interest_status_label": "positive"}, "label"),
        ({"label": "x"}, "interest_status_label"),
        ({"label": "x", "interest_status_label": "happy"}, "interest_status_label"),
        ({"label": "x", "interest_status_label": None}, "interest_status_label"),
        ({"label": "x", "interest_status_label": "neutral", "description": 4}, "description"),
        ({"label": "x", "interest_status_label": "neutral", "use_with_ai": "maybe"}, "use_with_ai"),
    ],
)
async def test_create_validation_names_the_field(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.post(LABELS, json=body), 400)["message"]


def test_interest_statuses_skip_the_built_in_values_and_stay_in_range() -> None:
    assert pick_interest_status(set()) == 5
    assert pick_interest_status({5, 6, 8}) == 7
    assert pick_interest_status(set(range(5, 30001))) == -5
    assert pick_interest_status(set(range(5, 30001)) | {-5, -6}) == -7
    assert pick_interest_status(set(range(5, 30001)) | set(range(-5, -30001, -1))) is None


async def test_a_freed_interest_status_is_given_again(tenant: Tenant) -> None:
    first = await create_label(tenant, "A")
    await create_label(tenant, "B")
    assert (await tenant.delete(f"{LABELS}/{first['id']}")).status_code == 200
    assert (await create_label(tenant, "C"))["interest_status"] == first["interest_status"]


async def test_existing_interest_statuses(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    a = await create_label(tenant, "A")
    b = await create_label(tenant, "B")
    await create_label(other_tenant, "X")
    await create_label(other_tenant, "Y")
    await create_label(other_tenant, "Z")
    repository = LeadLabelRepository(session, tenant.id)
    wanted = [a["interest_status"], b["interest_status"], 7, 1, -1, 0, a["interest_status"]]
    assert await repository.existing_interest_statuses(wanted) == {a["interest_status"], b["interest_status"]}
    assert await repository.existing_interest_statuses([]) == set()


# -- get / patch -------------------------------------------------------------------------------


@pytest.mark.parametrize("label_id", ["0198c0de-1a2b-7c3d-8e4f-000000000001", "not-a-uuid"])
async def test_unknown_ids_are_404(tenant: Tenant, label_id: str) -> None:
    assert_envelope(await tenant.get(f"{LABELS}/{label_id}"), 404)
    assert_envelope(await tenant.patch(f"{LABELS}/{label_id}", json={"label": "x"}), 404)
    assert_envelope(await tenant.delete(f"{LABELS}/{label_id}"), 404)


async def test_patch_changes_name_and_sentiment_but_never_the_interest_status(tenant: Tenant) -> None:
    created = await create_label(tenant, "Before", description="d", use_with_ai=True)
    url = f"{LABELS}/{created['id']}"
    renamed = (await tenant.patch(url, json={"label": " After ", "interest_status_label": "negative"})).json()
    assert renamed == {**created, "label": "After", "interest_status_label": "negative"}
    cleared = (await tenant.patch(url, json={"description": None, "use_with_ai": None})).json()
    assert cleared == {**renamed, "description": None, "use_with_ai": None}
    recased = (await tenant.patch(url, json={"label": "AFTER"})).json()
    assert recased["label"] == "AFTER"
    assert (await tenant.get(url)).json() == recased


async def test_patch_to_another_labels_name_is_409(tenant: Tenant) -> None:
    created = await create_label(tenant, "Mine")
    await create_label(tenant, "Taken")
    assert_envelope(await tenant.patch(f"{LABELS}/{created['id']}", json={"label": " taken"}), 409)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "label"),
        ({"interest_status": 7}, "label"),
        ({"label": None}, "label"),
        ({"label": " "}, "label"),
        ({"interest_status_label": None}, "interest_status_label"),
        ({"interest_status_label": "great"}, "interest_status_label"),
    ],
)
async def test_patch_rejects_empty_or_invalid_bodies(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    created = await create_label(tenant, "Mine")
    assert field in assert_envelope(await tenant.patch(f"{LABELS}/{created['id']}", json=body), 400)["message"]


# -- delete ------------------------------------------------------------------------------------


async def test_delete_returns_the_label_and_resets_its_leads(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    doomed = await create_label(tenant, "Doomed")
    kept = await create_label(tenant, "Kept")
    carrying = await add_lead(session, tenant.id, lt_interest_status=doomed["interest_status"])
    other_label = await add_lead(session, tenant.id, lt_interest_status=kept["interest_status"])
    theirs = await add_lead(session, other_tenant.id, lt_interest_status=doomed["interest_status"])
    response = await tenant.delete(f"{LABELS}/{doomed['id']}")
    assert response.status_code == 200 and response.json() == doomed
    assert await interest_of(session, carrying) is None
    assert await interest_of(session, other_label) == kept["interest_status"]
    assert await interest_of(session, theirs) == doomed["interest_status"]
    assert_envelope(await tenant.get(f"{LABELS}/{doomed['id']}"), 404)


@pytest.mark.parametrize("target", ["built-in", "other-label"])
async def test_delete_reassigns_its_leads(tenant: Tenant, session: AsyncSession, target: str) -> None:
    doomed = await create_label(tenant, "Doomed")
    kept = await create_label(tenant, "Kept")
    value = -2 if target == "built-in" else kept["interest_status"]
    lead = await add_lead(session, tenant.id, lt_interest_status=doomed["interest_status"])
    response = await tenant.delete(f"{LABELS}/{doomed['id']}", json={"reassigned_status": value})
    assert response.status_code == 200, response.text
    assert await interest_of(session, lead) == value


async def test_delete_refuses_an_unknown_reassigned_status(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    doomed = await create_label(tenant, "Doomed")
    theirs = await create_label(other_tenant, "X")
    await create_label(other_tenant, "Y")
    lead = await add_lead(session, tenant.id, lt_interest_status=doomed["interest_status"])
    url = f"{LABELS}/{doomed['id']}"
    for value in (999, doomed["interest_status"], theirs["interest_status"] + 1, 1.5, "one"):
        body = assert_envelope(await tenant.delete(url, json={"reassigned_status": value}), 400)
        assert "reassigned_status" in body["message"]
    assert (await tenant.get(url)).status_code == 200
    assert await interest_of(session, lead) == doomed["interest_status"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"headers": {"content-type": "application/json"}},
        {"content": b"null", "headers": {"content-type": "application/json"}},
        {"json": {}},
        {"json": {"reassigned_status": None}},
    ],
)
async def test_delete_with_no_or_empty_body(tenant: Tenant, kwargs: dict[str, Any]) -> None:
    created = await create_label(tenant, "Doomed")
    response = await tenant.delete(f"{LABELS}/{created['id']}", **kwargs)
    assert response.status_code == 200, response.text


# -- list --------------------------------------------------------------------------------------


async def test_list_pages_through_every_label_once_in_creation_order(tenant: Tenant, session: AsyncSession) -> None:
    created = [await create_label(tenant, f"Label {i}") for i in range(6)]
    assert [x["id"] for x in await list_all(tenant, limit=4)] == [x["id"] for x in created]
    await session.execute(
        text("UPDATE lead_labels SET timestamp_created = '2026-02-01T00:00:00Z' WHERE organization_id = :o"),
        {"o": tenant.id},
    )
    assert sorted(x["id"] for x in await list_all(tenant, limit=2)) == sorted(x["id"] for x in created)
    full = (await tenant.get(LABELS, params={"limit": 6})).json()
    assert "next_starting_after" not in full and len(full["items"]) == 6


async def test_list_cursor_is_a_timestamp(tenant: Tenant, session: AsyncSession) -> None:
    for i in range(3):
        created = await create_label(tenant, f"L{i}")
        await session.execute(
            text("UPDATE lead_labels SET timestamp_created = :t WHERE id = :id"),
            {"t": datetime(2026, 3, i + 1, tzinfo=UTC), "id": uuid.UUID(created["id"])},
        )
    first = (await tenant.get(LABELS, params={"limit": 1})).json()
    assert first["next_starting_after"] == "2026-03-01T00:00:00.000Z"
    after = (await tenant.get(LABELS, params={"starting_after": "2026-03-01T12:00:00.000Z"})).json()
    assert [x["label"] for x in after["items"]] == ["L1", "L2"]


async def test_list_filters_by_search_and_sentiment(tenant: Tenant) -> None:
    hot = await create_label(tenant, "Hot  Lead", "positive")
    warm = await create_label(tenant, "Warm lead", "neutral")
    cold = await create_label(tenant, "Cold_one", "negative")
    assert [x["id"] for x in await list_all(tenant, search="hot lead")] == [hot["id"]]
    assert [x["id"] for x in await list_all(tenant, search="LEAD")] == [hot["id"], warm["id"]]
    assert [x["id"] for x in await list_all(tenant, search="_")] == [cold["id"]]
    assert [x["id"] for x in await list_all(tenant, interest_status="neutral")] == [warm["id"]]
    assert [x["id"] for x in await list_all(tenant, interest_status="negative", search="lead")] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "whenever"}, "starting_after"),
        ({"interest_status": "happy"}, "interest_status"),
        ({"interest_status": "1"}, "interest_status"),
    ],
)
async def test_list_rejects_bad_parameters(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.get(LABELS, params=params), 400)["message"]


# -- AI reply label ----------------------------------------------------------------------------


async def test_ai_reply_label_is_not_available_yet(tenant: Tenant) -> None:
    await create_label(tenant, "Hot", use_with_ai=True)
    body = assert_envelope(await tenant.post(f"{LABELS}/ai-reply-label", json={"reply_text": "Let's talk"}), 501)
    assert body["error"] == "Not Implemented" and "not available" in body["message"]
    assert "reply_text" in assert_envelope(await tenant.post(f"{LABELS}/ai-reply-label", json={}), 400)["message"]


# -- tenancy and scopes ------------------------------------------------------------------------


async def test_another_workspaces_label_is_404_everywhere(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await create_label(other_tenant, "Secret")
    url = f"{LABELS}/{theirs['id']}"
    assert_envelope(await tenant.get(url), 404)
    assert_envelope(await tenant.patch(url, json={"label": "Stolen"}), 404)
    assert_envelope(await tenant.delete(url), 404)
    assert await list_all(tenant) == []
    assert await list_all(tenant, search="secret") == []
    mine = await create_label(tenant, "Mine")
    # another workspace's label value is no reassignment target here
    body = {"reassigned_status": theirs["interest_status"] + 100}
    assert_envelope(await tenant.delete(f"{LABELS}/{mine['id']}", json=body), 400)
    assert (await other_tenant.get(url)).json() == theirs


OPERATIONS: list[tuple[str, str, dict[str, Any], str, int]] = [
    ("POST", LABELS, {"json": {"label": "new", "interest_status_label": "neutral"}}, "create", 200),
    ("GET", LABELS, {}, "read", 200),
    ("GET", f"{LABELS}/LABEL", {}, "read", 200),
    ("PATCH", f"{LABELS}/LABEL", {"json": {"description": "y"}}, "update", 200),
    ("DELETE", f"{LABELS}/LABEL", {}, "delete", 200),
    ("POST", f"{LABELS}/ai-reply-label", {"json": {"reply_text": "hi"}}, "read", 501),
]


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "action", "status"), OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS]
)
async def test_scopes(tenant: Tenant, method: str, url: str, kwargs: dict[str, Any], action: str, status: int) -> None:
    others = sorted({"read", "create", "update", "delete"} - {action})
    refused = [*(f"lead-labels:{a}" for a in others), "leads:all", "lead_lists:all", f"all:{others[0]}"]
    allowed = [f"lead-labels:{action}", "lead-labels:all", f"all:{action}", "all:all"]
    for scope in refused + allowed:
        created = await create_label(tenant, f"L {uuid.uuid4()}")
        key = await tenant.key_with(scope)
        response = await tenant.request(
            method, url.replace("LABEL", created["id"]), headers={"Authorization": f"Bearer {key}"}, **kwargs
        )
        if scope in refused:
            assert_envelope(response, 403)
        else:
            assert response.status_code == status, f"{scope}: {response.text}"
            if method == "POST" and status == 200:
                await tenant.delete(f"{LABELS}/{response.json()['id']}")


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", LABELS, {"params": {"search": NUL}}),
        ("GET", LABELS, {"params": {"starting_after": NUL}}),
        ("POST", LABELS, {"json": {"label": NUL, "interest_status_label": "neutral"}}),
        ("POST", LABELS, {"json": {"label": "ok", "interest_status_label": "neutral", "description": NUL}}),
    ],
    ids=["search", "cursor", "create-label", "create-description"],
)
async def test_a_nul_character_is_a_400_not_a_broken_request(
    tenant: Tenant, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await tenant.request(method, url, **kwargs)
    assert response.status_code == 400, response.text
    assert (await tenant.get(LABELS)).status_code == 200  # nothing left broken for the next request
