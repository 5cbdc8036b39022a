"""The bodies of `POST /leads/list` and `POST /leads/move`, field for field as the reference defines them.

Both select leads with the same filters (`LeadSelection`); `leads.listing` turns a selection into SQL.
Responses are dicts (`serialize_lead`, `serialize_job`); the models here only validate requests.

Decisions the reference leaves open:
- `filter` takes the reference's 27 `FILTER_*` values, or a number (as a string) that is the
  `interest_status` of one of the workspace's lead labels (the reference says "for custom lead labels,
  use the interest_status"); `interest_status` is also accepted as a field of its own. Anything else is
  a 400 naming `body/filter`.
- `esg_code` "all" selects every lead (no filter), "none" the leads without a known gateway.
- `smart_view_id`: Coldsend has no smart views, so any id is a 404 (never silently ignored: a move
  with an ignored filter would move the wrong leads).
"""

from __future__ import annotations

import re
import uuid
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from coldsend.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT
from coldsend.kit.schemas import Schema
from coldsend.leads.schemas import INTEREST_MAX, INTEREST_MIN, Text

NUMERIC = re.compile(r"^-?\d{1,9}$")
MAX_DAYS = 36_500  # a century: any longer window is "ever"

InterestValue = Annotated[int, Field(ge=INTEREST_MIN, le=INTEREST_MAX)]

# Lists of ids or emails in a body: generous, and still far below PostgreSQL's limits (one array each).
MAX_LISTED = 100_000


class LeadFilter(StrEnum):
    CONTACTED = "FILTER_VAL_CONTACTED"
    NOT_CONTACTED = "FILTER_VAL_NOT_CONTACTED"
    COMPLETED = "FILTER_VAL_COMPLETED"
    UNSUBSCRIBED = "FILTER_VAL_UNSUBSCRIBED"
    ACTIVE = "FILTER_VAL_ACTIVE"
    INTERESTED = "FILTER_LEAD_INTERESTED"
    NOT_INTERESTED = "FILTER_LEAD_NOT_INTERESTED"
    MEETING_BOOKED = "FILTER_LEAD_MEETING_BOOKED"
    MEETING_COMPLETED = "FILTER_LEAD_MEETING_COMPLETED"
    CLOSED = "FILTER_LEAD_CLOSED"
    OUT_OF_OFFICE = "FILTER_LEAD_OUT_OF_OFFICE"
    WRONG_PERSON = "FILTER_LEAD_WRONG_PERSON"
    LOST = "FILTER_LEAD_LOST"
    NO_SHOW = "FILTER_LEAD_NO_SHOW"
    CUSTOM_LABEL_POSITIVE = "FILTER_LEAD_CUSTOM_LABEL_POSITIVE"
    CUSTOM_LABEL_NEGATIVE = "FILTER_LEAD_CUSTOM_LABEL_NEGATIVE"
    BOUNCED = "FILTER_VAL_BOUNCED"
    SKIPPED = "FILTER_VAL_SKIPPED"
    RISKY = "FILTER_VAL_RISKY"
    INVALID = "FILTER_VAL_INVALID"
    VALID = "FILTER_VAL_VALID"
    IN_SUBSEQUENCE = "FILTER_VAL_IN_SUBSEQUENCE"
    OPENED_NO_REPLY = "FILTER_VAL_OPENED_NO_REPLY"
    COMPLETED_NO_REPLY = "FILTER_VAL_COMPLETED_NO_REPLY"
    NO_OPENS = "FILTER_VAL_NO_OPENS"
    REPLIED = "FILTER_VAL_REPLIED"
    LINK_CLICKED = "FILTER_VAL_LINK_CLICKED"


FILTER_VALUES = frozenset(f.value for f in LeadFilter)


ActionType = Literal["reply", "email-open", "last-contacted", "link-click", "lead-status", "lead-status-change"]


class ActivityCount(Schema):
    """Compare how often the activity happened with `count` (defaults: more than 0, i.e. at least once)."""

    condition: Literal["more", "less", "equal"] = "more"
    count: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 0


class ActivityLeadStatus(Schema):
    """The lead's interest status (`lt_interest_status`) is, or is not, `status`."""

    status: InterestValue = Field(description="An interest value: built-in (1 Interested, ...) or a lead label's")
    condition: Literal["is", "is-not"] = "is"


class ActivityValues(Schema):
    occurrence_days: Annotated[float, Field(gt=0, le=MAX_DAYS, allow_inf_nan=False)] | None = Field(
        default=None, alias="occurrence-days", description="Only activity within this many days counts"
    )
    occurrence_count: ActivityCount | None = Field(default=None, alias="occurrence-count")
    lead_status: ActivityLeadStatus | None = Field(default=None, alias="lead-status")


