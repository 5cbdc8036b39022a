"""Queries on workspaces. A tenant only ever reaches its own row, by the id its key carries."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.repository import Record
from coldsend.workspaces.models import Workspace

WORKSPACES: Table = Workspace.__table__  # type: ignore[assignment]


class WorkspaceRepository:
    """The workspace table is the tenant itself, so its scope is its own primary key."""

    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id

    async def get(self) -> Record | None:
        statement = select(WORKSPACES).where(WORKSPACES.c.id == self.organization_id)
        return (await self.session.execute(statement)).first()

    async def update(self, **values: Any) -> Record | None:
        statement = update(WORKSPACES).where(WORKSPACES.c.id == self.organization_id).values(**values)
        return (await self.session.execute(statement.returning(*WORKSPACES.c))).first()


async def create_workspace(session: AsyncSession, name: str) -> Record:
    """Operator action (CLI, first start): workspaces are not created through the tenant API."""
    statement = insert(WORKSPACES).values(name=name).returning(*WORKSPACES.c)
    return (await session.execute(statement)).one()


async def list_workspaces(session: AsyncSession) -> Sequence[Record]:
    return (await session.execute(select(WORKSPACES).order_by(WORKSPACES.c.id))).all()


async def count_workspaces(session: AsyncSession) -> int:
    return int((await session.execute(select(func.count()).select_from(WORKSPACES))).scalar_one())
