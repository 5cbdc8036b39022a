"""HTTP surface of leads: create (one, or up to 1,000), get, patch, delete (one, or in bulk), merge,
interest status and bulk assignment. Parse, authorize, call the service, answer.

`POST /leads/list`, `POST /leads/move` and `GET /campaigns/search-by-contact` live in
`listing_endpoints.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.errors import describe_validation_errors
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, json
from coldsend.leads.schemas import (
    BulkAdd,
    BulkAddResult,
    BulkAssign,
    BulkAssignAccepted,
    BulkDelete,
    DeletedCount,
    InterestStatusAccepted,
    Lead,
    LeadCreate,
    LeadUpdate,
    MergeLeads,
    UpdateInterestStatus,
)
from coldsend.leads.serialization import serialize_lead
from coldsend.leads.service import InterestStatusError, LeadService

router = APIRouter(tags=["Lead"], responses=COMMON_ERRORS, route_class=ApiRoute)

Read = Annotated[Principal, Depends(Authorize("leads", "read"))]
Create = Annotated[Principal, Depends(Authorize("leads", "create"))]
# The reference states no scope for update-interest-status and bulk-assign: both change leads, so
# leads:update (recorded in tests/conformance/_spec.py DOCUMENTED_SCOPE_DECISIONS).
Update = Annotated[Principal, Depends(Authorize("leads", "update"))]
Delete = Annotated[Principal, Depends(Authorize("leads", "delete"))]

LeadId = Annotated[str, Path(description="The lead's id")]


class InterestStatusRoute(ApiRoute):
    """update-interest-status answers its 400s with the reference's `{"error": "<reason>"}`, here inside
    the usual envelope: `{"statusCode": 400, "error": "<reason>", "message": "<reason>"}`, so clients
    reading either field get the reason."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _interest_error(describe_validation_errors(exc.errors()))
            except InterestStatusError as exc:
                return _interest_error(exc.message)

        return answer


def _interest_error(reason: str) -> JSONResponse:
    return JSONResponse({"statusCode": 400, "error": reason, "message": reason}, status_code=400)


@router.post("/leads", response_model=Lead, operation_id="createLead", summary="Create lead")
async def create_lead(body: LeadCreate, principal: Create, session: SessionDep) -> JSONResponse:
    row = await LeadService(session, principal.organization_id).create(body)
    return json(serialize_lead(row))


@router.delete(
    "/leads",
    response_model=DeletedCount,
    operation_id="bulkDeleteLeads",
    summary="Delete leads in bulk",
    description="Exactly one of `campaign_id` / `list_id`; optionally only leads with `status`, only `ids`, "
    "at most `limit` (oldest first). The body is read as JSON whatever its content type.",
)
async def bulk_delete_leads(
    principal: Delete, session: SessionDep, body: Annotated[BulkDelete | None, Body()] = None
) -> JSONResponse:
    count = await LeadService(session, principal.organization_id).bulk_delete(body)
    return json({"count": count})


@router.post(
    "/leads/add",
    response_model=BulkAddResult,
    operation_id="bulkAddLeads",
    summary="Add leads in bulk to a campaign or list",
)
async def bulk_add_leads(body: BulkAdd, principal: Create, session: SessionDep, request: Request) -> JSONResponse:
    # a NUL character can only arrive as the escape \u0000: without one, no field needs the per-field check
    check_text = b"\\u0000" in await request.body()
    result = await LeadService(session, principal.organization_id).bulk_add(body, check_text=check_text)
    return json(result)


@router.post(
    "/leads/merge",
    response_model=Lead,
    operation_id="mergeLeads",
    summary="Merge two leads",
    description="Merges `lead_id` into `destination_lead_id`, deletes `lead_id`, returns the destination.",
)
async def merge_leads(body: MergeLeads, principal: Update, session: SessionDep) -> JSONResponse:
    row = await LeadService(session, principal.organization_id).merge(body)
    return json(serialize_lead(row))


async def update_interest_status(body: UpdateInterestStatus, principal: Update, session: SessionDep) -> JSONResponse:
    await LeadService(session, principal.organization_id).update_interest(body)
    return json({"message": "Lead interest status update background job submitted"}, status_code=202)


router.add_api_route(
    "/leads/update-interest-status",
    update_interest_status,
    methods=["POST"],
    status_code=202,
    response_model=InterestStatusAccepted,
    responses={202: {"description": "Applied"}},
    operation_id="updateLeadInterestStatus",
    summary="Update the interest status of a lead",
    description="Applies at once to the workspace's leads with `lead_email` (only the one in `campaign_id` "
    "and/or `list_id` when given). 400 bodies also carry the reason in `error`, as the reference shows.",
    route_class_override=InterestStatusRoute,
)


@router.post(
    "/leads/bulk-assign",
    status_code=202,
    response_model=BulkAssignAccepted,
    operation_id="bulkAssignLeads",
    summary="Bulk assign leads to organization users",
    description="The selected leads are shared out to `organization_user_ids` in turn, in the background.",
)
async def bulk_assign_leads(body: BulkAssign, principal: Update, session: SessionDep) -> JSONResponse:
    await LeadService(session, principal.organization_id).bulk_assign(body)
    return json({"status": "accepted", "message": "Your request will be processed in a background job"}, 202)


@router.get("/leads/{id}", response_model=Lead, operation_id="getLead", summary="Get lead")
async def get_lead(id: LeadId, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await LeadService(reader, principal.organization_id).get(id)
    return json(serialize_lead(row))


@router.patch("/leads/{id}", response_model=Lead, operation_id="patchLead", summary="Patch lead")
async def patch_lead(
    id: LeadId, principal: Update, session: SessionDep, body: Annotated[LeadUpdate | None, Body()] = None
) -> JSONResponse:
    row = await LeadService(session, principal.organization_id).update(id, body or LeadUpdate())
    return json(serialize_lead(row))


@router.delete("/leads/{id}", response_model=Lead, operation_id="deleteLead", summary="Delete lead")
async def delete_lead(id: LeadId, principal: Delete, session: SessionDep) -> JSONResponse:
    row = await LeadService(session, principal.organization_id).delete(id)
    return json(serialize_lead(row))
