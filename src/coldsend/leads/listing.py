"""Lead search: the selection filters of `POST /leads/list` and `POST /leads/move` as SQL, the keyset
pages, and the campaigns of a contact. Every query is scoped to the workspace through `_scoped`.

How the filters map onto the lead row (the engine keeps counters and last-event timestamps per lead,
not an event log):
- `filter`: FILTER_VAL_CONTACTED/NOT_CONTACTED = `timestamp_last_contact` set/unset; ACTIVE/COMPLETED/
  UNSUBSCRIBED/BOUNCED/SKIPPED = `status` 1/3/-2/-1/-3; FILTER_LEAD_* = `lt_interest_status` (CLOSED is
  4 "Won"); CUSTOM_LABEL_POSITIVE/NEGATIVE = the interest status of one of the workspace's lead labels
  with that sentiment; VALID/INVALID/RISKY = `verification_status` 1/-1/-2; IN_SUBSEQUENCE =
  `subsequence_id` set; OPENED_NO_REPLY = opens > 0 and replies = 0; COMPLETED_NO_REPLY = status 3 and
  replies = 0; NO_OPENS = opens = 0; REPLIED = replies > 0; LINK_CLICKED = clicks > 0.
- `queries` (all must hold). `reply`, `email-open`, `link-click` use the lead's counter and the time
  of the last such event. Without `occurrence-days` the count is the counter. With it, the count in
  the window is taken as the counter when the last event falls inside the window, else 0 (exact
  whenever all events are in the window, or none is). `last-contacted` and `lead-status-change` have
  no counter: they count 1 when the lead was ever contacted / its interest status ever changed (and,
  with days, when that last happened inside the window), else 0. So "lead-status-change" means "the
  interest status last changed within N days" (optionally: to `lead-status`). `lead-status` compares
  the interest status (`is` / `is-not`); with days, the change to it must be inside the window.
- `search` is matched against `lower(email || ' ' || first_name || ' ' || last_name)`, the expression
  of the trigram index `ix_leads_search_trgm` (so "john doe" finds John Doe). Three characters or more:
  anywhere in it. Fewer (trigrams cannot help): the email, first or last name starts with it (the
  index still serves that through its word-start trigrams). The pattern is inlined into the SQL so
  PostgreSQL plans each search for its own pattern (a prepared generic plan cannot use the index well).
- Pages are keyset pages in id order (`id > cursor`), served by the (workspace, campaign, id) and
  (workspace, list, id) indexes or the primary key; with `distinct_contacts`, one lead per email (the
  oldest), in email order with the email as cursor, served by the (workspace, email) index.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    Uuid,
    and_,
    any_,
    bindparam,
    case,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.types import TypeEngine

from coldsend.accounts.filters import escape_like
from coldsend.campaigns.models import Campaign
from coldsend.kit.clock import utcnow
from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.repository import Executor, Record, WorkspaceRepository
from coldsend.lead_labels.models import LeadLabel
from coldsend.lead_lists.models import LeadList
from coldsend.leads.listing_schemas import FILTER_VALUES, ActivityCondition, LeadFilter, LeadSelection, ListLeadsBody
from coldsend.leads.models import Lead

LEADS: Table = Lead.__table__  # type: ignore[assignment]
CAMPAIGNS: Table = Campaign.__table__  # type: ignore[assignment]
LISTS: Table = LeadList.__table__  # type: ignore[assignment]
LABELS: Table = LeadLabel.__table__  # type: ignore[assignment]

# Exactly the expression of the trigram index (migration 0003), so the planner matches it.
SEARCH_EXPRESSION: ColumnElement[str] = literal_column(
    "lower(coalesce(leads.email, '') || ' ' || coalesce(leads.first_name, '') || ' ' || coalesce(leads.last_name, ''))",
    String,
)
TRIGRAM = 3

_INTEREST = {
    LeadFilter.INTERESTED: 1,
    LeadFilter.NOT_INTERESTED: -1,
    LeadFilter.MEETING_BOOKED: 2,
    LeadFilter.MEETING_COMPLETED: 3,
    LeadFilter.CLOSED: 4,
    LeadFilter.OUT_OF_OFFICE: 0,
    LeadFilter.WRONG_PERSON: -2,
    LeadFilter.LOST: -3,
    LeadFilter.NO_SHOW: -4,
}
_STATUS = {
    LeadFilter.ACTIVE: 1,
    LeadFilter.COMPLETED: 3,
    LeadFilter.UNSUBSCRIBED: -2,
    LeadFilter.BOUNCED: -1,
    LeadFilter.SKIPPED: -3,
}
_VERIFICATION = {LeadFilter.VALID: 1, LeadFilter.INVALID: -1, LeadFilter.RISKY: -2}

SortColumn = Literal["timestamp_created", "timestamp_updated", "name"]
SortOrder = Literal["asc", "desc"]


def inline(value: str) -> ColumnElement[str]:
    """A string rendered into the statement text (safely quoted by the dialect), not bound."""
    return bindparam(None, value, type_=String, literal_execute=True)


def one_of(column: ColumnElement[Any], values: Iterable[Any], item_type: TypeEngine[Any]) -> ColumnElement[bool]:
    """`column = ANY($1)`: one array parameter however long the list (no parameter limit)."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(item_type)))


