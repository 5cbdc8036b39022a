"""Scenarios for block list entries."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tests.conformance._scenario_kit import expect, scenario
from tests.conftest import Tenant

ENTRIES = "/api/v2/block-lists-entries"


async def new_entry(tenant: Tenant, value: str) -> dict[str, Any]:
    return expect(await tenant.post(ENTRIES, json={"bl_value": value}), 200, "createBlockListEntry")


@scenario("createBlockListEntry")
async def _create_block_list_entry(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    domain = await new_entry(tenant, "Example.com")
    assert domain["is_domain"] is True and domain["bl_value"] == "example.com"
    email = await new_entry(tenant, "user@example.org")
    assert email["is_domain"] is False and email["organization_id"] == str(tenant.id)
    assert await new_entry(tenant, "EXAMPLE.COM") == domain
    expect(await tenant.post(ENTRIES, json={}), 400, "createBlockListEntry")
    expect(await tenant.post(ENTRIES, json={"bl_value": "not a value"}), 400, "createBlockListEntry")


@scenario("listBlockListEntry")
async def _list_block_list_entry(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    assert expect(await tenant.get(ENTRIES), 200, "listBlockListEntry")["items"] == []
    entries = [await new_entry(tenant, v) for v in ("a.com", "x@a.com", "b.com")]
    await new_entry(other, "theirs.com")
    first = expect(await tenant.get(ENTRIES, params={"limit": 2}), 200, "listBlockListEntry")
    rest = expect(
        await tenant.get(ENTRIES, params={"limit": 2, "starting_after": first["next_starting_after"]}),
        200,
        "listBlockListEntry",
    )
    assert [e["id"] for e in first["items"] + rest["items"]] == [e["id"] for e in entries]
    domains = expect(await tenant.get(ENTRIES, params={"domains_only": "true"}), 200, "listBlockListEntry")
    assert [e["bl_value"] for e in domains["items"]] == ["a.com", "b.com"]
    found = expect(await tenant.get(ENTRIES, params={"search": "x@"}), 200, "listBlockListEntry")
    assert [e["bl_value"] for e in found["items"]] == ["x@a.com"]
    expect(await tenant.get(ENTRIES, params={"starting_after": "nope"}), 400, "listBlockListEntry")


@scenario("deleteallBlockListEntry")
async def _delete_all_block_list_entries(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    entries = [await new_entry(tenant, v) for v in ("a.com", "x@a.com")]
    await new_entry(other, "a.com")
    only_domains = expect(await tenant.delete(ENTRIES, params={"domains_only": "true"}), 200, "deleteallBlockListEntry")
    assert only_domains == entries[:1]
    assert expect(await tenant.delete(ENTRIES), 200, "deleteallBlockListEntry") == entries[1:]
    assert expect(await tenant.delete(ENTRIES, params={"search": "a"}), 200, "deleteallBlockListEntry") == []
    assert len(expect(await other.get(ENTRIES), 200, "listBlockListEntry")["items"]) == 1


@scenario("getBlockListEntry")
async def _get_block_list_entry(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    entry = await new_entry(tenant, "x@example.com")
    assert expect(await tenant.get(f"{ENTRIES}/{entry['id']}"), 200, "getBlockListEntry") == entry
    expect(await tenant.get(f"{ENTRIES}/{uuid.uuid4()}"), 404, "getBlockListEntry")
    expect(await other.get(f"{ENTRIES}/{entry['id']}"), 404, "getBlockListEntry")


@scenario("patchBlockListEntry")
async def _patch_block_list_entry(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    entry = await new_entry(tenant, "x@example.com")
    await new_entry(tenant, "taken.com")
    url = f"{ENTRIES}/{entry['id']}"
    patched = expect(await tenant.patch(url, json={"bl_value": "example.com"}), 200, "patchBlockListEntry")
    assert patched["is_domain"] is True
    expect(await tenant.patch(url, json={"bl_value": "Taken.com"}), 409, "patchBlockListEntry")
    expect(await tenant.patch(url, json={"bl_value": "??"}), 400, "patchBlockListEntry")
    expect(await tenant.patch(url, json={}), 400, "patchBlockListEntry")
    expect(await other.patch(url, json={"bl_value": "stolen.com"}), 404, "patchBlockListEntry")


@scenario("deleteBlockListEntry")
async def _delete_block_list_entry(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    entry = await new_entry(tenant, "x@example.com")
    url = f"{ENTRIES}/{entry['id']}"
    expect(await other.delete(url), 404, "deleteBlockListEntry")
    assert expect(await tenant.delete(url), 200, "deleteBlockListEntry") == entry
    expect(await tenant.delete(url), 404, "deleteBlockListEntry")


@scenario("createblukBlockListEntry")
async def _bulk_create_block_list_entries(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    body = expect(
        await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": ["a.com", "x@b.com", "bad", "A.com"]}),
        200,
        "createblukBlockListEntry",
    )
    assert [e["bl_value"] for e in body["items"]] == ["a.com", "x@b.com"]
    assert (body["valid_count"], body["invalid_count"]) == (2, 1)
    expect(await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": []}), 400, "createblukBlockListEntry")
    expect(await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": ["bad"]}), 400, "createblukBlockListEntry")


@scenario("deletebulkBlockListEntry")
async def _bulk_delete_block_list_entries(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    mine = await new_entry(tenant, "a.com")
    theirs = await new_entry(other, "a.com")
    ids = [mine["id"], theirs["id"], str(uuid.uuid4())]
    deleted = expect(await tenant.post(f"{ENTRIES}/bulk-delete", json={"ids": ids}), 200, "deletebulkBlockListEntry")
    assert deleted == [mine]
    expect(await tenant.post(f"{ENTRIES}/bulk-delete", json={"ids": ["x"]}), 400, "deletebulkBlockListEntry")


@scenario("downloadBlockListEntry")
async def _download_block_list_entries(tenant: Tenant, other: Tenant, session: AsyncSession) -> None:
    # the 200 body is text/csv (the reference has no JSON schema for it): checked by hand
    entry = await new_entry(tenant, "a.com")
    await new_entry(other, "theirs.com")
    response = await tenant.get(f"{ENTRIES}/download")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.text == f"Blocked Email,Date\r\na.com,{entry['timestamp_created']}\r\n"
    expect(await tenant.get(f"{ENTRIES}/download", params={"domains_only": "x"}), 400, "downloadBlockListEntry")
    expect(await tenant.client.get(f"{ENTRIES}/download"), 401, "downloadBlockListEntry")
