"""HTTP surface of lead lists: parse, authorize, call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, Page, json
from coldsend.lead_lists.cursor import next_cursor, parse_timestamp_cursor
from coldsend.lead_lists.schemas import LeadList, LeadListCreate, LeadListUpdate, VerificationStats
from coldsend.lead_lists.service import LeadListService

router = APIRouter(route_class=ApiRoute, tags=["LeadList"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("lead_lists", "read"))]
Create = Annotated[Principal, Depends(Authorize("lead_lists", "create"))]
Update = Annotated[Principal, Depends(Authorize("lead_lists", "update"))]
Delete = Annotated[Principal, Depends(Authorize("lead_lists", "delete"))]


def serialize_list(row: Record) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "organization_id": str(row.organization_id),
        "has_enrichment_task": row.has_enrichment_task,
        "owned_by": str(row.owned_by) if row.owned_by is not None else None,
        "name": row.name,
        "timestamp_created": isoformat(row.timestamp_created),
    }


@router.post("/lead-lists", response_model=LeadList, operation_id="createLeadList", summary="Create lead list")
async def create_lead_list(body: LeadListCreate, principal: Create, session: SessionDep) -> JSONResponse:
    row = await LeadListService(session, principal.organization_id).create(body)
    return json(serialize_list(row))


@router.get("/lead-lists", response_model=Page[LeadList], operation_id="listLeadList", summary="List lead list")
async def list_lead_lists(
    principal: Read,
    reader: ReaderDep,
    paging: PageDep,
    has_enrichment_task: Annotated[
        bool | None, Query(description="true: lists that enrich their leads; false: the others")
    ] = None,
    search: Annotated[str | None, Query(description="Part of the list name, any case")] = None,
) -> JSONResponse:
    """Lists in creation order. The cursor is the creation time of the last list of the previous page
    (`<timestamp>&<id>` when the next list was created in the same millisecond); an ISO date-time
    lists those created after it."""
    cursor = parse_timestamp_cursor(paging.starting_after)
    rows = await LeadListService(reader, principal.organization_id).list_page(
        cursor, paging.limit, search=search, has_enrichment_task=has_enrichment_task
    )
    return json(page(rows, paging.limit, serialize_list, lambda _last: next_cursor(rows, paging.limit) or ""))


@router.get("/lead-lists/{id}", response_model=LeadList, operation_id="getLeadList", summary="Get lead list")
async def get_lead_list(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await LeadListService(reader, principal.organization_id).get(id)
    return json(serialize_list(row))


@router.patch("/lead-lists/{id}", response_model=LeadList, operation_id="patchLeadList", summary="Patch lead list")
async def patch_lead_list(
    id: str, principal: Update, session: SessionDep, body: Annotated[LeadListUpdate, Body()]
) -> JSONResponse:
    row = await LeadListService(session, principal.organization_id).update(id, body)
    return json(serialize_list(row))


@router.delete("/lead-lists/{id}", response_model=LeadList, operation_id="deleteLeadList", summary="Delete lead list")
async def delete_lead_list(id: str, principal: Delete, session: SessionDep) -> JSONResponse:
    """Delete the list and every lead in it; answers the deleted list."""
    row = await LeadListService(session, principal.organization_id).delete(id)
    return json(serialize_list(row))


# The reference states no scope for this operation: reading a list's statistics is reading the list,
# so it takes the lead list read scopes (tests/conformance/_spec.py DOCUMENTED_SCOPE_DECISIONS).
@router.get(
    "/lead-lists/{id}/verification-stats",
    response_model=VerificationStats,
    operation_id="getVerificationStats",
    summary="Get verification statistics for a lead list",
)
async def get_verification_stats(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    """The list's leads counted by verification status."""
    body = await LeadListService(reader, principal.organization_id).verification_stats(id)
    return json(body)
