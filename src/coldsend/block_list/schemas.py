"""Block List Entry, field for field as the reference defines it, and the bodies of its operations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from coldsend.kit.schemas import Schema

BlValue = Annotated[
    str,
    Field(
        description="An email address (`user@example.com`) or a domain (`example.com`); stored trimmed and lower-cased",
        examples=["example.com"],
    ),
]


class BlockListEntry(Schema):
    id: uuid.UUID
    timestamp_created: datetime
    organization_id: uuid.UUID
    bl_value: BlValue
    is_domain: bool = Field(description="True when the entry blocks a whole domain (derived from the value)")


class BlockListEntryCreate(Schema):
    bl_value: BlValue


class BlockListEntryUpdate(Schema):
    bl_value: BlValue | None = None


class BulkCreateBlockListEntries(Schema):
    bl_values: Annotated[
        list[str],
        Field(
            min_length=1,
            max_length=1000,
            description="Emails and domains to block (1 to 1000)",
            examples=[["example.com", "user@example.com"]],
        ),
    ]


class BulkCreatedBlockListEntries(Schema):
    items: list[BlockListEntry] = Field(
        description="The entry of every distinct valid value, whether created now or already present"
    )
    valid_count: int = Field(description="Distinct valid values (the number of items)")
    invalid_count: int = Field(description="Values that are neither an email address nor a domain (skipped)")


class BulkDeleteBlockListEntries(Schema):
    ids: Annotated[
        list[str],
        Field(min_length=1, max_length=1000, description="Ids of the entries to delete (1 to 1000)"),
    ]
