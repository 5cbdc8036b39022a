"""Every query on the Unibox's emails, scoped to the workspace.

Pages are keyset pages in (timestamp_created, id) order, newest first unless asked otherwise: each
filter has an index ending in those two columns (migration 0008), so a page is an index range scan
from the cursor at any depth. Constants that partial indexes test (`ue_type`, `is_unread`) are
written into the SQL rather than bound, so PostgreSQL can match those indexes under generic plans.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    Table,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    null,
    or_,
    select,
    true,
    tuple_,
    update,
)

from coldsend.accounts.filters import escape_like
from coldsend.kit.repository import Record, WorkspaceRepository
from coldsend.leads.models import Lead
from coldsend.sending.models import Email

EMAILS: Table = Email.__table__  # type: ignore[assignment]
LEADS: Table = Lead.__table__  # type: ignore[assignment]

# Columns of the table that are bookkeeping of the engines, never shown on the wire.
INTERNAL_COLUMNS = frozenset({"account_id", "variant", "in_reply_to", "references", "outbox_id"})
BODY_COLUMNS = ("body_text", "body_html")


def const(value: int) -> ColumnElement[Any]:
    """An integer written into the SQL (see the module docstring)."""
    return literal_column(str(int(value)))


def lead_domain(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The domain of an address, lower-cased: the expression of ix_emails_lead_domain_created."""
    return func.lower(func.split_part(column, literal_column("'@'"), literal_column("2")))


@dataclass(frozen=True)
class Anchor:
    """Where a page starts: after (timestamp, id) in page order; after `timestamp` alone if no id."""

    timestamp: datetime
    id: uuid.UUID | None = None


@dataclass(frozen=True)
class EmailFilter:
    """The list's filters, already parsed; empty means "no condition"."""

    thread_id: uuid.UUID | None = None
    no_match: bool = False  # a filter that can match nothing (e.g. `thread:` with a malformed id)
    search_address: str | None = None
    search_text: str | None = None
    campaign_id: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    i_status: int | None = None
    eaccounts: tuple[str, ...] = ()
    is_unread: bool | None = None
    has_reminder: bool | None = None
    focused: bool | None = None
    ue_types: tuple[int, ...] = ()
    scheduled_only: bool = False
    assigned_to: uuid.UUID | None = None
    lead: str | None = None
    company_domain: str | None = None
    marked_as_done: bool | None = None
    min_created: datetime | None = None
    max_created: datetime | None = None
    latest_of_thread: bool = False


