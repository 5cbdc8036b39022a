"""Tables of the sending engine (migration 0006): the outbox, stored emails, tracking events and
per-campaign counters. Lead progress lives on `leads` (next_step, next_send_at)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, BigInteger, Boolean, Date, DateTime, Float, Integer, SmallInteger, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import WorkspaceScoped

TS = DateTime(timezone=True)


class OutboxState:
    """Life of one (lead, step) send. The unique (lead_id, step) row is what makes it exactly once."""

    SENDING = "sending"  # claimed by a worker; SMTP not (known to be) finished
    SENT = "sent"  # the SMTP server accepted it; the Email row and lead progress are not written yet
    DONE = "done"  # recorded: Email stored, lead moved to its next step
    DEFERRED = "deferred"  # a transient (4xx) refusal: the lead is retried later
    FAILED = "failed"  # a permanent refusal for this recipient (the lead bounced)
    CANCELLED = "cancelled"  # released before SMTP (campaign/account paused, account failure)


class Outbox(WorkspaceScoped, Base):
    __tablename__ = "outbox"

    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    step: Mapped[int] = mapped_column(SmallInteger)
    variant: Mapped[int] = mapped_column(SmallInteger)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[str] = mapped_column(String(10))
    message_id: Mapped[str] = mapped_column(String)
    thread_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    subject: Mapped[str | None] = mapped_column(String, default=None)
    new_lead: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(SmallInteger, default=1)
    owner: Mapped[str | None] = mapped_column(String, default=None)
    lease_until: Mapped[datetime | None] = mapped_column(TS, default=None)
    day: Mapped[date] = mapped_column(Date)
    claimed_at: Mapped[datetime] = mapped_column(TS)
    sent_at: Mapped[datetime | None] = mapped_column(TS, default=None)
    error: Mapped[str | None] = mapped_column(String, default=None)


class Email(WorkspaceScoped, Base):
    """An email of the Unibox: `ue_type` 1 sent from a campaign, 2 received, 3 sent manually."""

    __tablename__ = "emails"

    timestamp_created: Mapped[datetime] = mapped_column(TS)
    timestamp_email: Mapped[datetime] = mapped_column(TS)
    message_id: Mapped[str] = mapped_column(String)
    subject: Mapped[str] = mapped_column(String, default="")
    from_address_email: Mapped[str | None] = mapped_column(String, default=None)
    to_address_email_list: Mapped[str] = mapped_column(String, default="")
    cc_address_email_list: Mapped[str | None] = mapped_column(String, default=None)
    bcc_address_email_list: Mapped[str | None] = mapped_column(String, default=None)
    reply_to: Mapped[str | None] = mapped_column(String, default=None)
    body_text: Mapped[str | None] = mapped_column(String, default=None)
    body_html: Mapped[str | None] = mapped_column(String, default=None)
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    subsequence_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    list_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    lead: Mapped[str | None] = mapped_column(String, default=None)
    lead_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    eaccount: Mapped[str] = mapped_column(String)
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    ue_type: Mapped[int] = mapped_column(SmallInteger)
    step: Mapped[str | None] = mapped_column(String, default=None)
    variant: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    is_unread: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_auto_reply: Mapped[int] = mapped_column(SmallInteger, default=0)
    reminder_ts: Mapped[datetime | None] = mapped_column(TS, default=None)
    ai_interest_value: Mapped[float | None] = mapped_column(Float, default=None)
    ai_assisted: Mapped[int] = mapped_column(SmallInteger, default=0)
    is_focused: Mapped[int] = mapped_column(SmallInteger, default=1)
    i_status: Mapped[int | None] = mapped_column(Integer, default=None)
    thread_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    content_preview: Mapped[str | None] = mapped_column(String, default=None)
    attachment_json: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    from_address_json: Mapped[list[Any] | None] = mapped_column(JSONB, default=None)
    to_address_json: Mapped[list[Any] | None] = mapped_column(JSONB, default=None)
    cc_address_json: Mapped[list[Any] | None] = mapped_column(JSONB, default=None)
    ai_agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    in_reply_to: Mapped[str | None] = mapped_column(String, default=None)
    references: Mapped[list[str] | None] = mapped_column(ARRAY(String), default=None)
    outbox_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)


class EmailEvent(WorkspaceScoped, Base):
    """An open, click or unsubscribe of a sent campaign email (from the tracking endpoints)."""

    __tablename__ = "email_events"

    kind: Mapped[str] = mapped_column(String(12))
    timestamp_created: Mapped[datetime] = mapped_column(TS)
    outbox_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    lead_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    step: Mapped[int] = mapped_column(SmallInteger)
    variant: Mapped[int] = mapped_column(SmallInteger)
    url: Mapped[str | None] = mapped_column(String, default=None)
    user_agent: Mapped[str | None] = mapped_column(String, default=None)
    ip: Mapped[str | None] = mapped_column(String, default=None)


class CampaignDailyStat(Base):
    """Per-campaign counters of one campaign-local day: the daily limits read them, analytics too."""

    __tablename__ = "campaign_daily_stats"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    new_leads_contacted: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    unique_opened: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    unique_clicks: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    unique_replies: Mapped[int] = mapped_column(Integer, default=0)
    unsubscribed: Mapped[int] = mapped_column(Integer, default=0)


class CampaignStepRotation(Base):
    """How many sends each step of a campaign has had: the next variant is `sends mod enabled`."""

    __tablename__ = "campaign_step_rotation"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    step: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    sends: Mapped[int] = mapped_column(BigInteger, default=0)
