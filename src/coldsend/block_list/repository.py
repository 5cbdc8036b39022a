"""Every query on block list entries, scoped to the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import ClassVar

from sqlalchemy import ARRAY, ColumnElement, String, Table, Uuid, any_, delete, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from coldsend.accounts.filters import escape_like
from coldsend.block_list.models import BlockListEntry
from coldsend.block_list.values import BlockValue, domain_of
from coldsend.kit.clock import utcnow
from coldsend.kit.ids import new_id
from coldsend.kit.repository import Record, WorkspaceRepository

ENTRIES: Table = BlockListEntry.__table__  # type: ignore[assignment]


def _text_array(values: Sequence[str]) -> ColumnElement[list[str]]:
    """One array parameter: the statement text stays the same whatever the number of values."""
    return literal(list(values), type_=ARRAY(String))


class BlockListRepository(WorkspaceRepository):
    table: ClassVar[Table] = ENTRIES

    async def blocked_among(self, emails: Sequence[str]) -> set[str]:
        """The given (lower-cased) addresses that the workspace blocks, by an entry for the address or
        for its domain. One indexed lookup of at most 2 values per address (unique index on the value)."""
        wanted = [e for e in dict.fromkeys(emails) if "@" in e]  # a value without @ is no address
        if not wanted:
            return set()
        candidates = set(wanted) | set(map(domain_of, wanted))
        statement = self._scoped(select(ENTRIES.c.bl_value)).where(
            ENTRIES.c.bl_value == any_(_text_array(sorted(candidates)))
        )
        hits = {row[0] for row in await self.all(statement)}
        return {email for email in wanted if email in hits or domain_of(email) in hits}

    @staticmethod
    def filters(*, domains_only: bool | None, search: str | None) -> list[ColumnElement[bool]]:
        """`domains_only=true`: domain entries only (false or absent: every entry); `search`: part of
        the value, any case (served by the trigram index)."""
        where: list[ColumnElement[bool]] = []
        if domains_only:
            where.append(ENTRIES.c.is_domain.is_(True))
        needle = (search or "").strip().lower()
        if needle:
            where.append(ENTRIES.c.bl_value.like(f"%{escape_like(needle)}%", escape="\\"))
        return where

    async def by_value(self, value: str) -> Record | None:
        return await self.first(ENTRIES.c.bl_value == value)

    async def by_values(self, values: Sequence[str]) -> Sequence[Record]:
        return await self.all(self.select(ENTRIES.c.bl_value == any_(_text_array(values))))

    async def insert_missing(self, values: Sequence[BlockValue]) -> Sequence[Record]:
        """Insert the values not blocked yet; returns only the rows this call created. A value a
        concurrent transaction inserts first is waited for and then skipped (ON CONFLICT DO NOTHING).
        Rows go in sorted order, so two overlapping batches wait on each other but never deadlock."""
        if not values:
            return []
        values = sorted(values)
        now = utcnow()
        rows = [
            {
                "organization_id": self.organization_id,
                "id": new_id(),
                "bl_value": v.value,
                "is_domain": v.is_domain,
                "timestamp_created": now,
            }
            for v in values
        ]
        statement = (
            pg_insert(ENTRIES)
            .values(rows)
            .on_conflict_do_nothing(index_elements=[ENTRIES.c.organization_id, ENTRIES.c.bl_value])
            .returning(*ENTRIES.c)
        )
        return (await self.session.execute(statement)).all()

    async def delete_ids(self, ids: Sequence[uuid.UUID]) -> Sequence[Record]:
        statement = self._scoped(delete(ENTRIES)).where(ENTRIES.c.id == any_(literal(list(ids), type_=ARRAY(Uuid))))
        rows = (await self.session.execute(statement.returning(*ENTRIES.c))).all()
        return sorted(rows, key=lambda r: r.id)

    async def delete_matching(self, where: Sequence[ColumnElement[bool]]) -> Sequence[Record]:
        statement = self._scoped(delete(ENTRIES)).where(*where)
        rows = (await self.session.execute(statement.returning(*ENTRIES.c))).all()
        return sorted(rows, key=lambda r: r.id)

    async def batch(self, after: uuid.UUID | None, size: int, where: Sequence[ColumnElement[bool]]) -> Sequence[Record]:
        """Exactly `size` rows (or fewer at the end) in id order after `after`: the download's batches."""
        statement = self.select(*where)
        if after is not None:
            statement = statement.where(ENTRIES.c.id > after)
        return await self.all(statement.order_by(ENTRIES.c.id).limit(size))
