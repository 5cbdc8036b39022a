"""Activate, pause, duplicate, share / export / from-export, variables, count-launched and sending-status."""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, text, update

from coldsend.accounts.models import AccountDailyStat
from coldsend.campaigns.models import Campaign
from coldsend.campaigns.service import CampaignService
from coldsend.leads.models import Lead
from tests.campaigns.helpers import ALWAYS_OPEN, CAMPAIGNS, OFFICE_HOURS, create, envelope, steps
from tests.conftest import Tenant
from tests.factories import add_account, add_campaign


async def new_tag(tenant: Tenant, label: str) -> str:
    response = await tenant.post("/api/v2/custom-tags", json={"label": label})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def tag_account(tenant: Tenant, tag_id: str, email: str) -> None:
    toggle = {"tag_ids": [tag_id], "resource_type": 1, "resource_ids": [email], "assign": True}
    assert (await tenant.post("/api/v2/custom-tags/toggle-resource", json=toggle)).status_code == 200


async def ready(tenant: Tenant, name: str = "Ready", sender: str = "sender@acme.com", **fields: Any) -> dict[str, Any]:
    await add_account(tenant.session, tenant.id, sender)
    return await create(tenant, name, sequences=steps(), email_list=[sender], **fields)


async def call(tenant: Tenant, campaign: dict[str, Any], action: str, **kwargs: Any) -> Any:
    return await tenant.post(f"{CAMPAIGNS}/{campaign['id']}/{action}", **kwargs)


async def set_status(tenant: Tenant, campaign: dict[str, Any], status: int) -> None:
    await tenant.session.execute(
        update(Campaign).where(Campaign.organization_id == tenant.id, Campaign.id == uuid.UUID(campaign["id"])),
        {"status": status},
    )


# -- activate / pause ----------------------------------------------------------------------------


async def test_activate_starts_the_campaign_and_stamps_the_first_launch(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    response = await call(tenant, campaign, "activate")
    assert response.status_code == 200, response.text
    active = response.json()
    assert active["status"] == 1 and active["timestamp_updated"] >= campaign["timestamp_updated"]
    first_launch = (
        await tenant.session.execute(
            text("SELECT timestamp_launched FROM campaigns WHERE id = :i"), {"i": active["id"]}
        )
    ).scalar_one()
    assert first_launch is not None
    assert (await call(tenant, campaign, "activate")).json()["status"] == 1  # again: nothing changes
    assert (await call(tenant, campaign, "pause")).json()["status"] == 2
    assert (await call(tenant, campaign, "activate")).json()["status"] == 1  # resume
    relaunched = (
        await tenant.session.execute(
            text("SELECT timestamp_launched FROM campaigns WHERE id = :i"), {"i": active["id"]}
        )
    ).scalar_one()
    assert relaunched == first_launch


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({}, ["sequence step", "schedule", "sending account"]),
        ({"sequences": [{"steps": []}]}, ["sequence step"]),
        ({"sequences": steps()}, ["sending account"]),
    ],
)
async def test_activate_names_what_is_missing(tenant: Tenant, fields: dict, missing: list[str]) -> None:
    campaign_id = await add_campaign(tenant.session, tenant.id, "Incomplete", **fields)
    message = envelope(await tenant.post(f"{CAMPAIGNS}/{campaign_id}/activate"), 400)["message"]
    for what in missing:
        assert what in message, message
    status = (await tenant.get(f"{CAMPAIGNS}/{campaign_id}")).json()["status"]
    assert status == 0


