"""HTTP surface of accounts: parse, authorize, call the service, answer.

Accounts are addressed by email in paths (percent-encoded or not, any case). Passwords are taken,
encrypted and never returned; the SMTP/IMAP settings are not part of the Account shape.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from coldsend.accounts.filters import AccountFilter
from coldsend.accounts.repository import SortBy
from coldsend.accounts.schemas import (
    INT32_MAX,
    Account,
    AccountCreate,
    AccountListItem,
    AccountStatus,
    AccountUpdate,
    DailyAccountAnalytics,
    PauseAccounts,
    PauseResult,
    ProviderCode,
    WarmupAnalytics,
    WarmupAnalyticsRequest,
    WarmupSelection,
)
from coldsend.accounts.service import AccountService, AnalyticsTooLarge, ListQuery, account_cursor
from coldsend.background_jobs.endpoints import serialize_job
from coldsend.background_jobs.schemas import BackgroundJob
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.crypto import SecretBox, secret_box
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.repository import Record
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["Account"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("accounts", "read"))]
Create = Annotated[Principal, Depends(Authorize("accounts", "create"))]
Update = Annotated[Principal, Depends(Authorize("accounts", "update"))]
Delete = Annotated[Principal, Depends(Authorize("accounts", "delete"))]
# The reference states no scope for enabling/disabling warmup: they change accounts, so the
# accounts:update family (accounts:update, accounts:all, all:update, all:all).
WarmupToggle = Update
# Nor for daily analytics: it only reads accounts' counters, so the accounts:read family, like its
# sibling POST /accounts/warmup-analytics (for which the reference does state accounts:read).
AnalyticsRead = Read

EmailPath = Annotated[str, Path(description="The account's email address (any case; percent-encoding welcome)")]

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "An account of the workspace already has this email"}
}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": "More than 31 days, or no emails filter in a workspace of 200+ accounts"}
}


def serialize_account(row: Record) -> dict[str, Any]:
    """The reference's Account: every field, no connection settings, never a password."""
    body: dict[str, Any] = {
        "email": row.email,
        "timestamp_created": isoformat(row.timestamp_created),
        "timestamp_updated": isoformat(row.timestamp_updated),
        "first_name": row.first_name,
        "last_name": row.last_name,
        "warmup": dict(row.warmup or {}),
        "added_by": str(row.added_by) if row.added_by else None,
        "daily_limit": row.daily_limit,
        "daily_limit_max": row.daily_limit_max,
        "warmup_limit_max": row.warmup_limit_max,
        "modified_by": str(row.modified_by) if row.modified_by else None,
        "tracking_domain_name": row.tracking_domain_name,
        "tracking_domain_status": row.tracking_domain_status,
        "status": row.status,
        "enable_slow_ramp": row.enable_slow_ramp,
        "inbox_placement_test_limit": row.inbox_placement_test_limit,
        "organization": str(row.organization_id),
        "warmup_status": row.warmup_status,
        "timestamp_warmup_start": isoformat(row.timestamp_warmup_start),
        "provider_code": row.provider_code,
        "setup_pending": row.setup_pending,
        "is_managed_account": row.is_managed_account,
        "stat_warmup_score": row.stat_warmup_score,
        "sending_gap": row.sending_gap,
        "signature": row.signature,
        "reply_to": row.reply_to,
        "autofix_failed": row.autofix_failed,
    }
    if row.status_message:  # an object in the reference, never null: absent while there is no error
        body["status_message"] = dict(row.status_message)
    return body


def _box(request: Request) -> SecretBox:
    return secret_box(request.app.state.settings)


# -- collection --------------------------------------------------------------------------------


@router.post(
    "/accounts", response_model=Account, responses=CONFLICT, operation_id="createAccount", summary="Create account"
)
async def create_account(body: AccountCreate, principal: Create, session: SessionDep, request: Request) -> JSONResponse:
    row = await AccountService(session, principal.organization_id, _box(request)).create(body)
    return json(serialize_account(row))


