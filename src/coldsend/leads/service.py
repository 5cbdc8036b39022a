"""The rules of leads (import hygiene itself is described in `leads.imports`).

Decisions where the reference is silent:
- `POST /leads` (single) runs the import rules on one lead. A malformed address, a lead without an
  email in a campaign, a lead with neither email nor name, and a blocked address are 400s. When the
  address is already in the target campaign or list, or a `skip_if_in_*` flag matches, nothing is
  created and the existing lead is returned (the one in the target, else the oldest that matched the
  flag): creating is idempotent per address and container. `campaign` and `list_id` together are a 400.
- `POST /leads/add`: `campaign_id` / `list_id` naming nothing of the workspace is a 404 (checked
  before "exactly one of them", so a body naming two unknown containers is a 404 too). Leads without
  their own `assigned_to` get the body's, else the campaign's owner. `remaining_in_plan` is null.
- `lt_interest_status` / `interest_value`: a built-in value, or the `interest_status` of one of the
  workspace's lead labels; anything else is a 400. `timestamp_last_interest_change` moves whenever the
  value really changes (create with a value, patch, update-interest-status).
- PATCH sets the fields sent (null clears them) and merges `custom_variables` into `payload` (names
  sent replace their old value, others stay). A body with nothing to change returns the lead as is.
  Custom variables of a campaign lead (create, add, patch) add their names to the campaign's
  `custom_variables` (value "" = no default), as the reference says the campaign learns them.
- DELETE /leads (bulk): exactly one of `campaign_id` / `list_id` (400 otherwise, 404 when it is not the
  workspace's); `ids` outside that container are not deleted; with `limit`, the oldest leads go first.
- Merge (`lead_id` into `destination_lead_id`): the destination keeps its address, container, status
  and sequence progress; each of its empty fields (names, company, phone, website, personalization,
  value, owner, interest status, company domain) takes the merged lead's value; payloads are merged
  (the destination's variables win); open/reply/click counts are added up; the last-contact, open,
  reply, click, touch and interest-change times are the later of the two. The merged lead is deleted
  and the destination returned. A lead merged into itself is a 400.
- update-interest-status acts at once (the 202 and its message are kept for compatibility): every lead
  of the workspace with the address, or only the one in `campaign_id` and/or `list_id` when given.
  No such lead: 404. A malformed address or an unknown interest value: 400 with the reference's
  `{"error": ...}` body (plus the envelope's `statusCode` and `message`). `ai_interest_value` and
  `disable_auto_interest` are accepted and ignored (no AI labelling here).
- bulk-assign validates at once (containers must exist: 404; `smart_view_id`: 404, no smart views
  exist), then shares the selected leads out to `organization_user_ids` in turn (lead order by id) in an
  internal task, in batches of 1,000. The selection (search, filter, containers, ids, queries, current
  owner `assigned_to`) is the one of `POST /leads/list`. Users are not checked against a member list
  (workspace members do not exist yet). `has_clause` is accepted and ignored (a web-app setting).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from coldsend.block_list.repository import BlockListRepository
from coldsend.campaigns.repository import CampaignRepository
from coldsend.kit.clock import utcnow
from coldsend.kit.errors import BadRequest, NotFound
from coldsend.kit.ids import parse_uuid
from coldsend.kit.jobs import enqueue_task, task_handler
from coldsend.kit.repository import Executor, Record
from coldsend.lead_labels.repository import LeadLabelRepository
from coldsend.leads.imports import (
    Candidate,
    Counters,
    ImportResult,
    InsertColumns,
    Target,
    normalize_email,
    queue_verification,
    screen,
    verification_status_for,
)
from coldsend.leads.listing import LeadSearchRepository
from coldsend.leads.listing_schemas import LeadSelection
from coldsend.leads.repository import LEADS, LeadRepository
from coldsend.leads.schemas import (
    BUILT_IN_INTEREST,
    BulkAdd,
    BulkAssign,
    BulkDelete,
    LeadCreate,
    LeadUpdate,
    MergeLeads,
    UpdateInterestStatus,
)

logger = logging.getLogger("coldsend.leads")

ASSIGN_TASK = "leads.bulk-assign"
ASSIGN_BATCH = 1000
LEAD_NOT_FOUND = "Lead not found"

# Columns PATCH may set (the reference's patch body, without custom_variables).
PATCHABLE = (
    "personalization",
    "website",
    "last_name",
    "first_name",
    "company_name",
    "job_title",
    "phone",
    "lt_interest_status",
    "pl_value_lead",
    "assigned_to",
)
# Fields a merge fills in on the destination when it has none.
MERGE_FILL = (
    "first_name",
    "last_name",
    "company_name",
    "job_title",
    "phone",
    "website",
    "personalization",
    "pl_value_lead",
    "assigned_to",
    "lt_interest_status",
)
MERGE_SUM = ("email_open_count", "email_reply_count", "email_click_count")
MERGE_LATEST = (
    "timestamp_last_contact",
    "timestamp_last_open",
    "timestamp_last_reply",
    "timestamp_last_click",
    "timestamp_last_touch",
    "timestamp_last_interest_change",
)


class InterestStatusError(BadRequest):
    """A 400 of update-interest-status, whose reference body is `{"error": "..."}`."""


class LeadService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.leads = LeadRepository(session, organization_id)

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, lead_id: str) -> Record:
        parsed = parse_uuid(lead_id)
        row = await self.leads.get(parsed) if parsed else None
        if row is None:
            raise NotFound(LEAD_NOT_FOUND)
        return row

    # -- import -----------------------------------------------------------------------------------

    async def _target(self, campaign_id: uuid.UUID | None, list_id: uuid.UUID | None) -> Target:
        """The campaign and/or list named, each checked to be the workspace's (404 otherwise)."""
        target = Target()
        if campaign_id is not None:
            campaign = await self.leads.campaign(campaign_id)
            if campaign is None:
                raise NotFound("Campaign not found")
            target.campaign_id, target.owner = campaign.id, campaign.owned_by
            target.campaign_variables = campaign.custom_variables or {}
        if list_id is not None:
            found = await self.leads.lead_list(list_id)
            if found is None:
                raise NotFound("Lead list not found")
            target.list_id = found.id
        return target

    async def _check_interest(self, values: set[int], where: str) -> None:
        if not values:
            return
        known = await LeadLabelRepository(self.session, self.organization_id).existing_interest_statuses(sorted(values))
        unknown = sorted(values - set(known))
        if unknown:
            raise BadRequest(
                f"{where} must be a built-in interest status or the interest_status of a lead label of this "
                f"workspace; unknown: {', '.join(map(str, unknown))}"
            )

    async def _import(
        self,
        leads: Sequence[dict[str, Any]],
        target: Target,
        *,
        skip_if_in_workspace: bool,
        skip_if_in_campaign: bool,
        skip_if_in_list: bool,
        verify: bool,
        assigned_to: uuid.UUID | None,
        where: str,
        check_text: bool = True,
    ) -> ImportResult:
        screened = screen(leads, in_campaign=target.in_campaign, check_text=check_text)
        counters: Counters = screened.counters
        await self._check_interest(screened.custom_interest, where)
        candidates = screened.candidates
        emails = [c.email for c in candidates if c.email is not None]

        blocked: set[str] = set()
        if emails:
            blocked = await BlockListRepository(self.session, self.organization_id).blocked_among(emails)
        skip_flags = skip_if_in_workspace or skip_if_in_campaign or skip_if_in_list
        presence = {}
        if skip_flags and emails:
            await self.leads.lock_imports()
            wanted = [e for e in emails if e not in blocked]
            presence = await self.leads.presence(wanted, campaign_id=target.campaign_id, list_id=target.list_id)

        owner = assigned_to if assigned_to is not None else target.owner
        kept: list[Candidate] = []
        for candidate in candidates:
            email = candidate.email
            if email is not None:
                if email in blocked:
                    counters.in_blocklist += 1
                    continue
                found = presence.get(email)
                if found is not None:
                    if found.in_target:
                        counters.duplicated_leads += 1
                        continue
                    if (
                        skip_if_in_workspace
                        or (skip_if_in_campaign and found.in_campaign)
                        or (skip_if_in_list and found.in_list)
                    ):
                        counters.skipped_count += 1
                        continue
            kept.append(candidate)
        columns = InsertColumns.of(kept, owner)

        now = utcnow()
        inserted = await self.leads.insert_batch(
            columns,
            campaign_id=target.campaign_id,
            list_id=target.list_id,
            now=now,
            verification_status=verification_status_for(verify),
        )
        created = [
            (c.index, lead_id, c.lead, c.email)
            for c, lead_id in zip(kept, columns.ids, strict=True)
            if lead_id in inserted
        ]
        counters.duplicated_leads += len(kept) - len(created)  # added meanwhile by a concurrent import

        if created and target.campaign_id is not None and screened.variable_names:
            await self._teach_campaign(target, list(screened.variable_names), now)
        if verify and created:
            assert isinstance(self.session, AsyncSession)
            to_verify = [lead_id for _, lead_id, _, email in created if email is not None]
            await queue_verification(self.session, self.organization_id, to_verify)
        return ImportResult(counters, created, str(self.organization_id), now)

    async def _teach_campaign(self, target: Target, names: list[str], now: datetime) -> None:
        """Add variable names the campaign does not know yet (one UPDATE, only when there are some)."""
        known = target.campaign_variables or {}
        new = [n for n in names if n not in known]
        if new and target.campaign_id is not None:
            campaigns = CampaignRepository(self.session, self.organization_id)
            await campaigns.add_custom_variables(target.campaign_id, dict.fromkeys(new, ""), now)
            target.campaign_variables = {**known, **dict.fromkeys(new, "")}

    async def bulk_add(self, body: BulkAdd, *, check_text: bool = True) -> dict[str, Any]:
        """`check_text=False` when the caller knows no lead field can hold a NUL character or a lone
        surrogate (see `imports.screen`)."""
        target = await self._target(body.campaign_id, body.list_id)
        if (body.campaign_id is None) == (body.list_id is None):
            raise BadRequest("body must have exactly one of the properties 'campaign_id' and 'list_id'")
        result = await self._import(
            body.leads,  # type: ignore[arg-type]  # TypedDicts are plain dicts
            target,
            skip_if_in_workspace=bool(body.skip_if_in_workspace),
            skip_if_in_campaign=bool(body.skip_if_in_campaign),
            skip_if_in_list=bool(body.skip_if_in_list),
            verify=bool(body.verify_leads_on_import),
            assigned_to=body.assigned_to,
            where="body/leads/*/lt_interest_status",
            check_text=check_text,
        )
        counters = result.counters
        return {
            "status": "success",
            "total_sent": counters.total_sent,
            "leads_uploaded": len(result.created),
            "in_blocklist": counters.in_blocklist,
            "blocklist_used": result.blocklist_used,
            "duplicated_leads": counters.duplicated_leads,
            "skipped_count": counters.skipped_count,
            "invalid_email_count": counters.invalid_email_count,
            "incomplete_count": counters.incomplete_count,
            "duplicate_email_count": counters.duplicate_email_count,
            "remaining_in_plan": None,
            "created_leads": [
                {
                    "index": index,
                    "id": str(lead_id),
                    "email": email,
                    "first_name": lead.get("first_name"),
                    "last_name": lead.get("last_name"),
                    "phone": lead.get("phone"),
                }
                for index, lead_id, lead, email in result.created
            ],
        }

    async def create(self, body: LeadCreate) -> Record:
        target = await self._target(body.campaign, body.list_id)
        if target.campaign_id is not None and target.list_id is not None:
            raise BadRequest("body must have at most one of the properties 'campaign' and 'list_id'")
        fields = body.model_fields_set
        lead: dict[str, Any] = {
            name: getattr(body, name)
            for name in (*PATCHABLE, "email", "custom_variables")
            if name in fields and getattr(body, name) is not None
        }
        if lead.get("email") is not None and not lead["email"].strip():
            del lead["email"]
        result = await self._import(
            [lead],
            target,
            skip_if_in_workspace=bool(body.skip_if_in_workspace),
            skip_if_in_campaign=bool(body.skip_if_in_campaign),
            skip_if_in_list=bool(body.skip_if_in_list),
            verify=bool(body.verify_leads_on_import),
            assigned_to=None,
            where="body/lt_interest_status",
        )
        counters = result.counters
        if result.created:
            row = await self.leads.get(result.created[0][1])
            assert row is not None
            return row
        if counters.invalid_email_count:
            if "email" in lead:
                raise BadRequest("body/email must be a valid email address")
            raise BadRequest("body must have required property 'email' (a lead in a campaign needs one)")
        if counters.incomplete_count:
            raise BadRequest("body must have at least one of the properties 'email', 'first_name', 'last_name'")
        if counters.in_blocklist:
            raise BadRequest("body/email is on the workspace's block list")
        email = normalize_email(lead["email"])
        assert email is not None
        existing = await self.leads.in_target(email, campaign_id=target.campaign_id, list_id=target.list_id)
        if existing is None and counters.skipped_count:
            c = LEADS.c
            flag = None
            if not body.skip_if_in_workspace:
                conditions = []
                if body.skip_if_in_campaign:
                    conditions.append(c.campaign_id.is_not(None))
                if body.skip_if_in_list:
                    conditions.append(c.list_id.is_not(None))
                flag = or_(*conditions)
            existing = await self.leads.first_elsewhere(email, where=flag)
        if existing is None:  # deleted between our checks and now: nothing sensible to return
            raise NotFound(LEAD_NOT_FOUND)
        return existing

    # -- one lead ---------------------------------------------------------------------------------

    async def update(self, lead_id: str, body: LeadUpdate) -> Record:
        current = await self.get(lead_id)
        fields = body.model_fields_set
        values = {name: getattr(body, name) for name in PATCHABLE if name in fields}
        interest = values.get("lt_interest_status")
        if interest is not None and interest not in BUILT_IN_INTEREST:
            await self._check_interest({interest}, "body/lt_interest_status")
        variables = body.custom_variables if "custom_variables" in fields else None
        if not values and not variables:
            return current
        now = utcnow()
        row = await self.leads.patch(current.id, values, variables, now)
        if row is None:  # deleted concurrently
            raise NotFound(LEAD_NOT_FOUND)
        if variables and row.campaign_id is not None:
            target = await self._target(row.campaign_id, None)
            await self._teach_campaign(target, list(variables), now)
        return row

    async def delete(self, lead_id: str) -> Record:
        current = await self.get(lead_id)
        row = await self.leads.delete(current.id)
        if row is None:
            raise NotFound(LEAD_NOT_FOUND)
        return row

    async def merge(self, body: MergeLeads) -> Record:
        if body.lead_id == body.destination_lead_id:
            raise BadRequest("body/lead_id must differ from destination_lead_id: a lead cannot merge into itself")
        # lock both in id order: two merges of the same pair never deadlock
        locked = {}
        for lead_id in sorted((body.lead_id, body.destination_lead_id)):
            locked[lead_id] = await self.leads.get_for_update(lead_id)
        source, destination = locked[body.lead_id], locked[body.destination_lead_id]
        if source is None:
            raise NotFound("Lead not found (lead_id)")
        if destination is None:
            raise NotFound("Lead not found (destination_lead_id)")
        values: dict[str, Any] = {}
        for name in MERGE_FILL:
            if getattr(destination, name) is None and getattr(source, name) is not None:
                values[name] = getattr(source, name)
        if not destination.company_domain and source.company_domain:
            values["company_domain"] = source.company_domain
        for name in MERGE_SUM:
            values[name] = getattr(destination, name) + getattr(source, name)
        for name in MERGE_LATEST:
            times = [t for t in (getattr(destination, name), getattr(source, name)) if t is not None]
            if times:
                values[name] = max(times)
        if source.payload or destination.payload:
            values["payload"] = {**(source.payload or {}), **(destination.payload or {})}
        values["timestamp_updated"] = utcnow()
        await self.leads.delete(source.id)
        row = await self.leads.replace(destination.id, values)
        assert row is not None
        return row

    # -- many leads -------------------------------------------------------------------------------

    async def bulk_delete(self, body: BulkDelete | None) -> int:
        if body is None:
            body = BulkDelete()
        target = await self._target(body.campaign_id, body.list_id)
        if (target.campaign_id is None) == (target.list_id is None):
            raise BadRequest("body must have exactly one of the properties 'campaign_id' and 'list_id'")
        return await self.leads.bulk_delete(
            campaign_id=target.campaign_id,
            list_id=target.list_id,
            status=None if body.status is None else int(body.status),
            ids=body.ids,
            limit=body.limit,
        )

    async def update_interest(self, body: UpdateInterestStatus) -> None:
        email = normalize_email(body.lead_email)
        if email is None:
            raise InterestStatusError("Invalid lead email")
        campaign_id = list_id = None
        if body.campaign_id is not None:
            campaign_id = parse_uuid(body.campaign_id)
            if campaign_id is None:
                raise NotFound("Campaign not found")
        if body.list_id is not None:
            list_id = parse_uuid(body.list_id)
            if list_id is None:
                raise NotFound("Lead list not found")
        await self._target(campaign_id, list_id)
        value = body.interest_value
        if value is not None and value not in BUILT_IN_INTEREST:
            known = await LeadLabelRepository(self.session, self.organization_id).existing_interest_statuses([value])
            if value not in known:
                raise InterestStatusError(
                    f"Invalid interest value: {value} is neither a built-in interest status nor the "
                    "interest_status of a lead label of this workspace"
                )
        changed = await self.leads.set_interest(email, value, utcnow(), campaign_id=campaign_id, list_id=list_id)
        if not changed:
            raise NotFound(LEAD_NOT_FOUND)

    async def bulk_assign(self, body: BulkAssign) -> None:
        if body.smart_view_id is not None:
            raise NotFound("Smart view not found")
        if body.queries:
            raise BadRequest("body/queries: activity conditions are not supported for bulk assignment yet")
        await self._target(body.campaign, body.list_id)
        assert isinstance(self.session, AsyncSession)
        await enqueue_task(
            self.session,
            ASSIGN_TASK,
            {"organization_id": str(self.organization_id), "body": body.model_dump(mode="json", by_alias=True)},
        )


