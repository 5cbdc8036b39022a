"""HTTP surface of account campaign mappings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from coldsend.account_campaign_mappings.schemas import AccountCampaignMapping
from coldsend.account_campaign_mappings.service import AccountCampaignMappingService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["AccountCampaignMapping"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("account_campaign_mappings", "read"))]


def serialize_mapping(row: Record) -> dict[str, Any]:
    return {
        "campaign_id": str(row.id),
        "campaign_name": row.name,
        "timestamp_created": isoformat(row.timestamp_created),
        "status": row.status,
    }


@router.get(
    "/account-campaign-mappings/{email}",
    response_model=Page[AccountCampaignMapping],
    operation_id="getAccountCampaignMapping",
    summary="Get campaigns associated with an email",
    description=(
        "Campaigns that send from the account: those naming it in email_list, and those whose email_tag_list "
        "holds a tag the account carries. 404 when the workspace has no account with this email."
    ),
)
async def get_account_campaign_mapping(
    email: Annotated[str, Path(description="The sending account's email (percent-encoded or not)")],
    principal: Read,
    session: SessionDep,
    paging: PageDep,
) -> JSONResponse:
    rows = await AccountCampaignMappingService(session, principal.organization_id).campaigns_of(
        email, paging.uuid_cursor(), paging.limit
    )
    return json(page(rows, paging.limit, serialize_mapping, lambda r: str(r.id)))
