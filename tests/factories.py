"""Rows the domain tests need that the API of this slice cannot create yet (accounts, campaigns)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.accounts.models import Account
from coldsend.campaigns.models import Campaign


async def add_account(session: AsyncSession, organization_id: uuid.UUID, email: str, **values: Any) -> uuid.UUID:
    row = (
        await session.execute(
            insert(Account).values(organization_id=organization_id, email=email, **values).returning(Account.id)
        )
    ).one()
    return row[0]


async def add_campaign(session: AsyncSession, organization_id: uuid.UUID, name: str, **values: Any) -> uuid.UUID:
    row = (
        await session.execute(
            insert(Campaign).values(organization_id=organization_id, name=name, **values).returning(Campaign.id)
        )
    ).one()
    return row[0]
