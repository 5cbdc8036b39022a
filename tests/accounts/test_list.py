"""GET /api/v2/accounts: keyset pages on (timestamp_created, email), filters, tags, sorting."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.accounts._helpers import ACCOUNTS, assert_envelope, create_account
from tests.conftest import Tenant
from tests.factories import add_account

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


async def all_pages(tenant: Tenant, **params: Any) -> tuple[list[dict[str, Any]], list[str]]:
    items: list[dict[str, Any]] = []
    cursors: list[str] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"starting_after": cursor} if cursor else {})}
        response = await tenant.get(ACCOUNTS, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        cursor = body.get("next_starting_after")
        if not cursor:
            return items, cursors
        cursors.append(cursor)
    raise AssertionError("pagination does not end")


async def seed(session: AsyncSession, tenant: Tenant, count: int, **values: Any) -> list[str]:
    emails = []
    for i in range(count):
        email = f"acct{i:03d}@example.com"
        stamp = T0 + timedelta(minutes=i)
        await add_account(session, tenant.id, email, timestamp_created=stamp, timestamp_updated=stamp, **values)
        emails.append(email)
    return emails


async def emails_of(tenant: Tenant, **params: Any) -> list[str]:
    response = await tenant.get(ACCOUNTS, params=params)
    assert response.status_code == 200, response.text
    return [a["email"] for a in response.json()["items"]]


# -- pagination --------------------------------------------------------------------------------


async def test_empty_workspace(tenant: Tenant) -> None:
    assert (await tenant.get(ACCOUNTS)).json() == {"items": []}


async def test_pages_follow_creation_order_with_a_timestamp_email_cursor(tenant: Tenant, session: AsyncSession) -> None:
    emails = await seed(session, tenant, 7)
    items, cursors = await all_pages(tenant, limit=3)
    assert [a["email"] for a in items] == emails
    assert cursors == ["2026-03-01T09:02:00.000Z&acct002@example.com", "2026-03-01T09:05:00.000Z&acct005@example.com"]


async def test_accounts_created_in_the_same_instant_are_neither_skipped_nor_repeated(
    tenant: Tenant, session: AsyncSession
) -> None:
    stamp = datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)  # microseconds, as SQL now() writes them
    emails = sorted(f"{name}@example.com" for name in ("zed", "amy", "kim", "bob", "lea"))
    for email in emails:
        await add_account(session, tenant.id, email, timestamp_created=stamp, timestamp_updated=stamp)
    items, cursors = await all_pages(tenant, limit=2)
    assert [a["email"] for a in items] == emails
    assert cursors[0] == "2026-03-01T09:00:00.123456Z&bob@example.com"


async def test_legacy_timestamp_cursor(tenant: Tenant, session: AsyncSession) -> None:
    emails = await seed(session, tenant, 5)
    assert await emails_of(tenant, starting_after="2026-03-01T09:02:00.000Z") == emails[3:]
    assert await emails_of(tenant, starting_after="2026-03-01T09:01:30Z") == emails[2:]


async def test_a_cursor_whose_ampersand_was_not_encoded_still_works(tenant: Tenant, session: AsyncSession) -> None:
    emails = await seed(session, tenant, 5)
    response = await tenant.get(f"{ACCOUNTS}?limit=2&starting_after=2026-03-01T09:01:00.000Z&acct001@example.com")
    assert [a["email"] for a in response.json()["items"]] == emails[2:4]


@pytest.mark.parametrize("cursor", ["yesterday", "2026-13-01T00:00:00Z&a@example.com", "&a@example.com"])
async def test_a_malformed_cursor_is_400(tenant: Tenant, cursor: str) -> None:
    body = assert_envelope(await tenant.get(ACCOUNTS, params={"starting_after": cursor}), 400)
    assert "starting_after" in body["message"]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"skip": -1}])
async def test_limit_and_skip_bounds(tenant: Tenant, params: dict[str, Any]) -> None:
    body = assert_envelope(await tenant.get(ACCOUNTS, params=params), 400)
    assert next(iter(params)) in body["message"]


async def test_default_limit_is_100(tenant: Tenant, session: AsyncSession) -> None:
    await seed(session, tenant, 101)
    body = (await tenant.get(ACCOUNTS)).json()
    assert len(body["items"]) == 100 and body["next_starting_after"].endswith("&acct099@example.com")


async def test_another_workspace_s_accounts_are_never_listed(
    tenant: Tenant, other_tenant: Tenant, session: AsyncSession
) -> None:
    await create_account(tenant, "mine@example.com")
    await create_account(other_tenant, "theirs@example.com")
    await create_account(other_tenant, "mine2@example.com")
    items, _ = await all_pages(tenant, limit=1)
    assert [a["email"] for a in items] == ["mine@example.com"]
    assert await emails_of(tenant, search="theirs") == []


# -- filters -----------------------------------------------------------------------------------


async def test_search_matches_address_and_name(tenant: Tenant) -> None:
    await create_account(tenant, "jane@acme.example.com", first_name="Jane", last_name="Doe")
    await create_account(tenant, "ops@example.com", first_name="Ops", last_name="Team")
    assert await emails_of(tenant, search="ACME") == ["jane@acme.example.com"]
    assert await emails_of(tenant, search="jane doe") == ["jane@acme.example.com"]
    assert await emails_of(tenant, search="%") == []
    assert await emails_of(tenant, search="") == ["jane@acme.example.com", "ops@example.com"]


async def test_status_provider_and_acc_filters(tenant: Tenant, session: AsyncSession) -> None:
    await add_account(session, tenant.id, "active@example.com", status=1, provider_code=2, warmup_status=1)
    await add_account(session, tenant.id, "paused@example.com", status=2, provider_code=3, warmup_status=0)
    await add_account(session, tenant.id, "error@example.com", status=-1, warmup_status=-1)
    await add_account(session, tenant.id, "ctd@example.com", tracking_domain_name="t.example.com", is_prewarmed=True)
    await add_account(session, tenant.id, "dfy@example.com", is_managed_account=True, setup_pending=True)
    assert await emails_of(tenant, status=2) == ["paused@example.com"]
    assert await emails_of(tenant, status=-1) == ["error@example.com"]
    assert await emails_of(tenant, provider_code=3) == ["paused@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_PAUSED") == ["paused@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_ERROR") == ["error@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_W_ACTIVE") == ["active@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_W_ERROR") == ["error@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_PW_ACCOUNTS") == ["ctd@example.com"]
    assert await emails_of(tenant, filter="ACC_FILTER_DFY_SETUP_PENDING") == ["dfy@example.com"]
    assert "ctd@example.com" not in await emails_of(tenant, filter="ACC_FILTER_NO_CTD")
    assert await emails_of(tenant, status=1, provider_code=2) == ["active@example.com"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": 7}, "status"),
        ({"status": "x"}, "status"),
        ({"provider_code": 5}, "provider_code"),
        ({"filter": "ACC_FILTER_NOPE"}, "filter"),
        ({"tag_ids": "nope"}, "tag_ids"),
        ({"tag_ids_all": f"{uuid.uuid4()},x"}, "tag_ids_all"),
        ({"sort_by": "name"}, "sort_by"),
        ({"sort_order": "up"}, "sort_order"),
        ({"include_tags": "maybe"}, "include_tags"),
    ],
)
async def test_filter_validation_names_the_parameter(tenant: Tenant, params: dict[str, Any], field: str) -> None:
    body = assert_envelope(await tenant.get(ACCOUNTS, params=params), 400)
    assert field in body["message"]


async def tag(tenant: Tenant, label: str, emails: list[str]) -> str:
    created = await tenant.post("/api/v2/custom-tags", json={"label": label, "description": f"about {label}"})
    tag_id = created.json()["id"]
    if emails:
        toggled = await tenant.post(
            "/api/v2/custom-tags/toggle-resource",
            json={"tag_ids": [tag_id], "resource_type": 1, "resource_ids": emails, "assign": True},
        )
        assert toggled.status_code == 200, toggled.text
    return str(tag_id)


async def test_tag_filters_and_include_tags(tenant: Tenant, other_tenant: Tenant) -> None:
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        await create_account(tenant, email)
    red = await tag(tenant, "Red", ["a@example.com", "b@example.com"])
    blue = await tag(tenant, "Blue", ["b@example.com", "c@example.com"])
    unused = await tag(tenant, "Unused", [])
    assert await emails_of(tenant, tag_ids=red) == ["a@example.com", "b@example.com"]
    assert await emails_of(tenant, tag_ids=f"{red},{blue}") == ["a@example.com", "b@example.com", "c@example.com"]
    assert await emails_of(tenant, tag_ids_all=f"{red}, {blue}") == ["b@example.com"]
    assert await emails_of(tenant, tag_ids=unused) == []
    assert await emails_of(tenant, tag_ids=str(uuid.uuid4())) == []
    # a tag of another workspace never matches here
    await create_account(other_tenant, "a@example.com")
    theirs = await tag(other_tenant, "Theirs", ["a@example.com"])
    assert await emails_of(tenant, tag_ids=theirs) == []

    plain = (await tenant.get(ACCOUNTS)).json()["items"]
    assert all("tags" not in a for a in plain)
    tagged = {
        a["email"]: a["tags"] for a in (await tenant.get(ACCOUNTS, params={"include_tags": "true"})).json()["items"]
    }
    assert tagged["a@example.com"] == [{"id": red, "label": "Red", "description": "about Red"}]
    assert sorted(t["label"] for t in tagged["b@example.com"]) == ["Blue", "Red"]
    assert [t["id"] for t in tagged["c@example.com"]] == [blue]


# -- sorting -----------------------------------------------------------------------------------


async def test_sort_by_email_both_ways(tenant: Tenant, session: AsyncSession) -> None:
    for email in ("m@example.com", "a@example.com", "z@example.com", "k@example.com"):
        await add_account(session, tenant.id, email)
    ascending, _ = await all_pages(tenant, sort_by="email", sort_order="asc", limit=3)
    assert [a["email"] for a in ascending] == ["a@example.com", "k@example.com", "m@example.com", "z@example.com"]
    descending, _ = await all_pages(tenant, sort_by="email", limit=3)  # desc is the default with sort_by
    assert [a["email"] for a in descending] == ["z@example.com", "m@example.com", "k@example.com", "a@example.com"]


async def test_sort_by_timestamp_desc_pages(tenant: Tenant, session: AsyncSession) -> None:
    emails = await seed(session, tenant, 5)
    items, _ = await all_pages(tenant, sort_by="timestamp_created", limit=2)
    assert [a["email"] for a in items] == emails[::-1]
    assert await emails_of(tenant, sort_order="desc", limit=2) == emails[::-1][:2]


async def test_sort_by_warmup_score_and_status(tenant: Tenant, session: AsyncSession) -> None:
    await add_account(session, tenant.id, "low@example.com", stat_warmup_score=10.0, status=2)
    await add_account(session, tenant.id, "none@example.com", status=1)
    await add_account(session, tenant.id, "high@example.com", stat_warmup_score=98.5, status=-1)
    await add_account(session, tenant.id, "mid@example.com", stat_warmup_score=50.0, status=1)
    by_score, _ = await all_pages(tenant, sort_by="stat_warmup_score", limit=1)
    assert [a["email"] for a in by_score] == [
        "high@example.com",
        "mid@example.com",
        "low@example.com",
        "none@example.com",
    ]
    by_status, _ = await all_pages(tenant, sort_by="status", sort_order="asc", limit=3)
    assert [a["email"] for a in by_status] == [
        "high@example.com",
        "mid@example.com",
        "none@example.com",
        "low@example.com",
    ]


async def test_skip_offsets_the_sorted_list(tenant: Tenant, session: AsyncSession) -> None:
    emails = await seed(session, tenant, 6)
    assert await emails_of(tenant, sort_by="email", sort_order="asc", skip=4) == emails[4:]
    assert await emails_of(tenant, skip=2, limit=2) == emails[2:4]


async def test_a_sorted_cursor_naming_a_deleted_account_is_400(tenant: Tenant) -> None:
    await create_account(tenant, "a@example.com")
    await create_account(tenant, "b@example.com")
    first = (await tenant.get(ACCOUNTS, params={"sort_by": "status", "limit": 1})).json()
    gone = first["next_starting_after"].partition("&")[2]
    assert (await tenant.delete(f"{ACCOUNTS}/{gone}")).status_code == 200
    params = {"sort_by": "status", "limit": 1, "starting_after": first["next_starting_after"]}
    assert "skip" in assert_envelope(await tenant.get(ACCOUNTS, params=params), 400)["message"]


async def test_a_cursor_with_a_plus_address_survives_a_client_that_did_not_encode_it(
    tenant: Tenant, session: AsyncSession
) -> None:
    for i, email in enumerate(("a+1@example.com", "a+2@example.com", "a+3@example.com")):
        stamp = T0 + timedelta(minutes=i)
        await add_account(session, tenant.id, email, timestamp_created=stamp, timestamp_updated=stamp)
    first = (await tenant.get(ACCOUNTS, params={"limit": 1})).json()
    assert first["next_starting_after"] == "2026-03-01T09:00:00.000Z&a+1@example.com"
    raw = await tenant.get(f"{ACCOUNTS}?limit=1&starting_after={first['next_starting_after']}")
    assert [a["email"] for a in raw.json()["items"]] == ["a+2@example.com"]
