"""Queries of the account -> campaigns relation, scoped to the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import ColumnElement, String, Table, Uuid, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY

from coldsend.campaigns.repository import CAMPAIGNS, MAPPINGS
from coldsend.custom_tags.schemas import ResourceType
from coldsend.kit.repository import Record, WorkspaceRepository


class AccountCampaignMappingRepository(WorkspaceRepository):
    table: ClassVar[Table] = CAMPAIGNS

    async def account_tag_ids(self, account_id: uuid.UUID) -> list[uuid.UUID]:
        statement = self._scoped(select(MAPPINGS.c.tag_id), MAPPINGS).where(
            MAPPINGS.c.resource_type == int(ResourceType.ACCOUNT), MAPPINGS.c.resource_id == account_id
        )
        return [row[0] for row in await self.all(statement)]

    async def campaigns_sending_from(
        self, email: str, tag_ids: Sequence[uuid.UUID], after: uuid.UUID | None, limit: int
    ) -> Sequence[Record]:
        """Campaigns whose `email_list` holds the (lower-cased) email, or whose `email_tag_list` holds a
        tag the account carries; a keyset page in campaign id order."""
        c = CAMPAIGNS.c
        # `@>` / `&&` on the arrays: the GIN index ix_campaigns_email_list serves the first
        linked: list[ColumnElement[bool]] = [c.email_list.op("@>")(literal([email], ARRAY(String)))]
        if tag_ids:
            linked.append(c.email_tag_list.op("&&")(literal(list(tag_ids), ARRAY(Uuid))))
        statement = self._scoped(select(c.id, c.name, c.timestamp_created, c.status)).where(or_(*linked))
        if after is not None:
            statement = statement.where(c.id > after)
        return await self.all(statement.order_by(c.id).limit(limit + 1))
