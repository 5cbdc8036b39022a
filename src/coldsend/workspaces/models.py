from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, Float, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.ids import new_id
from coldsend.kit.models import Timestamps


class Workspace(Timestamps, Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String)
    owner: Mapped[uuid.UUID] = mapped_column(Uuid, default=new_id)
    plan_id: Mapped[str | None] = mapped_column(String, default=None)
    plan_id_bundle: Mapped[str | None] = mapped_column(String, default=None)
    plan_id_leadfinder: Mapped[str | None] = mapped_column(String, default=None)
    plan_id_verification: Mapped[dict[str, Any] | None] = mapped_column(JSONB, default=None)
    plan_id_crm: Mapped[str | None] = mapped_column(String, default=None)
    plan_id_website_visitor: Mapped[str | None] = mapped_column(String, default=None)
    plan_id_inbox_placement: Mapped[str | None] = mapped_column(String, default=None)
    org_client_domain: Mapped[str | None] = mapped_column(String, default=None)
    org_logo_url: Mapped[str | None] = mapped_column(String, default=None)
    add_unsub_to_block: Mapped[bool | None] = mapped_column(Boolean, default=None)
    default_opportunity_value: Mapped[float | None] = mapped_column(Float, default=None)
    scheduled_for_removal_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
