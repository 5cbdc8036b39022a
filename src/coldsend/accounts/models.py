from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKeyConstraint, Integer, SmallInteger, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class Account(WorkspaceScoped, Timestamps, Base):
    """A sending mailbox. Passwords are stored encrypted (kit.crypto) and never returned."""

    __tablename__ = "accounts"

    email: Mapped[str] = mapped_column(String)
    first_name: Mapped[str] = mapped_column(String, default="")
    last_name: Mapped[str] = mapped_column(String, default="")
    provider_code: Mapped[int] = mapped_column(SmallInteger, default=1)
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    warmup_status: Mapped[int] = mapped_column(SmallInteger, default=0)
    tracking_domain_name: Mapped[str | None] = mapped_column(String, default=None)
    setup_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    is_managed_account: Mapped[bool] = mapped_column(Boolean, default=False)
    is_prewarmed: Mapped[bool] = mapped_column(Boolean, default=False)
    warmup: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    added_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    modified_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    daily_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    daily_limit_max: Mapped[int | None] = mapped_column(Integer, default=None)
    warmup_limit_max: Mapped[int | None] = mapped_column(Integer, default=None)
    tracking_domain_status: Mapped[str | None] = mapped_column(String, default=None)
    enable_slow_ramp: Mapped[bool | None] = mapped_column(Boolean, default=None)
    inbox_placement_test_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    status_message: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    timestamp_warmup_start: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    stat_warmup_score: Mapped[float | None] = mapped_column(Float, default=None)
    sending_gap: Mapped[int] = mapped_column(Integer, default=10)
    signature: Mapped[str | None] = mapped_column(String, default=None)
    reply_to: Mapped[str | None] = mapped_column(String, default=None)
    autofix_failed: Mapped[bool | None] = mapped_column(Boolean, default=None)
    skip_cname_check: Mapped[bool] = mapped_column(Boolean, default=False)
    smtp_host: Mapped[str | None] = mapped_column(String, default=None)
    smtp_port: Mapped[int | None] = mapped_column(Integer, default=None)
    smtp_username: Mapped[str | None] = mapped_column(String, default=None)
    smtp_password_encrypted: Mapped[str | None] = mapped_column(String, default=None)
    imap_host: Mapped[str | None] = mapped_column(String, default=None)
    imap_port: Mapped[int | None] = mapped_column(Integer, default=None)
    imap_username: Mapped[str | None] = mapped_column(String, default=None)
    imap_password_encrypted: Mapped[str | None] = mapped_column(String, default=None)
    connection_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # the sending engine: gap between sends, and which worker sends from the mailbox now
    send_available_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    send_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    send_lease_owner: Mapped[str | None] = mapped_column(String, default=None)
    # inbox sync: which worker watches the mailbox, and when it last synced
    inbox_lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    inbox_lease_owner: Mapped[str | None] = mapped_column(String, default=None)
    inbox_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class AccountDailyStat(Base):
    """Per-account, per-day counters written by the sending and warmup engines."""

    __tablename__ = "account_daily_stats"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "account_id"], ["accounts.organization_id", "accounts.id"], ondelete="CASCADE"
        ),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    sent: Mapped[int] = mapped_column(Integer, default=0)
    bounced: Mapped[int] = mapped_column(Integer, default=0)
    contacted: Mapped[int] = mapped_column(Integer, default=0)
    new_leads_contacted: Mapped[int] = mapped_column(Integer, default=0)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    unique_opened: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[int] = mapped_column(Integer, default=0)
    unique_replies: Mapped[int] = mapped_column(Integer, default=0)
    clicks: Mapped[int] = mapped_column(Integer, default=0)
    unique_clicks: Mapped[int] = mapped_column(Integer, default=0)
    replies_automatic: Mapped[int] = mapped_column(Integer, default=0)
    unique_replies_automatic: Mapped[int] = mapped_column(Integer, default=0)
    warmup_sent: Mapped[int] = mapped_column(Integer, default=0)
    warmup_landed_inbox: Mapped[int] = mapped_column(Integer, default=0)
    warmup_landed_spam: Mapped[int] = mapped_column(Integer, default=0)
    warmup_received: Mapped[int] = mapped_column(Integer, default=0)
