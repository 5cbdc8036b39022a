"""The rules of the Unibox's emails (listing, reading, flags). Sending replies, forwards and test
emails is `coldsend.emails.outgoing`.

- Another workspace's email, like a missing one or a malformed id, answers 404.
- The list is newest first by `timestamp_created` (`sort_order=asc` reverses it), in keyset pages;
  `next_starting_after` is the id of the last email of the page. A cursor may also be an ISO
  date-time (emails created after it, in page order) or `<date-time>&<id>`. An id whose email was
  deleted meanwhile still works: its UUIDv7 carries its creation millisecond, and the walk goes on
  from there (an email created in that same millisecond may show twice, none is skipped).
- `search`: `thread:<id>` lists a thread; an email address matches the lead, the sender or a
  recipient; any other text is looked for (any case) in the subject, the text body and the
  addresses. `email_type`: `received` (ue_type 2), `sent` (everything we sent: 1 and 3), `manual`
  (replies and forwards sent through the API: 3). `mode`: focused (`is_focused` 1), others (0), all.
  `company_domain` is the domain of the lead's address; `assigned_to` the user the lead is assigned
  to. `min_timestamp_created` is inclusive, `max_timestamp_created` exclusive. `latest_of_thread`
  keeps the emails no later email of their thread follows (an email without a thread is its own).
  Nothing marks an email done here (PATCH takes `is_unread` and `reminder_ts`), so
  `marked_as_done=true` lists nothing. `preview_only` leaves out the bodies (`body` is `{}`).
- PATCH takes `is_unread` (0 or 1; null means 0) and `reminder_ts` (null removes it).
- `mark-as-read` marks every email of the thread read; a thread with no email in the workspace is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from coldsend.emails.repository import Anchor, EmailFilter, EmailRepository
from coldsend.emails.schemas import PatchEmail
from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.pagination import PageParams, split_csv
from coldsend.kit.repository import Executor, Record
from coldsend.lead_lists.cursor import BAD_CURSOR, parse_timestamp_cursor

NOT_FOUND = "Email not found"
INT32_MAX = 2_147_483_647
PATCHABLE = ("is_unread", "reminder_ts")
EMAIL_TYPES: dict[str, tuple[int, ...]] = {"received": (2,), "sent": (1, 3), "manual": (3,)}
Mode = Literal["emode_focused", "emode_others", "emode_all"]
EmailType = Literal["received", "sent", "manual"]


@dataclass(frozen=True)
class ListQuery:
    """The list's query parameters as they arrived."""

    search: str | None = None
    campaign_id: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    i_status: float | None = None
    eaccount: str | None = None
    is_unread: bool | None = None
    has_reminder: bool | None = None
    mode: Mode | None = None
    preview_only: bool = False
    sort_order: Literal["asc", "desc"] | None = None
    scheduled_only: bool | None = None
    assigned_to: str | None = None
    lead: str | None = None
    company_domain: str | None = None
    marked_as_done: bool | None = None
    email_type: EmailType | None = None
    min_timestamp_created: str | None = None
    max_timestamp_created: str | None = None
    latest_of_thread: bool | None = None


def _text(name: str, value: str | None) -> str | None:
    """A trimmed text parameter (None when blank); a NUL character is a 400."""
    if value is None:
        return None
    if "\x00" in value:
        raise BadRequest(f"querystring/{name} must not contain the NUL character (\\u0000)")
    return value.strip() or None


