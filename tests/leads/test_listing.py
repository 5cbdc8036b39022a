"""`POST /leads/list`: every filter against real rows, keyset pages, distinct contacts, tenancy, 400s."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.clock import utcnow
from tests.conftest import Tenant
from tests.leads._listing_helpers import (
    LIST,
    add_campaign,
    add_label,
    add_lead,
    add_list,
    emails,
    list_leads,
    list_ok,
)

pytestmark = pytest.mark.asyncio


async def test_an_empty_workspace_lists_nothing(tenant: Tenant) -> None:
    assert await list_ok(tenant) == {"items": []}
    # a body-less POST, with or without a JSON content type
    bare = await tenant.client.post(LIST, headers=tenant.headers)
    assert bare.status_code == 200 and bare.json() == {"items": []}
    empty = await tenant.client.post(LIST, headers={**tenant.headers, "Content-Type": "application/json"})
    assert empty.status_code == 200, empty.text


async def test_leads_come_in_id_order_with_a_keyset_cursor(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    ids = [await add_lead(session, tenant.id, f"lead{i}@example.com", campaign_id=campaign) for i in range(7)]
    first = await list_ok(tenant, limit=3)
    assert [item["id"] for item in first["items"]] == [str(i) for i in ids[:3]]
    assert first["next_starting_after"] == str(ids[2])
    second = await list_ok(tenant, limit=3, starting_after=first["next_starting_after"])
    assert [item["id"] for item in second["items"]] == [str(i) for i in ids[3:6]]
    last = await list_ok(tenant, limit=3, starting_after=second["next_starting_after"])
    assert [item["id"] for item in last["items"]] == [str(ids[6])]
    assert "next_starting_after" not in last
    # a page that ends exactly at the last lead has no cursor either
    exact = await list_ok(tenant, limit=7)
    assert len(exact["items"]) == 7 and "next_starting_after" not in exact
    assert await emails(tenant, limit=2) == [f"lead{i}@example.com" for i in range(7)]


async def test_items_have_the_lead_wire_shape(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    lead_id = await add_lead(
        session, tenant.id, "Ada@Example.com", campaign_id=campaign, first_name="Ada", lt_interest_status=1
    )
    item = (await list_ok(tenant))["items"][0]
    assert item["id"] == str(lead_id)
    assert item["email"] == "ada@example.com"
    assert item["campaign"] == str(campaign) and item["list_id"] is None
    assert item["organization"] == str(tenant.id)
    assert item["lt_interest_status"] == 1
    assert item["timestamp_created"].endswith("Z")


async def test_campaign_and_list_filters(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_campaign(session, tenant.id, "A")
    b = await add_campaign(session, tenant.id, "B")
    lst = await add_list(session, tenant.id, "L")
    await add_lead(session, tenant.id, "a1@example.com", campaign_id=a)
    await add_lead(session, tenant.id, "b1@example.com", campaign_id=b)
    await add_lead(session, tenant.id, "l1@example.com", list_id=lst)
    await add_lead(session, tenant.id, "loose@example.com")
    assert await emails(tenant, campaign=str(a)) == ["a1@example.com"]
    assert await emails(tenant, list_id=str(lst)) == ["l1@example.com"]
    assert await emails(tenant, in_campaign=True) == ["a1@example.com", "b1@example.com"]
    assert await emails(tenant, in_campaign=False) == ["l1@example.com", "loose@example.com"]
    assert await emails(tenant, in_list=True) == ["l1@example.com"]
    assert await emails(tenant, in_list=False, in_campaign=False) == ["loose@example.com"]
    assert await emails(tenant, campaign=str(a), in_campaign=False) == []
    # an existing campaign without leads is an empty page, not a 404
    empty = await add_campaign(session, tenant.id, "Empty")
    assert await emails(tenant, campaign=str(empty)) == []


async def test_ids_excluded_ids_contacts_and_owners(tenant: Tenant, session: AsyncSession) -> None:
    owner, other_owner = uuid.uuid4(), uuid.uuid4()
    one = await add_lead(session, tenant.id, "one@example.com", assigned_to=owner)
    two = await add_lead(session, tenant.id, "two@example.com", assigned_to=other_owner)
    three = await add_lead(session, tenant.id, "three@example.com")
    assert await emails(tenant, ids=[str(one), str(three)]) == ["one@example.com", "three@example.com"]
    assert await emails(tenant, ids=[]) == []
    assert await emails(tenant, excluded_ids=[str(two)]) == ["one@example.com", "three@example.com"]
    assert await emails(tenant, ids=[str(one), str(two)], excluded_ids=[str(one)]) == ["two@example.com"]
    assert await emails(tenant, contacts=["TWO@example.com", " three@example.com ", "nobody@example.com"]) == [
        "two@example.com",
        "three@example.com",
    ]
    assert await emails(tenant, organization_user_ids=[str(owner)]) == ["one@example.com"]
    assert await emails(tenant, organization_user_ids=[str(owner), str(other_owner)]) == [
        "one@example.com",
        "two@example.com",
    ]


async def test_many_ids_are_one_array_parameter(tenant: Tenant, session: AsyncSession) -> None:
    wanted = await add_lead(session, tenant.id, "needle@example.com")
    ids = [str(uuid.uuid4()) for _ in range(40_000)] + [str(wanted)]
    assert await emails(tenant, ids=ids) == ["needle@example.com"]


FILTER_CASES: list[tuple[str, dict[str, Any]]] = [
    ("FILTER_VAL_CONTACTED", {"timestamp_last_contact": utcnow()}),
    ("FILTER_VAL_COMPLETED", {"status": 3}),
    ("FILTER_VAL_UNSUBSCRIBED", {"status": -2}),
    ("FILTER_VAL_BOUNCED", {"status": -1}),
    ("FILTER_VAL_SKIPPED", {"status": -3}),
    ("FILTER_LEAD_INTERESTED", {"lt_interest_status": 1}),
    ("FILTER_LEAD_NOT_INTERESTED", {"lt_interest_status": -1}),
    ("FILTER_LEAD_MEETING_BOOKED", {"lt_interest_status": 2}),
    ("FILTER_LEAD_MEETING_COMPLETED", {"lt_interest_status": 3}),
    ("FILTER_LEAD_CLOSED", {"lt_interest_status": 4}),
    ("FILTER_LEAD_OUT_OF_OFFICE", {"lt_interest_status": 0}),
    ("FILTER_LEAD_WRONG_PERSON", {"lt_interest_status": -2}),
    ("FILTER_LEAD_LOST", {"lt_interest_status": -3}),
    ("FILTER_LEAD_NO_SHOW", {"lt_interest_status": -4}),
    ("FILTER_VAL_RISKY", {"verification_status": -2}),
    ("FILTER_VAL_INVALID", {"verification_status": -1}),
    ("FILTER_VAL_VALID", {"verification_status": 1}),
    ("FILTER_VAL_IN_SUBSEQUENCE", {"subsequence_id": uuid.uuid4()}),
    ("FILTER_VAL_OPENED_NO_REPLY", {"email_open_count": 2}),
    ("FILTER_VAL_COMPLETED_NO_REPLY", {"status": 3}),
    ("FILTER_VAL_REPLIED", {"email_reply_count": 1, "email_open_count": 1}),
    ("FILTER_VAL_LINK_CLICKED", {"email_click_count": 1}),
]


@pytest.mark.parametrize(("name", "values"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
async def test_each_filter_selects_its_leads(
    name: str, values: dict[str, Any], tenant: Tenant, session: AsyncSession
) -> None:
    # the plain lead: active, never contacted, no interest, unverified, no activity
    await add_lead(session, tenant.id, "plain@example.com", status=1)
    await add_lead(session, tenant.id, "match@example.com", **values)
    assert await emails(tenant, filter=name) == ["match@example.com"]


async def test_filters_that_also_match_the_plain_lead(tenant: Tenant, session: AsyncSession) -> None:
    await add_lead(session, tenant.id, "plain@example.com")
    await add_lead(
        session,
        tenant.id,
        "busy@example.com",
        status=2,
        email_open_count=1,
        email_reply_count=1,
        timestamp_last_contact=utcnow(),
    )
    assert await emails(tenant, filter="FILTER_VAL_ACTIVE") == ["plain@example.com"]
    assert await emails(tenant, filter="FILTER_VAL_NOT_CONTACTED") == ["plain@example.com"]
    assert await emails(tenant, filter="FILTER_VAL_NO_OPENS") == ["plain@example.com"]
    # replied leads are not "opened, no reply", completed-and-replied not "completed, no reply"
    assert await emails(tenant, filter="FILTER_VAL_OPENED_NO_REPLY") == []


async def test_custom_label_filters(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    await add_label(session, tenant.id, 101, "positive")
    await add_label(session, tenant.id, 102, "negative")
    await add_label(session, other_tenant.id, 103, "positive")  # another workspace's label
    await add_lead(session, tenant.id, "happy@example.com", lt_interest_status=101)
    await add_lead(session, tenant.id, "sad@example.com", lt_interest_status=102)
    await add_lead(session, tenant.id, "theirs@example.com", lt_interest_status=103)
    await add_lead(session, tenant.id, "builtin@example.com", lt_interest_status=1)
    assert await emails(tenant, filter="FILTER_LEAD_CUSTOM_LABEL_POSITIVE") == ["happy@example.com"]
    assert await emails(tenant, filter="FILTER_LEAD_CUSTOM_LABEL_NEGATIVE") == ["sad@example.com"]
    # a label's own interest value, as the filter or as interest_status
    assert await emails(tenant, filter="102") == ["sad@example.com"]
    assert await emails(tenant, interest_status=101) == ["happy@example.com"]


async def test_website_visitor_enrichment_and_provider_filters(tenant: Tenant, session: AsyncSession) -> None:
    await add_lead(
        session, tenant.id, "visitor@example.com", is_website_visitor=True, enrichment_status=1, esg_code=2, esp_code=1
    )
    await add_lead(session, tenant.id, "plain@example.com", is_website_visitor=None)
    await add_lead(session, tenant.id, "no@example.com", is_website_visitor=False, enrichment_status=-1, esg_code=0)
    assert await emails(tenant, is_website_visitor=True) == ["visitor@example.com"]
    assert await emails(tenant, is_website_visitor=False) == ["plain@example.com", "no@example.com"]
    assert await emails(tenant, enrichment_status=1) == ["visitor@example.com"]
    assert await emails(tenant, enrichment_status=-1) == ["no@example.com"]
    assert await emails(tenant, esg_code="2") == ["visitor@example.com"]
    assert await emails(tenant, esg_code="0") == ["no@example.com"]
    assert await emails(tenant, esg_code=2) == ["visitor@example.com"]  # a number is read as its string
    assert await emails(tenant, esg_code="none") == ["plain@example.com"]
    assert len(await emails(tenant, esg_code="all")) == 3
    assert await emails(tenant, esp_code=1) == ["visitor@example.com"]


async def test_filters_combine(tenant: Tenant, session: AsyncSession) -> None:
    campaign = await add_campaign(session, tenant.id, "C")
    await add_lead(session, tenant.id, "john@acme.com", campaign_id=campaign, first_name="John", email_reply_count=2)
    await add_lead(session, tenant.id, "jane@acme.com", campaign_id=campaign, first_name="Jane")
    await add_lead(session, tenant.id, "john@other.com", first_name="John", email_reply_count=1)
    body = {"campaign": str(campaign), "search": "john", "filter": "FILTER_VAL_REPLIED"}
    assert await emails(tenant, **body) == ["john@acme.com"]


# -- activity queries ---------------------------------------------------------------------------------


async def _activity_leads(tenant: Tenant, session: AsyncSession) -> None:
    now = utcnow()
    await add_lead(session, tenant.id, "never@example.com")
    await add_lead(
        session,
        tenant.id,
        "old@example.com",
        email_reply_count=3,
        timestamp_last_reply=now - timedelta(days=30),
        email_open_count=5,
        timestamp_last_open=now - timedelta(days=30),
        timestamp_last_contact=now - timedelta(days=30),
    )
    await add_lead(
        session,
        tenant.id,
        "recent@example.com",
        email_reply_count=1,
        timestamp_last_reply=now - timedelta(hours=5),
        email_open_count=1,
        timestamp_last_open=now - timedelta(hours=5),
        email_click_count=1,
        timestamp_last_click=now - timedelta(hours=5),
        timestamp_last_contact=now - timedelta(days=1, hours=1),
    )
    await add_lead(
        session,
        tenant.id,
        "keen@example.com",
        email_reply_count=4,
        timestamp_last_reply=now - timedelta(days=2),
        lt_interest_status=1,
        timestamp_last_interest_change=now - timedelta(days=2),
    )


def q(action: str, **values: Any) -> dict[str, Any]:
    return {"actionType": action, "values": values}


ACTIVITY_CASES: list[tuple[str, list[dict[str, Any]], list[str]]] = [
    ("replied ever", [q("reply")], ["old", "recent", "keen"]),
    ("replied in 1 day", [q("reply", **{"occurrence-days": 1})], ["recent"]),
    ("replied in 7 days", [q("reply", **{"occurrence-days": 7})], ["recent", "keen"]),
    ("more than 2 replies", [q("reply", **{"occurrence-count": {"condition": "more", "count": 2}})], ["old", "keen"]),
    ("exactly 1 reply", [q("reply", **{"occurrence-count": {"condition": "equal", "count": 1}})], ["recent"]),
    (
        "fewer than 2 replies",
        [q("reply", **{"occurrence-count": {"condition": "less", "count": 2}})],
        ["never", "recent"],
    ),
    (
        "more than 2 replies in 7 days",
        [q("reply", **{"occurrence-days": 7, "occurrence-count": {"condition": "more", "count": 2}})],
        ["keen"],
    ),
    (
        "no reply in 7 days",
        [q("reply", **{"occurrence-days": 7, "occurrence-count": {"condition": "equal", "count": 0}})],
        ["never", "old"],
    ),
    ("opened in 1 day", [q("email-open", **{"occurrence-days": 1})], ["recent"]),
    ("opened more than 4 times", [q("email-open", **{"occurrence-count": {"condition": "more", "count": 4}})], ["old"]),
    ("clicked", [q("link-click")], ["recent"]),
    ("contacted in 2 days", [q("last-contacted", **{"occurrence-days": 2})], ["recent"]),
    ("contacted ever", [q("last-contacted")], ["old", "recent"]),
    (
        "not contacted in 7 days",
        [q("last-contacted", **{"occurrence-days": 7, "occurrence-count": {"condition": "equal", "count": 0}})],
        ["never", "old", "keen"],
    ),
    ("interested", [q("lead-status", **{"lead-status": {"status": 1, "condition": "is"}})], ["keen"]),
    (
        "not interested",
        [q("lead-status", **{"lead-status": {"status": 1, "condition": "is-not"}})],
        ["never", "old", "recent"],
    ),
    ("interested within 7 days", [q("lead-status", **{"lead-status": {"status": 1}, "occurrence-days": 7})], ["keen"]),
    ("interested within 1 day", [q("lead-status", **{"lead-status": {"status": 1}, "occurrence-days": 1})], []),
    ("status changed", [q("lead-status-change")], ["keen"]),
    ("status changed in 1 day", [q("lead-status-change", **{"occurrence-days": 1})], []),
    (
        "status changed to interested in 3 days",
        [q("lead-status-change", **{"occurrence-days": 3, "lead-status": {"status": 1, "condition": "is"}})],
        ["keen"],
    ),
    (
        "status never changed",
        [q("lead-status-change", **{"occurrence-count": {"condition": "equal", "count": 0}})],
        ["never", "old", "recent"],
    ),
    ("two conditions", [q("reply"), q("email-open")], ["old", "recent"]),
]


@pytest.mark.parametrize(("case", "queries", "expected"), ACTIVITY_CASES, ids=[c[0] for c in ACTIVITY_CASES])
async def test_activity_queries(
    case: str, queries: list[dict[str, Any]], expected: list[str], tenant: Tenant, session: AsyncSession
) -> None:
    await _activity_leads(tenant, session)
    assert await emails(tenant, queries=queries) == [f"{name}@example.com" for name in expected]


# -- distinct contacts --------------------------------------------------------------------------------


async def test_distinct_contacts_are_one_lead_per_email_in_email_order(tenant: Tenant, session: AsyncSession) -> None:
    a = await add_campaign(session, tenant.id, "A")
    b = await add_campaign(session, tenant.id, "B")
    lst = await add_list(session, tenant.id)
    first_bob = await add_lead(session, tenant.id, "bob@example.com", campaign_id=a)
    await add_lead(session, tenant.id, "bob@example.com", campaign_id=b)
    await add_lead(session, tenant.id, "bob@example.com", list_id=lst)
    await add_lead(session, tenant.id, "carol@example.com", campaign_id=b)
    await add_lead(session, tenant.id, "alice@example.com", list_id=lst)
    await add_lead(session, tenant.id, None, list_id=lst, first_name="Nameless")
    page1 = await list_ok(tenant, distinct_contacts=True, limit=2)
    assert [i["email"] for i in page1["items"]] == ["alice@example.com", "bob@example.com"]
    assert page1["items"][1]["id"] == str(first_bob)  # the oldest lead of the address
    assert page1["next_starting_after"] == "bob@example.com"
    page2 = await list_ok(tenant, distinct_contacts=True, limit=2, starting_after="bob@example.com")
    assert [i["email"] for i in page2["items"]] == ["carol@example.com"]
    assert "next_starting_after" not in page2
    assert await emails(tenant, distinct_contacts=True, campaign=str(b)) == ["bob@example.com", "carol@example.com"]
    assert await emails(tenant, distinct_contacts=True, limit=1) == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
    ]


# -- tenancy ------------------------------------------------------------------------------------------


async def test_another_workspace_is_never_listed(tenant: Tenant, other_tenant: Tenant, session: AsyncSession) -> None:
    theirs_campaign = await add_campaign(session, other_tenant.id, "Theirs")
    theirs_list = await add_list(session, other_tenant.id, "Theirs")
    theirs = await add_lead(
        session, other_tenant.id, "secret@example.com", campaign_id=theirs_campaign, first_name="Secret"
    )
    await add_lead(session, other_tenant.id, "secret2@example.com", list_id=theirs_list)
    mine = await add_lead(session, tenant.id, "mine@example.com")
    assert await emails(tenant) == ["mine@example.com"]
    assert await emails(tenant, search="secret") == []
    assert await emails(tenant, ids=[str(theirs), str(mine)]) == ["mine@example.com"]
    assert await emails(tenant, contacts=["secret@example.com"]) == []
    assert await emails(tenant, distinct_contacts=True) == ["mine@example.com"]
    for body in (
        {"campaign": str(theirs_campaign)},
        {"list_id": str(theirs_list)},
        {"campaign": str(uuid.uuid4())},
        {"list_id": str(uuid.uuid4())},
    ):
        response = await list_leads(tenant, **body)
        assert response.status_code == 404, response.text
        assert response.json()["error"] == "Not Found"
    # and they see theirs, not ours
    assert await emails(other_tenant) == ["secret@example.com", "secret2@example.com"]


async def test_smart_views_do_not_exist_here(tenant: Tenant) -> None:
    response = await list_leads(tenant, smart_view_id=str(uuid.uuid4()))
    assert response.status_code == 404 and "smart view" in response.json()["message"].lower()


async def test_scopes(tenant: Tenant) -> None:
    for scope in ("leads:read", "leads:all", "all:read", "all:all"):
        key = await tenant.key_with(scope)
        response = await tenant.client.post(LIST, json={}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 200, (scope, response.text)
    for scope in ("leads:update", "campaigns:read", "lead_lists:read"):
        key = await tenant.key_with(scope)
        response = await tenant.client.post(LIST, json={}, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403, (scope, response.text)
    assert (await tenant.client.post(LIST, json={})).status_code == 401


# -- bad requests -------------------------------------------------------------------------------------


BAD_BODIES: list[tuple[dict[str, Any], str]] = [
    ({"limit": 0}, "body/limit"),
    ({"limit": 101}, "body/limit"),
    ({"limit": "many"}, "body/limit"),
    ({"starting_after": "not-a-lead-id"}, "body/starting_after"),
    ({"filter": "FILTER_VAL_SOMETHING"}, "body/filter"),
    ({"filter": "--5"}, "body/filter"),
    ({"campaign": "nope"}, "body/campaign"),
    ({"list_id": 5}, "body/list_id"),
    ({"ids": ["nope"]}, "body/ids/0"),
    ({"ids": "not-a-list"}, "body/ids"),
    ({"excluded_ids": [1]}, "body/excluded_ids/0"),
    ({"in_campaign": "perhaps"}, "body/in_campaign"),
    ({"queries": [{"actionType": "dance", "values": {}}]}, "body/queries/0/actionType"),
    ({"queries": [{"values": {}}]}, "body/queries/0"),
    (
        {"queries": [{"actionType": "reply", "values": {"occurrence-days": -1}}]},
        "body/queries/0/values/occurrence-days",
    ),
    (
        {"queries": [{"actionType": "reply", "values": {"occurrence-count": {"condition": "most"}}}]},
        "body/queries/0/values/occurrence-count/condition",
    ),
    (
        {"queries": [{"actionType": "reply", "values": {"occurrence-count": {"count": -2}}}]},
        "body/queries/0/values/occurrence-count/count",
    ),
    ({"queries": [{"actionType": "lead-status", "values": {}}]}, "lead-status"),
    (
        {"queries": [{"actionType": "lead-status", "values": {"lead-status": {"condition": "is"}}}]},
        "body/queries/0/values/lead-status",
    ),
    (
        {"queries": [{"actionType": "reply", "values": {"occurrence-days": 1e12}}]},
        "body/queries/0/values/occurrence-days",
    ),
    (
        {"queries": [{"actionType": "lead-status", "values": {"lead-status": {"status": 2**40}}}]},
        "body/queries/0/values/lead-status/status",
    ),
    ({"interest_status": 2**40}, "body/interest_status"),
    ({"filter": "99999999"}, "body/filter"),
    ({"enrichment_status": 5}, "body/enrichment_status"),
    ({"esg_code": "7"}, "body/esg_code"),
    ({"search": "a\u0000b"}, "body/search"),
    ({"search": "x" * 1001}, "body/search"),
    ({"distinct_contacts": "yes please"}, "body/distinct_contacts"),
]


@pytest.mark.parametrize(("body", "field"), BAD_BODIES, ids=[b[1] + str(i) for i, b in enumerate(BAD_BODIES)])
async def test_bad_bodies_are_400_naming_the_field(body: dict[str, Any], field: str, tenant: Tenant) -> None:
    response = await list_leads(tenant, **body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["statusCode"] == 400 and payload["error"] == "Bad Request"
    assert field in payload["message"], payload["message"]


async def test_null_limit_and_cursor_mean_the_defaults(tenant: Tenant, session: AsyncSession) -> None:
    await add_lead(session, tenant.id, "x@example.com")
    assert [i["email"] for i in (await list_ok(tenant, limit=None, starting_after=None))["items"]] == ["x@example.com"]
    assert [i["email"] for i in (await list_ok(tenant, starting_after=""))["items"]] == ["x@example.com"]


async def test_unknown_fields_are_ignored(tenant: Tenant, session: AsyncSession) -> None:
    await add_lead(session, tenant.id, "x@example.com")
    assert await emails(tenant, whatever=True, has_clause=True) == ["x@example.com"]


async def test_a_json_body_that_is_not_an_object_is_400(tenant: Tenant) -> None:
    response = await tenant.post(LIST, content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
