"""Rows the tracking tests need: a campaign lead and the outbox row of one of its sends (plain SQL)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.ids import new_id
from tests.factories import add_account, add_campaign


async def add_lead(
    session: AsyncSession, organization_id: uuid.UUID, campaign_id: uuid.UUID, email: str, **values: Any
) -> uuid.UUID:
    lead_id = values.pop("id", None) or new_id()
    row = {"status": 1, **values}
    columns = ", ".join(row)
    placeholders = ", ".join(f":{c}" for c in row)
    await session.execute(
        text(
            f"INSERT INTO leads (organization_id, id, campaign_id, email, timestamp_created, timestamp_updated, "
            f"{columns}) VALUES (:org, :id, :campaign, :email, now(), now(), {placeholders})"
        ),
        {"org": organization_id, "id": lead_id, "campaign": campaign_id, "email": email, **row},
    )
    return lead_id


async def add_outbox(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    campaign_id: uuid.UUID,
    lead_id: uuid.UUID,
    account_id: uuid.UUID,
    step: int = 0,
    variant: int = 0,
) -> uuid.UUID:
    outbox_id = new_id()
    await session.execute(
        text(
            "INSERT INTO outbox (organization_id, id, campaign_id, lead_id, step, variant, account_id, state, "
            "message_id, thread_id, day, claimed_at, sent_at) VALUES (:org, :id, :campaign, :lead, :step, "
            ":variant, :account, 'done', :message_id, :thread, :day, now(), now())"
        ),
        {
            "org": organization_id,
            "id": outbox_id,
            "campaign": campaign_id,
            "lead": lead_id,
            "step": step,
            "variant": variant,
            "account": account_id,
            "message_id": f"<{outbox_id}@out.test>",
            "thread": new_id(),
            "day": datetime.now(UTC).date(),
        },
    )
    return outbox_id


@dataclass
class Sent:
    """One sent campaign message: its workspace, campaign, account, lead and outbox row."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    account_id: uuid.UUID
    lead_id: uuid.UUID
    outbox_id: uuid.UUID
    email: str


async def add_sent_message(
    session: AsyncSession,
    organization_id: uuid.UUID,
    *,
    email: str = "jane@lead.test",
    timezone: str | None = None,
    step: int = 1,
    variant: int = 2,
    same_ids_as: Sent | None = None,
) -> Sent:
    """A sent message; `same_ids_as` reuses another workspace's campaign, account and lead ids (ids are
    only unique per workspace), so a statement missing its workspace scope would touch both."""
    schedule: dict[str, Any] = (
        {"schedules": [{"name": "s", "timing": {"from": "09:00", "to": "17:00"}, "days": {}, "timezone": timezone}]}
        if timezone
        else {}
    )
    ids: dict[str, Any] = {}
    if same_ids_as is not None:
        ids = {"account": {"id": same_ids_as.account_id}, "campaign": {"id": same_ids_as.campaign_id}}
        ids["lead"] = {"id": same_ids_as.lead_id}
    seller = f"seller-{new_id().hex[:8]}@out.test"
    account_id = await add_account(session, organization_id, seller, **ids.get("account", {}))
    campaign_id = await add_campaign(
        session, organization_id, "Outreach", campaign_schedule=schedule, **ids.get("campaign", {})
    )
    lead_id = await add_lead(session, organization_id, campaign_id, email, **ids.get("lead", {}))
    outbox_id = await add_outbox(
        session,
        organization_id,
        campaign_id=campaign_id,
        lead_id=lead_id,
        account_id=account_id,
        step=step,
        variant=variant,
    )
    await session.flush()
    return Sent(organization_id, campaign_id, account_id, lead_id, outbox_id, email)


async def lead_row(session: AsyncSession, sent: Sent) -> Any:
    return (
        await session.execute(
            text("SELECT * FROM leads WHERE organization_id = :org AND id = :id"),
            {"org": sent.organization_id, "id": sent.lead_id},
        )
    ).one()


async def events(session: AsyncSession, organization_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await session.execute(
                text("SELECT * FROM email_events WHERE organization_id = :org ORDER BY timestamp_created, id"),
                {"org": organization_id},
            )
        ).all()
    )


async def campaign_stats(session: AsyncSession, organization_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await session.execute(
                text("SELECT * FROM campaign_daily_stats WHERE organization_id = :org ORDER BY day"),
                {"org": organization_id},
            )
        ).all()
    )


async def account_stats(session: AsyncSession, organization_id: uuid.UUID) -> list[Any]:
    return list(
        (
            await session.execute(
                text("SELECT * FROM account_daily_stats WHERE organization_id = :org ORDER BY day"),
                {"org": organization_id},
            )
        ).all()
    )


async def blocked_values(session: AsyncSession, organization_id: uuid.UUID) -> list[str]:
    rows = await session.execute(
        text("SELECT bl_value FROM block_list_entries WHERE organization_id = :org ORDER BY bl_value"),
        {"org": organization_id},
    )
    return [r[0] for r in rows]


def utc_today() -> date:
    return datetime.now(UTC).date()
