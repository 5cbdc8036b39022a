"""Every query on leads, scoped to the workspace.

The import statements (`presence`, `insert_batch`) run on the asyncpg connection under the request's
session (same transaction) with one array per column: a 1,000-lead batch is one round trip each, with
no per-row SQLAlchemy work. Their SQL names `organization_id = $1` itself, like every other query here
goes through `_scoped`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar, NamedTuple

import asyncpg
from sqlalchemy import ColumnElement, Table, case, delete, func, literal, or_, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from coldsend.campaigns.models import Campaign
from coldsend.kit.errors import NotFound
from coldsend.kit.repository import Record, WorkspaceRepository
from coldsend.lead_lists.models import LeadList
from coldsend.leads.imports import InsertColumns
from coldsend.leads.models import Lead

LEADS: Table = Lead.__table__  # type: ignore[assignment]
CAMPAIGNS: Table = Campaign.__table__  # type: ignore[assignment]
LISTS: Table = LeadList.__table__  # type: ignore[assignment]

# Imports with a skip_if_in_* flag take turns per workspace on this lock (two-key form: its own space).
IMPORT_LOCK_CLASS = 0x6C656164  # "lead"

_INSERT = """
INSERT INTO leads (
    organization_id, id, campaign_id, list_id, email, first_name, last_name, company_name, company_domain,
    job_title, phone, website, personalization, payload, lt_interest_status, timestamp_last_interest_change,
    pl_value_lead, assigned_to, upload_method, verification_status, timestamp_created, timestamp_updated
)
SELECT $1::uuid, t.id, $2::uuid, $3::uuid, t.email, t.first_name, t.last_name, t.company_name, t.company_domain,
       t.job_title, t.phone, t.website, t.personalization, t.payload::jsonb, t.interest,
       CASE WHEN t.interest IS NULL THEN NULL ELSE $4::timestamptz END,
       t.pl_value, t.assigned_to, 'api', CASE WHEN t.email IS NULL THEN NULL ELSE $5::smallint END,
       $4::timestamptz, $4::timestamptz
