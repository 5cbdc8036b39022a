"""The rules of sending accounts: addressed by email, secrets encrypted, status transitions that
re-test the connection, warmup toggled by background jobs, analytics from the stored counters."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from coldsend.accounts import connectivity
from coldsend.accounts.filters import AccountFilter
from coldsend.accounts.repository import AccountRepository, ListOrder, SortBy
from coldsend.accounts.schemas import (
    AccountCreate,
    AccountStatus,
    AccountUpdate,
    WarmupFilter,
    WarmupSelection,
    dump_warmup,
)
from coldsend.campaigns.repository import CampaignRepository
from coldsend.kit.clock import utcnow
from coldsend.kit.crypto import SecretBox
from coldsend.kit.errors import ApiError, BadRequest, Conflict, NotFound
from coldsend.kit.ids import new_id, parse_uuid
from coldsend.kit.jobs import enqueue_job
from coldsend.kit.pagination import split_csv
from coldsend.kit.repository import Executor, Record

WARMUP_JOB = "update-warmup-accounts"
ACCOUNT_NOT_FOUND = "Account not found"
EMAIL_TAKEN = "An account with this email already exists in the workspace"
NONE_OF_THE_EMAILS = "None of the given emails is an account of this workspace"

DAILY_MAX_DAYS = 31  # end_date - start_date, at most
DAILY_DEFAULT_DAYS = 30
DAILY_MAX_ACCOUNTS = 200
WARMUP_WINDOW_DAYS = 30  # warmup analytics cover the last 30 days, today included
START_AFTER_END = "Start Date must be earlier than End Date"
TOO_LARGE = "Analytics request is too large for this workspace. Add an emails filter or request a smaller date range."

# PATCH fields the reference types without null: sending null is a 400 rather than a silent no-op
CONNECTION_FIELDS = frozenset(
    f"{proto}_{part}" for proto in ("imap", "smtp") for part in ("username", "password", "host", "port")
)
NOT_NULLABLE = (
    "first_name",
    "last_name",
    "warmup",
    "sending_gap",
    "skip_cname_check",
    "remove_tracking_domain",
    *sorted(CONNECTION_FIELDS),
)


class AnalyticsTooLarge(ApiError):
    """413 with the reference's own `error` text (Python names the status differently)."""

    status_code = 413
    default_message = TOO_LARGE


# -- cursors -----------------------------------------------------------------------------------


def cursor_timestamp(value: datetime) -> str:
    """The wire timestamp (milliseconds, Z), with microseconds when the stored value has them, so
    the cursor never falls between two accounts created in the same millisecond."""
    value = value.astimezone(UTC)
    fraction = f"{value.microsecond // 1000:03d}" if value.microsecond % 1000 == 0 else f"{value.microsecond:06d}"
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def account_cursor(row: Record) -> str:
    """`timestamp_created&email` of the last account of a page (the reference's cursor format)."""
    return f"{cursor_timestamp(row.timestamp_created)}&{row.email}"


@dataclass(frozen=True)
class Cursor:
    timestamp: datetime
    email: str | None  # None: a legacy cursor (a bare timestamp)


