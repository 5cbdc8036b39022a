from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.db import Base
from coldsend.kit.ids import new_job_id


class BackgroundJob(Base):
    """What clients see of a job. The queue row that makes a worker run it lives in PgQueuer's table."""

    __tablename__ = "background_jobs"

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[str] = mapped_column(String(24), primary_key=True, default=new_job_id)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    type: Mapped[str] = mapped_column(String)
    entity_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    entity_type: Mapped[str | None] = mapped_column(String, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String, default="pending")
    error: Mapped[str | None] = mapped_column(String, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
