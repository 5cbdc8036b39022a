from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.db import Base
from coldsend.kit.models import WorkspaceScoped


class LeadLabel(WorkspaceScoped, Base):
    __tablename__ = "lead_labels"

    label: Mapped[str] = mapped_column(String)
    label_key: Mapped[str] = mapped_column(String)
    interest_status_label: Mapped[str] = mapped_column(String)
    interest_status: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(String, default=None)
    use_with_ai: Mapped[bool | None] = mapped_column(Boolean, default=None)
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    timestamp_created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