def search_condition(search: str) -> ColumnElement[bool] | None:
    fragment = search.strip().lower()
    if not fragment:
        return None
    escaped = escape_like(fragment)  # backslash is LIKE's default escape character
    if len(fragment) >= TRIGRAM:
        return SEARCH_EXPRESSION.like(inline(f"%{escaped}%"))
    # email starts with it, or a word after the email (first or last name) does
    return or_(SEARCH_EXPRESSION.like(inline(f"{escaped}%")), SEARCH_EXPRESSION.like(inline(f"% {escaped}%")))


def normalize_email(value: str) -> str:
    """An address as stored (lower case); a `+` that a query string turned into a space comes back."""
    return re.sub(r"\s", "+", value.strip()).lower()


class LeadSearchRepository(WorkspaceRepository):
    table: ClassVar[Table] = LEADS

    # -- the selection ---------------------------------------------------------------------------

    def conditions(self, body: LeadSelection, now: datetime) -> list[ColumnElement[bool]]:
        """Every filter of the body as conditions on the leads table (the schema has validated them)."""
        c = LEADS.c
        where: list[ColumnElement[bool]] = []
        if body.campaign is not None:
            where.append(c.campaign_id == body.campaign)
        if body.list_id is not None:
            where.append(c.list_id == body.list_id)
        if body.in_campaign is not None:
            where.append(c.campaign_id.is_not(None) if body.in_campaign else c.campaign_id.is_(None))
        if body.in_list is not None:
            where.append(c.list_id.is_not(None) if body.in_list else c.list_id.is_(None))
        if body.ids is not None:
            where.append(one_of(c.id, sorted(set(body.ids)), Uuid()))
        if body.excluded_ids:
            where.append(not_(one_of(c.id, sorted(set(body.excluded_ids)), Uuid())))
        if body.contacts is not None:
            where.append(one_of(c.email, sorted({normalize_email(e) for e in body.contacts}), String()))
        if body.organization_user_ids is not None:
            where.append(one_of(c.assigned_to, sorted(set(body.organization_user_ids)), Uuid()))
        if body.search:
            condition = search_condition(body.search)
            if condition is not None:
                where.append(condition)
        if body.filter is not None:
            where.append(self.filter_condition(body.filter))
        if body.interest_status is not None:
            where.append(c.lt_interest_status == body.interest_status)
        if body.is_website_visitor is not None:
            where.append(
                c.is_website_visitor.is_(True) if body.is_website_visitor else c.is_website_visitor.is_not(True)
            )
        if body.enrichment_status is not None:
            where.append(c.enrichment_status == body.enrichment_status)
        if body.esp_code is not None:
            where.append(c.esp_code == body.esp_code)
        if body.esg_code == "none":
            where.append(c.esg_code.is_(None))
        elif body.esg_code is not None and body.esg_code != "all":
            where.append(c.esg_code == int(body.esg_code))
        for query in body.queries or ():
            where.append(activity_condition(query, now))
        return where

    def filter_condition(self, value: str) -> ColumnElement[bool]:
        c = LEADS.c
        if value not in FILTER_VALUES:  # a lead label's interest status (validated as a number)
            return c.lt_interest_status == int(value)
        name = LeadFilter(value)
        if name in _INTEREST:
            return c.lt_interest_status == _INTEREST[name]
        if name in _STATUS:
            return c.status == _STATUS[name]
        if name in _VERIFICATION:
            return c.verification_status == _VERIFICATION[name]
        if name in (LeadFilter.CUSTOM_LABEL_POSITIVE, LeadFilter.CUSTOM_LABEL_NEGATIVE):
            sentiment = "positive" if name is LeadFilter.CUSTOM_LABEL_POSITIVE else "negative"
            labels = self._scoped(select(LABELS.c.interest_status), LABELS).where(
                LABELS.c.interest_status_label == sentiment
            )
            return c.lt_interest_status.in_(labels.scalar_subquery())
        others: dict[LeadFilter, ColumnElement[bool]] = {
            LeadFilter.CONTACTED: c.timestamp_last_contact.is_not(None),
            LeadFilter.NOT_CONTACTED: c.timestamp_last_contact.is_(None),
            LeadFilter.IN_SUBSEQUENCE: c.subsequence_id.is_not(None),
            LeadFilter.OPENED_NO_REPLY: and_(c.email_open_count > 0, c.email_reply_count == 0),
            LeadFilter.COMPLETED_NO_REPLY: and_(c.status == 3, c.email_reply_count == 0),
            LeadFilter.NO_OPENS: c.email_open_count == 0,
            LeadFilter.REPLIED: c.email_reply_count > 0,
            LeadFilter.LINK_CLICKED: c.email_click_count > 0,
        }
        return others[name]

    # -- pages -----------------------------------------------------------------------------------

    async def id_page(
        self, where: Sequence[ColumnElement[bool]], after: uuid.UUID | None, limit: int
    ) -> Sequence[Record]:
        """`limit + 1` leads in id order after the cursor: an index range scan at any depth."""
        statement = self.select(*where)
        if after is not None:
            statement = statement.where(LEADS.c.id > after)
        return await self.all(statement.order_by(LEADS.c.id).limit(limit + 1))

    async def contact_page(
        self, where: Sequence[ColumnElement[bool]], after: str | None, limit: int
    ) -> Sequence[Record]:
        """`limit + 1` contacts in email order after the cursor, each as its oldest lead."""
        c = LEADS.c
        statement = self.select(*where, c.email.is_not(None))
        if after is not None:
            statement = statement.where(c.email > after)
        statement = statement.distinct(c.email).order_by(c.email, c.id).limit(limit + 1)
        return await self.all(statement)

    # -- names in the workspace ------------------------------------------------------------------

    async def has_campaign(self, campaign_id: uuid.UUID) -> bool:
        statement = self._scoped(select(CAMPAIGNS.c.id), CAMPAIGNS).where(CAMPAIGNS.c.id == campaign_id)
        return (await self.session.execute(statement)).first() is not None

    async def has_list(self, list_id: uuid.UUID) -> bool:
        statement = self._scoped(select(LISTS.c.id), LISTS).where(LISTS.c.id == list_id)
        return (await self.session.execute(statement)).first() is not None

    # -- campaigns of a contact ------------------------------------------------------------------

    async def campaigns_with_email(
        self, email: str, sort_column: SortColumn, sort_order: SortOrder
    ) -> Sequence[Record]:
        c = LEADS.c
        holding = self._scoped(select(c.campaign_id)).where(c.email == email, c.campaign_id.is_not(None))
        column = CAMPAIGNS.c[sort_column]
        order = (column.asc(), CAMPAIGNS.c.id.asc()) if sort_order == "asc" else (column.desc(), CAMPAIGNS.c.id.desc())
        statement = self._scoped(select(CAMPAIGNS), CAMPAIGNS).where(CAMPAIGNS.c.id.in_(holding)).order_by(*order)
        return await self.all(statement)


