from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Integer, SmallInteger, String, Uuid, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class Lead(WorkspaceScoped, Timestamps, Base):
    """A lead in one campaign or one list (or neither). Emails are stored lower-cased."""

    __tablename__ = "leads"

    campaign_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    list_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    email: Mapped[str | None] = mapped_column(String, default=None)
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    first_name: Mapped[str | None] = mapped_column(String, default=None)
    last_name: Mapped[str | None] = mapped_column(String, default=None)
    company_name: Mapped[str | None] = mapped_column(String, default=None)
    company_domain: Mapped[str] = mapped_column(String, default="")
    job_title: Mapped[str | None] = mapped_column(String, default=None)
    phone: Mapped[str | None] = mapped_column(String, default=None)
    website: Mapped[str | None] = mapped_column(String, default=None)
    personalization: Mapped[str | None] = mapped_column(String, default=None)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    lt_interest_status: Mapped[int | None] = mapped_column(Integer, default=None)
    pl_value_lead: Mapped[str | None] = mapped_column(String, default=None)
    assigned_to: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    uploaded_by_user: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    upload_method: Mapped[str] = mapped_column(String, default="api")
    verification_status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    enrichment_status: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    esp_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    esg_code: Mapped[int | None] = mapped_column(SmallInteger, default=None)
    is_website_visitor: Mapped[bool | None] = mapped_column(Boolean, default=None)
    email_open_count: Mapped[int] = mapped_column(Integer, default=0)
    email_reply_count: Mapped[int] = mapped_column(Integer, default=0)
    email_click_count: Mapped[int] = mapped_column(Integer, default=0)
    status_summary: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    status_summary_subseq: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    subsequence_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    last_step_from: Mapped[str | None] = mapped_column(String, default=None)
    last_step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    last_step_timestamp_executed: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    email_opened_step: Mapped[int | None] = mapped_column(Integer, default=None)
    email_opened_variant: Mapped[int | None] = mapped_column(Integer, default=None)
    email_replied_step: Mapped[int | None] = mapped_column(Integer, default=None)
    email_replied_variant: Mapped[int | None] = mapped_column(Integer, default=None)
    email_clicked_step: Mapped[int | None] = mapped_column(Integer, default=None)
    email_clicked_variant: Mapped[int | None] = mapped_column(Integer, default=None)
    # the sending engine's progress: index of the next step, and when it is due (NULL: nothing left)
    next_step: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_contacted_from: Mapped[str | None] = mapped_column(String, default=None)
    timestamp_added_subsequence: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_contact: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_open: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_reply: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_interest_change: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_click: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    timestamp_last_touch: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
