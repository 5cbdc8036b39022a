"""Custom Tag and Custom Tag Mapping, field for field as the reference defines them."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import IntEnum
from typing import Annotated, Literal

from pydantic import Field

from coldsend.accounts.filters import AccountFilter
from coldsend.kit.schemas import Schema

Label = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r".*\S.*",
        description="Display label; unique per workspace after trimming (case and inner spacing ignored)",
        examples=["Important"],
    ),
]
Description = Annotated[str | None, Field(description="What the tag is for", examples=["Warm leads"])]


class ResourceType(IntEnum):
    ACCOUNT = 1
    CAMPAIGN = 2


class CustomTag(Schema):
    id: uuid.UUID
    timestamp_created: datetime
    timestamp_updated: datetime
    organization_id: uuid.UUID
    label: Label
    description: Description = None


class CustomTagCreate(Schema):
    label: Label
    description: Description = None


class CustomTagUpdate(Schema):
    """At least one field; `label` may not be null."""

    label: Label | None = None
    description: Description = None


class CustomTagMapping(Schema):
    id: uuid.UUID
    tag_id: uuid.UUID
    resource_id: str = Field(
        description="The campaign's id, or for an account (resource_type 1) the account's email address, "
        "which is how accounts are addressed everywhere in this API"
    )
    resource_type: Literal[1, 2]
    timestamp_created: datetime
    organization_id: uuid.UUID


class SelectionFilter(Schema):
    """The object form of `filter` for `selected_all`: tag, any-tag, all-tags, status and search."""

    tag_id: uuid.UUID | Literal["no-tag"] | None = None
    tag_ids: Annotated[list[uuid.UUID], Field(min_length=1)] | None = None
    tag_ids_all: Annotated[list[uuid.UUID], Field(min_length=1)] | None = None
    filter: AccountFilter | None = None
    search: str | None = None


class ToggleResource(Schema):
    tag_ids: Annotated[list[uuid.UUID], Field(min_length=1, description="Tags to assign or unassign")]
    resource_type: Literal[1, 2] = Field(description="1 = account (ids are emails), 2 = campaign (UUIDs)")
    resource_ids: Annotated[list[str], Field(min_length=1)] | None = Field(
        default=None, description="Required unless selected_all is true"
    )
    excluded_resource_ids: Annotated[list[str], Field(min_length=1)] | None = None
    assign: bool
    selected_all: bool | None = None
    filter: AccountFilter | SelectionFilter | None = None
    search: str | None = None


class ToggleResult(Schema):
    success: bool