async def assign_selected(maker: async_sessionmaker[AsyncSession], organization_id: uuid.UUID, body: BulkAssign) -> int:
    """Share the selected leads out to the users in turn (by lead id), 1,000 per transaction; a keyset
    walk, so a re-run after a crash continues the same order. Returns how many leads were assigned."""
    owners = body.organization_user_ids
    cap = body.limit or None
    # the selection is the one of POST /leads/list; `assigned_to` there is its organization_user_ids filter
    selection = LeadSelection.model_validate(
        {
            **body.model_dump(
                include={"search", "filter", "campaign", "list_id", "in_campaign", "in_list", "ids", "queries"},
                exclude_none=True,
                by_alias=True,
            ),
            "organization_user_ids": None if body.assigned_to is None else [body.assigned_to],
        }
    )
    now = utcnow()
    done = 0
    after: uuid.UUID | None = None
    while cap is None or done < cap:
        size = ASSIGN_BATCH if cap is None else min(ASSIGN_BATCH, cap - done)
        async with maker() as session, session.begin():
            repo = LeadRepository(session, organization_id)
            where = LeadSearchRepository(session, organization_id).conditions(selection, now)
            ids = await repo.selected_ids(where, after, size)
            if not ids:
                break
            turn = [owners[(done + i) % len(owners)] for i in range(len(ids))]
            await repo.assign(ids, turn, now)
        done += len(ids)
        after = ids[-1]
    return done


@task_handler(ASSIGN_TASK)
async def run_bulk_assign(payload: dict[str, Any], maker: async_sessionmaker[AsyncSession]) -> None:
    try:
        organization_id = uuid.UUID(str(payload["organization_id"]))
        body = BulkAssign.model_validate(payload["body"])
    except (KeyError, ValueError) as exc:
        logger.error("bulk assign with a malformed payload %r: %s", payload, exc)
        return
    count = await assign_selected(maker, organization_id, body)
    logger.info("bulk assign of workspace %s gave %d leads new owners", organization_id, count)
