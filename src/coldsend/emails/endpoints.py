"""HTTP surface of the Unibox's emails: parse, authorize, call the service, answer."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request

from coldsend.emails.outgoing import OutgoingService
from coldsend.emails.schemas import (
    Email,
    ForwardEmail,
    MarkedAsRead,
    PatchEmail,
    ReplyToEmail,
    SendTestEmail,
    TestEmailFailed,
    TestEmailSent,
    UnreadCount,
)
from coldsend.emails.service import EmailService, EmailType, ListQuery, Mode
from coldsend.kit.auth import Authorize, Principal
from coldsend.kit.clock import isoformat
from coldsend.kit.db import ReaderDep, SessionDep
from coldsend.kit.pagination import PageDep, page
from coldsend.kit.ratelimit import EMAILS_LIST, EMAILS_TEST
from coldsend.kit.repository import Record, as_mapping
from coldsend.kit.routing import ApiRoute
from coldsend.kit.schemas import COMMON_ERRORS, ErrorBody, JSONResponse, Page, json

router = APIRouter(route_class=ApiRoute, tags=["Email"], responses=COMMON_ERRORS)

Read = Annotated[Principal, Depends(Authorize("emails", "read"))]
ListRead = Annotated[Principal, Depends(Authorize("emails", "read", rate_limit=EMAILS_LIST))]
Create = Annotated[Principal, Depends(Authorize("emails", "create"))]
TestCreate = Annotated[Principal, Depends(Authorize("emails", "create", rate_limit=EMAILS_TEST))]
Update = Annotated[Principal, Depends(Authorize("emails", "update"))]
Delete = Annotated[Principal, Depends(Authorize("emails", "delete"))]

SENDING_ERRORS: dict[int | str, dict[str, Any]] = {
    502: {"model": ErrorBody, "description": "The account's mail server did not take the message (nothing stored)"}
}


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def serialize_email(row: Record) -> dict[str, Any]:
    """The reference's Email; engine bookkeeping (account, variant, threading headers) stays inside."""
    r = as_mapping(row)
    body: dict[str, str] = {}
    if r["body_text"] is not None:
        body["text"] = r["body_text"]
    if r["body_html"] is not None:
        body["html"] = r["body_html"]
    return {
        "id": str(r["id"]),
        "timestamp_created": isoformat(r["timestamp_created"]),
        "timestamp_email": isoformat(r["timestamp_email"]),
        "message_id": r["message_id"],
        "subject": r["subject"],
        "from_address_email": r["from_address_email"],
        "to_address_email_list": r["to_address_email_list"],
        "cc_address_email_list": r["cc_address_email_list"],
        "bcc_address_email_list": r["bcc_address_email_list"],
        "reply_to": r["reply_to"],
        "body": body,
        "organization_id": str(r["organization_id"]),
        "campaign_id": _str(r["campaign_id"]),
        "subsequence_id": _str(r["subsequence_id"]),
        "list_id": _str(r["list_id"]),
        "lead": r["lead"],
        "lead_id": _str(r["lead_id"]),
        "eaccount": r["eaccount"],
        "ue_type": r["ue_type"],
        "step": r["step"],
        "is_unread": r["is_unread"],
        "is_auto_reply": r["is_auto_reply"],
        "reminder_ts": isoformat(r["reminder_ts"]),
        "ai_interest_value": r["ai_interest_value"],
        "ai_assisted": r["ai_assisted"],
        "is_focused": r["is_focused"],
        "i_status": r["i_status"],
        "thread_id": _str(r["thread_id"]),
        "content_preview": r["content_preview"],
        "attachment_json": r["attachment_json"],
        "from_address_json": r["from_address_json"],
        "to_address_json": r["to_address_json"],
        "cc_address_json": r["cc_address_json"],
        "ai_agent_id": _str(r["ai_agent_id"]),
    }


def _outgoing(request: Request, session: SessionDep, principal: Principal) -> OutgoingService:
    return OutgoingService(request.app.state.db.read, session, principal.organization_id, request.app.state.settings)


@router.post(
    "/emails/test",
    response_model=TestEmailSent | TestEmailFailed,
    operation_id="sendTestEmail",
    summary="Send a test email",
)
async def send_test_email(
    body: SendTestEmail, principal: TestCreate, request: Request, session: SessionDep
) -> JSONResponse:
    """Send the message from `eaccount` to each recipient, through the account's SMTP server, without
    storing it. Account problems are reported inside a 200 (`error`), as the reference does. At most
    10 requests per minute per workspace (`COLDSEND_EMAILS_TEST_PER_MINUTE`)."""
    return json(await _outgoing(request, session, principal).send_test(body))


@router.post(
    "/emails/reply",
    response_model=Email,
    operation_id="replyToEmail",
    summary="Reply to an email",
    responses=SENDING_ERRORS,
)
async def reply_to_email(body: ReplyToEmail, principal: Create, request: Request, session: SessionDep) -> JSONResponse:
    """Send a reply to the email `reply_to_uuid` from `eaccount`, in its thread, and store it (ue_type 3)."""
    row = await _outgoing(request, session, principal).reply(body)
    return json(serialize_email(row))


@router.post(
    "/emails/forward",
    response_model=Email,
    operation_id="forwardEmail",
    summary="Forward an email",
    responses=SENDING_ERRORS,
)
async def forward_email(body: ForwardEmail, principal: Create, request: Request, session: SessionDep) -> JSONResponse:
    """Forward the email `reply_to_uuid` from `eaccount` to `to_address_email_list` and store the
    forward (ue_type 3, a thread of its own)."""
    row = await _outgoing(request, session, principal).forward(body)
    return json(serialize_email(row))


