"""Rows the lead list tests need that this slice's API cannot create (leads)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.leads.models import Lead


async def add_lead(session: AsyncSession, organization_id: uuid.UUID, **values: Any) -> uuid.UUID:
    """A lead row written directly (the leads API is another slice's)."""
    values.setdefault("email", f"{uuid.uuid4().hex[:12]}@example.com")
    row = (
        await session.execute(insert(Lead).values(organization_id=organization_id, **values).returning(Lead.id))
    ).one()
    return row[0]