_COUNTED = {
    "reply": ("email_reply_count", "timestamp_last_reply"),
    "email-open": ("email_open_count", "timestamp_last_open"),
    "link-click": ("email_click_count", "timestamp_last_click"),
    "last-contacted": (None, "timestamp_last_contact"),
    "lead-status-change": (None, "timestamp_last_interest_change"),
}


def activity_condition(query: ActivityCondition, now: datetime) -> ColumnElement[bool]:
    """One smart-view condition on the lead's counters and last-event timestamps (see the module doc)."""
    c = LEADS.c
    values = query.values
    cutoff = None if values.occurrence_days is None else now - timedelta(days=values.occurrence_days)
    status_condition: ColumnElement[bool] | None = None
    if values.lead_status is not None:
        wanted = values.lead_status.status
        status_condition = (
            c.lt_interest_status == wanted
            if values.lead_status.condition == "is"
            else c.lt_interest_status.is_distinct_from(wanted)
        )
    if query.actionType == "lead-status":
        assert status_condition is not None  # the schema requires `lead-status` for this action
        if cutoff is None:
            return status_condition
        return and_(status_condition, c.timestamp_last_interest_change >= cutoff)

    counter_name, stamp_name = _COUNTED[query.actionType]
    stamp = c[stamp_name]
    total: ColumnElement[Any] = c[counter_name] if counter_name else case((stamp.is_not(None), 1), else_=0)
    conditions: list[ColumnElement[bool]] = []
    if query.actionType == "lead-status-change" and status_condition is not None:
        conditions.append(status_condition)
    if values.occurrence_count is not None:
        counted = total if cutoff is None else case((stamp >= cutoff, total), else_=0)
        count = values.occurrence_count.count
        compare = {
            "more": counted > count,
            "less": counted < count,
            "equal": counted == count,
        }
        conditions.append(compare[values.occurrence_count.condition])
    elif cutoff is not None:
        conditions.append(stamp >= cutoff)
    else:
        conditions.append(total > 0)
    return and_(*conditions)


