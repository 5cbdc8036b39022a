"""HTTP surface of API keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from coldsend.api_keys.schemas import APIKey, APIKeyCreate
from coldsend.api_keys.service import ApiKeyService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["APIKey"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("api_keys", "read"))]
Create = Annotated[Principal, Depends(Authorize("api_keys", "create"))]
Delete = Annotated[Principal, Depends(Authorize("api_keys", "delete"))]


def serialize_key(row: Record, plaintext: str | None = None) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "scopes": list(row.scopes),
        "key": plaintext if plaintext is not None else row.key_hint,
        "organization_id": str(row.organization_id),
        "timestamp_created": isoformat(row.timestamp_created),
        "timestamp_updated": isoformat(row.timestamp_updated),
    }


@router.post("/api-keys", response_model=APIKey, operation_id="createAPIKey", summary="Create api key")
async def create_api_key(body: APIKeyCreate, principal: Create, session: SessionDep) -> JSONResponse:
    created = await ApiKeyService(session, principal.organization_id).create(
        body.name, body.scopes, creator_scopes=principal.scopes
    )
    return json(serialize_key(created.row, created.plaintext))


@router.get("/api-keys", response_model=Page[APIKey], operation_id="listAPIKey", summary="List api key")
async def list_api_keys(principal: Read, session: SessionDep, paging: PageDep) -> JSONResponse:
    rows = await ApiKeyService(session, principal.organization_id).list_page(paging.uuid_cursor(), paging.limit)
    return json(page(rows, paging.limit, serialize_key, lambda r: str(r.id)))


@router.delete("/api-keys/{id}", response_model=APIKey, operation_id="deleteAPIKey", summary="Delete api key")
async def delete_api_key(id: str, principal: Delete, session: SessionDep, request: Request) -> JSONResponse:
    row = await ApiKeyService(session, principal.organization_id).revoke(id)
    request.app.state.key_cache.forget(row.key_hash.hex())  # other processes hear it by NOTIFY on commit
    return json(serialize_key(row))
