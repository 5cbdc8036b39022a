from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.db import Base
from coldsend.kit.models import WorkspaceScoped


class LeadList(WorkspaceScoped, Base):
    __tablename__ = "lead_lists"

    name: Mapped[str] = mapped_column(String)
    has_enrichment_task: Mapped[bool | None] = mapped_column(Boolean, default=None)
    owned_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    timestamp_created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
