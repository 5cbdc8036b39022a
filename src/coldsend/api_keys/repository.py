"""Every query on API keys. Revoked keys stay as rows (for audit) but are invisible to the API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import Table, select, update

from coldsend.api_keys.models import ApiKey
from coldsend.kit.clock import utcnow
from coldsend.kit.repository import Record, WorkspaceRepository

KEYS: Table = ApiKey.__table__  # type: ignore[assignment]


class ApiKeyRepository(WorkspaceRepository):
    table: ClassVar[Table] = KEYS

    async def get_active(self, id: uuid.UUID) -> Record | None:
        return await self.first(KEYS.c.id == id, KEYS.c.revoked_at.is_(None))

    async def active_page(self, after: uuid.UUID | None, limit: int) -> Sequence[Record]:
        return await self.page(after, limit, KEYS.c.revoked_at.is_(None))

    async def revoke(self, id: uuid.UUID) -> Record | None:
        now = utcnow()
        statement = self._scoped(update(KEYS)).where(KEYS.c.id == id, KEYS.c.revoked_at.is_(None))
        result = await self.session.execute(statement.values(revoked_at=now, timestamp_updated=now).returning(*KEYS.c))
        return result.first()


async def all_active_keys(session: Any, organization_id: uuid.UUID | None = None) -> Sequence[Record]:
    """Keys across workspaces, for the operator's CLI (which is not a tenant and sees everything)."""
    statement = select(KEYS).where(KEYS.c.revoked_at.is_(None)).order_by(KEYS.c.organization_id, KEYS.c.id)
    if organization_id is not None:
        statement = statement.where(KEYS.c.organization_id == organization_id)
    return (await session.execute(statement)).all()


async def find_key_anywhere(session: Any, id: uuid.UUID) -> Record | None:
    """The operator's CLI revokes by id without knowing the workspace."""
    statement = select(KEYS.c.organization_id).where(KEYS.c.id == id, KEYS.c.revoked_at.is_(None))
    return (await session.execute(statement)).first()
