from __future__ import annotations

from sqlalchemy import Boolean, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from coldsend.kit.db import Base
from coldsend.kit.models import Timestamps, WorkspaceScoped


class Account(WorkspaceScoped, Timestamps, Base):
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