FROM unnest(
    $6::uuid[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[],
    $14::text[], $15::text[], $16::text[], $17::int[], $18::text[], $19::uuid[]
) AS t(id, email, first_name, last_name, company_name, company_domain, job_title, phone, website,
       personalization, payload, interest, pl_value, assigned_to)
ORDER BY t.email  -- one order for every batch: parallel imports of overlapping addresses wait, never deadlock
ON CONFLICT DO NOTHING
RETURNING id
"""

_PRESENCE = """
SELECT email,
       bool_or({target} = $3::uuid) AS in_target,
       bool_or(campaign_id IS NOT NULL) AS in_campaign,
       bool_or(list_id IS NOT NULL) AS in_list
FROM leads
WHERE organization_id = $1 AND email = ANY($2::text[])
GROUP BY email
"""
_PRESENCE_IN_CAMPAIGN = _PRESENCE.format(target="campaign_id")
_PRESENCE_IN_LIST = _PRESENCE.format(target="list_id")


class Presence(NamedTuple):
    in_target: bool
    in_campaign: bool
    in_list: bool


class LeadRepository(WorkspaceRepository):
    table: ClassVar[Table] = LEADS

    async def _driver(self) -> Any:
        """The asyncpg connection under the session, inside the request's transaction."""
        conn = self.session if isinstance(self.session, AsyncConnection) else await self.session.connection()
        driver = (await conn.get_raw_connection()).driver_connection
        assert driver is not None
        return driver

    # -- targets --------------------------------------------------------------------------------

    async def campaign(self, campaign_id: uuid.UUID) -> Record | None:
        c = CAMPAIGNS.c
        statement = self._scoped(select(c.id, c.owned_by, c.custom_variables), CAMPAIGNS).where(c.id == campaign_id)
        return (await self.session.execute(statement)).first()

    async def lead_list(self, list_id: uuid.UUID) -> Record | None:
        c = LISTS.c
        statement = self._scoped(select(c.id, c.owned_by), LISTS).where(c.id == list_id)
        return (await self.session.execute(statement)).first()

    # -- import ---------------------------------------------------------------------------------

    async def lock_imports(self) -> None:
        """Wait for other skip-checked imports of this workspace to commit (released at our commit)."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(:o))"),
            {"k": IMPORT_LOCK_CLASS, "o": str(self.organization_id)},
        )

    async def presence(
        self, emails: Sequence[str], *, campaign_id: uuid.UUID | None, list_id: uuid.UUID | None
    ) -> dict[str, Presence]:
        """For each address already in the workspace: in the target? in any campaign? in any list?"""
        if not emails:
            return {}
        sql = _PRESENCE_IN_CAMPAIGN if campaign_id is not None else _PRESENCE_IN_LIST
        driver = await self._driver()
        rows = await driver.fetch(sql, self.organization_id, list(emails), campaign_id or list_id)
        return {r[0]: Presence(bool(r[1]), bool(r[2]), bool(r[3])) for r in rows}

    async def insert_batch(
        self,
        columns: InsertColumns,
        *,
        campaign_id: uuid.UUID | None,
        list_id: uuid.UUID | None,
        now: datetime,
        verification_status: int | None,
    ) -> set[uuid.UUID]:
        """Insert the leads; those whose address is already in the target are left out by the unique
        indexes. Returns the ids inserted."""
        if not len(columns):
            return set()
        driver = await self._driver()
        try:
            rows = await driver.fetch(
                _INSERT,
                self.organization_id,
                campaign_id,
                list_id,
                now,
                verification_status,
                columns.ids,
                columns.emails,
                columns.first_names,
                columns.last_names,
                columns.company_names,
                columns.company_domains,
                columns.job_titles,
                columns.phones,
                columns.websites,
                columns.personalizations,
                columns.payloads,
                columns.interests,
                columns.pl_values,
                columns.assigned,
            )
        except asyncpg.ForeignKeyViolationError as exc:  # the campaign or list was deleted meanwhile
            raise NotFound("Campaign not found" if campaign_id is not None else "Lead list not found") from exc
        return {r[0] for r in rows}

    async def in_target(self, email: str, *, campaign_id: uuid.UUID | None, list_id: uuid.UUID | None) -> Record | None:
        c = LEADS.c
        where = c.campaign_id == campaign_id if campaign_id is not None else c.list_id == list_id
        return await self.first(c.email == email, where)

    async def first_elsewhere(self, email: str, *, where: ColumnElement[bool] | None = None) -> Record | None:
        """The oldest lead of the workspace with this address (matching `where`)."""
        statement = self.select(LEADS.c.email == email)
        if where is not None:
            statement = statement.where(where)
        return (await self.session.execute(statement.order_by(LEADS.c.id).limit(1))).first()

    # -- one lead -------------------------------------------------------------------------------

    async def get_for_update(self, lead_id: uuid.UUID) -> Record | None:
        return (await self.session.execute(self.select(LEADS.c.id == lead_id).with_for_update())).first()

    async def patch(
        self, lead_id: uuid.UUID, values: dict[str, Any], variables: Mapping[str, Any] | None, now: datetime
    ) -> Record | None:
        """Set `values`, merge `variables` into the payload, and move `timestamp_last_interest_change`
        when `lt_interest_status` really changes."""
        c = LEADS.c
        values = dict(values)
        if "lt_interest_status" in values:
            values["timestamp_last_interest_change"] = case(
                (c.lt_interest_status.is_distinct_from(values["lt_interest_status"]), now),
                else_=c.timestamp_last_interest_change,
            )
        if variables:
            values["payload"] = func.coalesce(c.payload, literal({}, JSONB)).op("||")(literal(dict(variables), JSONB))
        values["timestamp_updated"] = now
        statement = self._scoped(update(LEADS)).where(c.id == lead_id).values(**values).returning(*LEADS.c)
        return (await self.session.execute(statement)).first()

    async def replace(self, lead_id: uuid.UUID, values: dict[str, Any]) -> Record | None:
        statement = self._scoped(update(LEADS)).where(LEADS.c.id == lead_id).values(**values).returning(*LEADS.c)
        return (await self.session.execute(statement)).first()

    # -- many leads -----------------------------------------------------------------------------

    async def bulk_delete(
        self,
        *,
        campaign_id: uuid.UUID | None,
        list_id: uuid.UUID | None,
        status: int | None,
        ids: Sequence[uuid.UUID] | None,
        limit: int | None,
    ) -> int:
        c = LEADS.c
        where: list[ColumnElement[bool]] = [c.campaign_id == campaign_id if campaign_id else c.list_id == list_id]
        if status is not None:
            where.append(c.status == status)
        if ids is not None:
            where.append(c.id.in_(sorted(set(ids))))
        statement = self._scoped(delete(LEADS))
        if limit is not None:
            oldest = self._scoped(select(c.id)).where(*where).order_by(c.id).limit(limit)
            statement = statement.where(c.id.in_(oldest.scalar_subquery()))
        else:
            statement = statement.where(*where)
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def set_interest(
        self,
        email: str,
        value: int | None,
        now: datetime,
        *,
        campaign_id: uuid.UUID | None,
        list_id: uuid.UUID | None,
    ) -> int:
        """Set the interest status of the workspace's leads with this address (in the campaign and/or
        list when given). Returns how many leads matched."""
        c = LEADS.c
        where: list[ColumnElement[bool]] = [c.email == email]
        containers = []
        if campaign_id is not None:
            containers.append(c.campaign_id == campaign_id)
        if list_id is not None:
            containers.append(c.list_id == list_id)
        if containers:
            where.append(or_(*containers))
        statement = (
            self._scoped(update(LEADS))
            .where(*where)
            .values(
                lt_interest_status=value,
                timestamp_last_interest_change=case(
                    (c.lt_interest_status.is_distinct_from(value), now), else_=c.timestamp_last_interest_change
                ),
                timestamp_updated=now,
            )
        )
        result = await self.session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def selected_ids(
        self, where: Sequence[ColumnElement[bool]], after: uuid.UUID | None, limit: int
    ) -> list[uuid.UUID]:
        """The next `limit` selected lead ids in id order after `after` (a keyset walk)."""
        statement = self._scoped(select(LEADS.c.id)).where(*where)
        if after is not None:
            statement = statement.where(LEADS.c.id > after)
        rows = await self.all(statement.order_by(LEADS.c.id).limit(limit))
        return [r[0] for r in rows]

    async def assign(self, lead_ids: Sequence[uuid.UUID], owners: Sequence[uuid.UUID], now: datetime) -> int:
        """Give lead `lead_ids[i]` the owner `owners[i]` (one statement for the batch)."""
        if not lead_ids:
            return 0
        statement = text(
            "UPDATE leads SET assigned_to = t.owner, timestamp_updated = :now "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:owners AS uuid[])) AS t(id, owner) "
            "WHERE leads.organization_id = :org AND leads.id = t.id"
        )
        result = await self.session.execute(
            statement, {"ids": list(lead_ids), "owners": list(owners), "now": now, "org": self.organization_id}
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
