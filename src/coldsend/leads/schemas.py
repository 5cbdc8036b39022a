"""Lead and the bodies of the lead operations, field for field as the reference defines them.

Request models validate (a 400 naming the field); response models only document the wire shape:
endpoints hand over dicts built by `serialize_lead`. The 1,000-lead body of `POST /leads/add` types
its items as a TypedDict: pydantic checks the shape of the batch without building 1,000 models, and
the import loop (`leads.imports`) works on the plain dicts.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, WithJsonSchema
from typing_extensions import TypedDict

from coldsend.kit.schemas import Schema

MAX_BATCH = 1000
INT32_MAX = 2_147_483_647
INTEREST_MIN, INTEREST_MAX = -30000, 30000  # the range of interest values, custom lead labels included


class LeadStatus(IntEnum):
    ACTIVE = 1
    PAUSED = 2
    COMPLETED = 3
    BOUNCED = -1
    UNSUBSCRIBED = -2
    SKIPPED = -3


class InterestStatus(IntEnum):
    """The built-in interest values; a workspace's lead labels add their own numbers."""

    OUT_OF_OFFICE = 0
    INTERESTED = 1
    MEETING_BOOKED = 2
    MEETING_COMPLETED = 3
    WON = 4
    NOT_INTERESTED = -1
    WRONG_PERSON = -2
    LOST = -3
    NO_SHOW = -4


BUILT_IN_INTEREST = frozenset(int(v) for v in InterestStatus)


class VerificationStatus(IntEnum):
    VERIFIED = 1
    PENDING = 11
    PENDING_VERIFICATION_JOB = 12
    INVALID = -1
    RISKY = -2
    CATCH_ALL = -3
    JOB_CHANGE = -4


def text_problem(value: str) -> str | None:
    """Why PostgreSQL could not store this text, if it could not: a NUL character, or a lone surrogate
    (JSON allows `\\ud800`; UTF-8 does not)."""
    if "\x00" in value:
        return "must not contain the NUL character (\\u0000)"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text (no lone surrogate code points)"
    return None


def _storable(value: str) -> str:
    problem = text_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


