from __future__ import annotations

from datetime import datetime

from sqlalchemy import ARRAY, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class ApiKey(WorkspaceScoped, Timestamps, Base):
    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    key_hint: Mapped[str] = mapped_column(String)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
