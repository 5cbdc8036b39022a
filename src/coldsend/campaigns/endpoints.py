"""HTTP surface of campaigns: parse, authorize, call the service, answer.

Responses are dicts built straight from the Core row (`serialize_campaign`) and rendered by orjson:
no Pydantic model is built on the response path; `response_model` only documents the shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from sqlalchemy import Row

from coldsend.campaigns.schemas import (
    AddVariables,
    Campaign,
    CampaignCreate,
    CampaignStatus,
    CampaignUpdate,
    CountLaunched,
    DuplicateBody,
    SendingStatus,
)
from coldsend.campaigns.service import CampaignService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.errors import BadRequest
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["Campaign"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("campaigns", "read"))]
Create = Annotated[Principal, Depends(Authorize("campaigns", "create"))]
Update = Annotated[Principal, Depends(Authorize("campaigns", "update"))]
Delete = Annotated[Principal, Depends(Authorize("campaigns", "delete"))]

CampaignId = Annotated[str, Path(description="Campaign ID")]
NOT_SHARED: dict[int | str, dict[str, Any]] = {
    403: {"model": ErrorBody, "description": "The campaign is not shared, or its 7-day share expired"}
}


def serialize_campaign(row: Record | Mapping[str, Any]) -> dict[str, Any]:
    """The Campaign of the reference, field for field, from a campaigns row (a SQLAlchemy Row or an
    asyncpg Record; hot path: a plain dict for orjson, no model)."""
    r: Mapping[Any, Any] = row._mapping if isinstance(row, Row) else row
    schedule = r["campaign_schedule"]
    if "schedules" not in schedule:
        schedule = {**schedule, "schedules": []}
    owned_by, ai_sdr_id = r["owned_by"], r["ai_sdr_id"]
    body = {
        "id": str(r["id"]),
        "name": r["name"],
        "pl_value": r["pl_value"],
        "status": r["status"],
        "is_evergreen": r["is_evergreen"],
        "campaign_schedule": schedule,
        "sequences": r["sequences"],
        "timestamp_created": isoformat(r["timestamp_created"]),
        "timestamp_updated": isoformat(r["timestamp_updated"]),
        "email_gap": r["email_gap"],
        "random_wait_max": r["random_wait_max"],
        "text_only": r["text_only"],
        "first_email_text_only": r["first_email_text_only"],
        "email_list": r["email_list"],
        "daily_limit": r["daily_limit"],
        "stop_on_reply": r["stop_on_reply"],
        "email_tag_list": [str(t) for t in r["email_tag_list"]],
        "link_tracking": r["link_tracking"],
        "open_tracking": bool(r["open_tracking"]),
        "stop_on_auto_reply": r["stop_on_auto_reply"],
        "daily_max_leads": r["daily_max_leads"],
        "prioritize_new_leads": r["prioritize_new_leads"],
        "auto_variant_select": r["auto_variant_select"],
        "match_lead_esp": r["match_lead_esp"],
        "stop_for_company": r["stop_for_company"],
        "core_variables": r["core_variables"],
        "custom_variables": r["custom_variables"],
        "insert_unsubscribe_header": r["insert_unsubscribe_header"],
        "allow_risky_contacts": r["allow_risky_contacts"],
        "disable_bounce_protect": r["disable_bounce_protect"],
        "limit_emails_per_company_override": r["limit_emails_per_company_override"],
        "cc_list": r["cc_list"],
        "bcc_list": r["bcc_list"],
        "organization": str(r["organization_id"]),
        "owned_by": str(owned_by) if owned_by else None,
        "ai_sdr_id": str(ai_sdr_id) if ai_sdr_id else None,
        "provider_routing_rules": r["provider_routing_rules"],
    }
    if r["not_sending_status"] is not None:  # the reference's enum has no null: absent when unknown
        body["not_sending_status"] = r["not_sending_status"]
    return body


def _cursor(row: Record) -> str:
    return str(row.id)


@router.post("/campaigns", response_model=Campaign, operation_id="createCampaign", summary="Create campaign")
async def create_campaign(body: CampaignCreate, principal: Create, session: SessionDep) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).create(body)
    return json(serialize_campaign(row))


@router.get("/campaigns", response_model=Page[Campaign], operation_id="listCampaign", summary="List campaign")
async def list_campaigns(
    principal: Read,
    reader: ReaderDep,
    paging: PageDep,
    search: Annotated[str | None, Query(description="Part of the campaign name, any case")] = None,
    tag_ids: Annotated[str | None, Query(description="Comma-separated custom tag ids: campaigns with any")] = None,
    ai_sales_agent_id: Annotated[uuid.UUID | None, Query(description="Campaigns created by this AI agent")] = None,
    ai_sdr_id: Annotated[
        uuid.UUID | None, Query(description="Older name of ai_sales_agent_id (still accepted)", deprecated=True)
    ] = None,
    status: Annotated[CampaignStatus | None, Query(description="Only campaigns in this status")] = None,
    exclude_status: Annotated[CampaignStatus | None, Query(description="Leave out campaigns in this status")] = None,
) -> JSONResponse:
    if ai_sales_agent_id is not None and ai_sdr_id is not None and ai_sales_agent_id != ai_sdr_id:
        raise BadRequest("querystring/ai_sdr_id is the older name of ai_sales_agent_id: send one, or the same value")
    rows = await CampaignService(reader, principal.organization_id).list_page(
        paging.uuid_cursor(),
        paging.limit,
        search=search,
        tag_ids=tag_ids,
        ai_sdr_id=ai_sales_agent_id or ai_sdr_id,
        status=None if status is None else int(status),
        exclude_status=None if exclude_status is None else int(exclude_status),
    )
    return json(page(rows, paging.limit, serialize_campaign, _cursor))


@router.get(
    "/campaigns/count-launched",
    response_model=CountLaunched,
    operation_id="countLaunched",
    summary="Get launched campaigns count",
    description="Campaigns of the workspace that were ever activated (and are not deleted).",
)
async def count_launched(principal: Read, reader: ReaderDep) -> JSONResponse:
    count = await CampaignService(reader, principal.organization_id).count_launched()
    return json({"count": count})


@router.post(
    "/campaigns/{id}/activate",
    response_model=Campaign,
    operation_id="activateCampaign",
    summary="Activate(start), or resume a campaign",
    description="400 names what is missing: a sequence step, a schedule, or a sending account.",
)
async def activate_campaign(id: CampaignId, principal: Update, session: SessionDep) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).activate(id)
    return json(serialize_campaign(row))


@router.post(
    "/campaigns/{id}/pause", response_model=Campaign, operation_id="pauseCampaign", summary="Stop(or pause) a campaign"
)
async def pause_campaign(id: CampaignId, principal: Update, session: SessionDep) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).pause(id)
    return json(serialize_campaign(row))


@router.get("/campaigns/{id}", response_model=Campaign, operation_id="getCampaign", summary="Get campaign")
async def get_campaign(id: CampaignId, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await CampaignService(reader, principal.organization_id).get_for_response(id)
    return json(serialize_campaign(row))


@router.patch("/campaigns/{id}", response_model=Campaign, operation_id="patchCampaign", summary="Patch campaign")
async def patch_campaign(
    id: CampaignId, principal: Update, session: SessionDep, body: Annotated[CampaignUpdate, Body()]
) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).update(id, body)
    return json(serialize_campaign(row))


@router.delete("/campaigns/{id}", response_model=Campaign, operation_id="deleteCampaign", summary="Delete campaign")
async def delete_campaign(id: CampaignId, principal: Delete, session: SessionDep) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).delete(id)
    return json(serialize_campaign(row))


# The reference states no scope for share: sharing changes the campaign, so campaigns:update (as the
# catalog infers); recorded in tests/conformance/_spec.py DOCUMENTED_SCOPE_DECISIONS.
@router.post(
    "/campaigns/{id}/share",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "Shared for 7 days: any workspace of this server may now import it"}},
    operation_id="shareCampaign",
    summary="Share a campaign",
)
async def share_campaign(id: CampaignId, principal: Update, session: SessionDep) -> Response:
    await CampaignService(session, principal.organization_id).share(id)
    return Response(status_code=204)


@router.post(
    "/campaigns/{id}/from-export",
    response_model=Campaign,
    responses=NOT_SHARED,
    operation_id="createFromExport",
    summary="Create campaign from shared one",
    description="Copies a campaign another workspace (or this one) shared into a new draft of this workspace.",
)
async def create_from_export(id: CampaignId, principal: Create, session: SessionDep) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).create_from_export(id)
    return json(serialize_campaign(row))


@router.post(
    "/campaigns/{id}/export",
    response_model=Campaign,
    operation_id="exportCampaign",
    summary="Export campaign to JSON format",
)
async def export_campaign(id: CampaignId, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await CampaignService(reader, principal.organization_id).get(id)
    return json(serialize_campaign(row))


@router.post(
    "/campaigns/{id}/duplicate", response_model=Campaign, operation_id="duplicate", summary="Duplicate campaign"
)
async def duplicate_campaign(
    id: CampaignId, principal: Create, session: SessionDep, body: Annotated[DuplicateBody | None, Body()] = None
) -> JSONResponse:
    row = await CampaignService(session, principal.organization_id).duplicate(id, body)
    return json(serialize_campaign(row))


@router.post(
    "/campaigns/{id}/variables", response_model=Campaign, operation_id="addVariables", summary="Add campaign variables"
)
async def add_variables(
    id: CampaignId, principal: Update, session: SessionDep, body: Annotated[AddVariables | None, Body()] = None
) -> JSONResponse:
    # The body is checked after the campaign is found: an unknown id is a 404 whatever the body.
    row = await CampaignService(session, principal.organization_id).add_variables(id, body)
    return json(serialize_campaign(row))


@router.get(
    "/campaigns/{id}/sending-status",
    response_model=SendingStatus,
    operation_id="getCampaignSendingStatus",
    summary="Get campaign sending status",
    description=(
        "Why the campaign is (not) sending now: its status, its schedule at this instant (in each schedule's "
        "timezone) and the state of its sending accounts. Draft and paused campaigns answer diagnostics null "
        "with the reason in summary. There is no AI summary here: ai_summary is always null."
    ),
)
async def get_sending_status(
    id: CampaignId,
    principal: Read,
    session: SessionDep,
    with_ai_summary: Annotated[bool, Query(description="Accepted for compatibility; ai_summary stays null")] = False,
) -> JSONResponse:
    return json(await CampaignService(session, principal.organization_id).sending_status(id))
