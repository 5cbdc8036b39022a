"""Scenarios for lead labels."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import expect, scenario
from tests.conftest import Tenant

LABELS = "/api/v2/lead-labels"


async def new_label(tenant: Tenant, label: str, sentiment: str = "positive", **fields: Any) -> dict[str, Any]:
    body = {"label": label, "interest_status_label": sentiment, **fields}
    return expect(await tenant.post(LABELS, json=body), 200, "createLeadLabel")


@scenario("createLeadLabel")
async def _create_lead_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    hot = await new_label(tenant, "Hot Lead", description="Wants a demo", use_with_ai=True)
    assert hot["interest_status"] not in range(-4, 5) and hot["organization_id"] == str(tenant.id)
    cold = await new_label(tenant, "Cold", "negative")
    assert cold["interest_status"] != hot["interest_status"] and cold["description"] is None
    expect(await tenant.post(LABELS, json={"label": "x"}), 400, "createLeadLabel")
    expect(await tenant.post(LABELS, json={"label": "x", "interest_status_label": "meh"}), 400, "createLeadLabel")
    expect(
        await tenant.post(LABELS, json={"label": " hot  lead", "interest_status_label": "neutral"}),
        409,
        "createLeadLabel",
    )


@scenario("listLeadLabel")
async def _list_lead_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(LABELS), 200, "listLeadLabel")["items"] == []
    labels = [await new_label(tenant, f"Label {i}", ("positive", "neutral", "negative")[i]) for i in range(3)]
    await new_label(other, "Label of another workspace")
    first = expect(await tenant.get(LABELS, params={"limit": 2}), 200, "listLeadLabel")
    rest = expect(
        await tenant.get(LABELS, params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listLeadLabel",
    )
    assert [x["id"] for x in first["items"] + rest["items"]] == [x["id"] for x in labels]
    found = expect(await tenant.get(LABELS, params={"search": "LABEL 1"}), 200, "listLeadLabel")
    assert [x["id"] for x in found["items"]] == [labels[1]["id"]]
    negative = expect(await tenant.get(LABELS, params={"interest_status": "negative"}), 200, "listLeadLabel")
    assert [x["id"] for x in negative["items"]] == [labels[2]["id"]]
    expect(await tenant.get(LABELS, params={"interest_status": "angry"}), 400, "listLeadLabel")


@scenario("getLeadLabel")
async def _get_lead_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    label = await new_label(tenant, "Fetched")
    assert expect(await tenant.get(f"{LABELS}/{label['id']}"), 200, "getLeadLabel") == label
    expect(await tenant.get(f"{LABELS}/{uuid.uuid4()}"), 404, "getLeadLabel")
    expect(await other.get(f"{LABELS}/{label['id']}"), 404, "getLeadLabel")


@scenario("patchLeadLabel")
async def _patch_lead_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    label = await new_label(tenant, "Before")
    await new_label(tenant, "Taken")
    url = f"{LABELS}/{label['id']}"
    patched = expect(
        await tenant.patch(url, json={"label": "After", "interest_status_label": "neutral"}), 200, "patchLeadLabel"
    )
    assert patched["interest_status"] == label["interest_status"]
    expect(await tenant.patch(url, json={"description": None, "use_with_ai": False}), 200, "patchLeadLabel")
    expect(await tenant.patch(url, json={"label": "TAKEN"}), 409, "patchLeadLabel")
    expect(await tenant.patch(url, json={}), 400, "patchLeadLabel")
    expect(await other.patch(url, json={"label": "Stolen"}), 404, "patchLeadLabel")


@scenario("deleteLeadLabel")
async def _delete_lead_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    label = await new_label(tenant, "Doomed")
    url = f"{LABELS}/{label['id']}"
    expect(await other.delete(url), 404, "deleteLeadLabel")
    expect(await tenant.delete(url, json={"reassigned_status": 12345}), 400, "deleteLeadLabel")
    assert expect(await tenant.delete(url, json={"reassigned_status": 1}), 200, "deleteLeadLabel") == label
    expect(await tenant.delete(url), 404, "deleteLeadLabel")


@scenario("testAiReplyLabelLeadLabels")
async def _ai_reply_label(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    url = f"{LABELS}/ai-reply-label"
    body = expect(await tenant.post(url, json={"reply_text": "I am interested"}), 501, "testAiReplyLabelLeadLabels")
    assert "not available" in body["message"]
    expect(await tenant.post(url, json={}), 400, "testAiReplyLabelLeadLabels")
