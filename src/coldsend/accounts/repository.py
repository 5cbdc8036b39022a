"""Every query on sending accounts and their daily counters, scoped to the workspace."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, Literal

from sqlalchemy import ColumnElement, Select, Table, and_, case, delete, func, literal, select, tuple_, update

from coldsend.accounts.filters import AccountFilter, account_filter_condition, account_search_condition
from coldsend.accounts.models import Account, AccountDailyStat
from coldsend.custom_tags.models import CustomTag, CustomTagMapping
from coldsend.kit.repository import Record, WorkspaceRepository

ACCOUNTS: Table = Account.__table__  # type: ignore[assignment]
DAILY_STATS: Table = AccountDailyStat.__table__  # type: ignore[assignment]
TAGS: Table = CustomTag.__table__  # type: ignore[assignment]
MAPPINGS: Table = CustomTagMapping.__table__  # type: ignore[assignment]

ACCOUNT_RESOURCE = 1  # custom_tag_mappings.resource_type of accounts

SortBy = Literal["timestamp_created", "email", "stat_warmup_score", "status"]


@dataclass(frozen=True)
class ListOrder:
    """How a page is ordered: by `sort_by` (then email, unique per workspace), up or down."""

    sort_by: SortBy = "timestamp_created"
    descending: bool = False

    def key(self) -> ColumnElement[Any] | None:
        """The sort column (None when it is the email itself). NULL scores sort as -1 (lowest)."""
        c = ACCOUNTS.c
        if self.sort_by == "email":
            return None
        if self.sort_by == "stat_warmup_score":
            return func.coalesce(c.stat_warmup_score, literal(-1.0))
        column: ColumnElement[Any] = c[self.sort_by]
        return column

    def key_value(self, row: Record) -> Any:
        if self.sort_by == "stat_warmup_score":
            return -1.0 if row.stat_warmup_score is None else row.stat_warmup_score
        return getattr(row, self.sort_by)


class AccountRepository(WorkspaceRepository):
    table: ClassVar[Table] = ACCOUNTS

    # -- lookups ---------------------------------------------------------------------------------

    async def ids_by_email(self, emails: Iterable[str]) -> dict[str, uuid.UUID]:
        """lower(email) -> id for the given addresses that exist in the workspace."""
        wanted = sorted({e.strip().lower() for e in emails if "\x00" not in e})
        if not wanted:
            return {}
        statement = self._scoped(select(func.lower(ACCOUNTS.c.email), ACCOUNTS.c.id)).where(
            func.lower(ACCOUNTS.c.email).in_(wanted)
        )
        return {row[0]: row[1] for row in await self.all(statement)}

    async def by_email(self, email: str) -> Record | None:
        """The account with this address (any case), through the unique index on lower(email)."""
        if "\x00" in email:
            return None
        return await self.first(func.lower(ACCOUNTS.c.email) == email.strip().lower())

    async def by_emails(self, emails: Sequence[str], *, limit: int | None = None) -> Sequence[Record]:
        """(id, email, stat_warmup_score) of the accounts with these (lower-case) addresses, by email."""
        statement = self._scoped(select(ACCOUNTS.c.id, ACCOUNTS.c.email, ACCOUNTS.c.stat_warmup_score))
        wanted = sorted({e for e in emails if "\x00" not in e})
        statement = statement.where(func.lower(ACCOUNTS.c.email).in_(wanted))
        if limit is not None:
            statement = statement.limit(limit)
        return await self.all(statement.order_by(ACCOUNTS.c.email))

    async def first_accounts(self, limit: int) -> Sequence[Record]:
        """(id, email) of up to `limit` accounts of the workspace, in email order."""
        statement = self._scoped(select(ACCOUNTS.c.id, ACCOUNTS.c.email)).order_by(ACCOUNTS.c.email).limit(limit)
        return await self.all(statement)

    # -- writes ----------------------------------------------------------------------------------

    async def update_by_id(self, account_id: uuid.UUID, **values: Any) -> Record | None:
        return await self.update(account_id, **values)

    async def pause_many(self, emails: Sequence[str], now: datetime) -> set[str]:
        """Pause the accounts with these (lower-case) addresses that are not paused yet; their emails."""
        if not emails:
            return set()
        statement = (
            self._scoped(update(ACCOUNTS))
            .where(func.lower(ACCOUNTS.c.email).in_(sorted(set(emails))), ACCOUNTS.c.status != 2)
            .values(status=2, timestamp_updated=now)
            .returning(func.lower(ACCOUNTS.c.email))
        )
        return {row[0] for row in (await self.session.execute(statement)).all()}

    async def delete_tag_mappings(self, account_id: uuid.UUID) -> int:
        """Forget which tags the account carried (custom tag mappings of resource type 1)."""
        statement = self._scoped(delete(MAPPINGS), MAPPINGS).where(
            MAPPINGS.c.resource_type == ACCOUNT_RESOURCE, MAPPINGS.c.resource_id == account_id
        )
        result = await self.session.execute(statement.returning(MAPPINGS.c.id))
        return len(result.all())

    async def set_warmup(
        self, account_ids: Sequence[uuid.UUID], *, enable: bool, now: datetime
    ) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
        """Turn warmup on or off for these accounts. Returns (changed or already so, left alone).

        Enabling skips accounts under permanent suspension (warmup_status -3) and starts the clock
        (`timestamp_warmup_start`) only for accounts that were not warming already. Disabling leaves a
        permanent suspension as it is (it counts as done: such an account does not warm).
        """
        c = ACCOUNTS.c
        ids = list(account_ids)
        if not ids:
            return set(), set()
        statement = self._scoped(update(ACCOUNTS)).where(c.id.in_(ids), c.warmup_status != -3)
        if enable:
            already = and_(c.warmup_status == 1, c.timestamp_warmup_start.is_not(None))
            start = case((already, c.timestamp_warmup_start), else_=literal(now, type_=c.timestamp_warmup_start.type))
            statement = statement.values(warmup_status=1, timestamp_warmup_start=start, timestamp_updated=now)
        else:
            statement = statement.values(warmup_status=0, timestamp_warmup_start=None, timestamp_updated=now)
        done = {row[0] for row in (await self.session.execute(statement.returning(c.id))).all()}
        if not enable:
            suspended = self._scoped(select(c.id)).where(c.id.in_(ids), c.warmup_status == -3)
            done |= {row[0] for row in await self.all(suspended)}
        return done, set(ids) - done

    # -- lists -----------------------------------------------------------------------------------

    def filtered(
        self,
        statement: Select[Any],
        *,
        search: str | None = None,
        status: int | None = None,
        provider_code: int | None = None,
        account_filter: AccountFilter | None = None,
        tag_ids: Sequence[uuid.UUID] | None = None,
        tag_ids_all: Sequence[uuid.UUID] | None = None,
        untagged: bool = False,
    ) -> Select[Any]:
        c = ACCOUNTS.c
        if search:
            statement = statement.where(account_search_condition(ACCOUNTS, search))
        if status is not None:
            statement = statement.where(c.status == status)
        if provider_code is not None:
            statement = statement.where(c.provider_code == provider_code)
        if account_filter is not None:
            statement = statement.where(account_filter_condition(ACCOUNTS, account_filter))
        if tag_ids:
            statement = statement.where(_tagged(c.id, c.organization_id, tag_ids))
        if tag_ids_all:
            wanted = sorted(set(tag_ids_all))
            count = (
                select(func.count())
                .where(*_mapping_of(c.id, c.organization_id), MAPPINGS.c.tag_id.in_(wanted))
                .scalar_subquery()
            )
            statement = statement.where(count == len(wanted))
        if untagged:
            statement = statement.where(~select(MAPPINGS.c.id).where(*_mapping_of(c.id, c.organization_id)).exists())
        return statement

    async def list_page(
        self,
        statement: Select[Any],
        *,
        order: ListOrder,
        after: tuple[Any, str] | None,
        limit: int,
        skip: int = 0,
    ) -> Sequence[Record]:
        """`limit + 1` accounts after the cursor `(sort key, email)` in the given order.

        The default order (timestamp_created, email) ascending is a range scan of the index
        ix_accounts_created_email at any depth; `skip` is an OFFSET and only for clients that ask for it.
        """
        c = ACCOUNTS.c
        key = order.key()
        if after is not None:
            key_value, email = after
            if key is None:
                statement = statement.where(c.email < email if order.descending else c.email > email)
            else:
                left = tuple_(key, c.email)
                right = tuple_(literal(key_value, type_=key.type), literal(email, type_=c.email.type))
                statement = statement.where(left < right if order.descending else left > right)
        columns = (c.email,) if key is None else (key, c.email)
        ordering = [col.desc() if order.descending else col.asc() for col in columns]
        statement = statement.order_by(*ordering).limit(limit + 1)
        if skip:
            statement = statement.offset(skip)
        return await self.all(statement)

    async def tags_of(self, account_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[Record]]:
        """account id -> its tags (id, label, description), oldest tag first, for one page of accounts."""
        if not account_ids:
            return {}
        joined = MAPPINGS.join(
            TAGS, and_(TAGS.c.organization_id == MAPPINGS.c.organization_id, TAGS.c.id == MAPPINGS.c.tag_id)
        )
        statement = (
            self._scoped(
                select(MAPPINGS.c.resource_id, TAGS.c.id, TAGS.c.label, TAGS.c.description).select_from(joined),
                MAPPINGS,
            )
            .where(MAPPINGS.c.resource_type == ACCOUNT_RESOURCE, MAPPINGS.c.resource_id.in_(list(account_ids)))
            .order_by(MAPPINGS.c.resource_id, TAGS.c.id)
        )
        tags: dict[uuid.UUID, list[Record]] = {}
        for row in await self.all(statement):
            tags.setdefault(row.resource_id, []).append(row)
        return tags

    async def tag_exists(self, tag_id: uuid.UUID) -> bool:
        statement = self._scoped(select(TAGS.c.id), TAGS).where(TAGS.c.id == tag_id)
        return (await self.session.execute(statement)).first() is not None

    async def selection(self, statement: Select[Any]) -> Sequence[Record]:
        """(id, email) of every account the statement selects, in id order."""
        return await self.all(statement.with_only_columns(ACCOUNTS.c.id, ACCOUNTS.c.email).order_by(ACCOUNTS.c.id))

    # -- analytics -------------------------------------------------------------------------------

    async def daily_stats(self, account_ids: Sequence[uuid.UUID], start: date, end: date) -> Sequence[Record]:
        """The stored per-day counters of these accounts between two days (inclusive), by day then email."""
        if not account_ids:
            return []
        s = DAILY_STATS.c
        joined = DAILY_STATS.join(
            ACCOUNTS, and_(ACCOUNTS.c.organization_id == s.organization_id, ACCOUNTS.c.id == s.account_id)
        )
        statement = (
            self._scoped(select(DAILY_STATS, ACCOUNTS.c.email).select_from(joined), DAILY_STATS)
            .where(s.account_id.in_(list(account_ids)), s.day >= start, s.day <= end)
            .order_by(s.day, ACCOUNTS.c.email)
        )
        return await self.all(statement)


def _mapping_of(resource_id: ColumnElement[Any], organization_id: ColumnElement[Any]) -> list[ColumnElement[bool]]:
    return [
        MAPPINGS.c.organization_id == organization_id,
        MAPPINGS.c.resource_type == ACCOUNT_RESOURCE,
        MAPPINGS.c.resource_id == resource_id,
    ]


def _tagged(
    resource_id: ColumnElement[Any], organization_id: ColumnElement[Any], tag_ids: Sequence[uuid.UUID]
) -> ColumnElement[bool]:
    return (
        select(MAPPINGS.c.id)
        .where(*_mapping_of(resource_id, organization_id), MAPPINGS.c.tag_id.in_(sorted(set(tag_ids))))
        .exists()
    )