class ActivityCondition(Schema):
    """One smart-view condition; every condition of `queries` must hold."""

    actionType: ActionType
    values: ActivityValues = Field(default_factory=ActivityValues)

    @model_validator(mode="after")
    def _status_given(self) -> ActivityCondition:
        if self.actionType == "lead-status" and self.values.lead_status is None:
            raise ValueError("values must have required property 'lead-status' when actionType is 'lead-status'")
        return self


Uuids = Annotated[list[uuid.UUID], Field(max_length=MAX_LISTED)]


class LeadSelection(Schema):
    """The filters shared by listing and moving leads; all of them must hold."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)

    search: Annotated[Text, Field(max_length=1000)] | None = Field(
        default=None,
        description="Part of the email, or of the 'first last' name (case ignored). Under 3 characters: leads "
        "whose email, first name or last name starts with it",
        examples=["John Doe"],
    )
    filter: str | None = Field(
        default=None,
        description="A FILTER_VAL_* / FILTER_LEAD_* value, or a lead label's interest_status (as a string)",
        examples=["FILTER_VAL_CONTACTED"],
    )
    interest_status: InterestValue | None = Field(
        default=None, description="Leads with this interest status (lead labels)"
    )
    campaign: uuid.UUID | None = Field(default=None, description="Leads of this campaign")
    list_id: uuid.UUID | None = Field(default=None, description="Leads of this lead list")
    in_campaign: bool | None = Field(default=None, description="true: leads in a campaign; false: not in one")
    in_list: bool | None = Field(default=None, description="true: leads in a list; false: not in one")
    ids: Uuids | None = Field(default=None, description="Only these leads")
    excluded_ids: Uuids | None = Field(default=None, description="Never these leads")
    contacts: Annotated[list[Text], Field(max_length=MAX_LISTED)] | None = Field(
        default=None, description="Only leads with one of these email addresses (case ignored)"
    )
    queries: Annotated[list[ActivityCondition], Field(max_length=50)] | None = None
    organization_user_ids: Uuids | None = Field(default=None, description="Leads assigned to one of these users")
    smart_view_id: uuid.UUID | None = Field(default=None, description="Coldsend has no smart views: always a 404")
    is_website_visitor: bool | None = None
    enrichment_status: Literal[1, -1, 11, -2] | None = None
    esp_code: Literal[0, 1, 2, 3, 8, 9, 10, 12, 13, 999, 1000] | None = None
    esg_code: Literal["0", "1", "2", "3", "4", "all", "none"] | None = Field(
        default=None, description="'all': no filter; 'none': leads without a known email security gateway"
    )

    @field_validator("filter")
    @classmethod
    def _known_filter(cls, value: str | None) -> str | None:
        if value is None or value in FILTER_VALUES:
            return value
        if NUMERIC.match(value.strip()) and INTEREST_MIN <= int(value) <= INTEREST_MAX:
            return str(int(value))
        raise ValueError(
            "must be one of " + ", ".join(f.value for f in LeadFilter) + ", or a lead label's interest_status"
        )

    @field_validator("esg_code", mode="before")
    @classmethod
    def _esg_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ListLeadsBody(LeadSelection):
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="The number of items to return")
    starting_after: Text | None = Field(
        default=None,
        description="`next_starting_after` of the previous page: a lead id, or with distinct_contacts an email",
    )
    distinct_contacts: bool | None = Field(
        default=None, description="One lead per email address (the oldest), ordered by email"
    )

    @field_validator("limit", mode="before")
    @classmethod
    def _null_limit(cls, value: Any) -> Any:
        return DEFAULT_LIMIT if value is None else value


class MoveLeadsBody(LeadSelection):
    to_campaign_id: uuid.UUID | None = Field(default=None, description="Move (or copy) into this campaign")
    to_list_id: uuid.UUID | None = Field(default=None, description="Move (or copy) into this lead list")
    copy_leads: bool | None = Field(default=None, description="Copy: the leads stay where they are too")
    check_duplicates: bool | None = Field(
        default=None,
        description="Always on: a lead whose email is already in the destination is skipped (counted in "
        "data.duplicate_count)",
    )
    check_duplicates_in_campaigns: bool | None = Field(
        default=None, description="Skip leads whose email is in any campaign of the workspace (another lead)"
    )
    skip_leads_in_verification: bool | None = Field(
        default=None, description="Skip leads whose verification is pending (verification_status 11 or 12)"
    )
    reset_interest_status: bool | None = Field(default=None, description="Moved/copied leads become plain 'Lead'")
    assigned_to: uuid.UUID | None = Field(default=None, description="Assign the moved/copied leads to this user")
    limit: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="At most this many leads (the first ones by id)"
    )
    ignore_resource_filter_clauses: bool | None = Field(
        default=None, description="Accepted; Coldsend keeps no saved lead-finder clauses"
    )
