"""Campaign, its schedule and sequences, and the bodies of the campaign operations, as the reference
shapes them. Request models validate; responses are built as dicts (`endpoints.serialize_campaign`) and
these models only document them.

Decisions the reference leaves open (see also service.py):
- A variant needs a non-blank `subject` OR a non-blank `body` (both keys are required, as in the
  reference). An empty subject on a follow-up step means "reply in the same thread as the previous step".
- `timing.to` must be later than `timing.from` (no window across midnight; use two schedules).
- Numbers that are counts or minutes (`email_gap`, `daily_limit`, ...) are whole numbers >= 0.
"""

from __future__ import annotations

import re
import uuid
from datetime import date
from enum import IntEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from coldsend.campaigns.schedule import DAY_KEYS, TIMEZONE_SET, TIMEZONES
from coldsend.kit.schemas import Schema

INT_MAX = 2_147_483_647  # the integer columns' range: larger values are refused, never overflow


class CampaignStatus(IntEnum):
    ACCOUNT_SUSPENDED = -99
    ACCOUNTS_UNHEALTHY = -1
    BOUNCE_PROTECT = -2
    DRAFT = 0
    ACTIVE = 1
    PAUSED = 2
    COMPLETED = 3
    RUNNING_SUBSEQUENCES = 4


class NotSendingStatus(IntEnum):
    OUT_OF_SCHEDULE = 1
    WAITING_FOR_LEAD = 2
    CAMPAIGN_DAILY_LIMIT = 3
    ACCOUNTS_DAILY_LIMIT = 4
    ERROR = 99


# -- field types ------------------------------------------------------------------------------------

HHMM_PATTERN = r"^([01][0-9]|2[0-3]):([0-5][0-9])$"
HHMM = Annotated[str, Field(pattern=HHMM_PATTERN, examples=["09:00"])]


def _calendar_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid date (YYYY-MM-DD)") from None
    return value


def _known_timezone(value: str) -> str:
    if value not in TIMEZONE_SET:
        raise ValueError(
            f"'{value}' is not a supported timezone; use one of the reference's IANA names "
            "(e.g. 'America/Chicago', 'Europe/Belgrade', 'Asia/Kolkata', 'Etc/GMT+12')"
        )
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _email(value: str) -> str:
    value = value.strip()
    if not EMAIL_RE.match(value):
        raise ValueError(f"'{value}' is not an email address")
    return value


EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

DateString = Annotated[
    str,
    Field(pattern=r"^\d{4}-\d{2}-\d{2}$", json_schema_extra={"format": "date"}, examples=["2026-09-25"]),
    AfterValidator(_calendar_date),
]
Timezone = Annotated[str, Field(json_schema_extra={"enum": list(TIMEZONES)}), AfterValidator(_known_timezone)]
NonBlank = Annotated[str, Field(min_length=1), AfterValidator(_not_blank)]
EmailAddress = Annotated[str, Field(json_schema_extra={"format": "email"}), AfterValidator(_email)]
Count = Annotated[int, Field(ge=0, le=INT_MAX)]
Amount = Annotated[int | float, Field(ge=0, le=INT_MAX, allow_inf_nan=False)]
DelayUnit = Literal["minutes", "hours", "days"]
Esp = Literal["all", "google", "outlook", "other"]


# -- schedule ---------------------------------------------------------------------------------------


class Timing(Schema):
    from_: HHMM = Field(alias="from")
    to: HHMM

    @model_validator(mode="after")
    def _to_after_from(self) -> Timing:
        if self.to <= self.from_:  # zero-padded HH:MM compare as text
            raise ValueError(
                f"'to' ({self.to}) must be later than 'from' ({self.from_}); "
                "a window cannot cross midnight (use 23:59, or two schedules)"
            )
        return self


