"""HTTP surface of custom tags and custom tag mappings: parse, authorize, call the service, answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query

from coldsend.custom_tags.schemas import (
    CustomTag,
    CustomTagCreate,
    CustomTagMapping,
    CustomTagUpdate,
    ToggleResource,
    ToggleResult,
)
from coldsend.custom_tags.service import CustomTagService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record, as_mapping
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["CustomTag"], responses=COMMON_ERRORS)
mapping_router = APIRouter(route_class=ApiRoute, tags=["CustomTagMapping"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("custom_tags", "read"))]
Create = Annotated[Principal, Depends(Authorize("custom_tags", "create"))]
Update = Annotated[Principal, Depends(Authorize("custom_tags", "update"))]
Delete = Annotated[Principal, Depends(Authorize("custom_tags", "delete"))]
MappingsRead = Annotated[Principal, Depends(Authorize("custom_tag_mappings", "read"))]

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Another tag of the workspace has the same label"}
}


def serialize_tag(row: Record | Mapping[str, Any]) -> dict[str, Any]:
    m = as_mapping(row)
    return {
        "id": str(m["id"]),
        "timestamp_created": isoformat(m["timestamp_created"]),
        "timestamp_updated": isoformat(m["timestamp_updated"]),
        "organization_id": str(m["organization_id"]),
        "label": m["label"],
        "description": m["description"],
    }


def serialize_mapping(row: Record) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "tag_id": str(row.tag_id),
        "resource_id": str(row.resource_id),
        "resource_type": row.resource_type,
        "timestamp_created": isoformat(row.timestamp_created),
        "organization_id": str(row.organization_id),
    }


def _cursor(row: Record) -> str:
    return str(row.id)


@router.post(
    "/custom-tags",
    response_model=CustomTag,
    responses=CONFLICT,
    operation_id="createCustomTag",
    summary="Create custom tag",
)
async def create_custom_tag(body: CustomTagCreate, principal: Create, session: SessionDep) -> JSONResponse:
    row = await CustomTagService(session, principal.organization_id).create(body)
    return json(serialize_tag(row))


@router.get("/custom-tags", response_model=Page[CustomTag], operation_id="listCustomTag", summary="List custom tag")
async def list_custom_tags(
    principal: Read,
    session: SessionDep,
    paging: PageDep,
    search: Annotated[str | None, Query(description="Part of the label, any case")] = None,
    resource_ids: Annotated[
        str | None, Query(description="Comma-separated account emails or campaign ids: tags on any of them")
    ] = None,
    tag_ids: Annotated[str | None, Query(description="Comma-separated tag ids")] = None,
) -> JSONResponse:
    rows = await CustomTagService(session, principal.organization_id).list_page(
        paging.uuid_cursor(), paging.limit, search=search, tag_ids=tag_ids, resource_ids=resource_ids
    )
    return json(page(rows, paging.limit, serialize_tag, _cursor))


@router.post(
    "/custom-tags/toggle-resource",
    response_model=ToggleResult,
    operation_id="toggleTagResource",
    summary="Assign or unassign tags to resources",
)
async def toggle_tag_resource(body: ToggleResource, principal: Update, session: SessionDep) -> JSONResponse:
    await CustomTagService(session, principal.organization_id).toggle(body)
    return json({"success": True})


@router.get("/custom-tags/{id}", response_model=CustomTag, operation_id="getCustomTag", summary="Get custom tag")
async def get_custom_tag(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await CustomTagService(reader, principal.organization_id).fetch(id)
    return json(serialize_tag(row))


@router.patch(
    "/custom-tags/{id}",
    response_model=CustomTag,
    responses=CONFLICT,
    operation_id="patchCustomTag",
    summary="Patch custom tag",
)
async def patch_custom_tag(
    id: str, principal: Update, session: SessionDep, body: Annotated[CustomTagUpdate, Body()]
) -> JSONResponse:
    row = await CustomTagService(session, principal.organization_id).update(id, body)
    return json(serialize_tag(row))


@router.delete(
    "/custom-tags/{id}", response_model=CustomTag, operation_id="deleteCustomTag", summary="Delete custom tag"
)
async def delete_custom_tag(id: str, principal: Delete, session: SessionDep) -> JSONResponse:
    row = await CustomTagService(session, principal.organization_id).delete(id)
    return json(serialize_tag(row))


@mapping_router.get(
    "/custom-tag-mappings",
    response_model=Page[CustomTagMapping],
    operation_id="listCustomTagMapping",
    summary="List custom tag mapping",
)
async def list_custom_tag_mappings(
    principal: MappingsRead,
    session: SessionDep,
    paging: PageDep,
    resource_ids: Annotated[str | None, Query(description="Comma-separated account emails or campaign ids")] = None,
) -> JSONResponse:
    rows = await CustomTagService(session, principal.organization_id).list_mappings(
        paging.uuid_cursor(), paging.limit, resource_ids
    )
    return json(page(rows, paging.limit, serialize_mapping, _cursor))
