"""Account Campaign Mapping, field for field as the reference defines it."""

from __future__ import annotations

import uuid

from pydantic import Field

from coldsend.campaigns.schemas import CampaignStatus
from coldsend.kit.schemas import Schema


class AccountCampaignMapping(Schema):
    campaign_id: uuid.UUID
    campaign_name: str
    timestamp_created: str = Field(description="When the campaign was created", examples=["2026-09-25T11:12:13.456Z"])
    status: CampaignStatus | None = None
