"""HTTP surface of lead labels: parse, authorize, call the service, answer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.errors import NotImplementedYet
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json
from coldsend.lead_labels.schemas import (
    AiReplyLabelRequest,
    AiReplyLabelResult,
    LeadLabel,
    LeadLabelCreate,
    LeadLabelDelete,
    LeadLabelUpdate,
    Sentiment,
)
from coldsend.lead_labels.service import LeadLabelService
from coldsend.lead_lists.cursor import next_cursor, parse_timestamp_cursor

router = APIRouter(route_class=ApiRoute, tags=["LeadLabel"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("lead-labels", "read"))]
Create = Annotated[Principal, Depends(Authorize("lead-labels", "create"))]
Update = Annotated[Principal, Depends(Authorize("lead-labels", "update"))]
Delete = Annotated[Principal, Depends(Authorize("lead-labels", "delete"))]

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Another label of the workspace has the same name"}
}
AI_REPLY_LABEL_UNAVAILABLE = (
    "AI reply labelling is not available in this version of Coldsend: there is no AI model to classify "
    "replies with. Set a lead's interest status with POST /api/v2/leads/update-interest-status."
)


def serialize_label(row: Record) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "timestamp_created": isoformat(row.timestamp_created),
        "created_by": str(row.created_by) if row.created_by is not None else None,
        "organization_id": str(row.organization_id),
        "label": row.label,
        "interest_status_label": row.interest_status_label,
        "interest_status": row.interest_status,
        "description": row.description,
        "use_with_ai": row.use_with_ai,
    }


@router.post(
    "/lead-labels",
    response_model=LeadLabel,
    responses=CONFLICT,
    operation_id="createLeadLabel",
    summary="Create lead label",
)
async def create_lead_label(body: LeadLabelCreate, principal: Create, session: SessionDep) -> JSONResponse:
    """Create a custom interest status; the server assigns its numeric `interest_status`."""
    row = await LeadLabelService(session, principal.organization_id).create(body)
    return json(serialize_label(row))


@router.get("/lead-labels", response_model=Page[LeadLabel], operation_id="listLeadLabel", summary="List lead label")
async def list_lead_labels(
    principal: Read,
    reader: ReaderDep,
    paging: PageDep,
    search: Annotated[str | None, Query(description="Part of the label, any case")] = None,
    interest_status: Annotated[Sentiment | None, Query(description="Only labels of this sentiment")] = None,
) -> JSONResponse:
    """Labels in creation order. The cursor is the creation time of the last label of the previous page
    (`<timestamp>&<id>` when the next label was created in the same millisecond); an ISO date-time
    lists those created after it."""
    cursor = parse_timestamp_cursor(paging.starting_after)
    rows = await LeadLabelService(reader, principal.organization_id).list_page(
        cursor, paging.limit, search=search, sentiment=interest_status
    )
    return json(page(rows, paging.limit, serialize_label, lambda _last: next_cursor(rows, paging.limit) or ""))


@router.post(
    "/lead-labels/ai-reply-label",
    response_model=AiReplyLabelResult,
    responses={
        500: {"model": ErrorBody, "description": "The classification failed"},
        501: {"model": ErrorBody, "description": "AI reply labelling is not available in this version"},
    },
    operation_id="testAiReplyLabelLeadLabels",
    summary="Test AI reply label prediction",
)
async def ai_reply_label(body: AiReplyLabelRequest, principal: Read) -> JSONResponse:
    """Not available yet: Coldsend has no AI model to classify replies, so this answers 501."""
    raise NotImplementedYet(AI_REPLY_LABEL_UNAVAILABLE)


@router.get("/lead-labels/{id}", response_model=LeadLabel, operation_id="getLeadLabel", summary="Get lead label")
async def get_lead_label(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await LeadLabelService(reader, principal.organization_id).get(id)
    return json(serialize_label(row))


@router.patch(
    "/lead-labels/{id}",
    response_model=LeadLabel,
    responses=CONFLICT,
    operation_id="patchLeadLabel",
    summary="Patch lead label",
)
async def patch_lead_label(
    id: str, principal: Update, session: SessionDep, body: Annotated[LeadLabelUpdate, Body()]
) -> JSONResponse:
    """Rename the label or change its sentiment; its `interest_status` never changes."""
    row = await LeadLabelService(session, principal.organization_id).update(id, body)
    return json(serialize_label(row))


@router.delete(
    "/lead-labels/{id}", response_model=LeadLabel, operation_id="deleteLeadLabel", summary="Delete lead label"
)
async def delete_lead_label(
    id: str, principal: Delete, session: SessionDep, body: Annotated[LeadLabelDelete | None, Body()] = None
) -> JSONResponse:
    """Delete the label; the leads that carry it get `reassigned_status`, or plain "Lead" (null)."""
    reassigned = body.reassigned_status if body is not None else None
    row = await LeadLabelService(session, principal.organization_id).delete(id, reassigned)
    return json(serialize_label(row))
