"""The block list over HTTP, against the real database."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest

from coldsend.block_list import endpoints
from tests.conftest import Tenant
from tests.envelope import assert_envelope
from tests.paging import every_item

ENTRIES = "/api/v2/block-lists-entries"


async def block(tenant: Tenant, value: str) -> dict[str, Any]:
    response = await tenant.post(ENTRIES, json={"bl_value": value})
    assert response.status_code == 200, response.text
    return response.json()


async def list_all(tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    return await every_item(tenant, ENTRIES, **params)


def csv_rows(response: httpx.Response) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


# -- create ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored", "is_domain"),
    [
        ("  John.Doe@Example.COM ", "john.doe@example.com", False),
        ("Example.com", "example.com", True),
        ("@example.org", "example.org", True),
        ("mail.example.co.uk.", "mail.example.co.uk", True),
        ("o'brien+tag@sub.example.io", "o'brien+tag@sub.example.io", False),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", True),
    ],
)
async def test_create_stores_the_normalised_value(tenant: Tenant, raw: str, stored: str, is_domain: bool) -> None:
    entry = await block(tenant, raw)
    assert entry["bl_value"] == stored
    assert entry["is_domain"] is is_domain
    assert entry["organization_id"] == str(tenant.id)
    assert uuid.UUID(entry["id"]).version == 7
    assert entry["timestamp_created"].endswith("Z") and len(entry["timestamp_created"]) == 24
    assert (await tenant.get(f"{ENTRIES}/{entry['id']}")).json() == entry


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "localhost",
        "user@",
        "@",
        "a@b",
        "user@@example.com",
        "1.2.3.4",
        "user@1.2.3.4",
        "ex ample.com",
        "-bad.com",
        "bad-.com",
        "a..b@example.com",
        "user@exa_mple.com",
        "münchen.de",
        "a\x00b.com",
        "x" * 65 + "@example.com",
    ],
)
async def test_create_rejects_what_is_neither_an_email_nor_a_domain(tenant: Tenant, value: str) -> None:
    body = assert_envelope(await tenant.post(ENTRIES, json={"bl_value": value}), 400)
    assert "body/bl_value" in body["message"] and repr(value) in body["message"]


@pytest.mark.parametrize("body", [{}, {"bl_value": None}, {"bl_value": 5}, {"value": "example.com"}])
async def test_create_validation_names_the_field(tenant: Tenant, body: dict[str, Any]) -> None:
    assert "bl_value" in assert_envelope(await tenant.post(ENTRIES, json=body), 400)["message"]


async def test_create_of_a_blocked_value_answers_the_existing_entry(tenant: Tenant) -> None:
    first = await block(tenant, "spam@example.com")
    again = await block(tenant, " SPAM@example.com")
    assert again == first
    assert len(await list_all(tenant)) == 1


async def test_same_value_in_two_workspaces_is_two_entries(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await block(tenant, "example.com")
    theirs = await block(other_tenant, "example.com")
    assert mine["id"] != theirs["id"]
    assert theirs["organization_id"] == str(other_tenant.id)


# -- get / patch / delete ----------------------------------------------------------------------


@pytest.mark.parametrize("entry_id", ["0198c0de-1a2b-7c3d-8e4f-000000000001", "not-a-uuid"])
async def test_unknown_ids_are_404(tenant: Tenant, entry_id: str) -> None:
    assert_envelope(await tenant.get(f"{ENTRIES}/{entry_id}"), 404)
    assert_envelope(await tenant.patch(f"{ENTRIES}/{entry_id}", json={"bl_value": "x.com"}), 404)
    assert_envelope(await tenant.delete(f"{ENTRIES}/{entry_id}"), 404)


async def test_patch_changes_the_value_and_derives_is_domain(tenant: Tenant) -> None:
    entry = await block(tenant, "someone@example.com")
    patched = (await tenant.patch(f"{ENTRIES}/{entry['id']}", json={"bl_value": " Example.NET "})).json()
    assert patched["bl_value"] == "example.net" and patched["is_domain"] is True
    assert patched["id"] == entry["id"] and patched["timestamp_created"] == entry["timestamp_created"]
    same = await tenant.patch(f"{ENTRIES}/{entry['id']}", json={"bl_value": "EXAMPLE.net"})
    assert same.status_code == 200 and same.json() == patched


async def test_patch_to_another_entrys_value_is_409(tenant: Tenant) -> None:
    entry = await block(tenant, "a@example.com")
    await block(tenant, "b@example.com")
    body = assert_envelope(await tenant.patch(f"{ENTRIES}/{entry['id']}", json={"bl_value": "B@example.com"}), 409)
    assert body["error"] == "Conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [({}, "bl_value"), ({"bl_value": None}, "bl_value"), ({"bl_value": "nope"}, "bl_value"), ({"x": 1}, "bl_value")],
)
async def test_patch_rejects_empty_or_invalid_bodies(tenant: Tenant, body: dict[str, Any], field: str) -> None:
    entry = await block(tenant, "a@example.com")
    assert field in assert_envelope(await tenant.patch(f"{ENTRIES}/{entry['id']}", json=body), 400)["message"]


async def test_delete_answers_the_deleted_entry(tenant: Tenant) -> None:
    entry = await block(tenant, "gone@example.com")
    deleted = await tenant.delete(f"{ENTRIES}/{entry['id']}")
    assert deleted.status_code == 200 and deleted.json() == entry
    assert_envelope(await tenant.get(f"{ENTRIES}/{entry['id']}"), 404)


@pytest.mark.parametrize("headers", [{}, {"content-type": "application/json"}])
async def test_delete_without_body_with_or_without_json_content_type(tenant: Tenant, headers: dict[str, str]) -> None:
    entry = await block(tenant, "gone@example.com")
    assert (await tenant.delete(f"{ENTRIES}/{entry['id']}", headers=headers)).status_code == 200


# -- list --------------------------------------------------------------------------------------


async def test_list_pages_through_every_entry_once_in_creation_order(tenant: Tenant) -> None:
    created = [await block(tenant, f"user{i}@example.com") for i in range(7)]
    first = (await tenant.get(ENTRIES, params={"limit": 3})).json()
    assert [e["id"] for e in first["items"]] == [e["id"] for e in created[:3]]
    assert first["next_starting_after"] == created[2]["id"]
    assert [e["id"] for e in await list_all(tenant, limit=3)] == [e["id"] for e in created]
    full = (await tenant.get(ENTRIES, params={"limit": 7})).json()
    assert "next_starting_after" not in full and len(full["items"]) == 7


async def test_list_filters_by_domains_only_and_search(tenant: Tenant) -> None:
    await block(tenant, "example.com")
    await block(tenant, "boss@example.com")
    await block(tenant, "other.org")
    await block(tenant, "50%_off@deals.com")
    assert {e["bl_value"] for e in await list_all(tenant, domains_only="true")} == {"example.com", "other.org"}
    assert len(await list_all(tenant, domains_only="false")) == 4
    assert {e["bl_value"] for e in await list_all(tenant, search="EXAMPLE")} == {"example.com", "boss@example.com"}
    assert {e["bl_value"] for e in await list_all(tenant, search="example", domains_only="true")} == {"example.com"}
    assert [e["bl_value"] for e in await list_all(tenant, search="%_")] == ["50%_off@deals.com"]
    assert await list_all(tenant, search="nothing-like-this") == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "yesterday"}, "starting_after"),
        ({"domains_only": "maybe"}, "domains_only"),
    ],
)
async def test_list_rejects_bad_parameters(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    assert field in assert_envelope(await tenant.get(ENTRIES, params=params), 400)["message"]


# -- bulk create -------------------------------------------------------------------------------


async def test_bulk_create_skips_invalid_collapses_repeats_and_returns_existing(tenant: Tenant) -> None:
    existing = await block(tenant, "old@example.com")
    values = ["new.com", "nonsense", "OLD@example.com", "New.com", "x@new.com", "", "new.com "]
    body = (await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": values})).json()
    assert [e["bl_value"] for e in body["items"]] == ["new.com", "old@example.com", "x@new.com"]
    assert body["items"][1] == existing
    assert body["valid_count"] == 3 and body["invalid_count"] == 2
    assert set(body) == {"items", "valid_count", "invalid_count"}
    assert len(await list_all(tenant)) == 3
    again = (await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": values})).json()
    assert again == body


async def test_bulk_create_of_1000_values(tenant: Tenant) -> None:
    values = [f"user{i}@example.com" for i in range(1000)]
    body = (await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": values})).json()
    assert body["valid_count"] == 1000 and body["invalid_count"] == 0
    assert [e["bl_value"] for e in body["items"]] == values


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "bl_values"),
        ({"bl_values": []}, "bl_values"),
        ({"bl_values": ["a.com"] * 1001}, "bl_values"),
        ({"bl_values": "a.com"}, "bl_values"),
        ({"bl_values": [5]}, "bl_values"),
        ({"bl_values": ["nope", "no way"]}, "'no way'"),
    ],
)
async def test_bulk_create_rejects_bad_bodies(tenant: Tenant, body: dict[str, Any], needle: str) -> None:
    assert needle in assert_envelope(await tenant.post(f"{ENTRIES}/bulk-create", json=body), 400)["message"]
    assert await list_all(tenant) == []


# -- bulk delete / delete all ------------------------------------------------------------------


async def test_bulk_delete_deletes_only_this_workspaces_entries(tenant: Tenant, other_tenant: Tenant) -> None:
    a, b, c = [await block(tenant, v) for v in ("a.com", "b.com", "c.com")]
    theirs = await block(other_tenant, "a.com")
    ids = [c["id"], a["id"], theirs["id"], str(uuid.uuid4()), a["id"]]
    deleted = (await tenant.post(f"{ENTRIES}/bulk-delete", json={"ids": ids})).json()
    assert deleted == [a, c]
    assert [e["id"] for e in await list_all(tenant)] == [b["id"]]
    assert (await other_tenant.get(f"{ENTRIES}/{theirs['id']}")).status_code == 200


@pytest.mark.parametrize(
    ("body", "needle"),
    [({}, "ids"), ({"ids": []}, "ids"), ({"ids": ["nope"]}, "'nope'"), ({"ids": [str(uuid.uuid4())] * 1001}, "ids")],
)
async def test_bulk_delete_rejects_bad_bodies(tenant: Tenant, body: dict[str, Any], needle: str) -> None:
    assert needle in assert_envelope(await tenant.post(f"{ENTRIES}/bulk-delete", json=body), 400)["message"]


async def test_delete_all_wipes_this_workspace_only(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = [await block(tenant, v) for v in ("a.com", "x@b.com")]
    await block(other_tenant, "a.com")
    response = await tenant.delete(ENTRIES, headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json() == mine
    assert await list_all(tenant) == []
    assert len(await list_all(other_tenant)) == 1
    assert (await tenant.delete(ENTRIES)).json() == []


async def test_delete_all_honours_the_filters(tenant: Tenant) -> None:
    await block(tenant, "a.com")
    await block(tenant, "x@a.com")
    await block(tenant, "b.org")
    deleted = (await tenant.delete(ENTRIES, params={"domains_only": "true", "search": "a.c"})).json()
    assert [e["bl_value"] for e in deleted] == ["a.com"]
    assert {e["bl_value"] for e in await list_all(tenant)} == {"x@a.com", "b.org"}


# -- download ----------------------------------------------------------------------------------


async def test_download_is_csv_of_this_workspaces_entries(tenant: Tenant, other_tenant: Tenant) -> None:
    a = await block(tenant, "a.com")
    b = await block(tenant, "x@b.com")
    await block(other_tenant, "theirs.com")
    response = await tenant.get(f"{ENTRIES}/download")
    assert "attachment" in response.headers["content-disposition"]
    assert response.text.startswith("Blocked Email,Date\r\n")
    assert csv_rows(response) == [
        ["Blocked Email", "Date"],
        ["a.com", a["timestamp_created"]],
        ["x@b.com", b["timestamp_created"]],
    ]
    assert csv_rows(await tenant.get(f"{ENTRIES}/download", params={"domains_only": "true"}))[1:] == [
        ["a.com", a["timestamp_created"]]
    ]
    assert csv_rows(await tenant.get(f"{ENTRIES}/download", params={"search": "B.COM"}))[1:] == [
        ["x@b.com", b["timestamp_created"]]
    ]
    assert [r[0] for r in csv_rows(await other_tenant.get(f"{ENTRIES}/download"))] == ["Blocked Email", "theirs.com"]


async def test_download_of_an_empty_list_is_the_header(tenant: Tenant) -> None:
    assert csv_rows(await tenant.get(f"{ENTRIES}/download")) == [["Blocked Email", "Date"]]


@pytest.mark.parametrize("count", [6, 7, 8])
async def test_download_streams_large_lists_in_batches(
    tenant: Tenant, other_tenant: Tenant, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    monkeypatch.setattr(endpoints, "DOWNLOAD_BATCH", 3)
    values = [f"user{i}@example.com" for i in range(count)]
    await tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": values})
    await other_tenant.post(f"{ENTRIES}/bulk-create", json={"bl_values": ["spy@example.com"]})
    rows = csv_rows(await tenant.get(f"{ENTRIES}/download"))
    assert rows[0] == ["Blocked Email", "Date"]
    assert [r[0] for r in rows[1:]] == values


# -- tenancy and scopes ------------------------------------------------------------------------


async def test_another_workspaces_entry_is_404_everywhere(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await block(other_tenant, "secret@example.com")
    url = f"{ENTRIES}/{theirs['id']}"
    assert_envelope(await tenant.get(url), 404)
    assert_envelope(await tenant.patch(url, json={"bl_value": "stolen.com"}), 404)
    assert_envelope(await tenant.delete(url), 404)
    assert await list_all(tenant) == []
    assert await list_all(tenant, search="secret") == []
    assert (await tenant.post(f"{ENTRIES}/bulk-delete", json={"ids": [theirs["id"]]})).json() == []
    assert (await tenant.delete(ENTRIES)).json() == []
    assert csv_rows(await tenant.get(f"{ENTRIES}/download")) == [["Blocked Email", "Date"]]
    assert (await other_tenant.get(url)).json() == theirs


OPERATIONS: list[tuple[str, str, dict[str, Any], str]] = [
    ("POST", ENTRIES, {"json": {"bl_value": "a.com"}}, "create"),
    ("GET", ENTRIES, {}, "read"),
    ("DELETE", ENTRIES, {}, "delete"),
    ("POST", f"{ENTRIES}/bulk-create", {"json": {"bl_values": ["a.com"]}}, "create"),
    ("POST", f"{ENTRIES}/bulk-delete", {"json": {"ids": [str(uuid.uuid4())]}}, "delete"),
    ("GET", f"{ENTRIES}/download", {}, "read"),
    ("GET", f"{ENTRIES}/ENTRY", {}, "read"),
    ("PATCH", f"{ENTRIES}/ENTRY", {"json": {"bl_value": "b.com"}}, "update"),
    ("DELETE", f"{ENTRIES}/ENTRY", {}, "delete"),
]


@pytest.mark.parametrize(("method", "url", "kwargs", "action"), OPERATIONS, ids=[f"{o[0]} {o[1]}" for o in OPERATIONS])
async def test_scopes(tenant: Tenant, method: str, url: str, kwargs: dict[str, Any], action: str) -> None:
    others = sorted({"read", "create", "update", "delete"} - {action})
    refused = [*(f"block_list_entries:{a}" for a in others), "leads:all", "lead_lists:all", f"all:{others[0]}"]
    for scope in refused:
        entry = await block(tenant, "scoped@example.com")
        key = await tenant.key_with(scope)
        response = await tenant.request(
            method, url.replace("ENTRY", entry["id"]), headers={"Authorization": f"Bearer {key}"}, **kwargs
        )
        assert_envelope(response, 403)
    for scope in (f"block_list_entries:{action}", "block_list_entries:all", f"all:{action}", "all:all"):
        await tenant.delete(ENTRIES)
        entry = await block(tenant, "scoped@example.com")
        key = await tenant.key_with(scope)
        response = await tenant.request(
            method, url.replace("ENTRY", entry["id"]), headers={"Authorization": f"Bearer {key}"}, **kwargs
        )
        assert response.status_code == 200, f"{scope}: {response.text}"


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", ENTRIES, {"params": {"search": NUL}}),
        ("GET", f"{ENTRIES}/download", {"params": {"search": NUL}}),
        ("DELETE", ENTRIES, {"params": {"search": NUL}}),
        ("POST", ENTRIES, {"json": {"bl_value": NUL}}),
        ("POST", f"{ENTRIES}/bulk-create", {"json": {"bl_values": [NUL]}}),
        ("POST", f"{ENTRIES}/bulk-delete", {"json": {"ids": [NUL]}}),
        ("GET", f"{ENTRIES}/a%00b", {}),
    ],
    ids=["list", "download", "delete-all", "create", "bulk-create", "bulk-delete", "get"],
)
async def test_a_nul_character_is_a_400_or_404_not_a_broken_request(
    tenant: Tenant, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    response = await tenant.request(method, url, **kwargs)
    assert response.status_code in (400, 404), response.text
    assert (await tenant.get(ENTRIES)).status_code == 200  # nothing left broken for the next request
