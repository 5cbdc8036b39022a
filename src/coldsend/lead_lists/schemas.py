"""Lead List, field for field as the reference defines it, and its verification statistics."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field

from coldsend.kit.schemas import Schema

Name = Annotated[
    str,
    Field(min_length=1, pattern=r".*\S.*", description="Name of the list (stored trimmed)", examples=["My Lead List"]),
]
HasEnrichmentTask = Annotated[
    bool | None, Field(description="Whether every lead added to the list is enriched", examples=[False])
]
OwnedBy = Annotated[
    uuid.UUID | None,
    Field(description="User who owns the list; defaults to the workspace owner when omitted on create"),
]


class LeadList(Schema):
    id: uuid.UUID
    organization_id: uuid.UUID
    has_enrichment_task: HasEnrichmentTask = None
    owned_by: OwnedBy = None
    name: Name
    timestamp_created: datetime


class LeadListCreate(Schema):
    has_enrichment_task: HasEnrichmentTask = None
    owned_by: OwnedBy = None
    name: Name


class LeadListUpdate(Schema):
    """At least one field; `name` may not be null."""

    has_enrichment_task: HasEnrichmentTask = None
    owned_by: OwnedBy = None
    name: Name | None = None


class VerificationCounts(Schema):
    verified: int = Field(description="Leads with verification_status 1")
    invalid: int = Field(description="Leads with verification_status -1")
    risky: int = Field(description="Leads with verification_status -2")
    catch_all: int = Field(description="Leads with verification_status -3")
    job_change: int = Field(description="Leads with verification_status -4")
    verification_job_pending_leadfinder: int = Field(
        description="Leads waiting for a Lead Finder verification: always 0 (Coldsend has no Lead Finder)"
    )
    verification_job_pending_user: int = Field(
        description="Leads waiting for a verification (verification_status 11 or 12)"
    )


class VerificationStats(Schema):
    stats: VerificationCounts
    total_leads: int = Field(description="Every lead of the list, verified or not")