def parse_cursor(raw: str) -> Cursor:
    stamp, _, email = raw.strip().partition("&")
    try:
        parsed = datetime.fromisoformat(stamp.strip().replace(" ", "+"))  # an unencoded "+" arrives as " "
    except ValueError:
        raise BadRequest(
            "querystring/starting_after must be the next_starting_after of the previous page "
            "(timestamp_created&email) or an ISO date-time"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    email = email.strip().replace(" ", "+")  # an address holds no space: it was an unencoded "+"
    return Cursor(parsed, email or None)


# -- analytics dates ---------------------------------------------------------------------------


def parse_day(value: str | None, name: str) -> date | None:
    """`YYYY-MM-DD`, or a full ISO date-time (its UTC day)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"querystring/{name} must be a date (YYYY-MM-DD) or an ISO 8601 date-time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def daily_window(start_date: str | None, end_date: str | None, today: date) -> tuple[date, date]:
    """The reference's window rules: end defaults to today, start to 30 days before the end; start
    after end is a 400 with its exact message; more than 31 days apart is a 413."""
    end = parse_day(end_date, "end_date") or today
    start = parse_day(start_date, "start_date") or end - timedelta(days=DAILY_DEFAULT_DAYS)
    if start > end:
        raise BadRequest(START_AFTER_END)
    if (end - start).days > DAILY_MAX_DAYS:
        raise AnalyticsTooLarge()
    return start, end


def health_score(landed_inbox: int, landed_spam: int, fallback: float | None) -> int | float:
    """Share of warmup emails that reached the inbox, in percent; the stored warmup score (or 0)
    while nothing has landed yet."""
    landed = landed_inbox + landed_spam
    if landed:
        return round(100 * landed_inbox / landed)
    if fallback is None:
        return 0
    return round(fallback) if float(fallback).is_integer() else fallback


def unique_emails(values: Sequence[str]) -> dict[str, str]:
    """lower-case key -> the value as the client sent it (first occurrence), blanks dropped."""
    seen: dict[str, str] = {}
    for value in values:
        key = value.strip().lower()
        if key and key not in seen:
            seen[key] = value
    return seen


@dataclass(frozen=True)
class ListQuery:
    limit: int
    starting_after: str | None = None
    search: str | None = None
    status: int | None = None
    provider_code: int | None = None
    tag_ids: str | None = None
    tag_ids_all: str | None = None
    include_tags: bool = False
    filter: AccountFilter | None = None
    sort_by: SortBy | None = None
    sort_order: str | None = None
    skip: int = 0
    legacy_cursor_email: str | None = None  # an unencoded "&email" the query string split off


class AccountService:
    def __init__(self, session: Executor, organization_id: uuid.UUID, box: SecretBox | None = None) -> None:
        """`session` is the request's unit of work, or a bare read connection for the read-only calls."""
        self.session = session
        self.organization_id = organization_id
        self.box = box
        self.accounts = AccountRepository(session, organization_id)

    # -- one account -----------------------------------------------------------------------------

    async def get(self, email: str) -> Record:
        row = await self.accounts.by_email(email)
        if row is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        return row

    @property
    def uow(self) -> AsyncSession:
        """The unit-of-work session that writing operations need (savepoints, queued jobs)."""
        assert isinstance(self.session, AsyncSession), "this operation writes: give the service a session"
        return self.session

    def _encrypt(self, secret: str) -> str:
        assert self.box is not None, "AccountService needs a SecretBox to store passwords"
        return self.box.encrypt(secret)

    async def create(self, body: AccountCreate) -> Record:
        """A new account, Active (status 1) at once; a connection test runs in the background and
        sets an error status if the mailbox does not answer.

        An email already used by an account of the workspace is a 409 Conflict (any case): the
        request is well formed, it clashes with existing state, which is what 409 says, and it is
        how clients that create idempotently recognise "already there". Another workspace may hold
        the same address: refusing it would reveal that workspace's account.
        """
        if await self.accounts.by_email(body.email) is not None:
            raise Conflict(EMAIL_TAKEN)
        warmup = dump_warmup(body.warmup)
        if body.warmup_custom_ftag is not None:
            warmup["warmup_custom_ftag"] = body.warmup_custom_ftag
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_id(),
            "email": body.email,
            "first_name": body.first_name,
            "last_name": body.last_name,
            "provider_code": int(body.provider_code),
            "status": int(AccountStatus.ACTIVE),
            "warmup_status": 0,
            "warmup": warmup,
            "daily_limit": body.daily_limit,
            "tracking_domain_name": body.tracking_domain_name,
            "tracking_domain_status": body.tracking_domain_status,
            "enable_slow_ramp": body.enable_slow_ramp,
            "inbox_placement_test_limit": body.inbox_placement_test_limit,
            "signature": body.signature,
            "reply_to": body.reply_to,
            "skip_cname_check": bool(body.skip_cname_check),
            "imap_host": body.imap_host,
            "imap_port": body.imap_port,
            "imap_username": body.imap_username,
            "imap_password_encrypted": self._encrypt(body.imap_password),
            "smtp_host": body.smtp_host,
            "smtp_port": body.smtp_port,
            "smtp_username": body.smtp_username,
            "smtp_password_encrypted": self._encrypt(body.smtp_password),
            "timestamp_created": now,
            "timestamp_updated": now,
        }
        if body.sending_gap is not None:
            values["sending_gap"] = body.sending_gap
        try:
            async with self.uow.begin_nested():
                row = await self.accounts.insert(**values)
        except IntegrityError as exc:  # a concurrent request created the same address meanwhile
            raise Conflict(EMAIL_TAKEN) from exc
        await connectivity.schedule_connection_check(self.uow, self.organization_id, row.id)
        return row

    async def update(self, email: str, body: AccountUpdate | None) -> Record:
        """Partial update. `warmup` is merged into the stored settings (so is `warmup.advanced`);
        `remove_tracking_domain: true` clears the tracking domain; new mailbox credentials (an
        extension of ours) re-test the connection."""
        current = await self.get(email)
        fields = set(body.model_fields_set) if body is not None else set()
        if body is None or not fields:
            raise BadRequest("body must NOT have fewer than 1 properties")
        for name in NOT_NULLABLE:
            if name in fields and getattr(body, name) is None:
                raise BadRequest(f"body/{name} must not be null")
        values: dict[str, Any] = {}
        for name in (
            "first_name",
            "last_name",
            "daily_limit",
            "tracking_domain_name",
            "tracking_domain_status",
            "enable_slow_ramp",
            "inbox_placement_test_limit",
            "sending_gap",
            "signature",
            "reply_to",
            "skip_cname_check",
            "imap_host",
            "imap_port",
            "imap_username",
            "smtp_host",
            "smtp_port",
            "smtp_username",
        ):
            if name in fields:
                values[name] = getattr(body, name)
        for proto in ("imap", "smtp"):
            secret = getattr(body, f"{proto}_password")
            if secret is not None:
                values[f"{proto}_password_encrypted"] = self._encrypt(secret)
        if body.warmup is not None:
            values["warmup"] = merge_warmup(current.warmup or {}, dump_warmup(body.warmup))
        if body.remove_tracking_domain:
            values["tracking_domain_name"] = None
            values["tracking_domain_status"] = None
        values["timestamp_updated"] = utcnow()
        row = await self.accounts.update_by_id(current.id, **values)
        if row is None:  # deleted concurrently
            raise NotFound(ACCOUNT_NOT_FOUND)
        if fields & CONNECTION_FIELDS:
            await connectivity.schedule_connection_check(self.uow, self.organization_id, row.id)
        return row

    async def delete(self, email: str) -> Record:
        """Remove the account, the tags it carried and its place in campaigns' sender lists; its daily
        counters go with it (cascade)."""
        current = await self.get(email)
        await self.accounts.delete_tag_mappings(current.id)
        await CampaignRepository(self.session, self.organization_id).remove_sender(current.email)
        row = await self.accounts.delete(current.id)
        if row is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        return row

    async def _set_status(self, email: str, **values: Any) -> Record:
        current = await self.get(email)
        row = await self.accounts.update_by_id(current.id, timestamp_updated=utcnow(), **values)
        if row is None:
            raise NotFound(ACCOUNT_NOT_FOUND)
        return row

    async def pause(self, email: str) -> Record:
        """Status 2 (Paused): the account sends nothing until resumed. Pausing a paused one is a no-op."""
        return await self._set_status(email, status=int(AccountStatus.PAUSED))

    async def resume(self, email: str) -> Record:
        """Status 1 (Active) again, and a fresh connection test (which sets an error status if it fails)."""
        row = await self._set_status(email, status=int(AccountStatus.ACTIVE), status_message=None)
        await connectivity.schedule_connection_check(self.uow, self.organization_id, row.id)
        return row

    async def mark_fixed(self, email: str) -> Record:
        """The user says the problem is solved: an error status (< 0) becomes Active, the error message
        goes, and a connection test runs to confirm. A paused account stays paused."""
        current = await self.get(email)
        values: dict[str, Any] = {"status_message": None, "autofix_failed": None}
        if current.status < 0:
            values["status"] = int(AccountStatus.ACTIVE)
        row = await self._set_status(email, **values)
        await connectivity.schedule_connection_check(self.uow, self.organization_id, row.id)
        return row

    async def pause_many(self, emails: Sequence[str]) -> dict[str, list[str]]:
        """Each distinct address (case-insensitive) lands in `paused_emails` (this call paused it) or
        `failed_emails` (not an account of this workspace, or already paused), as the client spelt it."""
        wanted = unique_emails(emails)
        paused = await self.accounts.pause_many(list(wanted), utcnow())
        return {
            "paused_emails": [value for key, value in wanted.items() if key in paused],
            "failed_emails": [value for key, value in wanted.items() if key not in paused],
        }

    # -- lists -----------------------------------------------------------------------------------

    def _tag_list(self, raw: str | None, name: str) -> list[uuid.UUID] | None:
        if raw is None:
            return None
        values = split_csv(raw)
        parsed = [parse_uuid(v) for v in values]
        wrong = [v for v, p in zip(values, parsed, strict=True) if p is None]
        if wrong:
            raise BadRequest(f"querystring/{name} must be a comma-separated list of tag ids; '{wrong[0]}' is not one")
        return [p for p in parsed if p is not None]

    async def list_page(self, query: ListQuery) -> tuple[Sequence[Record], dict[uuid.UUID, list[Record]]]:
        """A page of accounts (`limit + 1` rows) and, with `include_tags`, their tags."""
        tag_ids = self._tag_list(query.tag_ids, "tag_ids")
        tag_ids_all = self._tag_list(query.tag_ids_all, "tag_ids_all")
        if query.sort_by is None:
            order = ListOrder("timestamp_created", descending=query.sort_order == "desc")
        else:
            order = ListOrder(query.sort_by, descending=query.sort_order != "asc")
        statement = self.accounts.filtered(
            self.accounts.select(),
            search=query.search or None,
            status=query.status,
            provider_code=query.provider_code,
            account_filter=query.filter,
            tag_ids=tag_ids,
            tag_ids_all=tag_ids_all,
        )
        after = None
        if query.starting_after:
            statement, after = await self._after(
                parse_cursor(query.starting_after), order, query.legacy_cursor_email, statement
            )
        rows = await self.accounts.list_page(statement, order=order, after=after, limit=query.limit, skip=query.skip)
        tags = await self.accounts.tags_of([r.id for r in rows[: query.limit]]) if query.include_tags else {}
        return rows, tags

    async def _after(
        self, cursor: Cursor, order: ListOrder, split_email: str | None, statement: Select[Any]
    ) -> tuple[Select[Any], tuple[Any, str] | None]:
        """The keyset bound `(sort key, email)` of a cursor; or, for a legacy timestamp-only cursor,
        the statement narrowed to accounts created after (before, descending) that moment."""
        email = cursor.email or (split_email.strip().replace(" ", "+") if split_email else None)
        if email is None:
            if order.sort_by != "timestamp_created":
                raise BadRequest("querystring/starting_after must be `timestamp_created&email` when sort_by is given")
            column = self.accounts.table.c.timestamp_created
            return statement.where(column < cursor.timestamp if order.descending else column > cursor.timestamp), None
        if order.sort_by == "timestamp_created":
            return statement, (cursor.timestamp, email)
        if order.sort_by == "email":
            return statement, (email, email)
        row = await self.accounts.by_email(email)
        if row is None:
            raise BadRequest(
                "querystring/starting_after names an account that no longer exists; with sort_by, "
                "continue with skip instead"
            )
        return statement, (order.key_value(row), row.email)

    # -- warmup ----------------------------------------------------------------------------------

    async def start_warmup_job(self, body: WarmupSelection | None, *, enable: bool) -> Record:
        """Queue an `update-warmup-accounts` job (entity: the workspace) and return it, pending.

        Selection: `emails`, or `include_all_emails: true` narrowed by `excluded_emails`, `filter`
        (an ACC_FILTER_* name, or `{tag_id, filter}`) and `search`; with `include_all_emails` the
        `emails` list is ignored. The job resolves the selection when it runs.

        Unknown emails: when none of the listed addresses is an account of this workspace the call
        is a 404 (as for a single account; another workspace's account is unknown here). Otherwise
        the job proceeds, and the unknown ones are reported in its data (`failed_emails`,
        counted in `failed_count`) beside `success_count`.
        """
        body = body or WarmupSelection()
        data: dict[str, Any] = {"enable": enable}
        if body.include_all_emails:
            data["include_all_emails"] = True
            if body.excluded_emails:
                data["excluded_emails"] = list(unique_emails(body.excluded_emails))
            selection = body.filter if isinstance(body.filter, WarmupFilter) else None
            account_filter = body.filter if isinstance(body.filter, AccountFilter) else None
            if selection is not None:
                account_filter = selection.filter
                if selection.tag_id:
                    data["tag_id"] = await self._tag_for_selection(selection.tag_id)
            if account_filter is not None:
                data["filter"] = account_filter.value
            if body.search and body.search.strip():
                data["search"] = body.search.strip()
        else:
            if not body.emails:
                raise BadRequest("body must have required property 'emails' (or set 'include_all_emails' to true)")
            wanted = unique_emails(body.emails)
            if not await self.accounts.ids_by_email(wanted):
                raise NotFound(NONE_OF_THE_EMAILS)
            data["emails"] = list(wanted)
        return await enqueue_job(
            self.uow,
            self.organization_id,
            WARMUP_JOB,
            entity_type="workspace",
            entity_id=self.organization_id,
            data=data,
        )

    async def _tag_for_selection(self, raw: str) -> str:
        if raw.strip().lower() == "no-tag":
            return "no-tag"
        tag_id = parse_uuid(raw.strip())
        if tag_id is None:
            raise BadRequest("body/filter/tag_id must be a tag id or 'no-tag'")
        if not await self.accounts.tag_exists(tag_id):
            raise NotFound("Custom tag not found")
        return str(tag_id)

    # -- analytics -------------------------------------------------------------------------------

    async def _named_accounts(self, emails: Sequence[str]) -> Sequence[Record]:
        wanted = unique_emails(emails)
        rows = await self.accounts.by_emails(list(wanted))
        if not rows:
            raise NotFound(NONE_OF_THE_EMAILS)
        return rows

    async def warmup_analytics(self, emails: Sequence[str]) -> dict[str, Any]:
        """Warmup counters of the last 30 days (today included) per account and day, and their totals.

        Keys are the accounts' (lower-case) addresses; addresses that are not accounts of this
        workspace are left out (all of them unknown: 404). Days without stored counters are absent.
        """
        accounts = await self._named_accounts(emails)
        today = utcnow().date()
        rows = await self.accounts.daily_stats(
            [a.id for a in accounts], today - timedelta(days=WARMUP_WINDOW_DAYS - 1), today
        )
        by_day: dict[str, dict[str, dict[str, int]]] = {a.email: {} for a in accounts}
        for row in rows:
            by_day.setdefault(row.email, {})[row.day.isoformat()] = {
                "sent": row.warmup_sent,
                "landed_inbox": row.warmup_landed_inbox,
                "landed_spam": row.warmup_landed_spam,
                "received": row.warmup_received,
            }
        aggregate: dict[str, dict[str, Any]] = {}
        for account in accounts:
            days = by_day.get(account.email, {}).values()
            totals = {k: sum(d[k] for d in days) for k in ("sent", "received", "landed_inbox", "landed_spam")}
            score = health_score(totals["landed_inbox"], totals["landed_spam"], account.stat_warmup_score)
            aggregate[account.email] = {**totals, "health_score_label": f"{score}%", "health_score": score}
        return {"email_date_data": by_day, "aggregate_data": aggregate}

    async def daily_analytics(
        self, start_date: str | None, end_date: str | None, emails: Sequence[str] | None
    ) -> list[dict[str, Any]]:
        """Per account and day, the campaign counters the sending engine stored (days without
        activity are absent). Without `emails`, every account of the workspace, if it has at most
        200 (else a 413 asking for the filter)."""
        start, end = daily_window(start_date, end_date, utcnow().date())
        if emails:
            wanted = unique_emails([part for value in emails for part in split_csv(value)])
            if len(wanted) > DAILY_MAX_ACCOUNTS:
                raise BadRequest(f"querystring/emails must NOT have more than {DAILY_MAX_ACCOUNTS} items")
            accounts = await self._named_accounts(list(wanted))
        else:
            accounts = await self.accounts.first_accounts(DAILY_MAX_ACCOUNTS + 1)
            if len(accounts) > DAILY_MAX_ACCOUNTS:
                raise AnalyticsTooLarge()
        rows = await self.accounts.daily_stats([a.id for a in accounts], start, end)
        return [
            {
                "date": row.day.isoformat(),
                "email_account": row.email,
                "sent": row.sent,
                "bounced": row.bounced,
                "contacted": row.contacted,
                "new_leads_contacted": row.new_leads_contacted,
                "opened": row.opened,
                "unique_opened": row.unique_opened,
                "replies": row.replies,
                "unique_replies": row.unique_replies,
                "replies_automatic": row.replies_automatic,
                "unique_replies_automatic": row.unique_replies_automatic,
                "clicks": row.clicks,
                "unique_clicks": row.unique_clicks,
            }
            for row in rows
        ]


def merge_warmup(stored: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = {**stored, **given}
    if isinstance(stored.get("advanced"), dict) and isinstance(given.get("advanced"), dict):
        merged["advanced"] = {**stored["advanced"], **given["advanced"]}
    return merged
