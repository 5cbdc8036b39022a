"""Every query of tracking: find the message a token names, then count its event (one transaction).

`find_message` is the one query not scoped to a workspace: the signed token is the credential, and
the outbox row it names gives the workspace. Every other statement is scoped to that workspace.

Lock order (the same for every event, so concurrent events of one lead queue instead of deadlocking):
the lead row first, then the event insert and the daily counters. Taking the lead's lock first also
makes "first event of this message" exact: a concurrent second open waits on the lead, then sees the
first one's committed event.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Final

from sqlalchemy import TextClause, text

from coldsend.kit.ids import new_id
from coldsend.kit.repository import Executor, Record
from coldsend.tracking.tokens import CLICK, OPEN, UNSUBSCRIBE

UNSUBSCRIBED: Final = -2  # leads.status

_FIND_MESSAGE = text(
    """
    SELECT o.organization_id, o.id, o.campaign_id, o.lead_id, o.account_id, o.step, o.variant,
           c.campaign_schedule -> 'schedules' -> 0 ->> 'timezone' AS timezone,
           w.add_unsub_to_block
    FROM outbox o
    JOIN workspaces w ON w.id = o.organization_id
    LEFT JOIN campaigns c ON c.organization_id = o.organization_id AND c.id = o.campaign_id
    WHERE o.id = :outbox_id
    """
)

_LEAD_OPENED = text(
    """
    UPDATE leads SET email_open_count = email_open_count + 1, timestamp_last_open = :now,
           email_opened_step = :step, email_opened_variant = :variant, timestamp_last_touch = :now
    WHERE organization_id = :org AND id = :lead
    RETURNING id
    """
)

_LEAD_CLICKED = text(
    """
    UPDATE leads SET email_click_count = email_click_count + 1, timestamp_last_click = :now,
           email_clicked_step = :step, email_clicked_variant = :variant, timestamp_last_touch = :now
    WHERE organization_id = :org AND id = :lead
    RETURNING id
    """
)

_LEAD_UNSUBSCRIBED = text(
    f"""
    UPDATE leads SET status = {UNSUBSCRIBED}, next_send_at = NULL, timestamp_last_touch = :now,
           timestamp_updated = :now
    WHERE organization_id = :org AND id = :lead AND status <> {UNSUBSCRIBED}
    RETURNING email
    """
)

# `prior` reads the snapshot before this statement's own insert: true when the message already had
# an event of this kind. Data-modifying CTEs run whether or not the final SELECT reads them.
_PRIOR_AND_EVENT = """
    WITH prior AS (
        SELECT EXISTS (
            SELECT 1 FROM email_events
            WHERE outbox_id = CAST(:outbox AS uuid) AND kind = CAST(:kind AS varchar)
              AND organization_id = CAST(:org AS uuid)
        ) AS seen
    ), event AS (
        INSERT INTO email_events (organization_id, id, kind, timestamp_created, outbox_id, campaign_id,
                                  lead_id, account_id, step, variant, url, user_agent, ip)
        VALUES (:org, :id, :kind, :now, :outbox, :campaign, :lead, :account, :step, :variant, :url,
                :user_agent, :ip)
    )"""


def _campaign_counter(columns: tuple[str, ...]) -> str:
    """Add to the campaign's counters of its local day; the second column (if any) counts firsts only."""
    values = ", ".join(["1", "(SELECT CASE WHEN seen THEN 0 ELSE 1 END FROM prior)"][: len(columns)])
    updates = ", ".join(f"{c} = s.{c} + EXCLUDED.{c}" for c in columns)
    return f"""
    , campaign AS (
        INSERT INTO campaign_daily_stats AS s (organization_id, campaign_id, day, {", ".join(columns)})
        SELECT CAST(:org AS uuid), CAST(:campaign AS uuid), CAST(:campaign_day AS date), {values}
        WHERE EXISTS (SELECT 1 FROM campaigns WHERE organization_id = :org AND id = :campaign)
        ON CONFLICT (organization_id, campaign_id, day) DO UPDATE SET {updates}
    )"""


