"""API Key, as the reference defines it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from coldsend.kit.schemas import Schema


class APIKey(Schema):
    id: uuid.UUID
    name: str
    scopes: list[str]
    key: str = Field(description="The full key in the create response only; elsewhere a hint like `AbCd…WxYz`")
    organization_id: uuid.UUID
    timestamp_created: datetime
    timestamp_updated: datetime


class APIKeyCreate(Schema):
    name: Annotated[str, Field(min_length=1, pattern=r".*\S.*", examples=["CRM sync"])]
    scopes: Annotated[list[str], Field(min_length=1, examples=[["campaigns:read", "leads:all"]])]
