"""Campaign create, read, list, patch and delete over HTTP, against the real database."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.campaigns.helpers import ALWAYS_OPEN, CAMPAIGNS, OFFICE_HOURS, body, create, envelope, steps
from tests.conftest import Tenant
from tests.factories import add_account, add_campaign


async def new_tag(tenant: Tenant, label: str) -> str:
    response = await tenant.post("/api/v2/custom-tags", json={"label": label})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def tag_resource(tenant: Tenant, tag_id: str, resource_type: int, resource: str) -> None:
    toggle = {"tag_ids": [tag_id], "resource_type": resource_type, "resource_ids": [resource], "assign": True}
    response = await tenant.post("/api/v2/custom-tags/toggle-resource", json=toggle)
    assert response.status_code == 200, response.text


# -- create --------------------------------------------------------------------------------------


async def test_create_is_a_draft_with_every_field_returned(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "sender@acme.com")
    tag = await new_tag(tenant, "Senders")
    owner = str(uuid.uuid4())
    schedule = {**copy.deepcopy(OFFICE_HOURS), "start_date": "2026-12-01", "end_date": "2027-01-31"}
    sent = body(
        "Q4 outreach",
        campaign_schedule=schedule,
        sequences=steps(3, 2),
        pl_value=250.5,
        is_evergreen=True,
        email_gap=7,
        random_wait_max=3,
        text_only=False,
        first_email_text_only=True,
        email_list=[" Sender@ACME.com "],
        daily_limit=40,
        stop_on_reply=True,
        email_tag_list=[tag],
        link_tracking=False,
        open_tracking=True,
        stop_on_auto_reply=True,
        daily_max_leads=15,
        prioritize_new_leads=False,
        auto_variant_select={"trigger": "open_rate"},
        match_lead_esp=True,
        stop_for_company=True,
        insert_unsubscribe_header=True,
        allow_risky_contacts=True,
        disable_bounce_protect=False,
        limit_emails_per_company_override={"mode": "custom", "daily_limit": 2, "scope": "across_workspace"},
        cc_list=["boss@acme.com"],
        bcc_list=["crm@acme.com"],
        owned_by=owner,
        ai_sdr_id=owner,
        provider_routing_rules=[{"action": "do_not_send", "recipient_esp": ["outlook"], "sender_esp": ["google"]}],
        status=1,  # read-only: ignored
        id=str(uuid.uuid4()),  # read-only: ignored
    )
    response = await tenant.post(CAMPAIGNS, json=sent)
    assert response.status_code == 200, response.text
    campaign = response.json()
    assert uuid.UUID(campaign["id"]).version == 7 and campaign["id"] != sent["id"]
    assert campaign["status"] == 0
    assert campaign["organization"] == str(tenant.id)
    assert campaign["email_list"] == ["sender@acme.com"]
    assert campaign["email_tag_list"] == [tag]
    assert campaign["campaign_schedule"] == schedule
    assert campaign["sequences"][0]["steps"][1]["delay_unit"] == "days"  # the default, filled in
    assert campaign["sequences"][0]["steps"][1]["variants"][0]["subject"] == ""  # follow-up: same thread
    for field in (
        "pl_value",
        "is_evergreen",
        "email_gap",
        "random_wait_max",
        "text_only",
        "first_email_text_only",
        "daily_limit",
        "stop_on_reply",
        "link_tracking",
        "open_tracking",
        "stop_on_auto_reply",
        "daily_max_leads",
        "prioritize_new_leads",
        "auto_variant_select",
        "match_lead_esp",
        "stop_for_company",
        "insert_unsubscribe_header",
        "allow_risky_contacts",
        "disable_bounce_protect",
        "limit_emails_per_company_override",
        "cc_list",
        "bcc_list",
        "owned_by",
        "ai_sdr_id",
        "provider_routing_rules",
    ):
        assert campaign[field] == sent[field], field
    assert campaign["timestamp_created"].endswith("Z") and len(campaign["timestamp_created"]) == 24
    assert (await tenant.get(f"{CAMPAIGNS}/{campaign['id']}")).json() == campaign


async def test_create_minimal_has_defaults(tenant: Tenant) -> None:
    campaign = await create(tenant)
    assert campaign["sequences"] == [] and campaign["email_list"] == [] and campaign["email_tag_list"] == []
    assert campaign["open_tracking"] is False and campaign["custom_variables"] is None
    assert "not_sending_status" not in campaign  # the reference's enum has no null


async def test_sequences_beyond_the_first_are_stored_as_sent(tenant: Tenant) -> None:
    many = steps(1) + steps(2)
    campaign = await create(tenant, sequences=many)
    assert len(campaign["sequences"]) == 2 and len(campaign["sequences"][1]["steps"]) == 2


async def test_delays_keep_their_number_type(tenant: Tenant) -> None:
    sequence = [
        {"steps": [{"type": "email", "delay": 1.5, "delay_unit": "hours", "variants": [{"subject": "a", "body": ""}]}]}
    ]
    campaign = await create(tenant, sequences=sequence)
    step = campaign["sequences"][0]["steps"][0]
    assert step["delay"] == 1.5 and step["delay_unit"] == "hours" and "pre_delay" not in step


def schedule_with(**changes: Any) -> dict[str, Any]:
    entry = {**copy.deepcopy(OFFICE_HOURS["schedules"][0]), **changes}
    return {"schedules": [entry]}


def one_step(variants: list[dict[str, Any]] | None = None, **step: Any) -> dict[str, Any]:
    """A body whose only sequence has one step (a valid one unless told otherwise)."""
    fields = {
        "type": "email",
        "delay": 1,
        "variants": [{"subject": "a", "body": "b"}] if variants is None else variants,
    }
    return body(sequences=[{"steps": [{**fields, **step}]}])


def dated(**dates: str) -> dict[str, Any]:
    return body(campaign_schedule={**OFFICE_HOURS, **dates})


INVALID_BODIES: list[tuple[str, dict[str, Any], str]] = [
    ("no name", {"campaign_schedule": ALWAYS_OPEN}, "name"),
    ("blank name", body("   "), "name"),
    ("no schedule", {"name": "x"}, "campaign_schedule"),
    ("no schedules", body(campaign_schedule={"schedules": []}), "schedules"),
    ("unknown timezone", body(campaign_schedule=schedule_with(timezone="Mars/Olympus")), "timezone"),
    ("timezone not in the list", body(campaign_schedule=schedule_with(timezone="Europe/London")), "timezone"),
    ("to before from", body(campaign_schedule=schedule_with(timing={"from": "17:00", "to": "09:00"})), "timing"),
    ("to equal to from", body(campaign_schedule=schedule_with(timing={"from": "09:00", "to": "09:00"})), "timing"),
    ("bad time", body(campaign_schedule=schedule_with(timing={"from": "9:00", "to": "17:00"})), "from"),
    ("hour 24", body(campaign_schedule=schedule_with(timing={"from": "09:00", "to": "24:00"})), "to"),
    ("empty days", body(campaign_schedule=schedule_with(days={})), "days"),
    ("no day true", body(campaign_schedule=schedule_with(days={"1": False, "2": False})), "days"),
    ("only unknown day keys", body(campaign_schedule=schedule_with(days={"7": True, "monday": True})), "days"),
    ("null schedule name", body(campaign_schedule=schedule_with(name=None)), "name"),
    ("end before start", dated(start_date="2026-05-02", end_date="2026-05-01"), "end_date"),
    ("invalid date", dated(start_date="2026-02-30"), "start_date"),
    ("date with time", dated(end_date="2026-02-03T10:00:00Z"), "end_date"),
    ("step without variants", one_step([]), "variants"),
    ("variant without subject and body", one_step([{"subject": " ", "body": ""}]), "variants/0"),
    ("variant missing body", one_step([{"subject": "x"}]), "body"),
    ("step of another type", one_step(type="sms"), "type"),
    ("negative delay", one_step(delay=-1), "delay"),
    ("bad delay unit", one_step(delay_unit="weeks"), "delay_unit"),
    ("negative daily limit", body(daily_limit=-5), "daily_limit"),
    ("negative email gap", body(email_gap=-1), "email_gap"),
    ("negative random wait", body(random_wait_max=-1), "random_wait_max"),
    ("negative daily max leads", body(daily_max_leads=-1), "daily_max_leads"),
    ("negative lead value", body(pl_value=-1), "pl_value"),
    ("fractional daily limit", body(daily_limit=2.5), "daily_limit"),
    ("huge daily limit", body(daily_limit=10**12), "daily_limit"),
    (
        "company limit below 1",
        body(limit_emails_per_company_override={"mode": "custom", "daily_limit": 0}),
        "daily_limit",
    ),
    ("unknown trigger", body(auto_variant_select={"trigger": "vibes"}), "trigger"),
    ("bad cc", body(cc_list=["not-an-email"]), "cc_list"),
    ("bad sender email", body(email_list=["nobody"]), "email_list"),
    ("bad tag id", body(email_tag_list=["not-a-uuid"]), "email_tag_list"),
    ("null email_list", body(email_list=None), "email_list"),
    ("null sequences", body(sequences=None), "sequences"),
    ("nul character", body("bad\x00name"), "name"),
    ("nul in a body", one_step([{"subject": "a", "body": "b\x00"}]), "body"),
    ("unknown esp", body(provider_routing_rules=[{"action": "send", "recipient_esp": ["yahoo"]}]), "recipient_esp"),
]


@pytest.mark.parametrize(("case", "sent", "field"), INVALID_BODIES, ids=[c[0] for c in INVALID_BODIES])
async def test_create_validation_is_a_400_naming_the_field(tenant: Tenant, case: str, sent: dict, field: str) -> None:
    result = envelope(await tenant.post(CAMPAIGNS, json=sent), 400)
    assert result["error"] == "Bad Request"
    assert field in result["message"], result["message"]
    listed = await tenant.get(CAMPAIGNS)
    assert listed.json()["items"] == []


async def test_unknown_day_keys_are_ignored(tenant: Tenant) -> None:
    campaign = await create(tenant, campaign_schedule=schedule_with(days={"1": True, "2": False, "7": True}))
    assert campaign["campaign_schedule"]["schedules"][0]["days"] == {"1": True, "2": False}


@pytest.mark.parametrize(
    "params", [{"search": "a\x00b"}, {"tag_ids": "\x00"}, {"starting_after": "\x00"}, {"ai_sdr_id": "\x00"}]
)
async def test_nul_characters_in_the_query_are_400s(tenant: Tenant, params: dict) -> None:
    await create(tenant)
    envelope(await tenant.get(CAMPAIGNS, params=params), 400)
    assert len((await tenant.get(CAMPAIGNS)).json()["items"]) == 1  # the request's failure left no broken state


async def test_timezone_error_suggests_valid_names(tenant: Tenant) -> None:
    sent = body(campaign_schedule=schedule_with(timezone="Mars/Olympus"))
    message = envelope(await tenant.post(CAMPAIGNS, json=sent), 400)["message"]
    assert "Mars/Olympus" in message and "America/Chicago" in message


async def test_activation_needs_are_not_checked_at_create(tenant: Tenant) -> None:
    campaign = await create(tenant, sequences=[{"steps": []}])
    assert campaign["sequences"] == [{"steps": []}]


async def test_unknown_sender_is_refused_naming_it(tenant: Tenant, other_tenant: Tenant) -> None:
    await add_account(tenant.session, other_tenant.id, "theirs@rival.com")
    await add_account(tenant.session, tenant.id, "mine@acme.com")
    sent = body(email_list=["mine@acme.com", "theirs@rival.com", "ghost@acme.com"])
    message = envelope(await tenant.post(CAMPAIGNS, json=sent), 400)["message"]
    assert "email_list" in message and "theirs@rival.com" in message and "ghost@acme.com" in message
    assert "mine@acme.com" not in message
    assert (await tenant.get(CAMPAIGNS)).json()["items"] == []


async def test_unknown_or_foreign_tag_is_refused(tenant: Tenant, other_tenant: Tenant) -> None:
    foreign = await new_tag(other_tenant, "Theirs")
    for tag in (foreign, str(uuid.uuid4())):
        message = envelope(await tenant.post(CAMPAIGNS, json=body(email_tag_list=[tag])), 400)["message"]
        assert "email_tag_list" in message and tag in message


async def test_sender_emails_are_deduplicated(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "a@acme.com")
    campaign = await create(tenant, email_list=["A@acme.com", "a@ACME.com", "a@acme.com"])
    assert campaign["email_list"] == ["a@acme.com"]


async def test_create_ignores_unknown_fields_and_accepts_form_content_type(tenant: Tenant) -> None:
    import json as jsonlib

    response = await tenant.post(
        CAMPAIGNS,
        content=jsonlib.dumps(body("Curl", surprise=True)).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200, response.text
    assert "surprise" not in response.json()


# -- get / tenancy -------------------------------------------------------------------------------


@pytest.mark.parametrize("campaign_id", ["0199ffff-0000-7000-8000-000000000000", "not-a-uuid"])
async def test_get_unknown_is_404(tenant: Tenant, campaign_id: str) -> None:
    envelope(await tenant.get(f"{CAMPAIGNS}/{campaign_id}"), 404)


TENANT_SCOPED = [
    ("GET", "{id}", None),
    ("PATCH", "{id}", {"name": "Stolen"}),
    ("DELETE", "{id}", None),
    ("POST", "{id}/activate", None),
    ("POST", "{id}/pause", None),
    ("POST", "{id}/duplicate", None),
    ("POST", "{id}/share", None),
    ("POST", "{id}/export", None),
    ("POST", "{id}/variables", {"variables": ["x"]}),
    ("GET", "{id}/sending-status", None),
]


@pytest.mark.parametrize(("method", "path", "sent"), TENANT_SCOPED, ids=[f"{m} {p}" for m, p, _ in TENANT_SCOPED])
async def test_another_workspaces_campaign_is_404_everywhere(
    tenant: Tenant, other_tenant: Tenant, method: str, path: str, sent: dict | None
) -> None:
    await add_account(tenant.session, tenant.id, "owner@acme.com")
    campaign = await create(tenant, "Private", sequences=steps(), email_list=["owner@acme.com"])
    before = (await tenant.get(f"{CAMPAIGNS}/{campaign['id']}")).json()
    url = f"{CAMPAIGNS}/{path.format(id=campaign['id'])}"
    kwargs: dict[str, Any] = {} if sent is None else {"json": sent}
    body_ = envelope(await other_tenant.request(method, url, **kwargs), 404)
    assert body_["message"] == "Campaign not found"
    after = (await tenant.get(f"{CAMPAIGNS}/{campaign['id']}")).json()
    assert after == before
    assert (await other_tenant.get(CAMPAIGNS)).json()["items"] == []
    assert (await other_tenant.get(f"{CAMPAIGNS}/count-launched")).json() == {"count": 0}


# -- list ----------------------------------------------------------------------------------------


async def test_list_pages_in_id_order_through_every_campaign_once(tenant: Tenant) -> None:
    made = [await create(tenant, f"C{i}") for i in range(7)]
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["starting_after"] = cursor
        page = (await tenant.get(CAMPAIGNS, params=params)).json()
        seen.extend(c["id"] for c in page["items"])
        cursor = page.get("next_starting_after")
        if not cursor:
            break
    assert seen == [c["id"] for c in made]


async def test_list_items_are_full_campaigns(tenant: Tenant) -> None:
    made = await create(tenant, sequences=steps())
    assert (await tenant.get(CAMPAIGNS)).json() == {"items": [made]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"starting_after": "nope"}, "starting_after"),
        ({"tag_ids": "nope"}, "tag_ids"),
        ({"status": 7}, "status"),
        ({"exclude_status": "x"}, "exclude_status"),
        ({"ai_sales_agent_id": "x"}, "ai_sales_agent_id"),
        ({"ai_sdr_id": "x"}, "ai_sdr_id"),
    ],
)
async def test_list_rejects_bad_parameters(tenant: Tenant, params: dict, field: str) -> None:
    assert field in envelope(await tenant.get(CAMPAIGNS, params=params), 400)["message"]


async def test_list_search_is_a_case_insensitive_substring_of_the_name(tenant: Tenant) -> None:
    await create(tenant, "Spring SaaS push")
    await create(tenant, "Autumn")
    await create(tenant, "100% off_sale")
    names = lambda page: [c["name"] for c in page.json()["items"]]  # noqa: E731
    assert names(await tenant.get(CAMPAIGNS, params={"search": "saas"})) == ["Spring SaaS push"]
    assert names(await tenant.get(CAMPAIGNS, params={"search": "%"})) == ["100% off_sale"]
    assert names(await tenant.get(CAMPAIGNS, params={"search": "f_s"})) == ["100% off_sale"]
    assert len(names(await tenant.get(CAMPAIGNS, params={"search": ""}))) == 3


async def test_list_filters_by_any_of_the_tags(tenant: Tenant, other_tenant: Tenant) -> None:
    campaigns = [await create(tenant, n) for n in ("A", "B", "C")]
    red, blue = await new_tag(tenant, "Red"), await new_tag(tenant, "Blue")
    await tag_resource(tenant, red, 2, campaigns[0]["id"])
    await tag_resource(tenant, blue, 2, campaigns[2]["id"])
    ids = lambda page: [c["id"] for c in page.json()["items"]]  # noqa: E731
    assert ids(await tenant.get(CAMPAIGNS, params={"tag_ids": red})) == [campaigns[0]["id"]]
    both = await tenant.get(CAMPAIGNS, params={"tag_ids": f"{red}, {blue}"})
    assert ids(both) == [campaigns[0]["id"], campaigns[2]["id"]]
    assert ids(await other_tenant.get(CAMPAIGNS, params={"tag_ids": red})) == []


async def test_list_filters_by_status_and_excluded_status(tenant: Tenant) -> None:
    draft = await create(tenant, "Draft")
    active_id = await add_campaign(tenant.session, tenant.id, "Active", status=1, campaign_schedule=ALWAYS_OPEN)
    paused_id = await add_campaign(tenant.session, tenant.id, "Paused", status=2, campaign_schedule=ALWAYS_OPEN)
    ids = lambda page: [c["id"] for c in page.json()["items"]]  # noqa: E731
    assert ids(await tenant.get(CAMPAIGNS, params={"status": 1})) == [str(active_id)]
    assert ids(await tenant.get(CAMPAIGNS, params={"status": 0})) == [draft["id"]]
    assert ids(await tenant.get(CAMPAIGNS, params={"exclude_status": 1})) == [draft["id"], str(paused_id)]
    assert ids(await tenant.get(CAMPAIGNS, params={"status": -99})) == []


async def test_list_filters_by_ai_agent_under_both_names(tenant: Tenant) -> None:
    agent = str(uuid.uuid4())
    made = await create(tenant, "By agent", ai_sdr_id=agent)
    await create(tenant, "By hand")
    for name in ("ai_sales_agent_id", "ai_sdr_id"):
        page = (await tenant.get(CAMPAIGNS, params={name: agent})).json()
        assert [c["id"] for c in page["items"]] == [made["id"]]
    same = await tenant.get(CAMPAIGNS, params={"ai_sales_agent_id": agent, "ai_sdr_id": agent})
    assert [c["id"] for c in same.json()["items"]] == [made["id"]]
    envelope(await tenant.get(CAMPAIGNS, params={"ai_sales_agent_id": agent, "ai_sdr_id": str(uuid.uuid4())}), 400)


# -- patch ---------------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent(tenant: Tenant) -> None:
    campaign = await create(tenant, sequences=steps(), daily_limit=10, stop_on_reply=True)
    response = await tenant.patch(f"{CAMPAIGNS}/{campaign['id']}", json={"name": "Renamed", "daily_limit": None})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["name"] == "Renamed" and patched["daily_limit"] is None
    unchanged = {k: v for k, v in patched.items() if k not in ("name", "daily_limit", "timestamp_updated")}
    assert unchanged == {k: v for k, v in campaign.items() if k not in ("name", "daily_limit", "timestamp_updated")}
    assert patched["timestamp_updated"] >= campaign["timestamp_updated"]
    assert patched["timestamp_created"] == campaign["timestamp_created"]


async def test_patch_email_list_replaces_it(tenant: Tenant) -> None:
    for email in ("a@acme.com", "b@acme.com", "c@acme.com"):
        await add_account(tenant.session, tenant.id, email)
    campaign = await create(tenant, email_list=["a@acme.com", "b@acme.com"])
    url = f"{CAMPAIGNS}/{campaign['id']}"
    assert (await tenant.patch(url, json={"email_list": ["C@acme.com"]})).json()["email_list"] == ["c@acme.com"]
    assert (await tenant.patch(url, json={"email_list": []})).json()["email_list"] == []


async def test_patch_schedule_and_sequences_replace_them(tenant: Tenant) -> None:
    campaign = await create(tenant, sequences=steps(3))
    url = f"{CAMPAIGNS}/{campaign['id']}"
    patched = (await tenant.patch(url, json={"campaign_schedule": OFFICE_HOURS, "sequences": steps(1)})).json()
    assert patched["campaign_schedule"] == OFFICE_HOURS
    assert len(patched["sequences"][0]["steps"]) == 1


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"name": None}, "name"),
        ({"name": ""}, "name"),
        ({"campaign_schedule": None}, "campaign_schedule"),
        ({"campaign_schedule": schedule_with(timezone="Nowhere")}, "timezone"),
        ({"email_list": None}, "email_list"),
        ({"open_tracking": None}, "open_tracking"),
        ({"daily_limit": -1}, "daily_limit"),
        ({"sequences": [{"steps": [{"type": "email", "delay": 1, "variants": []}]}]}, "variants"),
    ],
)
async def test_patch_validation_is_a_400_and_changes_nothing(tenant: Tenant, sent: dict, field: str) -> None:
    campaign = await create(tenant)
    url = f"{CAMPAIGNS}/{campaign['id']}"
    assert field in envelope(await tenant.patch(url, json=sent), 400)["message"]
    assert (await tenant.get(url)).json() == campaign


async def test_patch_unknown_sender_is_refused(tenant: Tenant) -> None:
    campaign = await create(tenant)
    url = f"{CAMPAIGNS}/{campaign['id']}"
    assert (
        "ghost@acme.com" in envelope(await tenant.patch(url, json={"email_list": ["ghost@acme.com"]}), 400)["message"]
    )
    assert (await tenant.get(url)).json() == campaign


async def test_patch_with_nothing_known_returns_the_campaign_unchanged(tenant: Tenant) -> None:
    campaign = await create(tenant)
    url = f"{CAMPAIGNS}/{campaign['id']}"
    for sent in ({}, {"status": 1, "unknown": "x", "ai_sdr_id": str(uuid.uuid4())}):
        response = await tenant.patch(url, json=sent)
        assert response.status_code == 200 and response.json() == campaign


async def test_patch_unknown_is_404(tenant: Tenant) -> None:
    envelope(await tenant.patch(f"{CAMPAIGNS}/{uuid.uuid4()}", json={"name": "x"}), 404)


# -- delete --------------------------------------------------------------------------------------


async def test_delete_returns_the_campaign_and_removes_its_tag_mappings(tenant: Tenant) -> None:
    campaign = await create(tenant, sequences=steps())
    keep = await create(tenant, "Keep")
    tag = await new_tag(tenant, "Doomed")
    await tag_resource(tenant, tag, 2, campaign["id"])
    await tag_resource(tenant, tag, 2, keep["id"])
    response = await tenant.delete(f"{CAMPAIGNS}/{campaign['id']}")
    assert response.status_code == 200 and response.json() == campaign
    envelope(await tenant.get(f"{CAMPAIGNS}/{campaign['id']}"), 404)
    envelope(await tenant.delete(f"{CAMPAIGNS}/{campaign['id']}"), 404)
    remaining = await tenant.session.execute(
        text("SELECT resource_id FROM custom_tag_mappings WHERE organization_id = :o"), {"o": tenant.id}
    )
    assert [str(r[0]) for r in remaining] == [keep["id"]]


@pytest.mark.parametrize("headers", [{}, {"content-type": "application/json"}])
async def test_delete_without_body_with_or_without_json_content_type(tenant: Tenant, headers: dict) -> None:
    campaign = await create(tenant)
    assert (await tenant.delete(f"{CAMPAIGNS}/{campaign['id']}", headers=headers)).status_code == 200


# -- scopes --------------------------------------------------------------------------------------

SCOPED_CALLS = [
    ("POST", "", "campaigns:create", "campaigns:read"),
    ("GET", "", "campaigns:read", "campaigns:create"),
    ("GET", "/count-launched", "campaigns:read", "campaigns:update"),
    ("GET", "/{id}", "campaigns:read", "campaigns:delete"),
    ("PATCH", "/{id}", "campaigns:update", "campaigns:read"),
    ("DELETE", "/{id}", "campaigns:delete", "campaigns:update"),
    ("POST", "/{id}/activate", "campaigns:update", "campaigns:read"),
    ("POST", "/{id}/pause", "campaigns:update", "campaigns:create"),
    ("POST", "/{id}/duplicate", "campaigns:create", "campaigns:update"),
    ("POST", "/{id}/share", "campaigns:update", "campaigns:read"),
    ("POST", "/{id}/export", "campaigns:read", "campaigns:update"),
    ("POST", "/{id}/from-export", "campaigns:create", "campaigns:read"),
    ("POST", "/{id}/variables", "campaigns:update", "campaigns:read"),
    ("GET", "/{id}/sending-status", "campaigns:read", "leads:read"),
]


@pytest.mark.parametrize(
    ("method", "path", "allowed", "refused"), SCOPED_CALLS, ids=[f"{m} {p}" for m, p, *_ in SCOPED_CALLS]
)
async def test_scopes(tenant: Tenant, method: str, path: str, allowed: str, refused: str) -> None:
    campaign = await create(tenant)
    url = f"{CAMPAIGNS}{path.format(id=campaign['id'])}"
    sent = {"json": body("Scoped")} if (method, path) == ("POST", "") else {}
    if path.endswith("variables"):
        sent = {"json": {"variables": ["x"]}}
    denied = await tenant.request(method, url, headers={"Authorization": f"Bearer {await tenant.key_with(refused)}"})
    assert envelope(denied, 403)["error"] == "Forbidden"
    for scope in (allowed, allowed.split(":")[0] + ":all", "all:" + allowed.split(":")[1]):
        key = await tenant.key_with(scope)
        response = await tenant.request(method, url, headers={"Authorization": f"Bearer {key}"}, **sent)
        # from-export of an unshared campaign is a 403 of its own: "not shared", not a scope problem
        if path.endswith("from-export"):
            assert "not shared" in envelope(response, 403)["message"]
        else:
            assert response.status_code in (200, 204, 400), f"{scope}: {response.status_code} {response.text}"
        if method == "DELETE":
            campaign = await create(tenant)
            url = f"{CAMPAIGNS}{path.format(id=campaign['id'])}"