async def test_activate_needs_steps_in_the_first_sequence(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    patched = await tenant.patch(f"{CAMPAIGNS}/{campaign['id']}", json={"sequences": [{"steps": []}, *steps()]})
    assert patched.status_code == 200
    assert "sequence step" in envelope(await call(tenant, campaign, "activate"), 400)["message"]


async def test_activate_with_a_sender_only_through_a_tag(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "tagged@acme.com")
    tag = await new_tag(tenant, "Pool")
    campaign = await create(tenant, sequences=steps(), email_tag_list=[tag])
    assert "sending account" in envelope(await call(tenant, campaign, "activate"), 400)["message"]
    await tag_account(tenant, tag, "tagged@acme.com")
    assert (await call(tenant, campaign, "activate")).json()["status"] == 1


async def test_activate_refuses_a_sender_list_whose_accounts_were_deleted(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    await tenant.session.execute(text("DELETE FROM accounts WHERE organization_id = :o"), {"o": tenant.id})
    assert "sending account" in envelope(await call(tenant, campaign, "activate"), 400)["message"]


async def test_a_completed_campaign_can_be_activated_again(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    await set_status(tenant, campaign, 3)
    assert (await call(tenant, campaign, "activate")).json()["status"] == 1


@pytest.mark.parametrize(("status", "word"), [(0, "draft"), (3, "completed")])
async def test_pause_refuses_drafts_and_completed_campaigns(tenant: Tenant, status: int, word: str) -> None:
    campaign = await ready(tenant)
    await set_status(tenant, campaign, status)
    assert word in envelope(await call(tenant, campaign, "pause"), 400)["message"]


@pytest.mark.parametrize("status", [1, 2, 4, -1, -2, -99])
async def test_pause_from_running_or_system_states(tenant: Tenant, status: int) -> None:
    campaign = await ready(tenant)
    await set_status(tenant, campaign, status)
    assert (await call(tenant, campaign, "pause")).json()["status"] == 2


@pytest.mark.parametrize("action", ["activate", "pause", "duplicate", "share", "export", "variables"])
@pytest.mark.parametrize("campaign_id", ["0199ffff-0000-7000-8000-000000000000", "nope"])
async def test_actions_on_unknown_campaigns_are_404(tenant: Tenant, action: str, campaign_id: str) -> None:
    envelope(await tenant.post(f"{CAMPAIGNS}/{campaign_id}/{action}"), 404)


# -- count-launched ------------------------------------------------------------------------------


async def test_count_launched_counts_campaigns_ever_activated(tenant: Tenant, other_tenant: Tenant) -> None:
    url = f"{CAMPAIGNS}/count-launched"
    assert (await tenant.get(url)).json() == {"count": 0}
    first = await ready(tenant, "One")
    second = await ready(tenant, "Two", sender="two@acme.com")
    await create(tenant, "Never launched")
    await call(tenant, first, "activate")
    await call(tenant, second, "activate")
    await call(tenant, second, "pause")  # paused, but it was launched
    assert (await tenant.get(url)).json() == {"count": 2}
    await call(tenant, first, "duplicate")  # copies are drafts, never launched
    assert (await tenant.get(url)).json() == {"count": 2}
    await tenant.delete(f"{CAMPAIGNS}/{first['id']}")
    assert (await tenant.get(url)).json() == {"count": 1}
    assert (await other_tenant.get(url)).json() == {"count": 0}


# -- duplicate -----------------------------------------------------------------------------------


async def test_duplicate_copies_everything_into_a_new_draft(tenant: Tenant) -> None:
    campaign = await ready(tenant, "Original", daily_limit=30, cc_list=["boss@acme.com"], ai_sdr_id=str(uuid.uuid4()))
    tag = await new_tag(tenant, "Team")
    toggle = {"tag_ids": [tag], "resource_type": 2, "resource_ids": [campaign["id"]], "assign": True}
    assert (await tenant.post("/api/v2/custom-tags/toggle-resource", json=toggle)).status_code == 200
    await call(tenant, campaign, "activate")
    await call(tenant, campaign, "variables", json={"variables": ["city"]})
    copy_ = (await call(tenant, campaign, "duplicate")).json()
    assert copy_["id"] != campaign["id"] and copy_["name"] == "Original (copy)" and copy_["status"] == 0
    source = (await tenant.get(f"{CAMPAIGNS}/{campaign['id']}")).json()
    skip = {"id", "name", "status", "timestamp_created", "timestamp_updated"}
    assert {k: v for k, v in copy_.items() if k not in skip} == {k: v for k, v in source.items() if k not in skip}
    tagged = (await tenant.get(CAMPAIGNS, params={"tag_ids": tag})).json()["items"]
    assert [c["id"] for c in tagged] == [campaign["id"], copy_["id"]]


@pytest.mark.parametrize("sent", [{"name": "Fresh"}, {"name": "  Fresh "}])
async def test_duplicate_with_a_name(tenant: Tenant, sent: dict) -> None:
    campaign = await create(tenant)
    assert (await call(tenant, campaign, "duplicate", json=sent)).json()["name"] == "Fresh"


@pytest.mark.parametrize(
    "kwargs", [{}, {"json": {}}, {"json": None}, {"headers": {"content-type": "application/json"}}]
)
async def test_duplicate_without_a_name(tenant: Tenant, kwargs: dict) -> None:
    campaign = await create(tenant, "Base")
    response = await call(tenant, campaign, "duplicate", **kwargs)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Base (copy)"


@pytest.mark.parametrize("sent", [{"name": ""}, {"name": "  "}, {"name": 5}])
async def test_duplicate_with_an_invalid_name(tenant: Tenant, sent: dict) -> None:
    campaign = await create(tenant)
    assert "name" in envelope(await call(tenant, campaign, "duplicate", json=sent), 400)["message"]


# -- share, export, from-export ------------------------------------------------------------------


async def test_export_returns_the_campaign(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    response = await call(tenant, campaign, "export")
    assert response.status_code == 200 and response.json() == campaign


async def test_share_is_a_204_valid_for_seven_days(tenant: Tenant) -> None:
    campaign = await create(tenant)
    before = datetime.now(UTC)
    response = await call(tenant, campaign, "share")
    assert response.status_code == 204 and response.content == b""
    shared_until = (
        await tenant.session.execute(text("SELECT shared_until FROM campaigns WHERE id = :i"), {"i": campaign["id"]})
    ).scalar_one()
    assert before + timedelta(days=7) - timedelta(seconds=5) <= shared_until <= before + timedelta(days=7, seconds=5)
    after = (await tenant.get(f"{CAMPAIGNS}/{campaign['id']}")).json()
    assert {**after, "timestamp_updated": None} == {**campaign, "timestamp_updated": None}  # no field changes


async def test_from_export_copies_a_shared_campaign_into_another_workspace(
    tenant: Tenant, other_tenant: Tenant
) -> None:
    tag = await new_tag(tenant, "Mine")
    source = await ready(
        tenant,
        "Template",
        email_tag_list=[tag],
        cc_list=["boss@acme.com"],
        owned_by=str(uuid.uuid4()),
        daily_limit=25,
        campaign_schedule=OFFICE_HOURS,
    )
    await call(tenant, source, "variables", json={"variables": ["industry"]})
    await call(tenant, source, "activate")
    url = f"{CAMPAIGNS}/{source['id']}/from-export"
    assert "not shared" in envelope(await other_tenant.post(url), 403)["message"]
    assert (await call(tenant, source, "share")).status_code == 204
    response = await other_tenant.post(url)
    assert response.status_code == 200, response.text
    copy_ = response.json()
    assert copy_["organization"] == str(other_tenant.id) and copy_["status"] == 0 and copy_["name"] == "Template"
    assert copy_["sequences"] == source["sequences"] and copy_["campaign_schedule"] == OFFICE_HOURS
    assert copy_["daily_limit"] == 25 and copy_["custom_variables"] == {"industry": ""}
    # what names the source workspace's things stays behind
    assert copy_["email_list"] == [] and copy_["email_tag_list"] == [] and copy_["cc_list"] == []
    assert copy_["owned_by"] is None
    assert [c["id"] for c in (await other_tenant.get(CAMPAIGNS)).json()["items"]] == [copy_["id"]]
    # the source is untouched and still invisible to the importer
    envelope(await other_tenant.get(f"{CAMPAIGNS}/{source['id']}"), 404)
    assert (await tenant.get(f"{CAMPAIGNS}/{source['id']}")).json()["status"] == 1


async def test_from_export_of_an_own_campaign_also_needs_a_share(tenant: Tenant) -> None:
    campaign = await create(tenant, "Mine")
    envelope(await call(tenant, campaign, "from-export"), 403)
    await call(tenant, campaign, "share")
    assert (await call(tenant, campaign, "from-export")).json()["name"] == "Mine"


async def test_from_export_after_the_share_expired_is_403(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await create(tenant)
    await call(tenant, campaign, "share")
    await tenant.session.execute(
        text("UPDATE campaigns SET shared_until = now() - interval '1 second' WHERE id = :i"), {"i": campaign["id"]}
    )
    envelope(await other_tenant.post(f"{CAMPAIGNS}/{campaign['id']}/from-export"), 403)
    await call(tenant, campaign, "share")  # sharing again renews it
    assert (await other_tenant.post(f"{CAMPAIGNS}/{campaign['id']}/from-export")).status_code == 200


@pytest.mark.parametrize("campaign_id", ["0199ffff-0000-7000-8000-000000000000", "nope"])
async def test_from_export_of_an_unknown_id_is_404(tenant: Tenant, campaign_id: str) -> None:
    envelope(await tenant.post(f"{CAMPAIGNS}/{campaign_id}/from-export"), 404)


async def test_another_workspace_cannot_share_or_export(tenant: Tenant, other_tenant: Tenant) -> None:
    campaign = await create(tenant)
    envelope(await call(other_tenant, campaign, "share"), 404)
    envelope(await other_tenant.post(f"{CAMPAIGNS}/{campaign['id']}/from-export"), 403)


# -- variables -----------------------------------------------------------------------------------


async def test_variables_are_merged_into_custom_variables(tenant: Tenant) -> None:
    campaign = await create(tenant)
    first = (await call(tenant, campaign, "variables", json={"variables": ["city", " industry ", "city"]})).json()
    assert first["custom_variables"] == {"city": "", "industry": ""}
    await tenant.session.execute(
        text('UPDATE campaigns SET custom_variables = custom_variables || \'{"city": "Paris"}\' WHERE id = :i'),
        {"i": campaign["id"]},
    )
    second = (await call(tenant, campaign, "variables", json={"variables": ["city", "size"]})).json()
    assert second["custom_variables"] == {"city": "Paris", "industry": "", "size": ""}
    unchanged = await call(tenant, campaign, "variables", json={"variables": []})
    assert unchanged.json() == second


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"json": {}},
        {"json": {"variables": "city"}},
        {"json": {"variables": [""]}},
        {"json": {"variables": ["{{x}}"]}},
    ],
)
async def test_variables_validation(tenant: Tenant, kwargs: dict) -> None:
    campaign = await create(tenant)
    assert "variables" in envelope(await call(tenant, campaign, "variables", **kwargs), 400)["message"]


# -- sending status ------------------------------------------------------------------------------


async def sending_status(tenant: Tenant, campaign: dict[str, Any]) -> dict[str, Any]:
    response = await tenant.get(f"{CAMPAIGNS}/{campaign['id']}/sending-status")
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.mark.parametrize(("status", "code"), [(0, "campaign_draft"), (2, "campaign_paused")])
async def test_draft_and_paused_have_no_diagnostics(tenant: Tenant, status: int, code: str) -> None:
    campaign = await ready(tenant)
    await set_status(tenant, campaign, status)
    result = await sending_status(tenant, campaign)
    assert result["diagnostics"] is None
    assert result["summary"]["status"] == code and result["summary"]["status_message"]
    assert result["summary"]["ai_summary"] is None


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (3, "campaign_completed"),
        (4, "campaign_running_subsequences"),
        (-1, "campaign_accounts_unhealthy"),
        (-2, "campaign_bounce_protect"),
        (-99, "campaign_account_suspended"),
    ],
)
async def test_other_states_are_diagnosed(tenant: Tenant, status: int, code: str) -> None:
    campaign = await ready(tenant)
    await set_status(tenant, campaign, status)
    result = await sending_status(tenant, campaign)
    assert result["diagnostics"]["status"] == code and result["diagnostics"]["campaign_id"] == campaign["id"]
    assert result["diagnostics"]["issue_tracking"]["current_status_code"] == code
    assert result["summary"]["status"] == code


