"""Rules of the current workspace."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.kit.clock import utcnow
from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.repository import Record
from coldsend.workspaces.repository import WorkspaceRepository
from coldsend.workspaces.schemas import WorkspaceUpdate

EDITABLE = ("name", "org_logo_url", "add_unsub_to_block", "default_opportunity_value")


class WorkspaceService:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.workspaces = WorkspaceRepository(session, organization_id)

    async def current(self) -> Record:
        row = await self.workspaces.get()
        if row is None:
            raise NotFound("Workspace not found")
        return row

    async def update(self, body: WorkspaceUpdate) -> Record:
        fields = [f for f in EDITABLE if f in body.model_fields_set]
        if not fields:
            raise BadRequest("body must have at least one of the properties 'name', 'org_logo_url'")
        if "name" in fields and body.name is None:
            raise BadRequest("body/name must be a string")
        values: dict[str, Any] = {f: getattr(body, f) for f in fields}
        if "name" in values:
            values["name"] = values["name"].strip()
        row = await self.workspaces.update(**values, timestamp_updated=utcnow())
        if row is None:
            raise NotFound("Workspace not found")
        return row
