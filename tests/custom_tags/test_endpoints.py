"""Custom tags and custom tag mappings over HTTP, against the real database."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Tenant
from tests.envelope import assert_envelope
from tests.factories import add_account, add_campaign

TAGS = "/api/v2/custom-tags"


async def create_tag(tenant: Tenant, label: str, description: str | None = None) -> dict:
    body: dict = {"label": label}
    if description is not None:
        body["description"] = description
    response = await tenant.post(TAGS, json=body)
    assert response.status_code == 200, response.text
    return response.json()


# -- create ------------------------------------------------------------------------------------


async def test_create_returns_the_tag(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "  Hot leads ", "warm ones")
    assert tag["label"] == "Hot leads"
    assert tag["description"] == "warm ones"
    assert tag["organization_id"] == str(tenant.id)
    assert uuid.UUID(tag["id"]).version == 7
    assert tag["timestamp_created"].endswith("Z") and len(tag["timestamp_created"]) == 24
    fetched = await tenant.get(f"{TAGS}/{tag['id']}")
    assert fetched.json() == tag


@pytest.mark.parametrize("label", ["hot leads", "HOT LEADS", " Hot   leads ", "Hot\tleads"])
async def test_create_rejects_a_label_equal_after_normalising(tenant: Tenant, label: str) -> None:
    await create_tag(tenant, "Hot leads")
    body = assert_envelope(await tenant.post(TAGS, json={"label": label}), 409)
    assert body["error"] == "Conflict"


async def test_same_label_in_another_workspace_is_fine(tenant: Tenant, other_tenant: Tenant) -> None:
    await create_tag(tenant, "Shared")
    await create_tag(other_tenant, "Shared")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "label"),
        ({"label": ""}, "label"),
        ({"label": "   "}, "label"),
        ({"label": 5}, "label"),
        ({"label": None}, "label"),
        ({"label": "ok", "description": 7}, "description"),
    ],
)
async def test_create_validation_names_the_field(tenant: Tenant, body: dict, field: str) -> None:
    result = assert_envelope(await tenant.post(TAGS, json=body), 400)
    assert result["error"] == "Bad Request"
    assert field in result["message"]


async def test_create_with_invalid_json_is_a_400(tenant: Tenant) -> None:
    response = await tenant.post(TAGS, content=b"{not json", headers={"content-type": "application/json"})
    assert_envelope(response, 400)


async def test_create_accepts_json_sent_with_a_form_content_type(tenant: Tenant) -> None:
    response = await tenant.post(
        TAGS, content=b'{"label": "curl"}', headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["label"] == "curl"


async def test_create_ignores_unknown_fields(tenant: Tenant) -> None:
    response = await tenant.post(TAGS, json={"label": "x", "colour": "red", "id": str(uuid.uuid4())})
    assert response.status_code == 200
    assert "colour" not in response.json()
    assert response.json()["id"] != "colour"


# -- get / patch / delete ----------------------------------------------------------------------


@pytest.mark.parametrize("tag_id", ["01a2174e-b6b7-7677-a1a2-a81bb3cba7f2", "not-a-uuid", "0"])
async def test_get_unknown_is_404(tenant: Tenant, tag_id: str) -> None:
    assert_envelope(await tenant.get(f"{TAGS}/{tag_id}"), 404)


async def test_patch_updates_label_and_description(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "Old", "d")
    response = await tenant.patch(f"{TAGS}/{tag['id']}", json={"label": " New "})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["label"] == "New"
    assert patched["description"] == "d"
    assert patched["timestamp_updated"] >= tag["timestamp_updated"]
    response = await tenant.patch(f"{TAGS}/{tag['id']}", json={"description": None})
    assert response.json()["description"] is None
    assert response.json()["label"] == "New"


async def test_patch_to_own_label_with_other_case_is_allowed(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "Case")
    response = await tenant.patch(f"{TAGS}/{tag['id']}", json={"label": "CASE"})
    assert response.status_code == 200
    assert response.json()["label"] == "CASE"


async def test_patch_to_another_tags_label_is_409(tenant: Tenant) -> None:
    await create_tag(tenant, "Taken")
    tag = await create_tag(tenant, "Free")
    assert_envelope(await tenant.patch(f"{TAGS}/{tag['id']}", json={"label": " taken"}), 409)
    assert (await tenant.get(f"{TAGS}/{tag['id']}")).json()["label"] == "Free"


@pytest.mark.parametrize("body", [{}, {"label": None}, {"label": "  "}, {"unknown": 1}])
async def test_patch_rejects_empty_or_invalid_bodies(tenant: Tenant, body: dict) -> None:
    tag = await create_tag(tenant, "Keep")
    assert_envelope(await tenant.patch(f"{TAGS}/{tag['id']}", json=body), 400)


async def test_patch_unknown_is_404(tenant: Tenant) -> None:
    assert_envelope(await tenant.patch(f"{TAGS}/{uuid.uuid4()}", json={"label": "x"}), 404)


async def test_delete_returns_the_deleted_tag_and_removes_its_mappings(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "Gone")
    campaign = await add_campaign(tenant.session, tenant.id, "C")
    toggled = await tenant.post(
        f"{TAGS}/toggle-resource",
        json={"tag_ids": [tag["id"]], "resource_type": 2, "resource_ids": [str(campaign)], "assign": True},
    )
    assert toggled.status_code == 200, toggled.text
    response = await tenant.delete(f"{TAGS}/{tag['id']}")
    assert response.status_code == 200
    assert response.json() == tag
    assert_envelope(await tenant.get(f"{TAGS}/{tag['id']}"), 404)
    mappings = (await tenant.get("/api/v2/custom-tag-mappings")).json()["items"]
    assert mappings == []
    assert_envelope(await tenant.delete(f"{TAGS}/{tag['id']}"), 404)


@pytest.mark.parametrize("headers", [{}, {"content-type": "application/json"}])
async def test_delete_without_body_with_or_without_json_content_type(tenant: Tenant, headers: dict) -> None:
    tag = await create_tag(tenant, "Bodyless")
    response = await tenant.delete(f"{TAGS}/{tag['id']}", headers=headers)
    assert response.status_code == 200, response.text


async def test_delete_with_a_json_null_body(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "Null body")
    response = await tenant.delete(f"{TAGS}/{tag['id']}", content=b"null", headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


# -- list --------------------------------------------------------------------------------------


async def test_list_pages_through_every_tag_once(tenant: Tenant) -> None:
    created = [await create_tag(tenant, f"tag {i:02d}") for i in range(23)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict = {"limit": 5}
        if cursor:
            params["starting_after"] = cursor
        body = (await tenant.get(TAGS, params=params)).json()
        pages += 1
        seen.extend(item["id"] for item in body["items"])
        cursor = body.get("next_starting_after")
        if not cursor:
            break
        assert pages < 10
    assert seen == [t["id"] for t in created]
    assert pages == 5


async def test_list_full_last_page_still_terminates(tenant: Tenant) -> None:
    for i in range(4):
        await create_tag(tenant, f"t{i}")
    first = (await tenant.get(TAGS, params={"limit": 2})).json()
    second = (await tenant.get(TAGS, params={"limit": 2, "starting_after": first["next_starting_after"]})).json()
    assert len(second["items"]) == 2
    assert "next_starting_after" not in second


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"starting_after": "zz"}, "starting_after"),
        ({"tag_ids": "nope"}, "tag_ids"),
    ],
)
async def test_list_rejects_bad_parameters(tenant: Tenant, params: dict, field: str) -> None:
    body = assert_envelope(await tenant.get(TAGS, params=params), 400)
    assert field in body["message"]


async def test_list_search_is_case_insensitive_substring(tenant: Tenant) -> None:
    await create_tag(tenant, "Enterprise EMEA")
    await create_tag(tenant, "SMB")
    await create_tag(tenant, "100%_sure")
    items = (await tenant.get(TAGS, params={"search": "emea"})).json()["items"]
    assert [t["label"] for t in items] == ["Enterprise EMEA"]
    items = (await tenant.get(TAGS, params={"search": "%"})).json()["items"]
    assert [t["label"] for t in items] == ["100%_sure"]
    items = (await tenant.get(TAGS, params={"search": "_"})).json()["items"]
    assert [t["label"] for t in items] == ["100%_sure"]


async def test_list_filters_by_tag_ids(tenant: Tenant) -> None:
    a = await create_tag(tenant, "a")
    await create_tag(tenant, "b")
    c = await create_tag(tenant, "c")
    items = (await tenant.get(TAGS, params={"tag_ids": f"{a['id']}, {c['id']}"})).json()["items"]
    assert [t["id"] for t in items] == [a["id"], c["id"]]


async def test_list_filters_by_resource_ids_accepting_emails_and_campaign_ids(tenant: Tenant) -> None:
    a = await create_tag(tenant, "on account")
    c = await create_tag(tenant, "on campaign")
    await create_tag(tenant, "unused")
    await add_account(tenant.session, tenant.id, "Sender@Example.com")
    campaign = await add_campaign(tenant.session, tenant.id, "Q4")
    for tag, rtype, rid in ((a, 1, "sender@example.com"), (c, 2, str(campaign))):
        r = await tenant.post(
            f"{TAGS}/toggle-resource",
            json={"tag_ids": [tag["id"]], "resource_type": rtype, "resource_ids": [rid], "assign": True},
        )
        assert r.status_code == 200, r.text
    by_account = (await tenant.get(TAGS, params={"resource_ids": "SENDER@example.com"})).json()["items"]
    assert [t["id"] for t in by_account] == [a["id"]]
    by_campaign = (await tenant.get(TAGS, params={"resource_ids": str(campaign)})).json()["items"]
    assert [t["id"] for t in by_campaign] == [c["id"]]
    both = (await tenant.get(TAGS, params={"resource_ids": f"sender@example.com,{campaign}"})).json()["items"]
    assert {t["id"] for t in both} == {a["id"], c["id"]}
    nothing = (await tenant.get(TAGS, params={"resource_ids": "nobody@example.com"})).json()["items"]
    assert nothing == []


# -- toggle-resource ---------------------------------------------------------------------------


async def toggle(tenant: Tenant, **body: object):  # type: ignore[no-untyped-def]
    return await tenant.post(f"{TAGS}/toggle-resource", json=body)


async def mappings(tenant: Tenant, **params: str) -> list[dict]:
    response = await tenant.get("/api/v2/custom-tag-mappings", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_toggle_assigns_and_unassigns_accounts_by_email(tenant: Tenant) -> None:
    t1 = await create_tag(tenant, "t1")
    t2 = await create_tag(tenant, "t2")
    await add_account(tenant.session, tenant.id, "a@example.com")
    await add_account(tenant.session, tenant.id, "b@example.com")
    r = await toggle(
        tenant,
        tag_ids=[t1["id"], t2["id"]],
        resource_type=1,
        resource_ids=["a@example.com", "B@EXAMPLE.COM"],
        assign=True,
    )
    assert r.status_code == 200 and r.json() == {"success": True}
    rows = await mappings(tenant)
    assert len(rows) == 4
    assert {(m["tag_id"], m["resource_id"], m["resource_type"]) for m in rows} == {
        (t["id"], e, 1) for t in (t1, t2) for e in ("a@example.com", "b@example.com")
    }
    # assigning again changes nothing
    r = await toggle(tenant, tag_ids=[t1["id"]], resource_type=1, resource_ids=["a@example.com"], assign=True)
    assert r.status_code == 200
    assert len(await mappings(tenant)) == 4
    r = await toggle(tenant, tag_ids=[t1["id"]], resource_type=1, resource_ids=["a@example.com"], assign=False)
    assert r.status_code == 200
    rows = await mappings(tenant)
    assert len(rows) == 3
    assert (t1["id"], "a@example.com") not in {(m["tag_id"], m["resource_id"]) for m in rows}


async def test_toggle_campaigns(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "camp")
    c1 = await add_campaign(tenant.session, tenant.id, "one")
    c2 = await add_campaign(tenant.session, tenant.id, "two")
    r = await toggle(tenant, tag_ids=[tag["id"]], resource_type=2, resource_ids=[str(c1), str(c2)], assign=True)
    assert r.status_code == 200, r.text
    rows = await mappings(tenant, resource_ids=str(c2))
    assert [(m["resource_id"], m["resource_type"]) for m in rows] == [(str(c2), 2)]


@pytest.mark.parametrize(
    "body",
    [
        {"resource_type": 1, "resource_ids": ["a@example.com"], "assign": True},
        {"tag_ids": [], "resource_type": 1, "resource_ids": ["a@example.com"], "assign": True},
        {"tag_ids": ["TAG"], "resource_type": 3, "resource_ids": ["a@example.com"], "assign": True},
        {"tag_ids": ["TAG"], "resource_type": 1, "resource_ids": ["a@example.com"]},
        {"tag_ids": ["TAG"], "resource_type": 1, "assign": True},
        {"tag_ids": ["TAG"], "resource_type": 1, "resource_ids": [], "assign": True},
        {"tag_ids": ["not-a-uuid"], "resource_type": 1, "resource_ids": ["a@example.com"], "assign": True},
        {"tag_ids": ["TAG"], "resource_type": 2, "selected_all": True, "filter": "ACC_FILTER_PAUSED", "assign": True},
        {"tag_ids": ["TAG"], "resource_type": 1, "selected_all": True, "filter": "NOPE", "assign": True},
    ],
)
async def test_toggle_rejects_invalid_bodies(tenant: Tenant, body: dict) -> None:
    tag = await create_tag(tenant, "v")
    await add_account(tenant.session, tenant.id, "a@example.com")
    body = {k: ([tag["id"] if x == "TAG" else x for x in v] if k == "tag_ids" else v) for k, v in body.items()}
    assert_envelope(await toggle(tenant, **body), 400)
    assert await mappings(tenant) == []


async def test_toggle_unknown_resources_are_404_and_nothing_changes(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "x")
    await add_account(tenant.session, tenant.id, "real@example.com")
    r = await toggle(
        tenant,
        tag_ids=[tag["id"]],
        resource_type=1,
        resource_ids=["real@example.com", "ghost@example.com"],
        assign=True,
    )
    body = assert_envelope(r, 404)
    assert "ghost@example.com" in body["message"]
    assert await mappings(tenant) == []
    assert_envelope(
        await toggle(tenant, tag_ids=[tag["id"]], resource_type=2, resource_ids=[str(uuid.uuid4())], assign=True), 404
    )
    assert_envelope(
        await toggle(
            tenant, tag_ids=[str(uuid.uuid4())], resource_type=1, resource_ids=["real@example.com"], assign=True
        ),
        404,
    )


async def test_toggle_selected_all_with_status_filter_search_and_exclusions(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "bulk")
    await add_account(tenant.session, tenant.id, "active1@example.com")
    await add_account(tenant.session, tenant.id, "paused1@example.com", status=2)
    await add_account(tenant.session, tenant.id, "paused2@example.com", status=2, first_name="Zed")
    await add_account(tenant.session, tenant.id, "broken@example.com", status=-1)
    r = await toggle(
        tenant,
        tag_ids=[tag["id"]],
        resource_type=1,
        selected_all=True,
        filter="ACC_FILTER_PAUSED",
        excluded_resource_ids=["paused2@example.com"],
        assign=True,
    )
    assert r.status_code == 200, r.text
    assert {m["resource_id"] for m in await mappings(tenant)} == {"paused1@example.com"}
    r = await toggle(
        tenant,
        tag_ids=[tag["id"]],
        resource_type=1,
        selected_all=True,
        filter={"filter": "ACC_FILTER_ERROR"},
        assign=True,
    )
    assert {m["resource_id"] for m in await mappings(tenant)} == {"paused1@example.com", "broken@example.com"}
    r = await toggle(tenant, tag_ids=[tag["id"]], resource_type=1, selected_all=True, search="zed", assign=True)
    assert {m["resource_id"] for m in await mappings(tenant)} == {
        "paused1@example.com",
        "broken@example.com",
        "paused2@example.com",
    }
    r = await toggle(tenant, tag_ids=[tag["id"]], resource_type=1, selected_all=True, assign=False)
    assert await mappings(tenant) == []


@pytest.mark.parametrize(
    ("filter_name", "expected"),
    [
        ("ACC_FILTER_PAUSED", {"paused"}),
        ("ACC_FILTER_ERROR", {"error"}),
        ("ACC_FILTER_NO_CTD", {"paused", "error", "prewarmed", "dfy", "pending", "wactive", "werror"}),
        ("ACC_FILTER_PW_ACCOUNTS", {"prewarmed"}),
        ("ACC_FILTER_DFY", {"dfy", "pending"}),
        ("ACC_FILTER_DFY_SETUP_PENDING", {"pending"}),
        ("ACC_FILTER_W_ACTIVE", {"wactive"}),
        ("ACC_FILTER_W_PAUSED", {"paused", "error", "prewarmed", "dfy", "pending", "ctd"}),
        ("ACC_FILTER_W_ERROR", {"werror"}),
    ],
)
async def test_every_account_filter(tenant: Tenant, filter_name: str, expected: set[str]) -> None:
    tag = await create_tag(tenant, "f")
    accounts = {
        "paused": {"status": 2},
        "error": {"status": -3},
        "ctd": {"tracking_domain_name": "track.example.com"},
        "prewarmed": {"is_prewarmed": True},
        "dfy": {"is_managed_account": True},
        "pending": {"is_managed_account": True, "setup_pending": True},
        "wactive": {"warmup_status": 1},
        "werror": {"warmup_status": -1},
    }
    for name, values in accounts.items():
        await add_account(tenant.session, tenant.id, f"{name}@example.com", **values)
    r = await toggle(tenant, tag_ids=[tag["id"]], resource_type=1, selected_all=True, filter=filter_name, assign=True)
    assert r.status_code == 200, r.text
    got = {m["resource_id"].split("@")[0] for m in await mappings(tenant)}
    assert got == expected


async def test_toggle_selected_all_with_tag_filters(tenant: Tenant) -> None:
    red = await create_tag(tenant, "red")
    blue = await create_tag(tenant, "blue")
    target = await create_tag(tenant, "target")
    for email in ("r@example.com", "b@example.com", "rb@example.com", "none@example.com"):
        await add_account(tenant.session, tenant.id, email)
    await toggle(
        tenant, tag_ids=[red["id"]], resource_type=1, resource_ids=["r@example.com", "rb@example.com"], assign=True
    )
    await toggle(
        tenant, tag_ids=[blue["id"]], resource_type=1, resource_ids=["b@example.com", "rb@example.com"], assign=True
    )

    async def tagged_by_target() -> set[str]:
        return {m["resource_id"] for m in await mappings(tenant) if m["tag_id"] == target["id"]}

    cases = [
        ({"tag_id": red["id"]}, {"r@example.com", "rb@example.com"}),
        ({"tag_id": "no-tag"}, {"none@example.com"}),
        ({"tag_ids": [red["id"], blue["id"]]}, {"r@example.com", "b@example.com", "rb@example.com"}),
        ({"tag_ids_all": [red["id"], blue["id"]]}, {"rb@example.com"}),
        ({"tag_ids": [blue["id"]], "search": "rb@"}, {"rb@example.com"}),
    ]
    for selection, expected in cases:
        await toggle(tenant, tag_ids=[target["id"]], resource_type=1, selected_all=True, assign=False)
        r = await toggle(
            tenant, tag_ids=[target["id"]], resource_type=1, selected_all=True, filter=selection, assign=True
        )
        assert r.status_code == 200, r.text
        assert await tagged_by_target() == expected, selection


async def test_toggle_selected_all_campaigns_with_search(tenant: Tenant) -> None:
    tag = await create_tag(tenant, "q")
    await add_campaign(tenant.session, tenant.id, "Q4 outbound")
    c2 = await add_campaign(tenant.session, tenant.id, "Partners")
    r = await toggle(tenant, tag_ids=[tag["id"]], resource_type=2, selected_all=True, search="partn", assign=True)
    assert r.status_code == 200, r.text
    assert [m["resource_id"] for m in await mappings(tenant)] == [str(c2)]


# -- mappings list -----------------------------------------------------------------------------


async def test_mappings_paginate_without_gaps(tenant: Tenant) -> None:
    tags = [await create_tag(tenant, f"m{i}") for i in range(3)]
    campaigns = [await add_campaign(tenant.session, tenant.id, f"c{i}") for i in range(4)]
    r = await toggle(
        tenant, tag_ids=[t["id"] for t in tags], resource_type=2, resource_ids=[str(c) for c in campaigns], assign=True
    )
    assert r.status_code == 200
    everything = await mappings(tenant)
    assert len(everything) == 12
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params = {"limit": "5", **({"starting_after": cursor} if cursor else {})}
        body = (await tenant.get("/api/v2/custom-tag-mappings", params=params)).json()
        seen += [m["id"] for m in body["items"]]
        cursor = body.get("next_starting_after")
        if not cursor:
            break
    assert seen == [m["id"] for m in everything]
    assert len(set(seen)) == 12


# -- tenancy -----------------------------------------------------------------------------------


async def test_another_workspaces_tag_is_404_everywhere(tenant: Tenant, other_tenant: Tenant) -> None:
    theirs = await create_tag(other_tenant, "secret")
    url = f"{TAGS}/{theirs['id']}"
    assert_envelope(await tenant.get(url), 404)
    assert_envelope(await tenant.patch(url, json={"label": "mine now"}), 404)
    assert_envelope(await tenant.delete(url), 404)
    assert (await tenant.get(TAGS)).json()["items"] == []
    assert (await tenant.get(TAGS, params={"tag_ids": theirs["id"]})).json()["items"] == []
    assert (await tenant.get(TAGS, params={"search": "secret"})).json()["items"] == []
    await add_account(tenant.session, tenant.id, "mine@example.com")
    assert_envelope(
        await toggle(tenant, tag_ids=[theirs["id"]], resource_type=1, resource_ids=["mine@example.com"], assign=True),
        404,
    )
    # still intact for its owner
    assert (await other_tenant.get(url)).json() == theirs


async def test_another_workspaces_resources_cannot_be_tagged_or_seen(tenant: Tenant, other_tenant: Tenant) -> None:
    mine = await create_tag(tenant, "mine")
    theirs = await create_tag(other_tenant, "theirs")
    await add_account(other_tenant.session, other_tenant.id, "their@example.com")
    their_campaign = await add_campaign(other_tenant.session, other_tenant.id, "their campaign")
    assert_envelope(
        await toggle(tenant, tag_ids=[mine["id"]], resource_type=1, resource_ids=["their@example.com"], assign=True),
        404,
    )
    assert_envelope(
        await toggle(tenant, tag_ids=[mine["id"]], resource_type=2, resource_ids=[str(their_campaign)], assign=True),
        404,
    )
    # selected_all only ever reaches the caller's own resources
    r = await toggle(tenant, tag_ids=[mine["id"]], resource_type=1, selected_all=True, assign=True)
    assert r.status_code == 200
    r = await toggle(tenant, tag_ids=[mine["id"]], resource_type=2, selected_all=True, assign=True)
    assert r.status_code == 200
    assert await mappings(tenant) == []
    # their own mapping is invisible to us, even when we name the resource
    r = await toggle(
        other_tenant, tag_ids=[theirs["id"]], resource_type=2, resource_ids=[str(their_campaign)], assign=True
    )
    assert r.status_code == 200
    assert await mappings(tenant, resource_ids=str(their_campaign)) == []
    assert (await tenant.get(TAGS, params={"resource_ids": str(their_campaign)})).json()["items"] == []
    assert len(await mappings(other_tenant)) == 1