async def add_due_lead(tenant: Tenant, campaign: dict[str, Any], email: str = "lead@example.com") -> None:
    await tenant.session.execute(
        insert(Lead).values(
            organization_id=tenant.id,
            campaign_id=uuid.UUID(campaign["id"]),
            email=email,
            next_send_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
    )


async def test_active_and_in_schedule_with_a_sender_is_healthy(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    await call(tenant, campaign, "activate")
    await add_due_lead(tenant, campaign)
    result = await sending_status(tenant, campaign)
    diagnostics = result["diagnostics"]
    assert diagnostics["status"] == "healthy" and diagnostics["schedule_status"] == {"in_schedule": True}
    assert diagnostics["accounts_summary"]["available"] == 1
    assert diagnostics["issue_tracking"]["current_status_code"] is None
    assert result["summary"]["status"] == "healthy"


async def test_active_without_usable_senders_has_no_accounts_available(tenant: Tenant) -> None:
    await add_account(tenant.session, tenant.id, "paused@acme.com", status=2)
    await add_account(tenant.session, tenant.id, "broken@acme.com", status=-1)
    campaign = await create(tenant, sequences=steps(), email_list=["paused@acme.com", "broken@acme.com"])
    await set_status(tenant, campaign, 1)
    diagnostics = (await sending_status(tenant, campaign))["diagnostics"]
    assert diagnostics["status"] == "no_accounts_available"  # one is paused: not every sender is in error
    assert diagnostics["accounts_summary"]["available"] == 0
    assert diagnostics["accounts_summary"]["unavailable"]["disconnected"] == 1
    await tenant.session.execute(
        text("DELETE FROM accounts WHERE organization_id = :o AND email = 'paused@acme.com'"), {"o": tenant.id}
    )
    assert (await sending_status(tenant, campaign))["diagnostics"]["status"] == "all_accounts_unhealthy"
    await tenant.session.execute(text("DELETE FROM accounts WHERE organization_id = :o"), {"o": tenant.id})
    assert (await sending_status(tenant, campaign))["diagnostics"]["status"] == "no_accounts_available"


async def test_senders_at_their_daily_limit(tenant: Tenant) -> None:
    account_id = await add_account(tenant.session, tenant.id, "busy@acme.com", daily_limit=5)
    campaign = await create(tenant, sequences=steps(), email_list=["busy@acme.com"])
    await call(tenant, campaign, "activate")
    await add_due_lead(tenant, campaign)
    await tenant.session.execute(
        insert(AccountDailyStat).values(
            organization_id=tenant.id, account_id=account_id, day=datetime.now(UTC).date(), sent=5
        )
    )
    diagnostics = (await sending_status(tenant, campaign))["diagnostics"]
    assert diagnostics["status"] == "account_daily_limit_met"
    assert diagnostics["accounts_summary"]["unavailable"]["daily_limit_hit"] == 1


async def test_active_outside_its_dates_is_out_of_schedule(tenant: Tenant) -> None:
    later = {**copy.deepcopy(ALWAYS_OPEN), "start_date": "2999-01-01"}
    campaign = await ready(tenant, campaign_schedule=later)
    await call(tenant, campaign, "activate")
    result = await sending_status(tenant, campaign)
    assert result["diagnostics"]["status"] == "out_of_schedule"
    assert result["diagnostics"]["schedule_status"] == {"in_schedule": False}
    assert "accounts_summary" not in result["diagnostics"]


async def test_sending_status_follows_the_schedule_at_an_injected_now(tenant: Tenant) -> None:
    campaign = await ready(tenant, campaign_schedule=OFFICE_HOURS)
    await call(tenant, campaign, "activate")
    await add_due_lead(tenant, campaign)
    service = CampaignService(tenant.session, tenant.id)
    tuesday_10_chicago = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert (await service.sending_status(campaign["id"], tuesday_10_chicago))["diagnostics"]["status"] == "healthy"
    saturday = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    closed = await service.sending_status(campaign["id"], saturday)
    assert closed["diagnostics"]["status"] == "out_of_schedule"
    assert "2026-11-30T15:00:00.000Z" in closed["summary"]["status_message"]  # Monday 09:00 in Chicago
    assert closed["diagnostics"]["last_updated"] == "2026-11-28T16:00:00.000Z"


async def test_sending_status_accepts_with_ai_summary(tenant: Tenant) -> None:
    campaign = await ready(tenant)
    response = await tenant.get(f"{CAMPAIGNS}/{campaign['id']}/sending-status", params={"with_ai_summary": "true"})
    assert response.status_code == 200 and response.json()["summary"]["ai_summary"] is None