@router.get("/accounts", response_model=Page[AccountListItem], operation_id="listAccount", summary="List account")
async def list_accounts(
    principal: Read,
    reader: ReaderDep,
    paging: PageDep,
    request: Request,
    search: Annotated[str | None, Query(description="Part of the address or of the sender's name")] = None,
    status: Annotated[AccountStatus | None, Query(description="Account status")] = None,
    provider_code: Annotated[ProviderCode | None, Query(description="Provider")] = None,
    tag_ids: Annotated[str | None, Query(description="Comma-separated tag ids: accounts with any of them")] = None,
    tag_ids_all: Annotated[str | None, Query(description="Comma-separated tag ids: accounts with all of them")] = None,
    include_tags: Annotated[bool, Query(description="Add `tags` [{id, label, description}] to each account")] = False,
    filter: Annotated[AccountFilter | None, Query(description="One of the ACC_FILTER_* filters")] = None,
    sort_by: Annotated[SortBy | None, Query(description="Sort column (then email)")] = None,
    sort_order: Annotated[
        Literal["asc", "desc"] | None, Query(description="`desc` by default when sort_by is given")
    ] = None,
    skip: Annotated[int, Query(ge=0, le=INT32_MAX, description="Accounts to skip (an OFFSET: prefer the cursor)")] = 0,
) -> JSONResponse:
    """Keyset pages in (timestamp_created, email) order; the cursor is `timestamp_created&email` (a
    bare ISO timestamp, the legacy form, is accepted too)."""
    query = ListQuery(
        limit=paging.limit,
        starting_after=paging.starting_after,
        search=search,
        status=int(status) if status is not None else None,
        provider_code=int(provider_code) if provider_code is not None else None,
        tag_ids=tag_ids,
        tag_ids_all=tag_ids_all,
        include_tags=include_tags,
        filter=filter,
        sort_by=sort_by,
        sort_order=sort_order,
        skip=skip,
        legacy_cursor_email=_split_off_cursor_email(request),
    )
    rows, tags = await AccountService(reader, principal.organization_id).list_page(query)

    def serialize(row: Record) -> dict[str, Any]:
        body = serialize_account(row)
        if include_tags:
            body["tags"] = [
                {"id": str(t.id), "label": t.label, "description": t.description} for t in tags.get(row.id, [])
            ]
        return body

    return json(page(rows, paging.limit, serialize, account_cursor))


def _split_off_cursor_email(request: Request) -> str | None:
    """A client that put the cursor into the URL without encoding its `&` sends the email as a query
    key of its own (`?starting_after=2026-...Z&user@example.com`): take it back."""
    strays = [key for key, value in request.query_params.multi_items() if "@" in key and value == ""]
    return strays[0] if len(strays) == 1 else None


@router.post(
    "/accounts/pause", response_model=PauseResult, operation_id="pauseAccounts", summary="Pause multiple accounts"
)
async def pause_accounts(body: PauseAccounts, principal: Update, session: SessionDep) -> JSONResponse:
    return json(await AccountService(session, principal.organization_id).pause_many(body.emails))


@router.post(
    "/accounts/warmup/enable",
    response_model=BackgroundJob,
    operation_id="enableWarmupForAccounts",
    summary="Enable warmup for accounts",
)
async def enable_warmup(
    principal: WarmupToggle, session: SessionDep, body: Annotated[WarmupSelection | None, Body()] = None
) -> JSONResponse:
    """Starts an `update-warmup-accounts` background job and returns it; poll
    `GET /api/v2/background-jobs/{id}` for `success_count`/`failed_count`."""
    job = await AccountService(session, principal.organization_id).start_warmup_job(body, enable=True)
    return json(serialize_job(job))


