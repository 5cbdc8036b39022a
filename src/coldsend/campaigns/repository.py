"""Every query on campaigns, scoped to the workspace (plus the one documented cross-workspace lookup of
a shared campaign, `find_campaign_on_server`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Table, and_, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB, array

from coldsend.accounts.filters import escape_like
from coldsend.accounts.models import Account, AccountDailyStat
from coldsend.campaigns.models import Campaign
from coldsend.custom_tags.models import CustomTagMapping
from coldsend.custom_tags.repository import CustomTagMappingRepository, tagged_with_any
from coldsend.custom_tags.schemas import ResourceType
from coldsend.kit.repository import Executor, Record, WorkspaceRepository

CAMPAIGNS: Table = Campaign.__table__  # type: ignore[assignment]
ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
MAPPINGS: Table = CustomTagMapping.__table__  # type: ignore[assignment]
DAILY_STATS: Table = AccountDailyStat.__table__  # type: ignore[assignment]


class CampaignRepository(WorkspaceRepository):
    table: ClassVar[Table] = CAMPAIGNS

    async def existing_ids(self, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
        wanted = sorted(set(ids))
        if not wanted:
            return set()
        statement = self._scoped(select(self.table.c.id)).where(self.table.c.id.in_(wanted))
        return {row[0] for row in await self.all(statement)}

    async def get_for_update(self, id: uuid.UUID) -> Record | None:
        """The row, locked until the request's transaction ends (read-check-write without races)."""
        return (await self.session.execute(self.select(CAMPAIGNS.c.id == id).with_for_update())).first()

    async def search_page(
        self,
        after: uuid.UUID | None,
        limit: int,
        *,
        search: str | None = None,
        tag_ids: Sequence[uuid.UUID] | None = None,
        ai_sdr_id: uuid.UUID | None = None,
        status: int | None = None,
        exclude_status: int | None = None,
    ) -> Sequence[Record]:
        """A keyset page in id order (the primary key (organization_id, id) serves it at any depth)."""
        c = CAMPAIGNS.c
        where: list[ColumnElement[bool]] = []
        if search:
            # lower(name) LIKE '%...%' is what the trigram index ix_campaigns_name_trgm serves
            where.append(func.lower(c.name).like(f"%{escape_like(search.lower())}%", escape="\\"))
        if tag_ids:
            where.append(tagged_with_any(ResourceType.CAMPAIGN, c.id, c.organization_id, tag_ids))
        if ai_sdr_id is not None:
            where.append(c.ai_sdr_id == ai_sdr_id)
        if status is not None:
            where.append(c.status == status)
        if exclude_status is not None:
            where.append(c.status != exclude_status)
        return await self.page(after, limit, *where)

    async def delete_with_tags(self, id: uuid.UUID) -> Record | None:
        """Delete the campaign and the custom tag mappings that point at it (resource_type 2)."""
        await self.session.execute(
            self._scoped(delete(MAPPINGS), MAPPINGS).where(
                MAPPINGS.c.resource_type == int(ResourceType.CAMPAIGN), MAPPINGS.c.resource_id == id
            )
        )
        return await self.delete(id)

    async def remove_sender(self, email: str) -> int:
        """Take a (deleted) account out of every campaign's sender list; returns campaigns changed."""
        statement = (
            self._scoped(update(CAMPAIGNS))
            .where(CAMPAIGNS.c.email_list.op("@>")(array([email])))  # GIN index ix_campaigns_email_list
            .values(email_list=func.array_remove(CAMPAIGNS.c.email_list, email))
        )
        result = await self.session.execute(statement.returning(CAMPAIGNS.c.id))
        return len(result.all())

    async def count_launched(self) -> int:
        return await self.count(CAMPAIGNS.c.timestamp_launched.is_not(None))

    async def tag_ids_of(self, campaign_id: uuid.UUID) -> list[uuid.UUID]:
        statement = self._scoped(select(MAPPINGS.c.tag_id), MAPPINGS).where(
            MAPPINGS.c.resource_type == int(ResourceType.CAMPAIGN), MAPPINGS.c.resource_id == campaign_id
        )
        return [row[0] for row in await self.all(statement.order_by(MAPPINGS.c.tag_id))]

    async def copy_tags(self, source_id: uuid.UUID, target_id: uuid.UUID) -> None:
        tag_ids = await self.tag_ids_of(source_id)
        if tag_ids:
            mappings = CustomTagMappingRepository(self.session, self.organization_id)
            await mappings.assign(tag_ids, ResourceType.CAMPAIGN, [target_id])

    async def add_custom_variables(self, id: uuid.UUID, defaults: dict[str, str], now: datetime) -> Record | None:
        """Merge variable names into `custom_variables`; names already there keep their value."""
        current = func.coalesce(CAMPAIGNS.c.custom_variables, literal({}, JSONB))
        merged = literal(defaults, JSONB).op("||")(current)
        statement = (
            self._scoped(update(CAMPAIGNS))
            .where(CAMPAIGNS.c.id == id)
            .values(custom_variables=merged, timestamp_updated=now)
            .returning(*CAMPAIGNS.c)
        )
        return (await self.session.execute(statement)).first()

    # -- sending accounts -------------------------------------------------------------------------

    def _senders_condition(self, emails: Sequence[str], tag_ids: Sequence[uuid.UUID]) -> ColumnElement[bool] | None:
        """Accounts of the workspace named in `email_list`, or carrying a tag of `email_tag_list`."""
        conditions: list[ColumnElement[bool]] = []
        if emails:
            conditions.append(func.lower(ACCOUNTS.c.email).in_(sorted({e.lower() for e in emails})))
        if tag_ids:
            conditions.append(
                tagged_with_any(ResourceType.ACCOUNT, ACCOUNTS.c.id, ACCOUNTS.c.organization_id, list(tag_ids))
            )
        return or_(*conditions) if conditions else None

    async def has_sender(self, emails: Sequence[str], tag_ids: Sequence[uuid.UUID]) -> bool:
        condition = self._senders_condition(emails, tag_ids)
        if condition is None:
            return False
        statement = self._scoped(select(ACCOUNTS.c.id), ACCOUNTS).where(condition).limit(1)
        return (await self.session.execute(statement)).first() is not None

    async def senders(self, emails: Sequence[str], tag_ids: Sequence[uuid.UUID], day: date) -> Sequence[Record]:
        """The campaign's sending accounts with their status, daily limit and the count sent on `day`."""
        condition = self._senders_condition(emails, tag_ids)
        if condition is None:
            return []
        stats = DAILY_STATS.c
        joined = ACCOUNTS.outerjoin(
            DAILY_STATS,
            and_(
                stats.organization_id == ACCOUNTS.c.organization_id,
                stats.account_id == ACCOUNTS.c.id,
                stats.day == day,
            ),
        )
        statement = self._scoped(
            select(
                ACCOUNTS.c.id,
                ACCOUNTS.c.email,
                ACCOUNTS.c.status,
                ACCOUNTS.c.daily_limit,
                ACCOUNTS.c.send_available_at,
                func.coalesce(stats.sent, 0).label("sent_today"),
            ).select_from(joined),
            ACCOUNTS,
        ).where(condition)
        return await self.all(statement.order_by(ACCOUNTS.c.id))


async def find_campaign_on_server(session: Executor, campaign_id: uuid.UUID) -> Record | None:
    """The campaign with this id in ANY workspace: the one query not scoped to the caller's workspace.

    Only `POST /campaigns/{id}/from-export` uses it, and the service copies the row only while the
    owner's share (`shared_until`) is valid. A campaign id is a UUIDv7 with 74 random bits, so the id
    itself is the capability a sharer hands over.
    """
    statement: Any = select(CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id).limit(1)
    return (await session.execute(statement)).first()
