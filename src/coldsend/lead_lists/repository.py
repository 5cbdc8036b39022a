"""Every query on lead lists, scoped to the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, ScalarSelect, Table, func, select, true

from coldsend.accounts.filters import escape_like
from coldsend.kit.repository import Record
from coldsend.lead_lists.cursor import TimestampCursor, TimestampPagedRepository
from coldsend.lead_lists.models import LeadList
from coldsend.leads.models import Lead
from coldsend.workspaces.models import Workspace

LISTS: Table = LeadList.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]
WORKSPACES: Table = Workspace.__table__  # type: ignore[assignment]


class LeadListRepository(TimestampPagedRepository):
    table: ClassVar[Table] = LISTS

    def workspace_owner(self) -> ScalarSelect[Any]:
        """The workspace's owner, the user a list belongs to unless the client names another."""
        return select(WORKSPACES.c.owner).where(WORKSPACES.c.id == self.organization_id).scalar_subquery()

    async def search_page(
        self, after: TimestampCursor | None, limit: int, *, search: str | None, has_enrichment_task: bool | None
    ) -> Sequence[Record]:
        where: list[ColumnElement[bool]] = []
        needle = (search or "").strip()
        if needle:
            where.append(LISTS.c.name.ilike(f"%{escape_like(needle)}%", escape="\\"))
        if has_enrichment_task is True:
            where.append(LISTS.c.has_enrichment_task.is_(True))
        elif has_enrichment_task is False:
            where.append(LISTS.c.has_enrichment_task.isnot(True))  # false or never set
        return await self.time_page(after, limit, *where)

    async def verification_counts(self, list_id: uuid.UUID) -> Sequence[Record]:
        """(verification_status, n) per status among the list's leads, in one statement; no row at all
        when the list is not in this workspace, one row with n = NULL when it has no leads."""
        counts = (
            select(LEADS.c.verification_status, func.count().label("n"))
            .where(LEADS.c.organization_id == LISTS.c.organization_id, LEADS.c.list_id == LISTS.c.id)
            .group_by(LEADS.c.verification_status)
            .lateral("counts")
        )
        statement = self._scoped(
            select(LISTS.c.id, counts.c.verification_status, counts.c.n).select_from(LISTS.outerjoin(counts, true()))
        ).where(LISTS.c.id == list_id)
        return await self.all(statement)