@router.post(
    "/accounts/warmup/disable",
    response_model=BackgroundJob,
    operation_id="disableWarmupForAccounts",
    summary="Disable warmup for accounts",
)
async def disable_warmup(
    principal: WarmupToggle, session: SessionDep, body: Annotated[WarmupSelection | None, Body()] = None
) -> JSONResponse:
    """Starts an `update-warmup-accounts` background job and returns it; poll
    `GET /api/v2/background-jobs/{id}` for `success_count`/`failed_count`."""
    job = await AccountService(session, principal.organization_id).start_warmup_job(body, enable=False)
    return json(serialize_job(job))


@router.post(
    "/accounts/warmup-analytics",
    response_model=WarmupAnalytics,
    operation_id="getWarmupAnalytics",
    summary="Get warmup analytics",
)
async def warmup_analytics(body: WarmupAnalyticsRequest, principal: Read, reader: ReaderDep) -> JSONResponse:
    return json(await AccountService(reader, principal.organization_id).warmup_analytics(body.emails))


@router.get(
    "/accounts/analytics/daily",
    response_model=list[DailyAccountAnalytics],
    responses=TOO_LARGE,
    operation_id="getDailyAccountAnalytics",
    summary="Get daily account analytics",
)
async def daily_account_analytics(
    principal: AnalyticsRead,
    reader: ReaderDep,
    start_date: Annotated[str | None, Query(description="YYYY-MM-DD; default 30 days before end_date")] = None,
    end_date: Annotated[str | None, Query(description="YYYY-MM-DD; default today (UTC)")] = None,
    emails: Annotated[
        list[str] | None, Query(description="Accounts to include (repeat the key, or comma-separate); at most 200")
    ] = None,
) -> JSONResponse:
    try:
        rows = await AccountService(reader, principal.organization_id).daily_analytics(start_date, end_date, emails)
    except AnalyticsTooLarge as exc:
        return JSONResponse({"statusCode": 413, "error": "Payload Too Large", "message": exc.message}, status_code=413)
    return json(rows)


# -- one account -------------------------------------------------------------------------------


@router.get("/accounts/{email}", response_model=Account, operation_id="getAccount", summary="Get account")
async def get_account(email: EmailPath, principal: Read, reader: ReaderDep) -> JSONResponse:
    return json(serialize_account(await AccountService(reader, principal.organization_id).get(email)))


@router.patch("/accounts/{email}", response_model=Account, operation_id="patchAccount", summary="Patch account")
async def patch_account(
    email: EmailPath,
    principal: Update,
    session: SessionDep,
    request: Request,
    body: Annotated[AccountUpdate | None, Body()] = None,
) -> JSONResponse:
    row = await AccountService(session, principal.organization_id, _box(request)).update(email, body)
    return json(serialize_account(row))


@router.delete("/accounts/{email}", response_model=Account, operation_id="deleteAccount", summary="Delete account")
async def delete_account(email: EmailPath, principal: Delete, session: SessionDep) -> JSONResponse:
    return json(serialize_account(await AccountService(session, principal.organization_id).delete(email)))


@router.post("/accounts/{email}/pause", response_model=Account, operation_id="pauseAccount", summary="Pause an account")
async def pause_account(email: EmailPath, principal: Update, session: SessionDep) -> JSONResponse:
    return json(serialize_account(await AccountService(session, principal.organization_id).pause(email)))


@router.post(
    "/accounts/{email}/resume", response_model=Account, operation_id="resumeAccount", summary="Resume a paused account"
)
async def resume_account(email: EmailPath, principal: Update, session: SessionDep) -> JSONResponse:
    return json(serialize_account(await AccountService(session, principal.organization_id).resume(email)))


@router.post(
    "/accounts/{email}/mark-fixed",
    response_model=Account,
    operation_id="markAccountFixed",
    summary="Mark an account as fixed",
)
async def mark_account_fixed(email: EmailPath, principal: Update, session: SessionDep) -> JSONResponse:
    return json(serialize_account(await AccountService(session, principal.organization_id).mark_fixed(email)))
