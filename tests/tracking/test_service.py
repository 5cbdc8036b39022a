"""Which day an event is counted on: the campaign's timezone for campaigns, UTC for accounts."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.tracking.service import TrackingService, Visitor, campaign_day
from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE, TrackingToken
from tests.conftest import Tenant
from tests.tracking.helpers import account_stats, add_sent_message, campaign_stats, lead_row

LATE_EVENING_UTC = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [
        ("Asia/Kamchatka", date(2026, 3, 11)),  # UTC+12
        ("Etc/GMT+12", date(2026, 3, 10)),  # UTC-12
        (None, date(2026, 3, 10)),
        ("Not/AZone", date(2026, 3, 10)),
    ],
)
def test_campaign_day(timezone: str | None, expected: date) -> None:
    assert campaign_day(LATE_EVENING_UTC, timezone) == expected


async def test_campaign_counters_use_the_campaign_timezone(session: AsyncSession, tenant: Tenant) -> None:
    sent = await add_sent_message(session, tenant.id, timezone="Asia/Kamchatka")
    service = TrackingService(session)
    assert await service.record(TrackingToken(sent.outbox_id, OPEN), Visitor(), now=LATE_EVENING_UTC)
    assert await service.record(
        TrackingToken(sent.outbox_id, CLICK, "https://example.com/"), Visitor(), now=LATE_EVENING_UTC
    )
    [campaign] = await campaign_stats(session, tenant.id)
    assert (campaign.day, campaign.opened, campaign.clicks) == (date(2026, 3, 11), 1, 1)
    [account] = await account_stats(session, tenant.id)
    assert (account.day, account.opened, account.clicks) == (date(2026, 3, 10), 1, 1)
    lead = await lead_row(session, sent)
    assert lead.timestamp_last_open == LATE_EVENING_UTC == lead.timestamp_last_click


async def test_a_campaign_without_schedule_counts_on_the_utc_day(session: AsyncSession, tenant: Tenant) -> None:
    sent = await add_sent_message(session, tenant.id)
    assert await TrackingService(session).record(
        TrackingToken(sent.outbox_id, UNSUBSCRIBE), Visitor(), now=LATE_EVENING_UTC
    )
    assert not await TrackingService(session).record(
        TrackingToken(sent.outbox_id, UNSUBSCRIBE), Visitor(), now=LATE_EVENING_UTC
    )
    [campaign] = await campaign_stats(session, tenant.id)
    assert (campaign.day, campaign.unsubscribed) == (date(2026, 3, 10), 1)


async def test_the_timezone_comes_from_the_message_workspace_campaign(
    session: AsyncSession, tenant: Tenant, other_tenant: Tenant
) -> None:
    """Campaign ids are unique per workspace only: another workspace's campaign with the same id (and
    another timezone) must not decide our day."""
    theirs = await add_sent_message(session, other_tenant.id, timezone="Asia/Kamchatka", step=2)
    ours = await add_sent_message(session, tenant.id, step=1, same_ids_as=theirs)
    assert await TrackingService(session).record(TrackingToken(ours.outbox_id, OPEN), Visitor(), now=LATE_EVENING_UTC)
    [campaign] = await campaign_stats(session, tenant.id)
    assert (campaign.day, campaign.opened) == (date(2026, 3, 10), 1)
    assert await campaign_stats(session, other_tenant.id) == []
