"""HTTP surface of lead search: `POST /leads/list`, `GET /campaigns/search-by-contact`, `POST /leads/move`.

Thin: parse, authorize, call the service, answer with dicts (`serialize_lead`, `serialize_campaign`,
`serialize_job`); the response models only document the shapes. This router is registered before the
campaigns router, so `/campaigns/search-by-contact` is matched before `/campaigns/{id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query

from coldsend.background_jobs.endpoints import serialize_job
from coldsend.background_jobs.schemas import BackgroundJob
from coldsend.campaigns.endpoints import serialize_campaign
from coldsend.campaigns.schemas import Campaign
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, Page, Schema, json
from coldsend.leads.listing import LeadSearchService, SortColumn, SortOrder
from coldsend.leads.listing_schemas import ListLeadsBody, MoveLeadsBody
from coldsend.leads.move import MoveService
from coldsend.leads.schemas import Lead
from coldsend.leads.serialization import serialize_lead

router = APIRouter(route_class=ApiRoute, responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("leads", "read"))]
Update = Annotated[Principal, Depends(Authorize("leads", "update"))]
CampaignsRead = Annotated[Principal, Depends(Authorize("campaigns", "read"))]


class CampaignsOfContact(Schema):
    items: list[Campaign]


def _id_cursor(row: Record) -> str:
    return str(row.id)


def _email_cursor(row: Record) -> str:
    return str(row.email)


@router.post(
    "/leads/list",
    response_model=Page[Lead],
    operation_id="listLeads",
    tags=["Lead"],
    summary="List leads",
    description="A POST for its many filters. Leads in id order (creation order), or with `distinct_contacts` one "
    "lead per email in email order; `limit` and `starting_after` go in the body. A named campaign or list of "
    "another workspace is a 404.",
)
async def list_leads(
    principal: Read, reader: ReaderDep, body: Annotated[ListLeadsBody | None, Body()] = None
) -> JSONResponse:
    body = body or ListLeadsBody()
    rows = await LeadSearchService(reader, principal.organization_id).list_page(body)
    return json(page(rows, body.limit, serialize_lead, _email_cursor if body.distinct_contacts else _id_cursor))


@router.post(
    "/leads/move",
    response_model=BackgroundJob,
    operation_id="moveLeads",
    tags=["Lead"],
    summary="Move leads to a campaign or list",
    description="Queues a `move-leads` background job (poll `GET /background-jobs/{id}`). Select leads with the "
    "filters of `POST /leads/list` (`ids` needs `campaign` or `list_id`); give exactly one of `to_campaign_id`, "
    "`to_list_id`. An address already in the destination is skipped.",
)
async def move_leads(
    principal: Update, session: SessionDep, body: Annotated[MoveLeadsBody | None, Body()] = None
) -> JSONResponse:
    row = await MoveService(session, principal.organization_id).enqueue(body or MoveLeadsBody())
    return json(serialize_job(row))


@router.get(
    "/campaigns/search-by-contact",
    response_model=CampaignsOfContact,
    operation_id="searchByContact",
    summary="Search campaigns by lead email",
    description="The workspace's campaigns that have a lead with this email address (case ignored).",
    tags=["Campaign"],
)
async def search_by_contact(
    principal: CampaignsRead,
    reader: ReaderDep,
    search: Annotated[str | None, Query(description="The lead's email address")] = None,
    sort_column: Annotated[SortColumn, Query(description="Sort campaigns by this column")] = "timestamp_created",
    sort_order: Annotated[SortOrder, Query(description="Sort direction")] = "asc",
) -> JSONResponse:
    rows = await LeadSearchService(reader, principal.organization_id).campaigns_of_contact(
        search, sort_column, sort_order
    )
    return json({"items": [serialize_campaign(row) for row in rows]})