def check_custom_variables(value: dict[str, Any]) -> dict[str, Any]:
    """Values must be strings, numbers, booleans or null: no objects, no arrays."""
    for key, item in value.items():
        problem = text_problem(key)
        if problem is not None:
            raise ValueError(f"names {problem}")
        if item is None or isinstance(item, bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError(f"'{key}' must be a finite number")
            continue
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                raise ValueError(f"'{key}' {problem}")
            continue
        raise ValueError(f"'{key}' must be a string, number, boolean or null (objects and arrays are not allowed)")
    return value


Text = Annotated[str, AfterValidator(_storable)]
InterestValue = Annotated[
    int,
    Field(
        ge=INTEREST_MIN,
        le=INTEREST_MAX,
        description="A built-in interest status (1 Interested, 2 Meeting Booked, 3 Meeting Completed, 4 Won, "
        "0 Out of Office, -1 Not Interested, -2 Wrong Person, -3 Lost, -4 No Show) or the `interest_status` "
        "of one of the workspace's lead labels",
        examples=[1],
    ),
]
CustomVariables = Annotated[
    dict[str, Any],
    AfterValidator(check_custom_variables),
    WithJsonSchema(
        {
            "type": "object",
            "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
            "description": "Lead variables (string, number, boolean or null values), stored in the lead's "
            "`payload`; a campaign learns their names",
            "examples": [{"past_customer": True, "seats": 12}],
        }
    ),
]


# -- the Lead (response documentation) ------------------------------------------------------------


class LastStep(Schema):
    from_: str | None = Field(default=None, alias="from")
    stepID: str | None = None
    timestamp_executed: datetime | None = None


class StatusSummary(Schema):
    lastStep: LastStep | None = None
    domain_complete: bool | None = None


class StatusSummarySubseq(Schema):
    from_: str | None = Field(default=None, alias="from")
    stepID: str | None = None
    timestampExecuted: datetime | None = None


class Payload(Schema):
    """The lead's variables: its own fields under camelCase names, then its custom variables."""

    model_config = ConfigDict(extra="allow")

    firstName: str | None = None
    lastName: str | None = None
    companyName: str | None = None
    jobTitle: str | None = None
    website: str | None = None
    phone: str | None = None
    personalization: str | None = None


class Lead(Schema):
    id: uuid.UUID
    timestamp_created: datetime
    timestamp_updated: datetime
    organization: uuid.UUID
    campaign: uuid.UUID | None = None
    status: LeadStatus
    email: str | None = None
    personalization: str | None = None
    website: str | None = None
    last_name: str | None = None
    first_name: str | None = None
    company_name: str | None = None
    job_title: str | None = None
    phone: str | None = None
    email_open_count: int
    email_reply_count: int
    email_click_count: int
    company_domain: str = Field(description="The domain of the lead's email address ('' without one)")
    status_summary: StatusSummary
    payload: Payload | None = None
    status_summary_subseq: StatusSummarySubseq | None = None
    last_step_from: str | None = None
    last_step_id: uuid.UUID | None = None
    last_step_timestamp_executed: datetime | None = None
    email_opened_step: int | None = None
    email_opened_variant: int | None = None
    email_replied_step: int | None = None
    email_replied_variant: int | None = None
    email_clicked_step: int | None = None
    email_clicked_variant: int | None = None
    lt_interest_status: int | None = Field(default=None, description="Absent while the lead is a plain 'Lead'")
    subsequence_id: str | None = None
    verification_status: VerificationStatus | None = Field(default=None, description="Absent until verification")
    pl_value_lead: str | None = None
    timestamp_added_subsequence: datetime | None = None
    timestamp_last_contact: datetime | None = None
    timestamp_last_open: datetime | None = None
    timestamp_last_reply: datetime | None = None
    timestamp_last_interest_change: datetime | None = None
    timestamp_last_click: datetime | None = None
    enrichment_status: Literal[1, -1, 11, -2] | None = None
    list_id: uuid.UUID | None = None
    last_contacted_from: str | None = None
    uploaded_by_user: uuid.UUID | None = None
    upload_method: Literal["manual", "api", "website-visitor"] | None = None
    assigned_to: uuid.UUID | None = None
    is_website_visitor: bool | None = None
    timestamp_last_touch: datetime | None = None
    esp_code: Literal[0, 1, 2, 3, 8, 9, 10, 12, 13, 999, 1000] | None = Field(
        default=None, description="Absent until the mail provider is known"
    )
    esg_code: Literal[0, 1, 2, 3, 4] | None = None


# -- create, patch ---------------------------------------------------------------------------------


class _LeadFields(Schema):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    personalization: Text | None = None
    website: Text | None = None
    last_name: Text | None = None
    first_name: Text | None = None
    company_name: Text | None = None
    job_title: Text | None = None
    phone: Text | None = None
    lt_interest_status: InterestValue | None = None
    pl_value_lead: Text | None = None
    assigned_to: uuid.UUID | None = None
    custom_variables: CustomVariables | None = None


class LeadCreate(_LeadFields):
    campaign: uuid.UUID | None = Field(default=None, description="The campaign to add the lead to")
    list_id: uuid.UUID | None = Field(default=None, description="The list to add the lead to (or a campaign)")
    email: Text | None = Field(default=None, description="Required in a campaign; stored lower-cased")
    skip_if_in_workspace: bool | None = None
    skip_if_in_campaign: bool | None = None
    skip_if_in_list: bool | None = None
    blocklist_id: uuid.UUID | None = Field(
        default=None, description="Accepted for compatibility: the workspace's one block list is always checked"
    )
    verify_leads_for_lead_finder: bool | None = None
    verify_leads_on_import: bool | None = None


class LeadUpdate(_LeadFields):
    """Only the fields sent change; `custom_variables` are merged into the lead's payload."""


# -- bulk add --------------------------------------------------------------------------------------


class BulkLead(TypedDict, total=False):
    email: str | None
    personalization: str | None
    website: str | None
    last_name: str | None
    first_name: str | None
    company_name: str | None
    job_title: str | None
    phone: str | None
    lt_interest_status: InterestValue
    pl_value_lead: str | None
    assigned_to: uuid.UUID | None
    custom_variables: CustomVariables


class BulkAdd(Schema):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    campaign_id: uuid.UUID | None = Field(default=None, description="The campaign to add to (or `list_id`)")
    list_id: uuid.UUID | None = Field(default=None, description="The list to add to (or `campaign_id`)")
    leads: Annotated[
        list[BulkLead],
        Field(
            min_length=1,
            max_length=MAX_BATCH,
            description="In a campaign every lead needs an email; in a list an email or a first or last name",
        ),
    ]
    blocklist_id: uuid.UUID | None = Field(
        default=None, description="Accepted for compatibility: the workspace's one block list is always checked"
    )
    assigned_to: uuid.UUID | None = Field(default=None, description="Owner of every imported lead without its own")
    verify_leads_on_import: bool | None = None
    skip_if_in_workspace: bool | None = None
    skip_if_in_campaign: bool | None = None
    skip_if_in_list: bool | None = None


class CreatedLead(Schema):
    index: int
    id: uuid.UUID
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class BulkAddResult(Schema):
    status: str = Field(examples=["success"])
    total_sent: int
    leads_uploaded: int
    in_blocklist: int
    blocklist_used: str | None = Field(description="The workspace's block list (its id is the workspace id)")
    duplicated_leads: int
    skipped_count: int
    invalid_email_count: int
    incomplete_count: int
    duplicate_email_count: int
    remaining_in_plan: int | None = Field(description="Always null: a self-hosted server has no upload plan")
    created_leads: list[CreatedLead]


# -- bulk delete, merge ------------------------------------------------------------------------------


class BulkDelete(Schema):
    campaign_id: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    status: LeadStatus | None = Field(default=None, description="Only leads with this status")
    ids: list[uuid.UUID] | None = Field(default=None, description="Only these leads (of the campaign or list)")
    limit: int | None = Field(default=None, ge=1, le=10000, description="At most this many, oldest first")


class DeletedCount(Schema):
    count: int


class MergeLeads(Schema):
    lead_id: uuid.UUID = Field(description="The lead merged (and then deleted)")
    destination_lead_id: uuid.UUID = Field(description="The lead that remains")


# -- interest status, bulk assign ---------------------------------------------------------------------


class UpdateInterestStatus(Schema):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    lead_email: Text = Field(description="The lead's address (any case)")
    interest_value: InterestValue | None = Field(description="null resets the lead to a plain 'Lead'")
    campaign_id: Text | None = Field(default=None, description="Only the lead in this campaign")
    list_id: Text | None = Field(default=None, description="Only the lead in this list")
    ai_interest_value: float | None = Field(default=None, description="Accepted and ignored (no AI labelling)")
    disable_auto_interest: bool | None = Field(default=None, description="Accepted and ignored")


class InterestStatusAccepted(Schema):
    message: str = Field(examples=["Lead interest status update background job submitted"])


LeadFilter = Literal[
    "FILTER_VAL_CONTACTED",
    "FILTER_VAL_NOT_CONTACTED",
    "FILTER_VAL_COMPLETED",
    "FILTER_VAL_UNSUBSCRIBED",
    "FILTER_VAL_ACTIVE",
    "FILTER_LEAD_INTERESTED",
    "FILTER_LEAD_NOT_INTERESTED",
    "FILTER_LEAD_MEETING_BOOKED",
    "FILTER_LEAD_MEETING_COMPLETED",
    "FILTER_LEAD_CLOSED",
    "FILTER_LEAD_OUT_OF_OFFICE",
    "FILTER_LEAD_WRONG_PERSON",
    "FILTER_LEAD_LOST",
    "FILTER_LEAD_NO_SHOW",
    "FILTER_LEAD_CUSTOM_LABEL_POSITIVE",
    "FILTER_LEAD_CUSTOM_LABEL_NEGATIVE",
    "FILTER_VAL_BOUNCED",
    "FILTER_VAL_SKIPPED",
    "FILTER_VAL_RISKY",
    "FILTER_VAL_INVALID",
    "FILTER_VAL_VALID",
    "FILTER_VAL_IN_SUBSEQUENCE",
    "FILTER_VAL_OPENED_NO_REPLY",
    "FILTER_VAL_COMPLETED_NO_REPLY",
    "FILTER_VAL_NO_OPENS",
    "FILTER_VAL_REPLIED",
    "FILTER_VAL_LINK_CLICKED",
]


class OccurrenceCount(Schema):
    condition: Literal["more", "less", "equal"] | None = None
    count: float | None = None


class LeadStatusCondition(Schema):
    status: float | None = None
    condition: Literal["is", "is-not"] | None = None


class QueryValues(Schema):
    occurrence_days: float | None = Field(default=None, alias="occurrence-days")
    occurrence_count: OccurrenceCount | None = Field(default=None, alias="occurrence-count")
    lead_status: LeadStatusCondition | None = Field(default=None, alias="lead-status")


class ActivityQuery(Schema):
    actionType: Literal["reply", "email-open", "last-contacted", "link-click", "lead-status", "lead-status-change"]
    values: QueryValues


class BulkAssign(Schema):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    organization_user_ids: Annotated[
        list[uuid.UUID], Field(min_length=1, description="Users the selected leads are shared out to, in turn")
    ]
    search: Text | None = Field(default=None, description="Part of the email, first or last name")
    filter: LeadFilter | None = None
    campaign: uuid.UUID | None = None
    list_id: uuid.UUID | None = None
    in_campaign: bool | None = None
    in_list: bool | None = None
    smart_view_id: uuid.UUID | None = Field(default=None, description="No smart views exist here: any id is a 404")
    ids: list[uuid.UUID] | None = None
    limit: int | None = Field(default=None, ge=0, le=INT32_MAX, description="At most this many leads (0: no limit)")
    queries: list[ActivityQuery] | None = Field(default=None, description="Activity conditions, as in POST /leads/list")
    assigned_to: uuid.UUID | None = Field(default=None, description="Only leads currently assigned to this user")
    has_clause: bool | None = Field(default=None, description="Accepted and ignored (a web-app setting)")


class BulkAssignAccepted(Schema):
    status: str = Field(examples=["accepted"])
    message: str = Field(examples=["Your request will be processed in a background job"])
