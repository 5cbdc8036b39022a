"""Reading background jobs: filters of the reference, `data_fields` projection."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.background_jobs.repository import JOBS, BackgroundJobRepository
from coldsend.background_jobs.schemas import EntityType, JobStatus, JobType
from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.pagination import split_csv
from coldsend.kit.repository import Record

JOB_ID = re.compile(r"^[0-9a-f]{24}$")


def _enum_values(raw: str | None, enum: type[JobType] | type[EntityType] | type[JobStatus], where: str) -> list[str]:
    values = split_csv(raw)
    allowed = {e.value for e in enum}
    wrong = [v for v in values if v not in allowed]
    if wrong:
        raise BadRequest(f"querystring/{where} must be one of {', '.join(sorted(allowed))}; got {', '.join(wrong)}")
    return values


class BackgroundJobService:
    def __init__(self, session: AsyncSession, organization_id: uuid.UUID) -> None:
        self.jobs = BackgroundJobRepository(session, organization_id)

    async def get(self, job_id: str) -> Record:
        row = await self.jobs.get_by_id(job_id.lower()) if JOB_ID.match(job_id.lower()) else None
        if row is None:
            raise NotFound("Background job not found")
        return row

    async def list_page(
        self,
        *,
        limit: int,
        starting_after: str | None,
        ids: str | None,
        included_ids: str | None,
        excluded_ids: str | None,
        type: str | None,
        entity_type: str | None,
        entity_id: str | None,
        status: str | None,
        sort_column: str,
        sort_order: str,
    ) -> Sequence[Record]:
        where: list[ColumnElement[bool]] = []
        for raw in (ids, included_ids):
            if raw is not None:
                where.append(JOBS.c.id.in_([v.lower() for v in split_csv(raw)]))
        if excluded_ids is not None:
            where.append(JOBS.c.id.not_in([v.lower() for v in split_csv(excluded_ids)]))
        if type is not None:
            where.append(JOBS.c.type.in_(_enum_values(type, JobType, "type")))
        if entity_type is not None:
            where.append(JOBS.c.entity_type.in_(_enum_values(entity_type, EntityType, "entity_type")))
        if status is not None:
            where.append(JOBS.c.status.in_(_enum_values(status, JobStatus, "status")))
        if entity_id is not None:
            parsed = [parse_uuid(v) for v in split_csv(entity_id)]
            if any(p is None for p in parsed):
                raise BadRequest("querystring/entity_id must be a comma-separated list of UUIDs")
            where.append(JOBS.c.entity_id.in_(parsed))
        after = None
        if starting_after:
            after = await self.jobs.get_by_id(starting_after.lower())
            if after is None:
                raise BadRequest("querystring/starting_after must be the id of a job of a previous page")
        return await self.jobs.search_page(
            where, limit=limit, after=after, sort_column=sort_column, descending=sort_order == "desc"
        )
