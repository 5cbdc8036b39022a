"""The rules of campaigns.

Decisions where the reference is silent:
- Create always makes a Draft (status 0); only `activate` starts sending.
- `email_list` must name sending accounts of the caller's workspace and `email_tag_list` custom tags of
  it; anything else is a 400 naming the field and the values (it is invalid input, not a missing route).
  Emails are stored lower-cased and de-duplicated. Lists sent in PATCH replace the stored ones.
- Activate needs a step (`sequences[0].steps`), a schedule, and a sending account (an existing account
  of `email_list`, or one carrying a tag of `email_tag_list`); else 400 naming everything missing. The
  first activation sets `timestamp_launched`. Activating an active campaign changes nothing. A Completed
  campaign may be activated again (e.g. after leads were added): it becomes Active, and the engine marks
  it Completed again when nothing is left to send.
- Pause: Active (or a system state: running subsequences, unhealthy, bounce protect, suspended) -> Paused;
  pausing a paused campaign changes nothing; a Draft (never launched) or a Completed campaign is a 400.
- Duplicate copies everything (tags too) into a new Draft named "<name> (copy)" unless a name is given.
- Share makes the campaign importable for 7 days by ANY workspace of this server that knows its id
  (`POST /campaigns/{id}/from-export`); sharing again extends the 7 days. From-export answers 404 when no
  campaign of this server has the id, 403 when it has one that is not (or no longer) shared, and otherwise
  copies the content into a new Draft of the caller's workspace, without what belongs to the source
  workspace (sender emails, sender tags, cc/bcc addresses, owner and AI agent ids, tags).
- count-launched counts the workspace's existing campaigns that were ever activated.
- `POST /campaigns/{id}/variables` merges the names into `custom_variables` as name -> "" (the default
  value used when a lead has none); names already present keep their value.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from coldsend.accounts.repository import AccountRepository
from coldsend.campaigns.repository import CampaignRepository, find_campaign_on_server
from coldsend.campaigns.schemas import (
    AddVariables,
    CampaignCreate,
    CampaignSettings,
    CampaignStatus,
    CampaignUpdate,
    DuplicateBody,
)
from coldsend.custom_tags.repository import CustomTagRepository
from coldsend.kit.clock import isoformat, utcnow
from coldsend.kit.errors import BadRequest, Forbidden, NotFound
from coldsend.kit.ids import new_id, parse_uuid
from coldsend.kit.pagination import split_csv
from coldsend.kit.repository import Executor, Record

SHARE_DURATION = timedelta(days=7)
NOT_FOUND = "Campaign not found"

# Settings copied by duplicate and from-export.
CONTENT_FIELDS = (
    "pl_value",
    "is_evergreen",
    "campaign_schedule",
    "sequences",
    "email_gap",
    "random_wait_max",
    "text_only",
    "first_email_text_only",
    "daily_limit",
    "stop_on_reply",
    "link_tracking",
    "open_tracking",
    "stop_on_auto_reply",
    "daily_max_leads",
    "prioritize_new_leads",
    "auto_variant_select",
    "match_lead_esp",
    "stop_for_company",
    "core_variables",
    "custom_variables",
    "insert_unsubscribe_header",
    "allow_risky_contacts",
    "disable_bounce_protect",
    "limit_emails_per_company_override",
    "provider_routing_rules",
)
# Settings that name things of the workspace: copied by duplicate, never across workspaces.
WORKSPACE_FIELDS = ("email_list", "email_tag_list", "cc_list", "bcc_list", "owned_by", "ai_sdr_id")

# Diagnostics status per campaign status, for campaigns that are not simply Active.
STATE_DIAGNOSTICS: dict[int, tuple[str, str]] = {
    CampaignStatus.DRAFT: ("campaign_draft", "The campaign is a draft: activate it to start sending."),
    CampaignStatus.PAUSED: ("campaign_paused", "The campaign is paused: activate it to resume sending."),
    CampaignStatus.COMPLETED: ("campaign_completed", "The campaign is completed: every lead went through it."),
    CampaignStatus.RUNNING_SUBSEQUENCES: (
        "campaign_running_subsequences",
        "The main sequence is done; only subsequences are sending.",
    ),
    CampaignStatus.BOUNCE_PROTECT: ("campaign_bounce_protect", "Sending is stopped by bounce protection."),
    CampaignStatus.ACCOUNTS_UNHEALTHY: (
        "campaign_accounts_unhealthy",
        "Sending is stopped because the sending accounts are unhealthy.",
    ),
    CampaignStatus.ACCOUNT_SUSPENDED: ("campaign_account_suspended", "Sending is stopped: the workspace is suspended."),
}
# Draft and paused campaigns answer with diagnostics null and the reason in the summary only.
SUMMARY_ONLY = (CampaignStatus.DRAFT, CampaignStatus.PAUSED)


class CampaignService:
    def __init__(self, session: Executor, organization_id: uuid.UUID) -> None:
        self.session = session
        self.organization_id = organization_id
        self.campaigns = CampaignRepository(session, organization_id)

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, campaign_id: str) -> Record:
        parsed = parse_uuid(campaign_id)
        row = await self.campaigns.get(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def get_for_response(self, campaign_id: str) -> Mapping[str, Any]:
        """Like `get`, through the driver-level fast path (the GET endpoint's hot path)."""
        parsed = parse_uuid(campaign_id)
        row = await self.campaigns.get_fast(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def _locked(self, campaign_id: str) -> Record:
        parsed = parse_uuid(campaign_id)
        row = await self.campaigns.get_for_update(parsed) if parsed else None
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def list_page(
        self,
        after: uuid.UUID | None,
        limit: int,
        *,
        search: str | None,
        tag_ids: str | None,
        ai_sdr_id: uuid.UUID | None,
        status: int | None,
        exclude_status: int | None,
    ) -> Sequence[Record]:
        if search and "\x00" in search:
            raise BadRequest("querystring/search must not contain the NUL character (\\u0000)")
        wanted_tags = None
        if tag_ids is not None and split_csv(tag_ids):
            wanted_tags = []
            for value in split_csv(tag_ids):
                parsed = parse_uuid(value)
                if parsed is None:
                    raise BadRequest(
                        f"querystring/tag_ids must be a comma-separated list of UUIDs; '{value}' is not one"
                    )
                wanted_tags.append(parsed)
        return await self.campaigns.search_page(
            after,
            limit,
            search=search or None,
            tag_ids=wanted_tags,
            ai_sdr_id=ai_sdr_id,
            status=status,
            exclude_status=exclude_status,
        )

    async def count_launched(self) -> int:
        return await self.campaigns.count_launched()

    # -- writes -----------------------------------------------------------------------------------

    async def create(self, body: CampaignCreate) -> Record:
        reject_nul(body)
        values = _setting_values(body, body.model_fields_set)
        await self._check_references(values)
        now = utcnow()
        values.update(
            id=new_id(),
            name=body.name,
            campaign_schedule=_dump(body.campaign_schedule),
            ai_sdr_id=body.ai_sdr_id,
            status=int(CampaignStatus.DRAFT),
            timestamp_created=now,
            timestamp_updated=now,
        )
        values.setdefault("open_tracking", False)
        return await self.campaigns.insert(**values)

    async def update(self, campaign_id: str, body: CampaignUpdate) -> Record:
        current = await self._locked(campaign_id)
        reject_nul(body)
        fields = body.model_fields_set
        values = _setting_values(body, fields)
        if "name" in fields and body.name is not None:
            values["name"] = body.name
        if "campaign_schedule" in fields and body.campaign_schedule is not None:
            values["campaign_schedule"] = _dump(body.campaign_schedule)
        if not values:
            return current
        await self._check_references(values)
        values["timestamp_updated"] = utcnow()
        row = await self.campaigns.update(current.id, **values)
        if row is None:  # pragma: no cover - the row is locked
            raise NotFound(NOT_FOUND)
        return row

    async def delete(self, campaign_id: str) -> Record:
        current = await self.get(campaign_id)
        row = await self.campaigns.delete_with_tags(current.id)
        if row is None:
            raise NotFound(NOT_FOUND)
        return row

    async def activate(self, campaign_id: str) -> Record:
        current = await self._locked(campaign_id)
        if current.status == CampaignStatus.ACTIVE:
            return current
        missing = []
        if not first_sequence_steps(current.sequences):
            missing.append("a sequence step (sequences[0].steps is empty)")
        if not (current.campaign_schedule or {}).get("schedules"):
            missing.append("a schedule (campaign_schedule.schedules is empty)")
        if not await self.campaigns.has_sender(current.email_list, current.email_tag_list):
            missing.append(
                "a sending account (email_list names no account of this workspace, and no account "
                "carries a tag of email_tag_list)"
            )
        if missing:
            raise BadRequest(f"The campaign cannot be activated: it needs {'; and '.join(missing)}")
        now = utcnow()
        row = await self.campaigns.update(
            current.id,
            status=int(CampaignStatus.ACTIVE),
            timestamp_launched=current.timestamp_launched or now,
            not_sending_status=None,
            timestamp_updated=now,
        )
        assert row is not None
        return row

    async def pause(self, campaign_id: str) -> Record:
        current = await self._locked(campaign_id)
        if current.status == CampaignStatus.PAUSED:
            return current
        if current.status == CampaignStatus.DRAFT:
            raise BadRequest("The campaign is a draft: it was never activated, so there is nothing to pause")
        if current.status == CampaignStatus.COMPLETED:
            raise BadRequest("The campaign is completed: there is nothing to pause")
        row = await self.campaigns.update(
            current.id, status=int(CampaignStatus.PAUSED), not_sending_status=None, timestamp_updated=utcnow()
        )
        assert row is not None
        return row

    async def duplicate(self, campaign_id: str, body: DuplicateBody | None) -> Record:
        source = await self.get(campaign_id)
        if body is not None:
            reject_nul(body)
        name = body.name if body is not None and body.name else f"{source.name} (copy)"
        values = {f: getattr(source, f) for f in (*CONTENT_FIELDS, *WORKSPACE_FIELDS)}
        row = await self._insert_copy(name, values)
        await self.campaigns.copy_tags(source.id, row.id)
        return row

    async def share(self, campaign_id: str) -> Record:
        current = await self.get(campaign_id)
        now = utcnow()
        row = await self.campaigns.update(current.id, shared_until=now + SHARE_DURATION)
        assert row is not None
        return row

    async def create_from_export(self, campaign_id: str) -> Record:
        parsed = parse_uuid(campaign_id)
        source = await find_campaign_on_server(self.session, parsed) if parsed else None
        if source is None:
            raise NotFound(NOT_FOUND)
        if source.shared_until is None or source.shared_until <= utcnow():
            raise Forbidden(
                "The requested campaign is not shared (or its 7-day share expired): "
                "its owner must call POST /api/v2/campaigns/{id}/share first"
            )
        values = {f: getattr(source, f) for f in CONTENT_FIELDS}
        return await self._insert_copy(source.name, values)

    async def add_variables(self, campaign_id: str, body: AddVariables | None) -> Record:
        current = await self._locked(campaign_id)
        if body is None:
            raise BadRequest("body must have required property 'variables'")
        reject_nul(body)
        names = list(dict.fromkeys(body.variables))
        if not names:
            return current
        row = await self.campaigns.add_custom_variables(current.id, dict.fromkeys(names, ""), utcnow())
        assert row is not None
        return row

    # -- sending status ---------------------------------------------------------------------------

    async def sending_status(self, campaign_id: str, now: datetime | None = None) -> dict[str, Any]:
        """Why the campaign is (not) sending, from its status, its schedule at `now` and its senders."""
        row = await self.get(campaign_id)
        now = now or utcnow()
        stamp = isoformat(now)
        if row.status != CampaignStatus.ACTIVE:
            code, message = STATE_DIAGNOSTICS.get(row.status, ("campaign_paused", "The campaign is not active."))
            diagnostics = None if row.status in SUMMARY_ONLY else _diagnostics(row.id, stamp, code)
            return {"diagnostics": diagnostics, "summary": _summary(code, message)}

        from coldsend.sending.status import diagnose  # the engine's view (imports the engine)

        diagnostics, summary = await diagnose(self.session, row, now)
        return {"diagnostics": diagnostics, "summary": summary}

    # -- helpers ----------------------------------------------------------------------------------

    async def _insert_copy(self, name: str, values: dict[str, Any]) -> Record:
        now = utcnow()
        values.update(
            id=new_id(),
            name=name,
            status=int(CampaignStatus.DRAFT),
            timestamp_created=now,
            timestamp_updated=now,
            timestamp_launched=None,
            shared_until=None,
            not_sending_status=None,
        )
        return await self.campaigns.insert(**values)

    async def _check_references(self, values: dict[str, Any]) -> None:
        """Senders and sender tags must be of this workspace (another workspace's count as unknown)."""
        emails = values.get("email_list") or []
        if emails:
            known = await AccountRepository(self.session, self.organization_id).ids_by_email(emails)
            missing = [e for e in emails if e not in known]
            if missing:
                raise BadRequest(f"body/email_list: no sending account {', '.join(missing)} in this workspace")
        tag_ids = values.get("email_tag_list") or []
        if tag_ids:
            known_tags = await CustomTagRepository(self.session, self.organization_id).existing_ids(tag_ids)
            missing_tags = [str(t) for t in tag_ids if t not in known_tags]
            if missing_tags:
                raise BadRequest(f"body/email_tag_list: no custom tag {', '.join(missing_tags)} in this workspace")


def first_sequence_steps(sequences: Any) -> list[Any]:
    """The steps that are sent: those of `sequences[0]` (the others are stored, not used)."""
    if not sequences or not isinstance(sequences[0], dict):
        return []
    return list(sequences[0].get("steps") or [])


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _setting_values(body: CampaignSettings, fields: set[str]) -> dict[str, Any]:
    """Column values for the settings present in the body, nested objects in their stored shape."""
    values: dict[str, Any] = {}
    for name in fields & set(CampaignSettings.model_fields):
        value = getattr(body, name)
        if name in ("sequences", "provider_routing_rules"):
            value = [_dump(item) for item in value]
        elif isinstance(value, BaseModel):
            value = _dump(value)
        values[name] = value
    return values


def _diagnostics(campaign_id: uuid.UUID, stamp: str | None, code: str) -> dict[str, Any]:
    return {
        "campaign_id": str(campaign_id),
        "last_updated": stamp,
        "status": code,
        "issue_tracking": {
            "current_status_code": None if code == "healthy" else code,
            "issue_first_seen_at": None,
            "consecutive_loops_with_issue": 0,
            "last_healthy_send_at": None,
        },
    }


def _summary(code: str, message: str) -> dict[str, Any]:
    return {
        "status": code,
        "status_message": message,
        "issue_started_at": None,
        "last_healthy_send_at": None,
        "ai_summary": None,
    }


def reject_nul(body: BaseModel) -> None:
    """PostgreSQL stores no NUL character (in text or JSONB): refuse it with the field's path."""
    where = _nul_path(body.model_dump(mode="json", by_alias=True), "body")
    if where is not None:
        raise BadRequest(f"{where} must not contain the NUL character (\\u0000)")


def _nul_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in str(key):
                return f"{path}/{key!r}"
            found = _nul_path(item, f"{path}/{key}")
            if found:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _nul_path(item, f"{path}/{i}")
            if found:
                return found
    return None
