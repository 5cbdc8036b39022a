"""Every query on background jobs, scoped to the workspace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import ColumnElement, Table, tuple_

from coldsend.background_jobs.models import BackgroundJob
from coldsend.kit.repository import Record, WorkspaceRepository

JOBS: Table = BackgroundJob.__table__  # type: ignore[assignment]


class BackgroundJobRepository(WorkspaceRepository):
    table: ClassVar[Table] = JOBS

    async def get_by_id(self, job_id: str) -> Record | None:
        return await self.first(JOBS.c.id == job_id)

    async def search_page(
        self,
        where: list[ColumnElement[bool]],
        *,
        limit: int,
        after: Record | None,
        sort_column: str,
        descending: bool,
    ) -> Sequence[Record]:
        """Keyset page ordered by (sort column, id); the cursor is the last job of the previous page."""
        column = JOBS.c[sort_column]
        key = tuple_(column, JOBS.c.id)
        statement = self.select(*where)
        if after is not None:
            boundary = tuple_(after._mapping[sort_column], after.id)
            statement = statement.where(key < boundary if descending else key > boundary)
        order = (column.desc(), JOBS.c.id.desc()) if descending else (column.asc(), JOBS.c.id.asc())
        return await self.all(statement.order_by(*order).limit(limit + 1))
