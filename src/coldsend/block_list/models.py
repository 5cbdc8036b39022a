from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.db import Base
from coldsend.kit.models import WorkspaceScoped


class BlockListEntry(WorkspaceScoped, Base):
    __tablename__ = "block_list_entries"

    bl_value: Mapped[str] = mapped_column(String)
    is_domain: Mapped[bool] = mapped_column(Boolean)
    timestamp_created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
