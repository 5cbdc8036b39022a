from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ARRAY, Boolean, DateTime, Float, Integer, SmallInteger, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class Campaign(WorkspaceScoped, Timestamps, Base):
    """A campaign; nested settings (schedule, sequences, ...) are stored as the reference shapes them."""

    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    pl_value: Mapped[float | None] = mapped_column(Float, default=None)
    is_evergreen: Mapped[bool | None] = mapped_column(Boolean, default=None)
    campaign_schedule: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    sequences: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    email_gap: Mapped[int | None] = mapped_column(Integer, default=None)
    random_wait_max: Mapped[int | None] = mapped_column(Integer, default=None)
    text_only: Mapped[bool | None] = mapped_column(Boolean, default=None)
    first_email_text_only: Mapped[bool | None] = mapped_column(Boolean, default=None)
    email_list: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    email_tag_list: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid), default=list)
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    stop_on_reply: Mapped[bool | None] = mapped_column(Boolean, default=None)
    link_tracking: Mapped[bool | None] = mapped_column(Boolean, default=None)
    open_tracking: Mapped[bool | None] = mapped_column(Boolean, default=None)
    stop_on_auto_reply: Mapped[bool | None] = mapped_column(Boolean, default=None)
    daily_max_leads: Mapped[int | None] = mapped_column(Integer, default=None)
    prioritize_new_leads: Mapped[bool | None] = mapped_column(Boolean, default=None)
    auto_variant_select: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    match_lead_esp: Mapped[bool | None] = mapped_column(Boolean, default=None)
    not_sending_status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    stop_for_company: Mapped[bool | None] = mapped_column(Boolean, default=None)
    core_variables: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    custom_variables: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    insert_unsubscribe_header: Mapped[bool | None] = mapped_column(Boolean, default=None)
    allow_risky_contacts: Mapped[bool | None] = mapped_column(Boolean, default=None)
    disable_bounce_protect: Mapped[bool | None] = mapped_column(Boolean, default=None)
    limit_emails_per_company_override: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    cc_list: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    bcc_list: Mapped[list[str]] = mapped_column(ARRAY(String), default=list)
    owned_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    ai_sdr_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    provider_routing_rules: Mapped[list[Any]] = mapped_column(JSONB, default=list)
    shared_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_launched: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_sent: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    sending_issue: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
