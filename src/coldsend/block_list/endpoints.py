"""HTTP surface of the block list: parse, authorize, call the service, answer."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import ColumnElement

from coldsend.block_list.schemas import (
    BlockListEntry,
    BlockListEntryCreate,
    BlockListEntryUpdate,
    BulkCreateBlockListEntries,
    BulkCreatedBlockListEntries,
    BulkDeleteBlockListEntries,
)
from coldsend.block_list.service import BlockListService
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["BlockListEntry"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("block_list_entries", "read"))]
Create = Annotated[Principal, Depends(Authorize("block_list_entries", "create"))]
Update = Annotated[Principal, Depends(Authorize("block_list_entries", "update"))]
Delete = Annotated[Principal, Depends(Authorize("block_list_entries", "delete"))]

DomainsOnly = Annotated[bool | None, Query(description="true: domain entries only; false or absent: every entry")]
Search = Annotated[str | None, Query(description="Part of the blocked value, any case")]

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "Another entry of the workspace already has this value"}
}
# The CSV route's media type would otherwise be taken for its error responses too: they stay JSON.
DOWNLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Every matching entry as CSV: `Blocked Email,Date`",
        "content": {"text/csv": {"schema": {"type": "string"}}},
    },
    **{
        status: {
            "description": response["description"],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        }
        for status, response in COMMON_ERRORS.items()
    },
}
DOWNLOAD_BATCH = 5000
CSV_HEADER = ("Blocked Email", "Date")  # the reference's column names


def serialize_entry(row: Record) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "timestamp_created": isoformat(row.timestamp_created),
        "organization_id": str(row.organization_id),
        "bl_value": row.bl_value,
        "is_domain": row.is_domain,
    }


def _cursor(row: Record) -> str:
    return str(row.id)


@router.post(
    "/block-lists-entries",
    response_model=BlockListEntry,
    operation_id="createBlockListEntry",
    summary="Create block list entry",
)
async def create_entry(body: BlockListEntryCreate, principal: Create, session: SessionDep) -> JSONResponse:
    """Block an email address or a whole domain. A value that is already blocked answers its
    existing entry (creating is idempotent)."""
    row = await BlockListService(session, principal.organization_id).create(body)
    return json(serialize_entry(row))


@router.get(
    "/block-lists-entries",
    response_model=Page[BlockListEntry],
    operation_id="listBlockListEntry",
    summary="List block list entry",
)
async def list_entries(
    principal: Read, reader: ReaderDep, paging: PageDep, domains_only: DomainsOnly = None, search: Search = None
) -> JSONResponse:
    """Entries in creation order; the cursor is the id of the last entry of the previous page."""
    rows = await BlockListService(reader, principal.organization_id).list_page(
        paging.uuid_cursor(), paging.limit, domains_only=domains_only, search=search
    )
    return json(page(rows, paging.limit, serialize_entry, _cursor))


@router.delete(
    "/block-lists-entries",
    response_model=list[BlockListEntry],
    operation_id="deleteallBlockListEntry",
    summary="Delete all block list entries",
)
async def delete_all_entries(
    principal: Delete, session: SessionDep, domains_only: DomainsOnly = None, search: Search = None
) -> JSONResponse:
    """Delete every entry of the workspace (or only those the filters select); answers the deleted ones."""
    rows = await BlockListService(session, principal.organization_id).delete_all(
        domains_only=domains_only, search=search
    )
    return json([serialize_entry(r) for r in rows])


@router.post(
    "/block-lists-entries/bulk-create",
    response_model=BulkCreatedBlockListEntries,
    operation_id="createblukBlockListEntry",
    summary="Bulk create block list entry",
)
async def bulk_create_entries(body: BulkCreateBlockListEntries, principal: Create, session: SessionDep) -> JSONResponse:
    """Block up to 1000 values at once. Invalid values are skipped and counted; values already blocked
    answer their existing entries; a batch without any valid value is a 400 naming the invalid ones."""
    rows, invalid = await BlockListService(session, principal.organization_id).bulk_create(body.bl_values)
    return json({"items": [serialize_entry(r) for r in rows], "valid_count": len(rows), "invalid_count": invalid})


@router.post(
    "/block-lists-entries/bulk-delete",
    response_model=list[BlockListEntry],
    operation_id="deletebulkBlockListEntry",
    summary="Bulk delete block list entry",
)
async def bulk_delete_entries(body: BulkDeleteBlockListEntries, principal: Delete, session: SessionDep) -> JSONResponse:
    """Delete up to 1000 entries by id; ids that name no entry of the workspace are ignored."""
    rows = await BlockListService(session, principal.organization_id).bulk_delete(body.ids)
    return json([serialize_entry(r) for r in rows])


class CSVResponse(Response):
    media_type = "text/csv"


def _csv_chunk(rows: Sequence[Record], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, quoting where needed
    if header:
        writer.writerow(CSV_HEADER)
    writer.writerows((r.bl_value, isoformat(r.timestamp_created)) for r in rows)
    return out.getvalue()


@router.get(
    "/block-lists-entries/download",
    response_class=CSVResponse,
    responses=DOWNLOAD_RESPONSES,
    operation_id="downloadBlockListEntry",
    summary="Download all block list entries as CSV",
)
async def download_entries(
    request: Request,
    principal: Read,
    reader: ReaderDep,
    domains_only: DomainsOnly = None,
    search: Search = None,
) -> Response:
    """The entries as CSV (`Blocked Email,Date`), in creation order. A large list is streamed in batches
    read by keyset, so memory stays flat whatever its size."""
    service = BlockListService(reader, principal.organization_id)
    where = service.download_filters(domains_only=domains_only, search=search)
    first = await service.download_batch(None, DOWNLOAD_BATCH, where)
    headers = {"Content-Disposition": 'attachment; filename="block-list.csv"'}
    if len(first) < DOWNLOAD_BATCH:
        return CSVResponse(_csv_chunk(first, header=True), headers=headers)
    organization_id = principal.organization_id

    async def stream() -> AsyncIterator[str]:
        yield _csv_chunk(first, header=True)
        async for rows in _remaining_batches(request, organization_id, first[-1].id, where):
            yield _csv_chunk(rows, header=False)

    return StreamingResponse(stream(), media_type="text/csv", headers=headers)


async def _remaining_batches(
    request: Request, organization_id: uuid.UUID, after: uuid.UUID, where: Sequence[ColumnElement[bool]]
) -> AsyncIterator[Sequence[Record]]:
    """The batches after the first, each read on a connection held only for that batch (the request's
    own connection is released when the endpoint returns, before the body is sent)."""
    while True:
        async with request.app.state.db.read() as conn:
            rows = await BlockListService(conn, organization_id).download_batch(after, DOWNLOAD_BATCH, where)
        if rows:
            yield rows
        if len(rows) < DOWNLOAD_BATCH:
            return
        after = rows[-1].id


@router.get(
    "/block-lists-entries/{id}",
    response_model=BlockListEntry,
    operation_id="getBlockListEntry",
    summary="Get block list entry",
)
async def get_entry(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await BlockListService(reader, principal.organization_id).get(id)
    return json(serialize_entry(row))


@router.patch(
    "/block-lists-entries/{id}",
    response_model=BlockListEntry,
    responses=CONFLICT,
    operation_id="patchBlockListEntry",
    summary="Patch block list entry",
)
async def patch_entry(
    id: str, principal: Update, session: SessionDep, body: Annotated[BlockListEntryUpdate, Body()]
) -> JSONResponse:
    """Change the blocked value (`is_domain` follows it)."""
    row = await BlockListService(session, principal.organization_id).update(id, body)
    return json(serialize_entry(row))


@router.delete(
    "/block-lists-entries/{id}",
    response_model=BlockListEntry,
    operation_id="deleteBlockListEntry",
    summary="Delete block list entry",
)
async def delete_entry(id: str, principal: Delete, session: SessionDep) -> JSONResponse:
    row = await BlockListService(session, principal.organization_id).delete(id)
    return json(serialize_entry(row))
