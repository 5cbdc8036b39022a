"""Queries on campaigns (grows into the full resource with the campaigns issue)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import ClassVar

from sqlalchemy import Table, select

from coldsend.campaigns.models import Campaign
from coldsend.kit.repository import WorkspaceRepository


class CampaignRepository(WorkspaceRepository):
    table: ClassVar[Table] = Campaign.__table__  # type: ignore[assignment]

    async def existing_ids(self, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        statement = self._scoped(select(self.table.c.id)).where(self.table.c.id.in_(wanted))
        return {row[0] for row in await self.all(statement)}
