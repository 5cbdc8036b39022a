"""HTTP surface of background jobs."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from coldsend.background_jobs.schemas import BackgroundJob, EntityType, JobType
from coldsend.background_jobs.service import BackgroundJobService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import SessionDep
from coldsend.kit.pagination import PageDep, page, split_csv
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["BackgroundJob"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("background-jobs", "read"))]


def serialize_job(row: Record, data_fields: list[str] | None = None) -> dict[str, Any]:
    data = dict(row.data or {})
    if data_fields is not None:
        data = {k: v for k, v in data.items() if k in data_fields}
    return {
        "id": row.id,
        "workspace_id": str(row.organization_id),
        "user_id": str(row.user_id) if row.user_id else None,
        "type": row.type,
        "entity_id": str(row.entity_id) if row.entity_id else None,
        "entity_type": row.entity_type,
        "data": data,
        "progress": row.progress,
        "status": row.status,
        "created_at": isoformat(row.created_at),
        "updated_at": isoformat(row.updated_at),
    }


@router.get(
    "/background-jobs",
    response_model=Page[BackgroundJob],
    operation_id="listBackgroundJob",
    summary="List background job",
)
async def list_background_jobs(
    principal: Read,
    session: SessionDep,
    paging: PageDep,
    ids: Annotated[str | None, Query(description="Comma-separated job ids")] = None,
    included_ids: Annotated[str | None, Query(description="Comma-separated job ids to restrict to")] = None,
    excluded_ids: Annotated[str | None, Query(description="Comma-separated job ids to leave out")] = None,
    type: Annotated[JobType | None, Query(description="Job type")] = None,
    entity_type: Annotated[EntityType | None, Query(description="Entity type")] = None,
    entity_id: Annotated[str | None, Query(description="Comma-separated entity ids")] = None,
    status: Annotated[str | None, Query(description="Comma-separated statuses")] = None,
    sort_column: Annotated[Literal["created_at", "updated_at"], Query()] = "created_at",
    sort_order: Annotated[Literal["asc", "desc"], Query(description="Newest first by default")] = "desc",
) -> JSONResponse:
    rows = await BackgroundJobService(session, principal.organization_id).list_page(
        limit=paging.limit,
        starting_after=paging.starting_after,
        ids=ids,
        included_ids=included_ids,
        excluded_ids=excluded_ids,
        type=type.value if type else None,
        entity_type=entity_type.value if entity_type else None,
        entity_id=entity_id,
        status=status,
        sort_column=sort_column,
        sort_order=sort_order,
    )
    return json(page(rows, paging.limit, serialize_job, lambda r: r.id))


@router.get(
    "/background-jobs/{id}", response_model=BackgroundJob, operation_id="getBackgroundJob", summary="Get background job"
)
async def get_background_job(
    id: str,
    principal: Read,
    session: SessionDep,
    data_fields: Annotated[str | None, Query(description="Comma-separated keys of `data` to return")] = None,
) -> JSONResponse:
    row = await BackgroundJobService(session, principal.organization_id).get(id)
    return json(serialize_job(row, split_csv(data_fields) if data_fields is not None else None))
