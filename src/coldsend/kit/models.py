"""Column helpers shared by the table definitions of every domain."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_id


class WorkspaceScoped:
    """Mixin for every workspace-owned table: the primary key is (organization_id, id).

    Leading with the workspace keeps every lookup and keyset page an index range scan inside one
    workspace, and keeps the schema distributable by workspace (Citus) later.
    """

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)


class Timestamps:
    timestamp_created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    timestamp_updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
