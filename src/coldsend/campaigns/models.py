from __future__ import annotations

from sqlalchemy import SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class Campaign(WorkspaceScoped, Timestamps, Base):
    __tablename__ = "campaigns"

    name: Mapped[str] = mapped_column(String)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
