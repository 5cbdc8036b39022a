from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKeyConstraint, SmallInteger, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class CustomTag(WorkspaceScoped, Timestamps, Base):
    __tablename__ = "custom_tags"

    label: Mapped[str] = mapped_column(String)
    # trimmed, inner spaces collapsed, case-folded: what "the same label" means (unique per workspace)
    label_key: Mapped[str] = mapped_column(String)
    description: Mapped[str | None] = mapped_column(String, default=None)


class CustomTagMapping(WorkspaceScoped, Base):
    __tablename__ = "custom_tag_mappings"
    __table_args__ = (
        ForeignKeyConstraint(
            ["organization_id", "tag_id"],
            ["custom_tags.organization_id", "custom_tags.id"],
            ondelete="CASCADE",
        ),
    )

    tag_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    resource_type: Mapped[int] = mapped_column(SmallInteger)
    resource_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    timestamp_created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
