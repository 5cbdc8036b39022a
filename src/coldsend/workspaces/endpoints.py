"""HTTP surface of the current workspace (the one the API key belongs to)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import SessionDep
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, json
from coldsend.workspaces.schemas import Workspace, WorkspaceUpdate
from coldsend.workspaces.service import WorkspaceService

router = APIRouter(route_class=ApiRoute, tags=["Workspace"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("workspaces", "read"))]
Update = Annotated[Principal, Depends(Authorize("workspaces", "update"))]


def serialize_workspace(row: Record) -> dict[str, Any]:
    verification = row.plan_id_verification
    return {
        "id": str(row.id),
        "timestamp_created": isoformat(row.timestamp_created),
        "timestamp_updated": isoformat(row.timestamp_updated),
        "scheduled_for_removal_at": isoformat(row.scheduled_for_removal_at),
        "owner": str(row.owner),
        "name": row.name,
        "plan_id": row.plan_id,
        "plan_id_bundle": row.plan_id_bundle,
        "add_unsub_to_block": row.add_unsub_to_block,
        "default_opportunity_value": row.default_opportunity_value,
        "plan_id_leadfinder": row.plan_id_leadfinder,
        **({"plan_id_verification": verification} if verification is not None else {}),
        "org_logo_url": row.org_logo_url,
        "org_client_domain": row.org_client_domain,
        "plan_id_crm": row.plan_id_crm,
        "plan_id_website_visitor": row.plan_id_website_visitor,
        "plan_id_inbox_placement": row.plan_id_inbox_placement,
    }


@router.get("/workspaces/current", response_model=Workspace, operation_id="getWorkspace", summary="Get workspace")
async def get_current_workspace(principal: Read, session: SessionDep) -> JSONResponse:
    row = await WorkspaceService(session, principal.organization_id).current()
    return json(serialize_workspace(row))


@router.patch("/workspaces/current", response_model=Workspace, operation_id="patchWorkspace", summary="Patch workspace")
async def patch_current_workspace(
    principal: Update, session: SessionDep, body: Annotated[WorkspaceUpdate, Body()]
) -> JSONResponse:
    row = await WorkspaceService(session, principal.organization_id).update(body)
    return json(serialize_workspace(row))
