"""Background Job, as the reference defines it."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import ConfigDict, Field

from coldsend.kit.schemas import Schema


class JobType(StrEnum):
    MOVE_LEADS = "move-leads"
    IMPORT_LEADS = "import-leads"
    EXPORT_LEADS = "export-leads"
    UPDATE_WARMUP_ACCOUNTS = "update-warmup-accounts"
    RENAME_VARIABLE = "rename-variable"
    BROADCAST_AI_GENERATE = "broadcast-ai-generate"
    BROADCAST_WEBSITE_SCRAPE = "broadcast-website-scrape"
    IMPORT_SUBSCRIBERS_FROM_CRM = "import-subscribers-from-crm"
    RESYNC_SUBSCRIBER_CRM_TAGS = "resync-subscriber-crm-tags"


class EntityType(StrEnum):
    LIST = "list"
    CAMPAIGN = "campaign"
    WORKSPACE = "workspace"
    BROADCAST = "broadcast"
    SUBSCRIBER_GROUP_SYNC = "subscriber-group-sync"
    SUBSCRIBER_GROUP = "subscriber-group"


class JobStatus(StrEnum):
    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    SUCCESS = "success"
    FAILED = "failed"
    DRAINING = "draining"
    PAUSED = "paused"
    CANCELLED = "cancelled"


class JobData(Schema):
    """Job-specific details; other keys appear per job type."""

    model_config = ConfigDict(extra="allow")

    moved_lead_emails: list[str] | None = Field(
        default=None, description="move-leads: the first 10,000 addresses actually moved or copied"
    )


class BackgroundJob(Schema):
    id: str = Field(description="24 hexadecimal characters, time-ordered")
    workspace_id: uuid.UUID
    user_id: uuid.UUID | None = None
    type: JobType
    entity_id: uuid.UUID | None = None
    entity_type: EntityType | None = None
    data: JobData = Field(default_factory=JobData)
    progress: int = Field(ge=0, le=100)
    status: JobStatus
    created_at: datetime
    updated_at: datetime