def _account_counter(columns: tuple[str, str]) -> str:
    total, first = columns
    return f"""
    , account AS (
        INSERT INTO account_daily_stats AS s (organization_id, account_id, day, {total}, {first})
        SELECT CAST(:org AS uuid), CAST(:account AS uuid), CAST(:account_day AS date), 1,
               (SELECT CASE WHEN seen THEN 0 ELSE 1 END FROM prior)
        WHERE EXISTS (SELECT 1 FROM accounts WHERE organization_id = :org AND id = :account)
        ON CONFLICT (organization_id, account_id, day) DO UPDATE
        SET {total} = s.{total} + 1, {first} = s.{first} + EXCLUDED.{first}
    )"""


_FINAL = "\n    SELECT NOT seen AS first FROM prior"

_RECORD: Final[dict[str, TextClause]] = {
    OPEN: text(
        _PRIOR_AND_EVENT
        + _campaign_counter(("opened", "unique_opened"))
        + _account_counter(("opened", "unique_opened"))
        + _FINAL
    ),
    CLICK: text(
        _PRIOR_AND_EVENT
        + _campaign_counter(("clicks", "unique_clicks"))
        + _account_counter(("clicks", "unique_clicks"))
        + _FINAL
    ),
    UNSUBSCRIBE: text(_PRIOR_AND_EVENT + _campaign_counter(("unsubscribed",)) + _FINAL),
}


async def find_message(session: Executor, outbox_id: uuid.UUID) -> Record | None:
    """The outbox row a token names, with its campaign's timezone and its workspace's unsubscribe
    setting; None when it no longer exists (its lead or campaign was deleted)."""
    return (await session.execute(_FIND_MESSAGE, {"outbox_id": outbox_id})).first()


class TrackingRepository:
    """The writes of one event, scoped to the message's workspace."""

    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def lead_opened(self, lead_id: uuid.UUID, *, step: int, variant: int, now: datetime) -> bool:
        """Count an open on the lead (`step`/`variant` as stored on the lead: 1-based); False if it is gone."""
        params = {"org": self.organization_id, "lead": lead_id, "step": step, "variant": variant, "now": now}
        return (await self.session.execute(_LEAD_OPENED, params)).first() is not None

    async def lead_clicked(self, lead_id: uuid.UUID, *, step: int, variant: int, now: datetime) -> bool:
        params = {"org": self.organization_id, "lead": lead_id, "step": step, "variant": variant, "now": now}
        return (await self.session.execute(_LEAD_CLICKED, params)).first() is not None

    async def unsubscribe_lead(self, lead_id: uuid.UUID, *, now: datetime) -> Record | None:
        """Mark the lead unsubscribed and stop its sequence; None when it already was (or is gone)."""
        params = {"org": self.organization_id, "lead": lead_id, "now": now}
        return (await self.session.execute(_LEAD_UNSUBSCRIBED, params)).first()

    async def record_event(
        self,
        message: Record,
        kind: str,
        *,
        now: datetime,
        campaign_day: date,
        account_day: date,
        url: str | None,
        user_agent: str | None,
        ip: str | None,
    ) -> bool:
        """Insert the event and add it to the campaign's (and, for opens and clicks, the account's)
        daily counters, in one statement. True when it is the message's first event of this kind."""
        params = {
            "org": self.organization_id,
            "id": new_id(),
            "kind": kind,
            "now": now,
            "outbox": message.id,
            "campaign": message.campaign_id,
            "lead": message.lead_id,
            "account": message.account_id,
            "step": message.step,
            "variant": message.variant,
            "url": url,
            "user_agent": user_agent,
            "ip": ip,
            "campaign_day": campaign_day,
        }
        if kind != UNSUBSCRIBE:
            params["account_day"] = account_day
        return bool((await self.session.execute(_RECORD[kind], params)).scalar_one())
