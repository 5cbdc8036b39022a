"""Queries on sending accounts (grows into the full resource with the accounts issue)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import ClassVar

from sqlalchemy import Table, func, select

from coldsend.accounts.models import Account
from coldsend.kit.repository import WorkspaceRepository


class AccountRepository(WorkspaceRepository):
    table: ClassVar[Table] = Account.__table__  # type: ignore[assignment]

    async def ids_by_email(self, emails: Iterable[str]) -> dict[str, uuid.UUID]:
        """lower(email) -> id for the given addresses that exist in the workspace."""
        wanted = sorted({e.strip().lower() for e in emails})
        if not wanted:
            return {}
        statement = self._scoped(select(func.lower(self.table.c.email), self.table.c.id)).where(
            func.lower(self.table.c.email).in_(wanted)
        )
        return {row[0]: row[1] for row in await self.all(statement)}