class Days(BaseModel):
    """Days of the week the schedule is open: keys "0" (Sunday) .. "6" (Saturday); other keys are ignored
    (like any unknown field), so at least one of the seven must be true."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"minProperties": 1})

    sunday: bool | None = Field(default=None, alias="0")
    monday: bool | None = Field(default=None, alias="1")
    tuesday: bool | None = Field(default=None, alias="2")
    wednesday: bool | None = Field(default=None, alias="3")
    thursday: bool | None = Field(default=None, alias="4")
    friday: bool | None = Field(default=None, alias="5")
    saturday: bool | None = Field(default=None, alias="6")

    @model_validator(mode="after")
    def _one_day_on(self) -> Days:
        if not any(self.model_dump().values()):
            raise ValueError("must set at least one day (keys '0' = Sunday .. '6' = Saturday) to true")
        return self


assert tuple(f.alias for f in Days.model_fields.values()) == DAY_KEYS


class ScheduleEntry(Schema):
    name: str
    timing: Timing
    days: Days
    timezone: Timezone


class CampaignSchedule(Schema):
    start_date: DateString | None = None
    end_date: DateString | None = None
    schedules: list[ScheduleEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _dates_in_order(self) -> CampaignSchedule:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date ({self.end_date}) must not be before start_date ({self.start_date})")
        return self


# -- sequences --------------------------------------------------------------------------------------


class Variant(Schema):
    subject: str
    body: str = Field(description="HTML; `<br/>` for line breaks")
    v_disabled: bool | None = None

    @model_validator(mode="after")
    def _has_content(self) -> Variant:
        if not self.subject.strip() and not self.body.strip():
            raise ValueError("a variant needs a subject or a body")
        return self


class Step(Schema):
    type: Literal["email"]
    delay: Amount = Field(description="Wait before the NEXT step, in `delay_unit`")
    delay_unit: DelayUnit = "days"
    pre_delay: Amount | None = Field(default=None, description="Subsequences only; ignored for campaigns")
    pre_delay_unit: DelayUnit | None = Field(default=None, description="Subsequences only")
    variants: list[Variant]

    @field_validator("variants")
    @classmethod
    def _has_variants(cls, value: list[Variant]) -> list[Variant]:
        if not value:
            raise ValueError("a step needs at least one variant")
        return value


class EmailSequence(Schema):
    steps: list[Step]


# -- other nested settings --------------------------------------------------------------------------


class AutoVariantSelect(Schema):
    trigger: Literal["reply_rate", "click_rate", "open_rate"]


class CompanyLimitOverride(Schema):
    mode: Literal["custom", "disabled"]
    daily_limit: Annotated[int | float, Field(ge=1, le=INT_MAX, allow_inf_nan=False)] | None = None
    scope: Literal["per_campaign", "across_workspace"] | None = None


class ProviderRoutingRule(Schema):
    action: Literal["send", "do_not_send"] | None = None
    recipient_esp: list[Esp] | None = None
    sender_esp: list[Esp] | None = None


# -- request bodies ---------------------------------------------------------------------------------

# Fields whose reference type is not nullable: an explicit null is refused (400), never stored.
NOT_NULLABLE = (
    "name",
    "campaign_schedule",
    "sequences",
    "email_list",
    "email_tag_list",
    "open_tracking",
    "cc_list",
    "bcc_list",
    "provider_routing_rules",
)


class CampaignSettings(Schema):
    """Every writable field but `name`/`campaign_schedule`; what is absent is left alone (PATCH)."""

    pl_value: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    is_evergreen: bool | None = None
    sequences: list[EmailSequence] | None = Field(
        default=None, description="Only the first sequence is sent; the others are stored as given"
    )
    email_gap: Count | None = Field(default=None, description="Minutes between emails")
    random_wait_max: Count | None = Field(default=None, description="Minutes")
    text_only: bool | None = None
    first_email_text_only: bool | None = None
    email_list: list[str] | None = Field(
        default=None, description="Sending account emails of this workspace (stored lower-cased); replaces the list"
    )
    daily_limit: Count | None = None
    stop_on_reply: bool | None = None
    email_tag_list: list[uuid.UUID] | None = Field(
        default=None, description="Custom tags of this workspace: accounts carrying any of them send too"
    )
    link_tracking: bool | None = None
    open_tracking: bool | None = None
    stop_on_auto_reply: bool | None = None
    daily_max_leads: Count | None = None
    prioritize_new_leads: bool | None = None
    auto_variant_select: AutoVariantSelect | None = None
    match_lead_esp: bool | None = None
    stop_for_company: bool | None = None
    insert_unsubscribe_header: bool | None = None
    allow_risky_contacts: bool | None = None
    disable_bounce_protect: bool | None = None
    limit_emails_per_company_override: CompanyLimitOverride | None = None
    cc_list: list[EmailAddress] | None = None
    bcc_list: list[EmailAddress] | None = None
    owned_by: uuid.UUID | None = None
    provider_routing_rules: list[ProviderRoutingRule] | None = None

    @field_validator(*NOT_NULLABLE, mode="before", check_fields=False)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value

    @field_validator("email_list")
    @classmethod
    def _normalise_emails(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [v.strip().lower() for v in value]
        for position, email in enumerate(cleaned):
            if not EMAIL_RE.match(email):
                raise ValueError(f"item {position} ('{value[position]}') is not an email address")
        return list(dict.fromkeys(cleaned))

    @field_validator("email_tag_list")
    @classmethod
    def _dedupe_tags(cls, value: list[uuid.UUID] | None) -> list[uuid.UUID] | None:
        return None if value is None else list(dict.fromkeys(value))


class CampaignCreate(CampaignSettings):
    name: NonBlank
    campaign_schedule: CampaignSchedule
    ai_sdr_id: uuid.UUID | None = Field(default=None, description="AI Sales Agent that created the campaign")


class CampaignUpdate(CampaignSettings):
    """Partial update: only the fields present change; `email_list` and the other lists are replaced."""

    name: NonBlank | None = None
    campaign_schedule: CampaignSchedule | None = None


class DuplicateBody(Schema):
    name: NonBlank | None = Field(default=None, description="Defaults to '<name> (copy)'")


VariableName = Annotated[
    str,
    Field(min_length=1, max_length=200, pattern=r"^[^{}]*\S[^{}]*$", examples=["firstName"]),
    AfterValidator(_not_blank),
]


class AddVariables(Schema):
    variables: list[VariableName] = Field(description="Custom variable names, without the {{ }}")


# -- responses (documentation; the endpoints return dicts of this shape) ---------------------------


class Campaign(Schema):
    id: uuid.UUID
    name: str
    pl_value: float | None = None
    status: CampaignStatus
    is_evergreen: bool | None = None
    campaign_schedule: CampaignSchedule
    sequences: list[EmailSequence] = []
    timestamp_created: str = Field(examples=["2026-09-25T11:12:13.456Z"])
    timestamp_updated: str = Field(examples=["2026-09-25T11:12:13.456Z"])
    email_gap: int | None = None
    random_wait_max: int | None = None
    text_only: bool | None = None
    first_email_text_only: bool | None = None
    email_list: list[str] = []
    daily_limit: int | None = None
    stop_on_reply: bool | None = None
    email_tag_list: list[uuid.UUID] = []
    link_tracking: bool | None = None
    open_tracking: bool = False
    stop_on_auto_reply: bool | None = None
    daily_max_leads: int | None = None
    prioritize_new_leads: bool | None = None
    auto_variant_select: AutoVariantSelect | None = None
    match_lead_esp: bool | None = None
    not_sending_status: NotSendingStatus | None = None
    stop_for_company: bool | None = None
    core_variables: dict[str, Any] | None = None
    custom_variables: dict[str, Any] | None = Field(
        default=None, description="Variable name -> default value ('' unless set otherwise)"
    )
    insert_unsubscribe_header: bool | None = None
    allow_risky_contacts: bool | None = None
    disable_bounce_protect: bool | None = None
    limit_emails_per_company_override: CompanyLimitOverride | None = None
    cc_list: list[str] = []
    bcc_list: list[str] = []
    organization: uuid.UUID | None = None
    owned_by: uuid.UUID | None = None
    ai_sdr_id: uuid.UUID | None = None
    provider_routing_rules: list[ProviderRoutingRule] = []


class CountLaunched(Schema):
    count: int


# -- sending status ---------------------------------------------------------------------------------

DiagnosticStatus = Literal[
    "campaign_paused",
    "campaign_draft",
    "campaign_completed",
    "campaign_running_subsequences",
    "campaign_bounce_protect",
    "campaign_accounts_unhealthy",
    "campaign_account_suspended",
    "out_of_schedule",
    "waiting_for_leads",
    "daily_limit_met",
    "account_daily_limit_met",
    "new_lead_limit_met",
    "all_accounts_unhealthy",
    "waiting_for_esp_match",
    "domain_limit_reached",
    "follow_up_delay_not_met",
    "no_accounts_available",
    "healthy",
]


class IssueTracking(Schema):
    current_status_code: str | None = None
    issue_first_seen_at: str | None = None
    consecutive_loops_with_issue: int = 0
    last_healthy_send_at: str | None = None


class UnavailableAccounts(Schema):
    daily_limit_hit: int = 0
    slow_ramp_limit_hit: int = 0
    disconnected: int = 0
    global_gap_not_met: int = 0


class AccountsSummary(Schema):
    total_connected: int = 0
    available: int = 0
    unavailable: UnavailableAccounts | None = None


class CampaignDailyLimit(Schema):
    limit: int | None = None
    sent: int | None = None
    limit_hit: bool | None = None


class NewLeadLimit(Schema):
    enabled: bool | None = None
    limit: int | None = None
    contacted: int | None = None
    limit_hit: bool | None = None


class ScheduleStatus(Schema):
    in_schedule: bool


class SendOneByOne(Schema):
    enabled: bool | None = None
    single_account_per_wait_gap: bool | None = None


class FollowUpsWaiting(Schema):
    count: int | None = None
    earliest_wait_time_seconds: float | None = None


class EspRoutingStatus(Schema):
    enabled: bool | None = None
    waiting_for_match: bool | None = None
    connected_esps: list[int] | None = None


class DomainLimiter(Schema):
    active: bool | None = None
    domains_at_limit: int | None = None


class LeadsStatus(Schema):
    no_leads_ready: bool | None = None
    account_unavailable_skips: int | None = None
    delay_not_met_skips: int | None = None


class Diagnostics(Schema):
    """Always present: campaign_id, last_updated, status, issue_tracking; the rest when computed."""

    campaign_id: str
    subsequence_id: str | None = None
    last_updated: str
    status: DiagnosticStatus | None
    issue_tracking: IssueTracking
    accounts_summary: AccountsSummary | None = None
    campaign_daily_limit: CampaignDailyLimit | None = None
    new_lead_limit: NewLeadLimit | None = None
    schedule_status: ScheduleStatus | None = None
    send_one_by_one: SendOneByOne | None = None
    follow_ups_waiting: FollowUpsWaiting | None = None
    esp_routing_status: EspRoutingStatus | None = None
    domain_limiter: DomainLimiter | None = None
    leads_status: LeadsStatus | None = None


class SendingSummary(Schema):
    status: str | None = None
    status_message: str | None = None
    issue_started_at: str | None = None
    last_healthy_send_at: str | None = None
    ai_summary: str | None = Field(default=None, description="Always null: Coldsend has no AI summary")


class SendingStatus(Schema):
    diagnostics: Diagnostics | None = None
    summary: SendingSummary | None = None