class EmailRepository(WorkspaceRepository):
    table: ClassVar[Table] = EMAILS

    # -- reads -----------------------------------------------------------------------------------

    def _wire_columns(self, preview_only: bool) -> list[ColumnElement[Any]]:
        columns: list[ColumnElement[Any]] = []
        for column in EMAILS.c:
            if column.name in INTERNAL_COLUMNS:
                continue
            if preview_only and column.name in BODY_COLUMNS:
                columns.append(null().label(column.name))
            else:
                columns.append(column)
        return columns

    async def created_at(self, email_id: uuid.UUID) -> datetime | None:
        """The creation time of an email of the workspace (the anchor of an id cursor)."""
        statement = self._scoped(select(EMAILS.c.timestamp_created)).where(EMAILS.c.id == email_id)
        value: datetime | None = (await self.session.execute(statement)).scalar()
        return value

    def conditions(self, f: EmailFilter) -> list[ColumnElement[bool]]:
        c = EMAILS.c
        where: list[ColumnElement[bool]] = []
        if f.no_match or f.marked_as_done is True:  # nothing marks an email done (PATCH cannot)
            where.append(false())
        if f.thread_id is not None:
            where.append(c.thread_id == f.thread_id)
        if f.search_address is not None:
            needle = f"%{escape_like(f.search_address)}%"
            where.append(
                or_(
                    func.lower(c.lead) == f.search_address,
                    func.lower(c.from_address_email) == f.search_address,
                    c.to_address_email_list.ilike(needle, escape="\\"),
                    c.cc_address_email_list.ilike(needle, escape="\\"),
                )
            )
        if f.search_text is not None:
            needle = f"%{escape_like(f.search_text)}%"
            where.append(
                or_(
                    *(
                        column.ilike(needle, escape="\\")
                        for column in (
                            c.subject,
                            c.body_text,
                            c.from_address_email,
                            c.to_address_email_list,
                            c.cc_address_email_list,
                            c.lead,
                        )
                    )
                )
            )
        if f.campaign_id is not None:
            where.append(c.campaign_id == f.campaign_id)
        if f.list_id is not None:
            where.append(c.list_id == f.list_id)
        if f.i_status is not None:
            where.append(c.i_status == f.i_status)
        if len(f.eaccounts) == 1:
            where.append(func.lower(c.eaccount) == f.eaccounts[0])
        elif f.eaccounts:
            where.append(func.lower(c.eaccount).in_(f.eaccounts))
        if f.is_unread is not None:
            where.append(c.is_unread == const(1) if f.is_unread else c.is_unread != const(1))
        if f.has_reminder is not None:
            where.append(c.reminder_ts.is_not(None) if f.has_reminder else c.reminder_ts.is_(None))
        if f.focused is not None:
            where.append(c.is_focused == const(1) if f.focused else c.is_focused != const(1))
        if len(f.ue_types) == 1:
            where.append(c.ue_type == const(f.ue_types[0]))
        elif f.ue_types:
            where.append(c.ue_type.in_([const(t) for t in f.ue_types]))
        if f.scheduled_only:
            where.append(c.ue_type == const(4))
        if f.assigned_to is not None:
            where.append(
                exists().where(
                    LEADS.c.organization_id == self.organization_id,
                    LEADS.c.id == c.lead_id,
                    LEADS.c.assigned_to == f.assigned_to,
                )
            )
        if f.lead is not None:
            where.append(func.lower(c.lead) == f.lead)
        if f.company_domain is not None:
            where.append(lead_domain(c.lead) == f.company_domain)
        if f.min_created is not None:
            where.append(c.timestamp_created >= f.min_created)
        if f.max_created is not None:
            where.append(c.timestamp_created < f.max_created)
        if f.latest_of_thread:
            later = EMAILS.alias("later")
            where.append(
                not_(
                    exists().where(
                        later.c.organization_id == self.organization_id,
                        later.c.thread_id == c.thread_id,
                        tuple_(later.c.timestamp_created, later.c.id) > tuple_(c.timestamp_created, c.id),
                    )
                )
            )
        return where

    async def list_page(
        self, f: EmailFilter, after: Anchor | None, limit: int, *, descending: bool, preview_only: bool
    ) -> Sequence[Record]:
        """`limit + 1` emails after the anchor in page order: an index range scan at any depth."""
        return await self.all(self.list_statement(f, after, limit, descending=descending, preview_only=preview_only))

    def list_statement(
        self, f: EmailFilter, after: Anchor | None, limit: int, *, descending: bool, preview_only: bool
    ) -> Select[Any]:
        c = EMAILS.c
        if after is not None:
            # The cursor and the creation window bound the same column on the side the scan starts
            # from; the index is positioned by one of them only, so keep just the tighter one (the
            # other is implied): else a deep page would read from the window's edge to the cursor.
            if descending and f.max_created is not None:
                if after.timestamp < f.max_created:
                    f = replace(f, max_created=None)
                else:
                    after = None
            elif not descending and f.min_created is not None:
                if after.timestamp >= f.min_created:
                    f = replace(f, min_created=None)
                else:
                    after = None
        statement = self._scoped(select(*self._wire_columns(preview_only))).where(*self.conditions(f))
        if after is not None:
            moment = literal(after.timestamp, type_=c.timestamp_created.type)
            if after.id is None:
                statement = statement.where(
                    c.timestamp_created < moment if descending else c.timestamp_created > moment
                )
            else:
                key = tuple_(c.timestamp_created, c.id)
                bound = tuple_(moment, literal(after.id, type_=c.id.type))
                statement = statement.where(key < bound if descending else key > bound)
        if descending:
            statement = statement.order_by(c.timestamp_created.desc(), c.id.desc())
        else:
            statement = statement.order_by(c.timestamp_created, c.id)
        return statement.limit(limit + 1)

    async def unread_count(self) -> int:
        return await self.count(EMAILS.c.is_unread == const(1))

    async def thread_exists(self, thread_id: uuid.UUID) -> bool:
        statement = self._scoped(select(true())).where(EMAILS.c.thread_id == thread_id).limit(1)
        return (await self.session.execute(statement)).first() is not None

    # -- writes ----------------------------------------------------------------------------------

    async def mark_thread_read(self, thread_id: uuid.UUID) -> int:
        """Mark every unread email of the thread read; returns how many changed."""
        statement = (
            self._scoped(update(EMAILS))
            .where(EMAILS.c.thread_id == thread_id, EMAILS.c.is_unread != const(0))
            .values(is_unread=0)
            .returning(EMAILS.c.id)
        )
        return len((await self.session.execute(statement)).all())

    async def set_thread(self, email_id: uuid.UUID, thread_id: uuid.UUID) -> None:
        """Give an email without a thread one (the first reply to it starts its thread)."""
        statement = (
            self._scoped(update(EMAILS))
            .where(EMAILS.c.id == email_id, EMAILS.c.thread_id.is_(None))
            .values(thread_id=thread_id)
        )
        await self.session.execute(statement)

    async def assign_lead(self, lead_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """`assigned_to` of a reply or forward: the email's lead goes to that user."""
        statement = self._scoped(update(LEADS), LEADS).where(LEADS.c.id == lead_id).values(assigned_to=user_id)
        await self.session.execute(statement)


# -- bulk inserts (the sending engine's campaign sends, inbox sync's received mail) ---------------

_JSON_COLUMNS = frozenset({"attachment_json", "from_address_json", "to_address_json", "cc_address_json"})


def _sql_type(column: str) -> str:
    """The PostgreSQL type of an `emails` column, for the `unnest` of a bulk insert."""
    from sqlalchemy.dialects import postgresql

    return str(EMAILS.c[column].type.compile(dialect=postgresql.dialect()))


async def bulk_insert_emails(
    run: Callable[..., Awaitable[Any]], ue_type: int, rows: Sequence[Mapping[str, Any]], on_conflict: str
) -> set[str]:
    """Insert email rows (all with the same keys; `references` a list) in one statement through the
    caller's workspace-bound `run` (which supplies `:org`); returns the Message-IDs inserted.
    JSON columns travel as text and are cast per row, so NULLs stay NULL."""
    if not rows:
        return set()
    columns = [c for c in rows[0] if c != "references"]
    params: dict[str, Any] = {}
    for column in columns:
        values = [r[column] for r in rows]
        if column in _JSON_COLUMNS:
            values = [None if v is None else orjson.dumps(v).decode() for v in values]
        params[column] = values
    unnest = ", ".join(
        f"CAST(:{c} AS text[])" if c in _JSON_COLUMNS else f"CAST(:{c} AS {_sql_type(c)}[])" for c in columns
    )
    picked = ", ".join(f"CAST(u.{c} AS jsonb)" if c in _JSON_COLUMNS else f"u.{c}" for c in columns)
    names = ", ".join(columns)
    result = await run(
        f"""INSERT INTO emails (organization_id, ue_type, "references", {names})
        SELECT :org, {int(ue_type)}, string_to_array(u.refs, ' '), {picked}
        FROM unnest({unnest}, CAST(:refs AS text[])) AS u({names}, refs)
        {on_conflict}
        RETURNING message_id""",
        refs=[" ".join(r["references"]) if r.get("references") else None for r in rows],
        **params,
    )
    return {row[0] for row in result}
