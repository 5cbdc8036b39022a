"""`GET /campaigns/{id}/sending-status` reports what the engine sees, after real sends."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.sending.world import World, step


async def status(world: World, campaign: object) -> dict[str, Any]:
    response = await world.ws.client.get(f"/api/v2/campaigns/{campaign}/sending-status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def setup(world: World, **values: object) -> object:
    world.clock.set(datetime.now(UTC))  # the endpoint judges at the real time
    await world.account("sam@sender.example")
    return await world.campaign([step("Hi", "Body", delay=2), step("", "Again")], ["sam@sender.example"], **values)


async def test_an_active_campaign_without_leads_waits_for_leads(world: World) -> None:
    campaign = await setup(world)
    body = await status(world, campaign)
    assert body["diagnostics"]["status"] == "waiting_for_leads"
    assert body["diagnostics"]["leads_status"]["no_leads_ready"] is True
    assert body["summary"]["status"] == "waiting_for_leads"


async def test_follow_ups_waiting_for_their_delay_are_reported(world: World) -> None:
    campaign = await setup(world)
    await world.leads(campaign, "a@lead.example")
    assert await world.run_until_idle() == 1
    body = await status(world, campaign)
    diagnostics = body["diagnostics"]
    assert diagnostics["status"] == "follow_up_delay_not_met"
    assert diagnostics["follow_ups_waiting"]["count"] == 1
    assert 2 * 86400 - 120 < diagnostics["follow_ups_waiting"]["earliest_wait_time_seconds"] <= 2 * 86400
    assert diagnostics["issue_tracking"]["last_healthy_send_at"] is not None
    assert body["summary"]["last_healthy_send_at"] == diagnostics["issue_tracking"]["last_healthy_send_at"]


async def test_the_campaign_daily_limit_is_reported_once_met(world: World) -> None:
    campaign = await setup(world, daily_limit=1)
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert (await status(world, campaign))["diagnostics"]["status"] == "healthy"
    assert await world.run_until_idle() == 1
    diagnostics = (await status(world, campaign))["diagnostics"]
    assert diagnostics["status"] == "daily_limit_met"
    assert diagnostics["campaign_daily_limit"] == {"limit": 1, "sent": 1, "limit_hit": True}


async def test_the_new_lead_limit_is_reported_when_only_new_leads_are_due(world: World) -> None:
    campaign = await setup(world, daily_max_leads=1)
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert await world.run_until_idle() == 1
    diagnostics = (await status(world, campaign))["diagnostics"]
    assert diagnostics["status"] == "new_lead_limit_met"
    assert diagnostics["new_lead_limit"] == {"enabled": True, "limit": 1, "contacted": 1, "limit_hit": True}


async def test_an_issue_is_tracked_across_checks_until_it_changes(world: World) -> None:
    campaign = await setup(world)
    first = (await status(world, campaign))["diagnostics"]["issue_tracking"]
    second = (await status(world, campaign))["diagnostics"]["issue_tracking"]
    assert first["current_status_code"] == second["current_status_code"] == "waiting_for_leads"
    assert second["issue_first_seen_at"] == first["issue_first_seen_at"] is not None
    assert (first["consecutive_loops_with_issue"], second["consecutive_loops_with_issue"]) == (1, 2)
    await world.leads(campaign, "a@lead.example")
    healthy = (await status(world, campaign))["diagnostics"]["issue_tracking"]
    assert healthy["current_status_code"] is None and healthy["consecutive_loops_with_issue"] == 0


async def test_an_account_in_its_sending_gap_is_counted(world: World) -> None:
    world.clock.set(datetime.now(UTC))
    await world.account("sam@sender.example", sending_gap=30)
    campaign = await world.campaign([step("Hi", "Body")], ["sam@sender.example"])
    await world.leads(campaign, "a@lead.example", "b@lead.example")
    assert await world.run_until_idle() == 1
    diagnostics = (await status(world, campaign))["diagnostics"]
    assert diagnostics["accounts_summary"]["unavailable"]["global_gap_not_met"] == 1
    assert diagnostics["accounts_summary"]["available"] == 0
