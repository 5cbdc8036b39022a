"""Lead Label, field for field as the reference defines it, and the bodies of its operations."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from coldsend.kit.schemas import Schema

Sentiment = Literal["positive", "negative", "neutral"]

Label = Annotated[
    str,
    Field(
        min_length=1,
        pattern=r".*\S.*",
        description="Display label; unique per workspace after trimming (case and inner spacing ignored)",
        examples=["Hot Lead"],
    ),
]
InterestStatusLabel = Annotated[
    Sentiment, Field(description="The sentiment the label stands for", examples=["positive"])
]
Description = Annotated[
    str | None, Field(description="What the label means (also guides AI labelling)", examples=["Wants a demo"])
]
UseWithAi = Annotated[bool | None, Field(description="Whether AI reply labelling may choose this label")]


class LeadLabel(Schema):
    id: uuid.UUID
    timestamp_created: datetime
    created_by: uuid.UUID = Field(description="The user who created the label (the workspace owner)")
    organization_id: uuid.UUID
    label: Label
    interest_status_label: InterestStatusLabel
    interest_status: int = Field(
        description="The lead interest value of this label, assigned by the server: unique in the workspace, "
        "within -30000..30000 and never one of the built-in values -4..4"
    )
    description: Description = None
    use_with_ai: UseWithAi = None


class LeadLabelCreate(Schema):
    label: Label
    interest_status_label: InterestStatusLabel
    description: Description = None
    use_with_ai: UseWithAi = None


class LeadLabelUpdate(Schema):
    """At least one field; `label` and `interest_status_label` may not be null."""

    label: Label | None = None
    interest_status_label: InterestStatusLabel | None = None
    description: Description = None
    use_with_ai: UseWithAi = None


class LeadLabelDelete(Schema):
    reassigned_status: int | None = Field(
        default=None,
        description="The interest value the leads carrying this label get instead: a built-in value (-4..4) "
        "or another label's interest_status. Omitted: those leads go back to plain 'Lead' (null).",
        examples=[1],
    )


class AiReplyLabelRequest(Schema):
    reply_text: str = Field(description="The reply to classify", examples=["Sounds good, let's talk next week."])


class AiReplyLabelResult(Schema):
    result: str | None = Field(default=None, description="The label the AI would choose")
    custom_labels_considered: list[str] | None = Field(
        default=None, description="The workspace's AI-enabled custom labels it chose from"
    )