class LeadSearchService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.leads = LeadSearchRepository(session, organization_id)

    async def require_names(
        self,
        *,
        campaign_ids: Sequence[uuid.UUID | None] = (),
        list_ids: Sequence[uuid.UUID | None] = (),
        smart_view_id: uuid.UUID | None = None,
    ) -> None:
        """Every named campaign and list is this workspace's: else 404, like a missing one."""
        if smart_view_id is not None:
            raise NotFound("Smart view not found: Coldsend has no smart views")
        for campaign_id in campaign_ids:
            if campaign_id is not None and not await self.leads.has_campaign(campaign_id):
                raise NotFound("Campaign not found")
        for list_id in list_ids:
            if list_id is not None and not await self.leads.has_list(list_id):
                raise NotFound("Lead list not found")

    async def list_page(self, body: ListLeadsBody) -> Sequence[Record]:
        """One page of leads (or contacts). A named campaign or list is checked only when the page is
        empty: a lead row of the workspace pointing at it already proves it is the workspace's."""
        if body.smart_view_id is not None:
            await self.require_names(smart_view_id=body.smart_view_id)
        where = self.leads.conditions(body, utcnow())
        cursor = body.starting_after or None
        if body.distinct_contacts:
            rows = await self.leads.contact_page(where, cursor, body.limit)
        else:
            after = None
            if cursor is not None:
                after = parse_uuid(cursor)
                if after is None:
                    raise BadRequest(
                        "body/starting_after must be the id of the last lead of the previous page "
                        "(with distinct_contacts: its email)"
                    )
            rows = await self.leads.id_page(where, after, body.limit)
        if not rows:
            await self.require_names(campaign_ids=[body.campaign], list_ids=[body.list_id])
        return rows

    async def campaigns_of_contact(
        self, search: str | None, sort_column: SortColumn, sort_order: SortOrder
    ) -> Sequence[Record]:
        email = normalize_email(search or "")
        if not email:
            raise BadRequest("querystring/search must be the lead's email address")
        return await self.leads.campaigns_with_email(email, sort_column, sort_order)
