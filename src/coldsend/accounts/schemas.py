"""Account and the bodies of the account operations, field for field as the reference defines them.

Request models validate (a clear 400 naming the field); response models document the wire shape
(endpoints hand over dicts built by `serialize_account`, already in that shape).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, ConfigDict, Field, field_validator

from coldsend.accounts.filters import AccountFilter
from coldsend.kit.schemas import Schema

INT32_MAX = 2_147_483_647


def _no_nul(value: str) -> str:
    # PostgreSQL stores no NUL in text, nor in JSONB (where it would be a 500, not a 400)
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (\\u0000)")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def normalize_email(value: str) -> str:
    """The address as stored: syntax-checked (no DNS lookup), then lower-cased.

    email-validator refuses special-use domains (`.test`, `.local`, `localhost`, ...): a sending
    mailbox needs a domain the world can reach.
    """
    candidate = _no_nul(value).strip()
    try:
        checked = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"must be a valid email address ({exc})") from exc
    return checked.normalized.lower()


EmailAddress = Annotated[str, AfterValidator(normalize_email)]
Port = Annotated[int, Field(ge=1, le=65535, description="TCP port, 1..65535")]
Host = Annotated[Text, Field(min_length=1, max_length=253, pattern=r"^\S+$", description="Server host name or IP")]
Username = Annotated[Text, Field(min_length=1, description="Login name on the server")]
Password = Annotated[Text, Field(min_length=1, description="Stored encrypted; never returned")]
Count = Annotated[int, Field(ge=0, le=INT32_MAX)]
Rate = Annotated[int | float, Field(ge=0)]


class AccountStatus(IntEnum):
    ACTIVE = 1
    PAUSED = 2
    MAINTENANCE = 3  # temporarily paused for maintenance; resumes on its own
    CONNECTION_ERROR = -1
    SOFT_BOUNCE_ERROR = -2
    SENDING_ERROR = -3


class WarmupStatus(IntEnum):
    PAUSED = 0
    ACTIVE = 1
    BANNED = -1
    SPAM_FOLDER_UNKNOWN = -2
    PERMANENT_SUSPENSION = -3


class ProviderCode(IntEnum):
    CUSTOM_IMAP_SMTP = 1
    GOOGLE = 2
    MICROSOFT = 3
    AWS = 4
    AIRMAIL = 8
    AIRMAIL_INSTANT = 11


Increment = Literal["disabled", "0", "1", "2", "3", "4"]


# -- the Account -------------------------------------------------------------------------------


class FiniteSchema(Schema):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, allow_inf_nan=False)


class WarmupAdvanced(FiniteSchema):
    warm_ctd: bool | None = None
    open_rate: Rate | None = None
    important_rate: Rate | None = None
    read_emulation: bool | None = None
    spam_save_rate: Rate | None = None
    weekday_only: bool | None = None


class Warmup(FiniteSchema):
    """Warmup settings. On PATCH the given keys are merged into the stored ones (`advanced` too)."""

    limit: Rate | None = Field(default=None, description="Warmup emails per day")
    advanced: WarmupAdvanced | None = None
    warmup_custom_ftag: Text | None = None
    increment: Increment | None = Field(
        default=None, description="Daily ramp-up step (`disabled` = full limit from day one)"
    )
    reply_rate: Rate | None = None


class StatusMessage(Schema):
    """The last connection or sending error, as the mail server put it."""

    model_config = ConfigDict(extra="allow")

    code: str | None = None
    command: str | None = None
    response: str | None = None
    e_message: str | None = None
    responseCode: int | float | None = None


class Account(Schema):
    email: str
    timestamp_created: datetime
    timestamp_updated: datetime
    first_name: str
    last_name: str
    warmup: Warmup = Field(default_factory=Warmup)
    added_by: uuid.UUID | None = None
    daily_limit: int | None = None
    daily_limit_max: int | None = None
    warmup_limit_max: int | None = None
    modified_by: uuid.UUID | None = None
    tracking_domain_name: str | None = None
    tracking_domain_status: str | None = None
    status: AccountStatus = AccountStatus.ACTIVE
    enable_slow_ramp: bool | None = None
    inbox_placement_test_limit: int | None = None
    organization: uuid.UUID
    warmup_status: WarmupStatus
    status_message: StatusMessage | None = Field(default=None, description="Absent while there is no error")
    timestamp_warmup_start: datetime | None = None
    provider_code: ProviderCode
    setup_pending: bool
    is_managed_account: bool
    stat_warmup_score: float | None = None
    sending_gap: int = Field(default=10, ge=0, le=1440)
    signature: str | None = None
    reply_to: str | None = None
    autofix_failed: bool | None = None


class AccountTag(Schema):
    id: uuid.UUID
    label: str
    description: str | None = None


class AccountListItem(Account):
    tags: list[AccountTag] | None = Field(default=None, description="Present with `include_tags=true`")


# -- request bodies ----------------------------------------------------------------------------


class _AccountFields(FiniteSchema):
    """Fields shared by create and patch."""

    warmup: Warmup | None = None
    daily_limit: Count | None = None
    tracking_domain_name: Text | None = None
    tracking_domain_status: Text | None = None
    enable_slow_ramp: bool | None = None
    inbox_placement_test_limit: Count | None = None
    sending_gap: Annotated[int, Field(ge=0, le=1440, description="Minutes between two sends")] | None = None
    signature: Text | None = None
    reply_to: Text | None = Field(default=None, description="A valid address, or null/empty for none")
    skip_cname_check: bool | None = None

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        return normalize_email(value)


class AccountCreate(_AccountFields):
    email: EmailAddress
    first_name: Text
    last_name: Text
    provider_code: ProviderCode
    imap_username: Username
    imap_password: Password
    imap_host: Host
    imap_port: Port
    smtp_username: Username
    smtp_password: Password
    smtp_host: Host
    smtp_port: Port
    warmup_custom_ftag: Text | None = Field(default=None, description="Stored as `warmup.warmup_custom_ftag`")


class AccountUpdate(_AccountFields):
    """At least one field. The `smtp_*`/`imap_*` fields are a Coldsend extension (the reference's PATCH
    has none): they let a mailbox password be rotated without deleting the account and its history."""

    first_name: Text | None = None
    last_name: Text | None = None
    remove_tracking_domain: bool | None = Field(default=None, description="true clears the tracking domain")
    imap_username: Username | None = None
    imap_password: Password | None = None
    imap_host: Host | None = None
    imap_port: Port | None = None
    smtp_username: Username | None = None
    smtp_password: Password | None = None
    smtp_host: Host | None = None
    smtp_port: Port | None = None


EmailList = Annotated[list[Text], Field(max_length=100)]


class PauseAccounts(Schema):
    emails: Annotated[list[Text], Field(min_length=1, max_length=100, description="Duplicates are ignored")]


class PauseResult(Schema):
    paused_emails: list[str] = Field(description="Accounts this call paused")
    failed_emails: list[str] = Field(description="Not an account of the workspace, or already paused")


class WarmupFilter(Schema):
    tag_id: Text | None = Field(default=None, description="A tag id of the workspace, or `no-tag`")
    filter: AccountFilter | None = None


class WarmupSelection(Schema):
    """Either `emails`, or `include_all_emails: true` narrowed by `excluded_emails`, `filter`, `search`."""

    emails: EmailList | None = None
    include_all_emails: bool | None = None
    excluded_emails: EmailList | None = None
    filter: WarmupFilter | AccountFilter | None = None
    search: Text | None = None


class WarmupAnalyticsRequest(Schema):
    emails: Annotated[list[Text], Field(min_length=1, max_length=100)]


class WarmupDay(Schema):
    sent: int
    landed_inbox: int
    landed_spam: int
    received: int


class WarmupAggregate(Schema):
    sent: int
    received: int
    landed_inbox: int
    landed_spam: int
    health_score_label: str = Field(examples=["87%"])
    health_score: int | float


class WarmupAnalytics(Schema):
    email_date_data: dict[str, dict[str, WarmupDay]] = Field(description="email -> YYYY-MM-DD -> counters")
    aggregate_data: dict[str, WarmupAggregate] = Field(description="email -> totals of the window")


class DailyAccountAnalytics(Schema):
    date: str = Field(examples=["2026-01-15"])
    email_account: str
    sent: int
    bounced: int
    contacted: int
    new_leads_contacted: int
    opened: int
    unique_opened: int
    replies: int
    unique_replies: int
    replies_automatic: int
    unique_replies_automatic: int
    clicks: int
    unique_clicks: int


def dump_warmup(warmup: Warmup | None) -> dict[str, Any]:
    """The warmup object as stored (JSONB): only the keys that were given."""
    if warmup is None:
        return {}
    return warmup.model_dump(exclude_none=True)