@router.get("/emails", response_model=Page[Email], operation_id="listEmail", summary="List email")
async def list_emails(
    principal: ListRead,
    reader: ReaderDep,
    paging: PageDep,
    search: Annotated[
        str | None,
        Query(description="`thread:<thread id>`, an email address (lead, sender or recipient), or text"),
    ] = None,
    campaign_id: Annotated[uuid.UUID | None, Query(description="Emails of this campaign")] = None,
    list_id: Annotated[uuid.UUID | None, Query(description="Emails of this lead list")] = None,
    i_status: Annotated[float | None, Query(description="Emails with this interest status")] = None,
    eaccount: Annotated[str | None, Query(description="Comma-separated sending accounts")] = None,
    is_unread: Annotated[bool | None, Query(description="Unread (true) or read (false) emails")] = None,
    has_reminder: Annotated[bool | None, Query(description="Emails with (true) or without (false) a reminder")] = None,
    mode: Annotated[Mode | None, Query(description="Focused, other or all emails")] = None,
    preview_only: Annotated[bool, Query(description="Leave the bodies out (`content_preview` stays)")] = False,
    sort_order: Annotated[
        Literal["asc", "desc"] | None, Query(description="By creation time; newest first (`desc`) by default")
    ] = None,
    scheduled_only: Annotated[bool | None, Query(description="Scheduled emails only (ue_type 4)")] = None,
    assigned_to: Annotated[str | None, Query(description="Emails of leads assigned to this user")] = None,
    lead: Annotated[str | None, Query(description="Emails of the lead with this address")] = None,
    company_domain: Annotated[str | None, Query(description="Emails of leads at this domain")] = None,
    marked_as_done: Annotated[bool | None, Query(description="Emails marked done (none are)")] = None,
    email_type: Annotated[EmailType | None, Query(description="received (2), sent (1 and 3) or manual (3)")] = None,
    min_timestamp_created: Annotated[
        str | None, Query(description="Emails created at or after this ISO 8601 date-time")
    ] = None,
    max_timestamp_created: Annotated[
        str | None, Query(description="Emails created before this ISO 8601 date-time")
    ] = None,
    latest_of_thread: Annotated[bool | None, Query(description="Only the latest email of each thread")] = None,
) -> JSONResponse:
    """Newest first, in keyset pages; `next_starting_after` is the id of the last email. At most 20
    requests per minute per workspace (`COLDSEND_EMAILS_LIST_PER_MINUTE`)."""
    query = ListQuery(
        search=search,
        campaign_id=campaign_id,
        list_id=list_id,
        i_status=i_status,
        eaccount=eaccount,
        is_unread=is_unread,
        has_reminder=has_reminder,
        mode=mode,
        preview_only=preview_only,
        sort_order=sort_order,
        scheduled_only=scheduled_only,
        assigned_to=assigned_to,
        lead=lead,
        company_domain=company_domain,
        marked_as_done=marked_as_done,
        email_type=email_type,
        min_timestamp_created=min_timestamp_created,
        max_timestamp_created=max_timestamp_created,
        latest_of_thread=latest_of_thread,
    )
    rows = await EmailService(reader, principal.organization_id).list_page(query, paging)
    return json(page(rows, paging.limit, serialize_email, lambda last: str(last.id)))


@router.get(
    "/emails/unread/count", response_model=UnreadCount, operation_id="countUnreadEmails", summary="Count unread emails"
)
async def count_unread_emails(principal: Read, reader: ReaderDep) -> JSONResponse:
    """How many emails of the workspace are unread."""
    return json({"count": await EmailService(reader, principal.organization_id).unread_count()})


@router.get("/emails/{id}", response_model=Email, operation_id="getEmail", summary="Get email")
async def get_email(id: str, principal: Read, reader: ReaderDep) -> JSONResponse:
    row = await EmailService(reader, principal.organization_id).get(id)
    return json(serialize_email(row))


@router.patch("/emails/{id}", response_model=Email, operation_id="patchEmail", summary="Patch email")
async def patch_email(
    id: str, principal: Update, session: SessionDep, body: Annotated[PatchEmail, Body()]
) -> JSONResponse:
    """Change `is_unread` (0 or 1) and/or `reminder_ts` (null removes it)."""
    row = await EmailService(session, principal.organization_id).update(id, body)
    return json(serialize_email(row))


@router.delete("/emails/{id}", response_model=Email, operation_id="deleteEmail", summary="Delete email")
async def delete_email(id: str, principal: Delete, session: SessionDep) -> JSONResponse:
    """Delete the email from the Unibox; answers the deleted email."""
    row = await EmailService(session, principal.organization_id).delete(id)
    return json(serialize_email(row))


@router.post(
    "/emails/threads/{thread_id}/mark-as-read",
    response_model=MarkedAsRead,
    operation_id="markThreadAsRead",
    summary="Mark all emails in a thread as read",
)
async def mark_thread_as_read(thread_id: str, principal: Update, session: SessionDep) -> JSONResponse:
    """Mark every email of the thread read; 404 when no email of the workspace is in that thread."""
    await EmailService(session, principal.organization_id).mark_thread_read(thread_id)
    return json({"success": True})