def _timestamp(name: str, value: str | None) -> datetime | None:
    text = _text(name, value)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace(" ", "+"))  # an unencoded "+" arrives as " "
    except ValueError:
        raise BadRequest(f"querystring/{name} must be an ISO 8601 date-time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_filter(query: ListQuery) -> EmailFilter:
    """The filters of a list request, validated (a 400 names the parameter)."""
    values: dict[str, Any] = {}
    search = _text("search", query.search)
    if search is not None:
        if search.lower().startswith("thread:"):
            thread = parse_uuid(search[len("thread:") :].strip())
            if thread is None:
                raise BadRequest("querystring/search `thread:` must be followed by a thread id")
            values["thread_id"] = thread
        elif "@" in search and " " not in search:
            values["search_address"] = search.lower()
        else:
            values["search_text"] = search
    if query.i_status is not None:
        if float(query.i_status).is_integer() and abs(query.i_status) <= INT32_MAX:
            values["i_status"] = int(query.i_status)
        else:
            values["no_match"] = True  # interest statuses are whole numbers
    eaccounts = [e.lower() for e in split_csv(_text("eaccount", query.eaccount))]
    values["eaccounts"] = tuple(dict.fromkeys(eaccounts))
    if query.mode == "emode_focused":
        values["focused"] = True
    elif query.mode == "emode_others":
        values["focused"] = False
    if query.email_type is not None:
        values["ue_types"] = EMAIL_TYPES[query.email_type]
    assigned = _text("assigned_to", query.assigned_to)
    if assigned is not None:
        user = parse_uuid(assigned)
        if user is None:
            raise BadRequest("querystring/assigned_to must be a user id (UUID)")
        values["assigned_to"] = user
    lead = _text("lead", query.lead)
    if lead is not None:
        values["lead"] = lead.lower()
    domain = _text("company_domain", query.company_domain)
    if domain is not None:
        values["company_domain"] = domain.lower().lstrip("@")
    return EmailFilter(
        campaign_id=query.campaign_id,
        list_id=query.list_id,
        is_unread=query.is_unread,
        has_reminder=query.has_reminder,
        scheduled_only=bool(query.scheduled_only),
        marked_as_done=query.marked_as_done,
        min_created=_timestamp("min_timestamp_created", query.min_timestamp_created),
        max_created=_timestamp("max_timestamp_created", query.max_timestamp_created),
        latest_of_thread=bool(query.latest_of_thread),
        **values,
    )


def uuid7_moment(value: uuid.UUID) -> datetime | None:
    """The creation millisecond a UUIDv7 carries (None for other UUID versions)."""
    if value.version != 7:
        return None
    try:
        return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    except (ValueError, OverflowError, OSError):  # beyond the year 9999
        return None


class EmailService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.emails = EmailRepository(session, organization_id)

    async def _anchor(self, raw: str | None, descending: bool) -> Anchor | None:
        if raw is not None and "\x00" in raw:
            raise BadRequest(BAD_CURSOR)
        cursor = parse_timestamp_cursor(raw)
        if cursor is None:
            return None
        if cursor.timestamp is not None:
            return Anchor(cursor.timestamp, cursor.id)
        assert cursor.id is not None
        created = await self.emails.created_at(cursor.id)
        if created is not None:
            return Anchor(created, cursor.id)
        moment = uuid7_moment(cursor.id)
        if moment is None:
            raise BadRequest(f"{BAD_CURSOR}; no email has the id {cursor.id}")
        # the email is gone: go on from the millisecond its id was made in (see the module docstring)
        return Anchor(moment + timedelta(milliseconds=1) if descending else moment, cursor.id)

    async def list_page(self, query: ListQuery, paging: PageParams) -> Sequence[Record]:
        where = build_filter(query)
        descending = query.sort_order != "asc"
        anchor = await self._anchor(paging.starting_after, descending)
        return await self.emails.list_page(
            where, anchor, paging.limit, descending=descending, preview_only=bool(query.preview_only)
        )

    async def get(self, email_id: str) -> Record:
        parsed = parse_uuid(email_id)
        row = await self.emails.get(parsed) if parsed is not None else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def update(self, email_id: str, body: PatchEmail) -> Record:
        current = await self.get(email_id)
        fields = body.model_fields_set & set(PATCHABLE)
        if not fields:
            raise BadRequest(f"body must have at least one of the properties {', '.join(map(repr, PATCHABLE))}")
        values: dict[str, Any] = {}
        if "is_unread" in fields:
            flag = 0 if body.is_unread is None else body.is_unread
            if flag not in (0, 1):
                raise BadRequest("body/is_unread must be 0 or 1")
            values["is_unread"] = int(flag)
        if "reminder_ts" in fields:
            reminder = body.reminder_ts
            if reminder is not None and reminder.tzinfo is None:
                reminder = reminder.replace(tzinfo=UTC)
            values["reminder_ts"] = reminder
        row = await self.emails.update(current.id, **values)
        if row is None:  # deleted concurrently
            raise NotFound(NOT_FOUND)
        return row

    async def delete(self, email_id: str) -> Record:
        current = await self.get(email_id)
        row = await self.emails.delete(current.id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def unread_count(self) -> int:
        return await self.emails.unread_count()

    async def mark_thread_read(self, thread_id: str) -> None:
        parsed = parse_uuid(thread_id)
        if parsed is None:
            raise NotFound("Thread not found")
        if await self.emails.mark_thread_read(parsed) == 0 and not await self.emails.thread_exists(parsed):
            raise NotFound("Thread not found")
