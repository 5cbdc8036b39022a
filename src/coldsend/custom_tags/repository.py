"""Every query on custom tags and their mappings, scoped to the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, ClassVar

from sqlalchemy import ColumnElement, Select, String, Table, and_, cast, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coldsend.accounts.filters import escape_like
from coldsend.accounts.models import Account
from coldsend.custom_tags.models import CustomTag, CustomTagMapping
from coldsend.custom_tags.schemas import ResourceType
from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_id
from coldsend.kit.repository import Record, WorkspaceRepository

TAGS: Table = CustomTag.__table__  # type: ignore[assignment]
MAPPINGS: Table = CustomTagMapping.__table__  # type: ignore[assignment]
ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]


def normalize_label(label: str) -> str:
    """The key two labels are compared by: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(label.split()).casefold()


class CustomTagRepository(WorkspaceRepository):
    table: ClassVar[Table] = TAGS

    async def by_label_key(self, label_key: str) -> Record | None:
        return await self.first(TAGS.c.label_key == label_key)

    async def existing_ids(self, ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        statement = self._scoped(select(TAGS.c.id)).where(TAGS.c.id.in_(sorted(set(ids))))
        return {row[0] for row in await self.all(statement)}

    async def search_page(
        self,
        after: uuid.UUID | None,
        limit: int,
        *,
        search: str | None,
        tag_ids: list[uuid.UUID] | None,
        resource_ids: list[uuid.UUID] | None,
    ) -> Sequence[Record]:
        where: list[ColumnElement[bool]] = []
        if search:
            where.append(TAGS.c.label_key.like(f"%{escape_like(normalize_label(search))}%", escape="\\"))
        if tag_ids is not None:
            where.append(TAGS.c.id.in_(tag_ids))
        if resource_ids is not None:
            mapped = self._scoped(select(MAPPINGS.c.tag_id), MAPPINGS).where(MAPPINGS.c.resource_id.in_(resource_ids))
            where.append(TAGS.c.id.in_(mapped))
        return await self.page(after, limit, *where)


class CustomTagMappingRepository(WorkspaceRepository):
    table: ClassVar[Table] = MAPPINGS

    def _with_resource_name(self) -> Select[Any]:
        """Mappings with `resource_id` as clients know it: the email for accounts, the id for campaigns."""
        joined = MAPPINGS.outerjoin(
            ACCOUNTS,
            and_(
                MAPPINGS.c.resource_type == int(ResourceType.ACCOUNT),
                ACCOUNTS.c.organization_id == MAPPINGS.c.organization_id,
                ACCOUNTS.c.id == MAPPINGS.c.resource_id,
            ),
        )
        resource_name = func.coalesce(ACCOUNTS.c.email, cast(MAPPINGS.c.resource_id, String))
        return self._scoped(
            select(
                MAPPINGS.c.id,
                MAPPINGS.c.tag_id,
                resource_name.label("resource_id"),
                MAPPINGS.c.resource_type,
                MAPPINGS.c.timestamp_created,
                MAPPINGS.c.organization_id,
            ).select_from(joined),
            MAPPINGS,
        )

    async def search_page(
        self, after: uuid.UUID | None, limit: int, resource_ids: list[uuid.UUID] | None
    ) -> Sequence[Record]:
        statement = self._with_resource_name()
        if resource_ids is not None:
            statement = statement.where(MAPPINGS.c.resource_id.in_(resource_ids))
        if after is not None:
            statement = statement.where(MAPPINGS.c.id > after)
        return await self.all(statement.order_by(MAPPINGS.c.id).limit(limit + 1))

    async def assign(
        self, tag_ids: Sequence[uuid.UUID], resource_type: ResourceType, resource_ids: Sequence[uuid.UUID]
    ) -> int:
        """Map every tag to every resource; pairs already mapped are left alone. Returns rows added."""
        now = utcnow()
        rows = [
            {
                "organization_id": self.organization_id,
                "id": new_id(),
                "tag_id": tag_id,
                "resource_type": int(resource_type),
                "resource_id": resource_id,
                "timestamp_created": now,
            }
            for resource_id in resource_ids
            for tag_id in tag_ids
        ]
        added = 0
        for start in range(0, len(rows), 5000):
            statement = pg_insert(MAPPINGS).values(rows[start : start + 5000]).on_conflict_do_nothing()
            result = await self.session.execute(statement.returning(MAPPINGS.c.id))
            added += len(result.all())
        return added

    async def unassign(
        self, tag_ids: Sequence[uuid.UUID], resource_type: ResourceType, resource_ids: Sequence[uuid.UUID]
    ) -> int:
        statement = self._scoped(delete(MAPPINGS)).where(
            MAPPINGS.c.tag_id.in_(list(tag_ids)),
            MAPPINGS.c.resource_type == int(resource_type),
            MAPPINGS.c.resource_id.in_(list(resource_ids)),
        )
        result = await self.session.execute(statement.returning(MAPPINGS.c.id))
        return len(result.all())


def tagged_with_any(
    resource_type: ResourceType,
    resource_id: ColumnElement[Any],
    organization_id: ColumnElement[Any],
    tag_ids: Sequence[uuid.UUID],
) -> ColumnElement[bool]:
    """Condition: the resource carries at least one of the tags (for list filters of any resource)."""
    return exists().where(
        MAPPINGS.c.organization_id == organization_id,
        MAPPINGS.c.resource_type == int(resource_type),
        MAPPINGS.c.resource_id == resource_id,
        MAPPINGS.c.tag_id.in_(list(tag_ids)),
    )


def tagged_with_all(
    resource_type: ResourceType,
    resource_id: ColumnElement[Any],
    organization_id: ColumnElement[Any],
    tag_ids: Sequence[uuid.UUID],
) -> ColumnElement[bool]:
    """Condition: the resource carries every one of the tags."""
    wanted = sorted(set(tag_ids))
    count = (
        select(func.count())
        .where(
            MAPPINGS.c.organization_id == organization_id,
            MAPPINGS.c.resource_type == int(resource_type),
            MAPPINGS.c.resource_id == resource_id,
            MAPPINGS.c.tag_id.in_(wanted),
        )
        .scalar_subquery()
    )
    return count == len(wanted)


def untagged(
    resource_type: ResourceType, resource_id: ColumnElement[Any], organization_id: ColumnElement[Any]
) -> ColumnElement[bool]:
    return ~exists().where(
        MAPPINGS.c.organization_id == organization_id,
        MAPPINGS.c.resource_type == int(resource_type),
        MAPPINGS.c.resource_id == resource_id,
    )
